"""Train a tiny GPT on a text: the course's corpora or a file of yours.

The loop is the one large models use, made small: a train/validation split
of the token stream, batches of random windows, AdamW with a linear warm-up
and a cosine decay, gradient clipping, evaluation of both losses, mixed
precision where the device has it, checkpoints that are written atomically
and resume exactly, and data-parallel training over several processes with
torchrun (PyTorch DDP).

pretrained("facts") and pretrained("stories") give the course's two small
models: the references that this code trained (under a minute each on a
laptop CPU) and that the course ships; genai.store loads them, or trains
them again if the code has changed.

    python -m genai.gpt_train                  # a demo of a few seconds
    python -m genai.gpt_train --help           # every option
    python -m genai.gpt_train --data facts --steps 600 --out facts.pt
    torchrun --nproc_per_node=2 -m genai.gpt_train --data stories --out s.pt
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from genai.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from genai.cli import OneLineParser
from genai import store
from genai.corpora import CAPITALS, load_corpus
from genai.device import get_device
from genai.gpt import GPT, GPTConfig
from genai.tokenizer import BPETokenizer, CharTokenizer, load_tokenizer

# the modules whose code trains the pretrained models (see genai.store)
SOURCES = ("gpt", "gpt_train", "corpora", "tokenizer")
TOKENIZERS = ("char", "bpe")
AMP = ("auto", "off", "bf16", "fp16")


class TrainError(ValueError):
    """A training setting or a text that cannot be used."""


# --8<-- [start:config]
@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run; checkpoints store it."""
    data: str = "facts"       # "facts", "stories" or a text file's path
    tokenizer: str = "bpe"    # "char" or "bpe"
    vocab_size: int = 1024    # bpe only: bytes + merges + <|endoftext|>
    # the network (see genai.gpt.GPTConfig)
    block_size: int = 64
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = True         # GPT-2's biases; nanoGPT's CPU run drops them
    # the optimisation
    batch_size: int = 32      # windows per step, shared by all processes
    steps: int = 600
    lr: float = 3e-3          # the peak learning rate, after warm-up
    min_lr: float = 3e-4      # where the cosine decay ends
    warmup_steps: int = 50
    weight_decay: float = 0.1
    grad_clip: float = 1.0    # 0: no clipping
    eval_interval: int = 50   # evaluate every this many steps
    eval_steps: int = 4       # batches per evaluation
    seed: int = 0
    amp: str = "auto"         # "auto", "off", "bf16" or "fp16"
# --8<-- [end:config]

    def __post_init__(self):
        if self.tokenizer not in TOKENIZERS:
            raise TrainError(f"tokenizer must be one of {TOKENIZERS}, "
                             f"got {self.tokenizer!r}")
        if self.amp not in AMP:
            raise TrainError(f"amp must be one of {AMP}, got {self.amp!r}")
        for name in ("batch_size", "steps", "eval_interval", "eval_steps"):
            if getattr(self, name) < 1:
                raise TrainError(f"{name} must be at least 1, got "
                                 f"{getattr(self, name)}")
        if self.warmup_steps < 0 or self.grad_clip < 0:
            raise TrainError("warmup_steps and grad_clip must be >= 0")
        if not 0 <= self.min_lr <= self.lr:
            raise TrainError(f"need 0 <= min_lr <= lr, got min_lr="
                             f"{self.min_lr}, lr={self.lr}")
        self.gpt_config(256)   # the network's own checks, early

    def gpt_config(self, vocab_size: int) -> GPTConfig:
        return GPTConfig(vocab_size=vocab_size, block_size=self.block_size,
                         n_layer=self.n_layer, n_head=self.n_head,
                         n_embd=self.n_embd, dropout=self.dropout,
                         bias=self.bias)


@dataclass
class TrainRun:
    """A trained model, its tokenizer, and what happened in training."""
    model: GPT
    tokenizer: CharTokenizer | BPETokenizer
    config: TrainConfig
    step: int = 0
    # (step, train loss, validation loss, learning rate) at each evaluation
    history: list[tuple[int, float, float, float]] = field(
        default_factory=list)
    seconds: float = 0.0        # wall-clock time spent training
    cpu_seconds: float = 0.0    # CPU time of this process (all threads)


