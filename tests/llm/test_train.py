"""Training a GPT: the schedule, the batches, exact resumes, clear errors,
two processes under torchrun, and the command line."""

import dataclasses
import math
import os
import subprocess
import sys

import pytest
import torch

import genai.llm.train as gt
from genai.checkpoint import CheckpointError
from genai.llm.gpt import GPTConfigError
from genai.llm.train import TrainConfig, TrainError, get_batch, load_run, lr_at, split_tokens, train
from genai.llm.train_cli import main
from support import ROOT

TINY = TrainConfig(data="facts", tokenizer="char", block_size=16, n_layer=1,
                   n_head=2, n_embd=32, batch_size=8, steps=20,
                   warmup_steps=4, eval_interval=5, eval_steps=1)
QUIET = dict(log=lambda *args, **kwargs: None)


def same_weights(a, b) -> bool:
    return all(torch.equal(p, q) for p, q in zip(a.parameters(),
                                                 b.parameters()))


def test_lr_warms_up_then_decays_to_min_lr():
    c = TrainConfig(lr=1e-3, min_lr=1e-4, warmup_steps=10, steps=110)
    assert lr_at(0, c) == pytest.approx(1e-4)
    assert lr_at(9, c) == pytest.approx(1e-3)
    assert lr_at(10, c) == pytest.approx(1e-3)
    assert lr_at(60, c) == pytest.approx(5.5e-4)          # half-way
    assert lr_at(110, c) == pytest.approx(1e-4) == lr_at(500, c)
    lrs = [lr_at(s, c) for s in range(10, 111)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))


def test_bad_settings_are_explained():
    with pytest.raises(TrainError, match="tokenizer must be one of"):
        TrainConfig(tokenizer="word")
    with pytest.raises(TrainError, match="amp must be one of"):
        TrainConfig(amp="fp8")
    with pytest.raises(TrainError, match="min_lr <= lr"):
        TrainConfig(lr=1e-4, min_lr=1e-3)
    with pytest.raises(TrainError, match="steps must be at least 1"):
        TrainConfig(steps=0)
    with pytest.raises(TrainError, match=">= 0"):
        TrainConfig(grad_clip=-1)
    with pytest.raises(GPTConfigError, match="divisible"):
        TrainConfig(n_embd=30, n_head=4)


def test_split_and_batches():
    train_ids, val_ids = split_tokens(list(range(200)), block_size=8)
    assert len(train_ids) == 180 and val_ids[0] == 180
    x, y = get_batch(train_ids, 8, 4, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (4, 8)
    assert torch.equal(x[:, 1:], y[:, :-1])           # y is x shifted by one
    # two processes keep the two halves of the same batch
    halves = [get_batch(train_ids, 8, 4, torch.Generator().manual_seed(0),
                        rank, 2)[0] for rank in (0, 1)]
    assert torch.equal(torch.cat(halves), x)
    with pytest.raises(TrainError, match="too short.*at least block_size"):
        split_tokens(list(range(50)), block_size=8)


def test_resumed_run_matches_uninterrupted_run(tmp_path):
    whole = train(TINY, **QUIET)
    path = tmp_path / "run.pt"
    part = train(TINY, checkpoint=path, checkpoint_every=10, stop_after=13,
                 **QUIET)
    assert part.step == 13                  # 3 steps lost in the "crash"
    resumed = train(TINY, checkpoint=path, checkpoint_every=10, **QUIET)
    assert resumed.step == whole.step == 20
    assert same_weights(whole.model, resumed.model)
    assert resumed.history == whole.history
    assert [h[0] for h in whole.history] == [0, 5, 10, 15, 20]
    loaded = load_run(path, TINY)
    assert same_weights(loaded.model, whole.model)
    assert loaded.tokenizer.to_dict() == whole.tokenizer.to_dict()
    # a finished run is not trained further
    again = train(TINY, checkpoint=path, **QUIET)
    assert again.step == 20 and same_weights(again.model, whole.model)


def test_bad_checkpoints_are_refused(tmp_path):
    path = tmp_path / "run.pt"
    train(dataclasses.replace(TINY, steps=2), checkpoint=path, **QUIET)
    other = dataclasses.replace(TINY, steps=2, n_embd=64)
    with pytest.raises(CheckpointError, match="n_embd: checkpoint has 32, "
                                              "expected 64"):
        train(other, checkpoint=path, **QUIET)
    broken = tmp_path / "broken.pt"
    broken.write_bytes(path.read_bytes()[:1000])       # a truncated file
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        train(dataclasses.replace(TINY, steps=2), checkpoint=broken, **QUIET)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.pt",
                                                          "run.pt"]


