"""Reasoning on a laptop, measured: prints, never asserts (the store's bars
in genai/reasoning/adder.py hold the figures on any CPU; tests/reasoning/
test_adder.py the rest).

1. Thinking out loud: the direct and the scratchpad adders at the same
   size and budget (700 steps), greedy held-out accuracy by digits, and
   the direct model again with twice the budget (1,500 steps).
2. Compute at answer time: one sample, a majority vote and the best of k
   (the checker), k = 1 to 16, on the scratchpad adder and adder-sft.
3. GRPO: adder-sft before and after (the references), and variants tuned
   anew here for the same 40 steps: the KL term on (beta 0.04), no
   division by the group's spread (scale=False), and a learning rate 100
   times higher (the collapse).
4. TRL's GRPOTrainer on the exported adder-sft: the reward of each step.

The bars (issue 26): RL raises held-out pass@1 by at least 20 points over
its start; a majority vote of 8 beats one sample; the scratchpad beats the
direct model on 3+ digit sums at equal budget.

    python benchmarks/reasoning.py            # about 3 minutes on one thread
"""

import dataclasses
import time

import torch

from genai.reasoning.adder import (GRPOConfig, SFTConfig, by_samples, grpo, held_out,
                                 reasoner, reply_length, scores, train_sft, trl_grpo)

CPU = torch.device("cpu")


def row(name, s, seconds=None):
    greedy = " ".join(f"{s[f'greedy_{d}']:.2f}" for d in range(1, 6))
    took = f"{seconds:6.1f} s" if seconds is not None else ""
    print(f"{name:34s} {greedy}   {s['pass_at_1']:.3f}  {s['majority_8']:.3f}  "
          f"{s['best_of_8']:.3f}  {s['well_formed']:.3f}  {took}")


def header(title):
    print(f"\n{title}")
    print(f"{'':34s} greedy, digits 1-5         pass@1 maj@8  best@8 formed  time")


def main():
    torch.set_num_threads(1)
    test = held_out()

    header("1. thinking out loud (500 held-out sums; the references, 700 steps each)")
    for name in ("adder-direct", "adder-scratchpad"):
        row(name, scores(reasoner(name, device=CPU), test))
    started = time.process_time()
    longer = train_sft(SFTConfig(style="direct", steps=1500), log=lambda text: None)
    row("direct, 1500 steps (trained here)", scores(longer, test),
        time.process_time() - started)
    print(f"tokens per reply: direct {reply_length('direct')}, "
          f"scratchpad {reply_length('scratchpad')}")

    print("\n2. compute at answer time (500 held-out sums; one sample / majority / best of k)")
    for name in ("adder-scratchpad", "adder-sft"):
        found = by_samples(reasoner(name, device=CPU), test)
        for k, (one, vote, best) in found.items():
            print(f"{name:17s} k={k:2d} ({k * reply_length('scratchpad'):4d} tokens)  "
                  f"one {one:.3f}  majority {vote:.3f}  best {best:.3f}")

    header("3. GRPO (500 held-out sums)")
    start = scores(reasoner("adder-sft", device=CPU), test)
    row("adder-sft (the start)", start)
    end = scores(reasoner("adder-grpo", device=CPU), test)
    row("adder-grpo (40 steps)", end)
    print(f"pass@1 {start['pass_at_1']:.3f} -> {end['pass_at_1']:.3f}: "
          f"{100 * (end['pass_at_1'] - start['pass_at_1']):+.1f} points; well formed "
          f"{start['well_formed']:.3f} -> {end['well_formed']:.3f}")
    for label, change in [("same settings, trained here", {}),
                          ("beta 0.04 (KL to the start)", {"beta": 0.04}),
                          ("scale=False (Dr. GRPO)", {"scale": False}),
                          ("lr 3e-3 (100 times higher)", {"lr": 3e-3})]:
        model = reasoner("adder-sft", device=CPU)
        started = time.process_time()
        tuned = grpo(model, dataclasses.replace(GRPOConfig(), **change), log=lambda text: None)
        row(label, scores(tuned, test), time.process_time() - started)

    print("\n4. TRL's GRPOTrainer on the exported adder-sft, 10 steps of 4 problems x 8")
    started = time.process_time()
    trl_grpo(reasoner("adder-sft", device=CPU), steps=10)
    print(f"{time.process_time() - started:.1f} s")


if __name__ == "__main__":
    main()