# --8<-- [start:data]
def make_tokenizer(config: TrainConfig, text: str):
    """A tokenizer trained on the text, as the configuration says."""
    if config.tokenizer == "char":
        return CharTokenizer.train(text)
    return BPETokenizer.train(text, config.vocab_size)


def split_tokens(ids: list[int], block_size: int):
    """(train, validation): the first 90% of the tokens, the last 10%."""
    data = torch.tensor(ids, dtype=torch.long)
    n_train = int(0.9 * len(data))
    train, val = data[:n_train], data[n_train:]
    if len(val) < block_size + 1:
        raise TrainError(
            f"the text is too short: {len(data):,} tokens, so the "
            f"validation part (the last 10%) has {len(val)}; it needs at "
            f"least block_size + 1 = {block_size + 1}. Use a longer text "
            f"or a smaller block_size")
    return train, val


def get_batch(data: torch.Tensor, block_size: int, batch_size: int,
              generator: torch.Generator, rank: int = 0, world: int = 1):
    """Random windows of block_size + 1 tokens: inputs x and targets y.

    y is x shifted by one: at every position the target is the next token.
    Every process draws the same batch_size windows with the same seeded
    generator and keeps its own share, as DistributedSampler does.
    """
    starts = torch.randint(len(data) - block_size, (batch_size,),
                           generator=generator)
    share = batch_size // world
    starts = starts[rank * share:(rank + 1) * share]
    x = torch.stack([data[i:i + block_size] for i in starts])
    y = torch.stack([data[i + 1:i + 1 + block_size] for i in starts])
    return x, y
# --8<-- [end:data]


