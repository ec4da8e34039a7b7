"""Training throughput of the course's GPT on the CPU: prints, never asserts.

The configuration is nanoGPT's published CPU run (4 layers, 4 heads, width
128, context 64, batch 12, character-level, dropout 0): 768 tokens a step.

* "course loop": genai.llm.train.train, the loop the course teaches (AdamW,
  gradient clipping, learning-rate schedule), on the story corpus at
  character level, without biases as in nanoGPT's configuration and with
  GPT-2's biases. Its time per step is (loop time of 2n steps - loop time
  of n steps) / n: the evaluations at the start and the end cancel out,
  as nanoGPT's printed time per iteration leaves its evaluations out.
* "bare step, no biases": the same step (batch, forward, backward, clip,
  AdamW) written out, with bias=False as in nanoGPT's configuration.
* "bare step, biases": the same with GPT-2's biases.
* "nanoGPT's model": with --nanogpt DIR, the GPT of a local clone of
  karpathy/nanoGPT (its model.py and its configure_optimizers) in the very
  same step, for a comparison on your machine.

Each is timed in rounds that take turns, so that other work on the machine
slows them all alike; the median round is reported. Model FLOPs
utilisation (MFU) divides the model's FLOPs per second by what a float32
matmul reaches in the same rounds. FLOPs per token follow nanoGPT's
estimate_mfu, which is the PaLM paper's appendix B: 6 N + 12 L T d, with N
the parameters without the position embedding.

    python benchmarks/gpt_throughput.py
    python benchmarks/gpt_throughput.py --rounds 7 --steps 40 --threads 2
    python benchmarks/gpt_throughput.py --nanogpt ~/src/nanoGPT
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import torch

from genai.llm.corpora import load_corpus
from genai.llm.gpt import GPT, GPTConfig
from genai.llm.tokenizer import CharTokenizer
from genai.llm.train import TrainConfig, get_batch, train

BLOCK, BATCH = 64, 12
SHAPE = dict(block_size=BLOCK, n_layer=4, n_head=4, n_embd=128, dropout=0.0)


def flops_per_token(config: GPTConfig, n_params: int) -> int:
    """6 N (forward and backward) + 12 L T d for the attention scores."""
    return 6 * n_params + 12 * config.n_layer * config.block_size \
        * config.n_embd


def matmul_flops(n: int = 1024, repeat: int = 10) -> float:
    """Float32 FLOP/s of an n x n matmul, the best of a few tries."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeat):
            a @ b
        best = min(best, (time.perf_counter() - start) / repeat)
    return 2 * n ** 3 / best