def test_a_changed_text_is_not_resumed(tmp_path):
    text = tmp_path / "mine.txt"
    text.write_text("the cat sat on the mat. " * 40)
    config = dataclasses.replace(TINY, data=str(text), steps=2)
    train(config, checkpoint=tmp_path / "run.pt", **QUIET)
    text.write_text("the dog sat on the mat. " * 40)
    with pytest.raises(CheckpointError, match="another version"):
        train(config, checkpoint=tmp_path / "run.pt", **QUIET)


def test_mixed_precision_on_the_cpu():
    with pytest.raises(TrainError, match="fp16.*needs a CUDA GPU"):
        train(dataclasses.replace(TINY, amp="fp16", steps=1), **QUIET)
    run = train(dataclasses.replace(TINY, amp="bf16", steps=3), **QUIET)
    assert all(math.isfinite(h[1]) for h in run.history)
    assert gt.amp_dtype(TINY, torch.device("cpu")) is None   # auto: off


def test_command_line_trains_resumes_and_samples(tmp_path, capsys):
    out = tmp_path / "cli.pt"
    args = ["--data", "facts", "--tokenizer", "char", "--block-size", "16",
            "--n-layer", "1", "--n-head", "2", "--n-embd", "32",
            "--batch-size", "8", "--eval-interval", "5", "--eval-steps", "1",
            "--out", str(out)]
    assert main(args + ["--steps", "5"]) == 0
    assert main(args + ["--steps", "5", "--sample", "The capital"]) == 0
    printed = capsys.readouterr().out
    assert f"resumed from {out} at step 5" in printed
    assert "'The capital' -> " in printed


@pytest.mark.parametrize("args, message", [
    (["--data", "nowhere.txt"], "no file at nowhere.txt"),
    (["--tokenizer", "word"], "argument --tokenizer: invalid choice"),
    (["--steps", "ten"], "invalid int value"),
    (["--lr", "1e-5"], "need 0 <= min_lr <= lr"),
])
def test_command_line_errors_are_one_line(args, message, capsys):
    try:
        code = main(args)
    except SystemExit as exit:          # argparse's errors
        code = exit.code
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.splitlines()) == 1


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs no CUDA")
def test_a_missing_device_is_one_line(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_DEVICE", "cuda")
    assert main(["--steps", "1"]) == 2
    err = capsys.readouterr().err
    assert "CUDA is not available" in err and len(err.splitlines()) == 1


def test_two_processes_with_torchrun_match_one(tmp_path, pytestconfig):
    """DDP on the CPU (gloo): both ranks end with the same weights, and
    they equal one process training on the whole batch."""
    config = dataclasses.replace(TINY, steps=6)
    out = tmp_path / "ddp.pt"
    # each worker runs under coverage, so the page's DDP lines count as run
    data_file = pytestconfig.course_coverage.directory / ".coverage.ddp"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone",
        "--nproc_per_node=2", "--no-python",
        sys.executable, "-m", "coverage", "run", "--parallel-mode",
        f"--data-file={data_file}", f"--source={ROOT / 'snippets'}",
        "--rcfile=/dev/null", "-m", "genai.llm.train",
        "--data", "facts", "--tokenizer", "char", "--block-size", "16",
        "--n-layer", "1", "--n-head", "2", "--n-embd", "32",
        "--batch-size", "8", "--steps", "6", "--eval-interval", "5",
        "--eval-steps", "1", "--warmup-steps", "4", "--out", str(out)]
    env = dict(os.environ, OMP_NUM_THREADS="1", COURSE_DEVICE="cpu")
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 processes, identical weights: True" in result.stdout
    assert result.stdout.count("step     5:") == 1      # rank 0 logs alone
    ddp = load_run(out, config)
    single = train(config, **QUIET)
    for p, q in zip(ddp.model.parameters(), single.model.parameters()):
        torch.testing.assert_close(p, q, atol=1e-5, rtol=1e-4)