# --8<-- [start:lr]
def lr_at(step: int, config: TrainConfig) -> float:
    """Linear warm-up to config.lr, then cosine decay to config.min_lr."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    decay_steps = max(1, config.steps - config.warmup_steps)
    progress = min(1.0, (step - config.warmup_steps) / decay_steps)
    cosine = 0.5 * (1 + math.cos(math.pi * progress))   # 1 -> 0
    return config.min_lr + cosine * (config.lr - config.min_lr)
# --8<-- [end:lr]


# --8<-- [start:amp]
def amp_dtype(config: TrainConfig, device: torch.device):
    """The autocast dtype, or None for full float32."""
    amp = config.amp
    if amp == "auto":   # CUDA: yes; the CPU and MPS: off by default
        if device.type != "cuda":
            return None
        amp = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if amp == "off":
        return None
    if amp == "fp16" and device.type != "cuda":
        raise TrainError(f"amp='fp16' needs a CUDA GPU; on {device.type} "
                         f"use 'bf16' or 'off'")
    return torch.bfloat16 if amp == "bf16" else torch.float16
# --8<-- [end:amp]


# --8<-- [start:evaluate]
@torch.no_grad()
def evaluate(model: GPT, train_ids, val_ids, config: TrainConfig, device,
             dtype) -> tuple[float, float]:
    """Mean loss on the same eval_steps batches of each split every time."""
    model.eval()
    losses = []
    for data in (train_ids, val_ids):
        rng = torch.Generator().manual_seed(config.seed + 1)
        total = 0.0
        for _ in range(config.eval_steps):
            x, y = get_batch(data, config.block_size, config.batch_size, rng)
            with torch.autocast(device.type, dtype=dtype,
                                enabled=dtype is not None):
                _, loss = model(x.to(device), y.to(device))
            total += loss.item()
        losses.append(total / config.eval_steps)
    model.train()
    return losses[0], losses[1]
# --8<-- [end:evaluate]


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --8<-- [start:train]
def train(config: TrainConfig, checkpoint: str | Path | None = None,
          checkpoint_every: int = 100, stop_after: int | None = None,
          device: torch.device | None = None, log=print) -> TrainRun:
    """Train a GPT; resume from checkpoint if the file exists.

    Under torchrun (an initialised process group) every process trains on
    its share of each batch, DDP averages the gradients, and only rank 0
    logs and writes checkpoints.
    """
    device = device or get_device()
    rank, world = 0, 1
    if dist.is_initialized():
        rank, world = dist.get_rank(), dist.get_world_size()
        if config.batch_size % world:
            raise TrainError(f"batch_size={config.batch_size} must be "
                             f"divisible by the {world} processes")
    if rank != 0:
        log = lambda *args, **kwargs: None   # noqa: E731 (one voice)
    text = load_corpus(config.data)
    state = None
    if checkpoint is not None and Path(checkpoint).is_file():
        state = load_checkpoint(checkpoint, config, map_location="cpu")
        if state["text_sha256"] != text_digest(text):
            raise CheckpointError(f"{checkpoint} was trained on another "
                                  f"version of {config.data}")
        tokenizer = load_tokenizer(state["tokenizer"])
    else:
        tokenizer = make_tokenizer(config, text)
    train_ids, val_ids = split_tokens(tokenizer.encode(text),
                                      config.block_size)
    torch.manual_seed(config.seed)                 # the same initial weights
    model = GPT(config.gpt_config(tokenizer.vocab_size)).to(device)
    optimizer = model.configure_optimizer(config.lr, config.weight_decay)
    dtype = amp_dtype(config, device)
    # float16 needs loss scaling (tiny gradients would round to 0)
    scaler = torch.amp.GradScaler(device.type,
                                  enabled=dtype == torch.float16)
    rng = torch.Generator().manual_seed(config.seed)  # draws every batch
    run = TrainRun(model, tokenizer, config)
    if state is not None:
        restore(state, run, optimizer, scaler, rng)
        log(f"resumed from {checkpoint} at step {run.step}")
    net = model
    if world > 1:   # averages the gradients over the processes
        net = DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda"
            else None)
    clock = [time.perf_counter(), time.process_time()]

    def tick():   # add the time since the last tick to the run's totals
        now = [time.perf_counter(), time.process_time()]
        run.seconds += now[0] - clock[0]
        run.cpu_seconds += now[1] - clock[1]
        clock[:] = now

    def save():
        tick()
        if rank == 0:
            save_state(checkpoint, run, optimizer, scaler, rng, text)

    def record():
        train_loss, val_loss = evaluate(model, train_ids, val_ids, config,
                                        device, dtype)
        lr = lr_at(run.step, config)
        run.history.append((run.step, train_loss, val_loss, lr))
        log(f"step {run.step:5d}: train loss {train_loss:.3f}, "
            f"val loss {val_loss:.3f}, lr {lr:.2e}")

    while run.step < config.steps:
        if run.step % config.eval_interval == 0:
            record()
        for group in optimizer.param_groups:
            group["lr"] = lr_at(run.step, config)
        x, y = get_batch(train_ids, config.block_size, config.batch_size,
                         rng, rank, world)
        with torch.autocast(device.type, dtype=dtype,
                            enabled=dtype is not None):
            _, loss = net(x.to(device), y.to(device))
        scaler.scale(loss).backward()
        if config.grad_clip > 0:
            scaler.unscale_(optimizer)   # clip the true gradients
            torch.nn.utils.clip_grad_norm_(model.parameters(),
                                           config.grad_clip)
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
        run.step += 1
        if checkpoint is not None and run.step % checkpoint_every == 0 \
                and run.step < config.steps:
            save()
        if stop_after is not None and run.step >= stop_after:
            break                            # simulates an interruption
    if run.step >= config.steps and (not run.history
                                     or run.history[-1][0] < run.step):
        record()                             # the final losses
    if checkpoint is not None and run.step >= config.steps:
        save()
    tick()
    return run
# --8<-- [end:train]


# --8<-- [start:checkpoint]
def save_state(path, run: TrainRun, optimizer, scaler, rng, text) -> None:
    """Everything needed to continue exactly where training stopped."""
    save_checkpoint(path, run.config, {
        "step": run.step,
        "model": run.model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scaler": scaler.state_dict(),
        "rng": rng.get_state(),                 # the batches
        "torch_rng": torch.get_rng_state(),     # dropout, if any
        "cuda_rng": (torch.cuda.get_rng_state_all()
                     if torch.cuda.is_available() else []),
        "tokenizer": run.tokenizer.to_dict(),
        "text_sha256": text_digest(text),
        "history": run.history,
        "seconds": run.seconds, "cpu_seconds": run.cpu_seconds,
    })


def restore(state: dict, run: TrainRun, optimizer, scaler, rng) -> None:
    """Put a checkpoint's state back into a freshly built run."""
    run.model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scaler.load_state_dict(state["scaler"])
    rng.set_state(state["rng"])
    torch.set_rng_state(state["torch_rng"])
    if state["cuda_rng"]:                        # saved on a GPU
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    run.step = state["step"]
    run.history[:] = [tuple(row) for row in state["history"]]
    run.seconds, run.cpu_seconds = state["seconds"], state["cpu_seconds"]
