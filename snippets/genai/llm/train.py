"""Train a tiny GPT on a text: the course's corpora or a file of yours.

The loop is the one large models use, made small: a train/validation split
of the token stream, batches of random windows, AdamW with a linear warm-up
and a cosine decay, gradient clipping, evaluation of both losses, mixed
precision where the device has it, checkpoints that are written atomically
and resume exactly, and data-parallel training over several processes with
torchrun (PyTorch DDP).

The course's two trained models are in genai.llm.pretrained; the command
line is genai.llm.train_cli, which `python -m genai.llm.train` runs:

    python -m genai.llm.train                  # a demo of a few seconds
    python -m genai.llm.train --help           # every option
    python -m genai.llm.train --data facts --steps 600 --out facts.pt
    torchrun --nproc_per_node=2 -m genai.llm.train --data stories --out s.pt
"""

from __future__ import annotations

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

from genai.checkpoint import (CheckpointError, load_checkpoint, restoring,
                              save_checkpoint)
from genai.device import get_device
from genai.llm.corpora import load_corpus
from genai.llm.gpt import GPT, GPTConfig
from genai.llm.tokenizer import BPETokenizer, CharTokenizer, load_tokenizer

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
    # the network (see genai.llm.gpt.GPTConfig)
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
# --8<-- [end:config]


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
    """Train a GPT; resume from checkpoint if the file exists. stop_after
    stops at that step, as a killed run would (training-for-real.md).

    Under torchrun every process trains on its share of each batch, DDP
    averages the gradients, and only rank 0 logs and writes checkpoints.
    """
    device = device or get_device()
    rank, world = process_share(config)          # (0, 1) without torchrun
    log = log if rank == 0 else quiet            # one voice
    text = load_corpus(config.data)
    state, tokenizer = resume_point(checkpoint, config, text)
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
        with restoring(checkpoint):
            restore(state, run, optimizer, scaler, rng)
        log(f"resumed from {checkpoint} at step {run.step}")
    net = data_parallel(model, device) if world > 1 else model
    begun = time.perf_counter() - run.seconds, time.process_time() - run.cpu_seconds
    last = config.steps if stop_after is None else min(stop_after, config.steps)

    while run.step < last:
        if run.step % config.eval_interval == 0:
            record(run, train_ids, val_ids, device, dtype, log)
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
        if checkpoint is not None and rank == 0 and run.step < config.steps \
                and run.step % checkpoint_every == 0:
            clock(run, begun)
            save_state(checkpoint, run, optimizer, scaler, rng, text)

    if run.step == config.steps:
        if not run.history or run.history[-1][0] < run.step:
            record(run, train_ids, val_ids, device, dtype, log)  # the final losses
        if checkpoint is not None and rank == 0:
            clock(run, begun)
            save_state(checkpoint, run, optimizer, scaler, rng, text)
    clock(run, begun)
    return run


def record(run: TrainRun, train_ids, val_ids, device, dtype, log) -> None:
    """Both losses now: into the run's history and the log."""
    train_loss, val_loss = evaluate(run.model, train_ids, val_ids, run.config,
                                    device, dtype)
    lr = lr_at(run.step, run.config)
    run.history.append((run.step, train_loss, val_loss, lr))
    log(f"step {run.step:5d}: train loss {train_loss:.3f}, "
        f"val loss {val_loss:.3f}, lr {lr:.2e}")
# --8<-- [end:train]


def clock(run: TrainRun, begun: tuple[float, float]) -> None:
    """The run's time until now: since begun, which counts the time of the
    sessions before a resume too."""
    run.seconds = time.perf_counter() - begun[0]
    run.cpu_seconds = time.process_time() - begun[1]


def quiet(*args, **kwargs) -> None:
    """A log that says nothing (the processes other than rank 0)."""


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


def resume_point(checkpoint, config: TrainConfig, text: str):
    """(state, tokenizer): the checkpoint's, if the file exists; else (None,
    a new tokenizer) for a fresh start."""
    if checkpoint is None or not Path(checkpoint).is_file():
        return None, make_tokenizer(config, text)
    state = load_checkpoint(checkpoint, config, map_location="cpu")
    with restoring(checkpoint):
        if state["text_sha256"] != text_digest(text):
            raise CheckpointError(f"{checkpoint} was trained on another "
                                  f"version of {config.data}")
        return state, load_tokenizer(state["tokenizer"])


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
    with restoring(path):
        tokenizer = load_tokenizer(state["tokenizer"])
        model = GPT(config.gpt_config(tokenizer.vocab_size))
        model.load_state_dict(state["model"])
        return TrainRun(model.to(device), tokenizer, config,
                        step=state["step"],
                        history=[tuple(row) for row in state["history"]],
                        seconds=state["seconds"],
                        cpu_seconds=state["cpu_seconds"])


@torch.no_grad()
def complete(model: GPT, tokenizer, prompt: str, max_new_tokens: int = 20,
             stop: str | None = "\n") -> str:
    """The greedy continuation of prompt (the most likely token each time),
    up to max_new_tokens or until stop appears. genai.llm.generate does more."""
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
# Several processes: DDP under torchrun (the command line is genai.llm.train_cli)
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


def process_share(config: TrainConfig) -> tuple[int, int]:
    """(rank, world): which process this is, of how many (1 without torchrun)."""
    if not dist.is_initialized():
        return 0, 1
    rank, world = dist.get_rank(), dist.get_world_size()
    if config.batch_size % world:
        raise TrainError(f"batch_size={config.batch_size} must be "
                         f"divisible by the {world} processes")
    return rank, world


def data_parallel(model: GPT, device: torch.device) -> DistributedDataParallel:
    """The model, wrapped so that backward() averages the gradients over
    the processes."""
    return DistributedDataParallel(
        model, device_ids=[device.index] if device.type == "cuda" else None)


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


if __name__ == "__main__":   # the command line: genai.llm.train_cli
    from genai.llm.train_cli import main

    sys.exit(main())