# ---------------------------------------------------------------------------
# The GPU branches, run on the CPU with stand-ins (the page shows them)
# ---------------------------------------------------------------------------
def test_amp_choices_per_device(monkeypatch):
    cuda = torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert gt.amp_dtype(TINY, cuda) is torch.float16      # old GPUs
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert gt.amp_dtype(TINY, cuda) is torch.bfloat16
    off = dataclasses.replace(TINY, amp="off")
    assert gt.amp_dtype(off, cuda) is None
    assert gt.amp_dtype(dataclasses.replace(TINY, amp="fp16"),
                        cuda) is torch.float16


def test_torchrun_on_gpus_uses_nccl_and_one_gpu_each(monkeypatch):
    calls = []
    monkeypatch.setattr(gt, "get_device", lambda: torch.device("cuda"))
    monkeypatch.setattr(torch.cuda, "set_device", calls.append)
    monkeypatch.setattr(gt.dist, "init_process_group", calls.append)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert gt.init_distributed() == torch.device("cuda", 1)
    assert calls == [torch.device("cuda", 1), "nccl"]


def test_a_batch_that_does_not_split_over_the_processes(monkeypatch):
    monkeypatch.setattr(gt.dist, "is_initialized", lambda: True)
    monkeypatch.setattr(gt.dist, "get_rank", lambda: 0)
    monkeypatch.setattr(gt.dist, "get_world_size", lambda: 3)
    with pytest.raises(TrainError, match="divisible by the 3 processes"):
        train(TINY, **QUIET)


def test_a_gpu_checkpoint_restores_the_gpu_random_state(monkeypatch,
                                                         tmp_path):
    path = tmp_path / "run.pt"
    run = train(dataclasses.replace(TINY, steps=1), checkpoint=path, **QUIET)
    state = gt.load_checkpoint(path, run.config)
    state["cuda_rng"] = [torch.zeros(8, dtype=torch.uint8)]
    restored = []
    monkeypatch.setattr(torch.cuda, "set_rng_state_all", restored.append)
    optimizer = run.model.configure_optimizer(TINY.lr)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    gt.restore(state, run, optimizer, scaler, torch.Generator())
    assert restored == [state["cuda_rng"]]


def doctor(path, change):
    """Rewrite a checkpoint's state with change(state): a damaged file."""
    payload = torch.load(path, weights_only=True)
    change(payload["state"])
    torch.save(payload, path)


@pytest.mark.parametrize("change, message", [
    (lambda state: state.pop("history"), "lacks 'history'"),
    (lambda state: state.pop("text_sha256"), "lacks 'text_sha256'"),
    (lambda state: state.update(tokenizer="char"), "cannot use"),
    (lambda state: state.update(model={"wte": 1}), "cannot use"),
])
def test_a_damaged_checkpoint_is_a_checkpoint_error(tmp_path, change, message):
    path = tmp_path / "run.pt"
    train(TINY, checkpoint=path, checkpoint_every=2, stop_after=2, **QUIET)
    doctor(path, change)
    with pytest.raises(CheckpointError, match=message):
        train(TINY, checkpoint=path, **QUIET)
    if "text_sha256" not in message:       # load_run does not read it
        with pytest.raises(CheckpointError, match=message):
            load_run(path, TINY)