# --8<-- [end:checkpoint]


def load_run(path: str | Path, config: TrainConfig,
             device: torch.device | None = None) -> TrainRun:
    """A trained run from its checkpoint (made with this configuration)."""
    device = device or get_device()
    state = load_checkpoint(path, config, map_location="cpu")
    tokenizer = load_tokenizer(state["tokenizer"])
    model = GPT(config.gpt_config(tokenizer.vocab_size))
    model.load_state_dict(state["model"])
    run = TrainRun(model.to(device), tokenizer, config, step=state["step"],
                   history=[tuple(row) for row in state["history"]],
                   seconds=state["seconds"],
                   cpu_seconds=state["cpu_seconds"])
    return run


@torch.no_grad()
def complete(model: GPT, tokenizer, prompt: str, max_new_tokens: int = 20,
             stop: str | None = "\n") -> str:
    """The greedy continuation of prompt (the most likely token each time),
    up to max_new_tokens or until stop appears. genai.generate does more."""
    model.eval()
    device = next(model.parameters()).device
    ids = tokenizer.encode(prompt)
    new: list[int] = []
    for _ in range(max_new_tokens):
        context = (ids + new)[-model.config.block_size:]
        logits, _ = model(torch.tensor([context], device=device))
        new.append(int(logits[0, -1].argmax()))
        if stop and stop in tokenizer.decode(new):
            break
    text = tokenizer.decode(new)
    return text.split(stop)[0] if stop else text


# ---------------------------------------------------------------------------
# The course's two pretrained models
# ---------------------------------------------------------------------------
# --8<-- [start:pretrained]
PRETRAINED = {
    # 60 countries and capitals, in 7 kinds of sentence
    "facts": TrainConfig(data="facts", vocab_size=1024, block_size=32,
                         batch_size=24, steps=400, lr=5e-3, min_lr=3e-4,
                         warmup_steps=50, eval_interval=25),
    # tales from a small grammar
    "stories": TrainConfig(data="stories", vocab_size=512, block_size=64,
                           batch_size=16, steps=250, lr=3e-3, min_lr=3e-4,
                           warmup_steps=25, eval_interval=25),
}


def pretrained_run(name: str, device=None, log=None) -> TrainRun:
    """The run (model, tokenizer, loss history) of "facts" or "stories":
    the reference shipped with the course (see genai.store)."""
    if name not in PRETRAINED:
        raise TrainError(f"no pretrained model {name!r}: choose from "
                         f"{sorted(PRETRAINED)}")
    return store.load(name, device=device, log=log)


def pretrained(name: str, device=None):
    """(model in eval mode, tokenizer) of the course's "facts" or
    "stories" model, on device (default: genai.device.get_device())."""
    run = pretrained_run(name, device)
    return run.model.eval(), run.tokenizer
# --8<-- [end:pretrained]


@torch.no_grad()
def capitals_right(model: GPT, tokenizer) -> int:
    """How many of the 60 capitals the greedy completion of "The capital
    of <country> is" gets right."""
    return sum(complete(model, tokenizer, f"The capital of {country} is",
                        stop=".").strip() == capital
               for country, capital in CAPITALS.items())