class BareStep:
    """Batch, forward, backward, clip, AdamW: one training step."""

    def __init__(self, model, optimizer, data):
        self.model, self.optimizer, self.data = model, optimizer, data
        self.rng = torch.Generator().manual_seed(0)

    def seconds(self, steps: int) -> float:
        start = time.perf_counter()
        for _ in range(steps):
            x, y = get_batch(self.data, BLOCK, BATCH, self.rng)
            _, loss = self.model(x, y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
        loss.item()
        return time.perf_counter() - start


class CourseLoop:
    """genai.llm.train.train for a number of steps; its loop's own clock."""

    def __init__(self, path: Path, bias: bool):
        self.base = TrainConfig(data=str(path), tokenizer="char", bias=bias,
                                batch_size=BATCH, amp="off", **SHAPE)

    def loop_seconds(self, steps: int) -> float:
        config = dataclasses.replace(self.base, steps=steps, warmup_steps=0,
                                     eval_interval=steps, eval_steps=1)
        return train(config, device=torch.device("cpu"),
                     log=lambda *args, **kwargs: None).seconds

    def seconds(self, steps: int) -> float:
        return self.loop_seconds(2 * steps) - self.loop_seconds(steps)


def nanogpt_model(folder: Path, vocab_size: int):
    """GPT and optimizer from a local nanoGPT clone's model.py."""
    spec = importlib.util.spec_from_file_location("nanogpt_model",
                                                  folder / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    config = module.GPTConfig(vocab_size=vocab_size, bias=False, **SHAPE)
    model = module.GPT(config)
    optimizer = model.configure_optimizers(0.1, 1e-3, (0.9, 0.99), "cpu")
    return model, optimizer


def row(label: str, seconds: list[float], direct: bool, per_step: float,
        peak: float) -> str:
    """One line of the report, with only figures that are measurements.

    The course loop's time per step is a difference of two loop times: its
    median is a fair estimate, but its fastest value is the largest gap
    between two noisy numbers, not a step that ran, so it is not shown; and
    if noise swamps the difference (a median of 0 or less), nothing is."""
    median = statistics.median(seconds)
    if median <= 0:
        return (f"  {label:21s} not measured: the difference of two loop "
                f"times was lost in noise (try more --steps)")
    best = f"({min(seconds) * 1e3:5.1f})" if direct else "       "
    return (f"  {label:21s} {median * 1e3:6.1f} ms/step {best}, "
            f"{BATCH * BLOCK / median:7,.0f} tok/s, "
            f"MFU {per_step / median / peak:.0%}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=30,
                        help="training steps per round")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: PyTorch's choice)")
    parser.add_argument("--nanogpt", type=Path, default=None,
                        help="a local clone of karpathy/nanoGPT")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    # the story corpus at character level, as nanoGPT's shakespeare_char
    text = load_corpus("stories")
    tokenizer = CharTokenizer.train(text)
    data = torch.tensor(tokenizer.encode(text))
    corpus = Path(os.environ.get("TMPDIR", "/tmp")) / "gpt_throughput.txt"
    corpus.write_text(text, encoding="utf-8")

    runs = {"course loop, no biases": CourseLoop(corpus, bias=False),
            "course loop, biases": CourseLoop(corpus, bias=True)}
    for label, bias in (("bare step, no biases", False),
                        ("bare step, biases", True)):
        config = GPTConfig(vocab_size=tokenizer.vocab_size, bias=bias,
                           **SHAPE)
        model = GPT(config)
        runs[label] = BareStep(model, model.configure_optimizer(1e-3), data)
    if args.nanogpt is not None:
        runs["nanoGPT's model"] = BareStep(
            *nanogpt_model(args.nanogpt, tokenizer.vocab_size), data)
    for run in runs.values():                     # warm up
        run.seconds(3)

    times = {label: [] for label in runs}
    peaks = []
    for _ in range(args.rounds):
        peaks.append(matmul_flops())
        for label, run in runs.items():
            times[label].append(run.seconds(args.steps) / args.steps)
    peak = statistics.median(peaks)

    reference = GPT(GPTConfig(vocab_size=tokenizer.vocab_size, bias=False,
                              **SHAPE))
    n = reference.num_params(include_positions=False)
    per_step = flops_per_token(reference.config, n) * BATCH * BLOCK
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"CPU: {os.cpu_count()} cores, torch {torch.__version__} with "
          f"{torch.get_num_threads()} threads; load average {load}")
    print(f"model: {n:,} parameters without positions, vocabulary "
          f"{tokenizer.vocab_size}, {BATCH * BLOCK} tokens per step, "
          f"{per_step / 1e9:.2f} GFLOP per step")
    print(f"float32 1024x1024 matmul: {peak / 1e9:.0f} GFLOP/s (median of "
          f"{args.rounds} rounds, best of 3 within each)")
    print(f"{args.rounds} rounds of {args.steps} steps; median (fastest, "
          f"where a step is timed directly):")
    for label, seconds in times.items():
        print(row(label, seconds, direct=not isinstance(runs[label],
                                                        CourseLoop),
                  per_step=per_step, peak=peak))
    if "nanoGPT's model" in times:
        theirs = statistics.median(times["nanoGPT's model"])
        for label in ("bare step, no biases", "course loop, no biases"):
            ours = statistics.median(times[label])
            print(f"{label} vs nanoGPT's model in the same step: "
                  f"{theirs / ours - 1:+.0%} tokens/s")
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scale = 1 if sys.platform == "darwin" else 1024    # bytes vs KiB
    print(f"peak memory (max resident set) of this process: "
          f"{peak_rss * scale / 2 ** 20:.0f} MiB")


if __name__ == "__main__":
    main()