@torch.no_grad()
def first_token_right(model: GPT, tokenizer) -> int:
    """How many of the 60 capitals are the most likely next token after
    "The capital of <country> is" (their first token, for long names)."""
    return sum(int(next_token_probs(model, tokenizer, f"The capital of "
                                    f"{country} is").argmax())
               == tokenizer.encode(" " + capital)[0]
               for country, capital in CAPITALS.items())


@torch.no_grad()
def next_token_probs(model: GPT, tokenizer, prompt: str) -> torch.Tensor:
    """The model's probabilities (V,) for the token after prompt."""
    model.eval()
    ids = tokenizer.encode(prompt)[-model.config.block_size:]
    logits, _ = model(torch.tensor([ids],
                                   device=next(model.parameters()).device))
    return logits[0, -1].softmax(-1)


def _save_run(run: TrainRun):
    return run.model.state_dict(), {
        "tokenizer": run.tokenizer.to_dict(), "step": run.step,
        "history": run.history, "seconds": run.seconds,
        "cpu_seconds": run.cpu_seconds}


def _build_run(config: TrainConfig, tensors, data, device) -> TrainRun:
    tokenizer = load_tokenizer(data["tokenizer"])
    model = GPT(config.gpt_config(tokenizer.vocab_size))
    model.load_state_dict(tensors)
    return TrainRun(model.to(device).eval(), tokenizer, config,
                    step=data["step"],
                    history=[tuple(row) for row in data["history"]],
                    seconds=data["seconds"],
                    cpu_seconds=data["cpu_seconds"])


def _final_losses(run: TrainRun) -> dict:
    step, train_loss, val_loss, _ = run.history[-1]
    return {"step": step, "train": train_loss, "validation": val_loss}


def _facts_quality(run: TrainRun) -> dict:
    model, tokenizer = run.model.eval(), run.tokenizer
    probs = next_token_probs(model, tokenizer, "The capital of France is")
    return {"capitals_right": capitals_right(model, tokenizer),
            "first_token_right": first_token_right(model, tokenizer),
            "paris_first": int(probs.argmax()) == tokenizer.encode(" Paris")[0],
            "paris_probability": probs[tokenizer.encode(" Paris")[0]].item(),
            "validation_loss": run.history[-1][2]}


def _facts_bars(quality: dict, reference: dict) -> list[str]:
    failures = []
    if quality["capitals_right"] < len(CAPITALS):
        failures.append(f"{quality['capitals_right']} of {len(CAPITALS)} "
                        f"capitals right, the bar is all of them")
    if not quality["paris_first"]:
        failures.append("' Paris' is not the most likely token after "
                        "'The capital of France is'")
    failures += _loss_bar(quality, reference, margin=0.1)
    return failures


def _stories_quality(run: TrainRun) -> dict:
    return {"validation_loss": run.history[-1][2],
            "ln_vocabulary": math.log(run.tokenizer.vocab_size)}


def _stories_bars(quality: dict, reference: dict) -> list[str]:
    return _loss_bar(quality, reference, margin=0.1)


def _loss_bar(quality: dict, reference: dict, margin: float) -> list[str]:
    if quality["validation_loss"] <= reference["validation_loss"] + margin:
        return []
    return [f"validation loss {quality['validation_loss']:.3f}, more than "
            f"{margin} above the reference's "
            f"{reference['validation_loss']:.3f}"]


def _train_cpu(config: TrainConfig, checkpoint, log) -> TrainRun:
    return train(config, checkpoint=checkpoint, device=torch.device("cpu"),
                 log=log)


_GPT = dict(sources=SOURCES, train=_train_cpu, save=_save_run,
            build=_build_run, losses=_final_losses)
FACTS = store.Recipe("facts", "GPT on 60 countries and their capitals",
                     PRETRAINED["facts"], quality=_facts_quality,
                     bars=_facts_bars, **_GPT)
STORIES = store.Recipe("stories", "GPT on tales from a small grammar",
                       PRETRAINED["stories"], quality=_stories_quality,
                       bars=_stories_bars, **_GPT)


# ---------------------------------------------------------------------------
# Command line (also under torchrun)
# ---------------------------------------------------------------------------
# --8<-- [start:ddp]
def init_distributed() -> torch.device:
    """The device of this process; joins the process group under torchrun."""
    device = get_device()
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        if device.type == "cuda":   # one GPU per process
            device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device


def same_weights_everywhere(model: GPT) -> bool:
    """True if every process holds exactly rank 0's weights."""
    flat = torch.cat([p.detach().flatten() for p in model.parameters()])
    reference = flat.clone()
    dist.broadcast(reference, src=0)
    same = torch.tensor(float(torch.equal(flat, reference)),
                        device=flat.device)
    dist.all_reduce(same, op=dist.ReduceOp.MIN)
    return bool(same.item())
# --8<-- [end:ddp]


EXAMPLES = """examples:
  python -m genai.gpt_train --data facts --steps 600 --out facts.pt
  python -m genai.gpt_train --data stories --tokenizer char --out s.pt
  python -m genai.gpt_train --data input.txt --tokenizer char \\
      --block-size 128 --steps 2000 --out shakespeare.pt
  torchrun --nproc_per_node=2 -m genai.gpt_train --data stories --out s.pt

Run the same command again to resume from --out after an interruption."""


def build_parser() -> OneLineParser:
    defaults = TrainConfig()
    parser = OneLineParser(
        prog="python -m genai.gpt_train",
        description="Train a small GPT on the course's facts or stories, "
        "or on a UTF-8 text file.", epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=defaults.data,
                        help="facts, stories, or the path of a text file")
    parser.add_argument("--out", metavar="CKPT", help="checkpoint file: "
                        "written as training goes, resumed if it exists")
    parser.add_argument("--checkpoint-every", type=int, default=100)
    parser.add_argument("--sample", default="",
                        help="a prompt to complete after training")
    for f in dataclasses.fields(TrainConfig):
        if f.name == "data":
            continue
        flag = "--" + f.name.replace("_", "-")
        kwargs = {"choices": TOKENIZERS} if f.name == "tokenizer" else {}
        kwargs = {"choices": AMP} if f.name == "amp" else kwargs
        parser.add_argument(flag, type=type(getattr(defaults, f.name)),
                            default=getattr(defaults, f.name),
                            help=f"(default: {getattr(defaults, f.name)})",
                            **kwargs)
    return parser


def demo() -> int:
    """No arguments: a small character-level model on the stories, with
    an interruption and a resume, in a few seconds."""
    import tempfile

    config = TrainConfig(data="stories", tokenizer="char", block_size=32,
                         n_layer=2, n_embd=64, batch_size=16, steps=120,
                         warmup_steps=10, eval_interval=40, eval_steps=2)
    print("Demo: 120 steps of a tiny character-level GPT on the stories, "
          "interrupted at step 60 and resumed. See --help for more.")
    torch.set_num_threads(1)   # a model this small runs best on one thread
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "demo.pt"
        train(config, checkpoint=path, checkpoint_every=60, stop_after=61)
        print("... interrupted; starting again")
        run = train(config, checkpoint=path, checkpoint_every=60)
    prompt = "Once upon a time"
    print(f"{prompt!r} -> {complete(run.model, run.tokenizer, prompt, 40)!r}")
    return 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:
        return demo()
    args = build_parser().parse_args(argv)
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    try:
        config = TrainConfig(**{k: v for k, v in vars(args).items()
                                if k in names})
        try:
            device = init_distributed()
        except RuntimeError as error:   # e.g. COURSE_DEVICE=cuda, no GPU
            raise TrainError(str(error)) from None
        run = train(config, checkpoint=args.out,
                    checkpoint_every=args.checkpoint_every, device=device)
        if dist.is_initialized():
            same = same_weights_everywhere(run.model)
            rank, world = dist.get_rank(), dist.get_world_size()
            dist.destroy_process_group()
            if rank != 0:
                return 0
            print(f"{world} processes, identical weights: {same}")
        if args.sample:
            print(f"{args.sample!r} -> "
                  f"{complete(run.model, run.tokenizer, args.sample)!r}")
    except (ValueError, OSError, CheckpointError) as error:
        message = "; ".join(line.strip() for line in str(error).splitlines())
        print(f"gpt_train: error: {message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
