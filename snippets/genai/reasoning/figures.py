"""Figures of the reasoning chapter, drawn while the site is built.

Each ``plot_<name>`` function writes ``docs/reasoning/img/<name>.png`` (the
build hook finds them here: hooks/figures.py). They read the course's
reference adders (genai.store): drawing them trains nothing.

    python -m genai.reasoning.figures          # list the figures
    python -m genai.reasoning.figures out/     # draw all of them into out/
"""

from __future__ import annotations

import pathlib

import torch
from matplotlib.figure import Figure

from genai.drawing import course_style, save_figure


@course_style
def plot_adder_by_digits(path: pathlib.Path) -> None:
    """Greedy held-out accuracy by the size of the sum, for the direct and
    the scratchpad adders (the references' quality figures)."""
    from genai import store

    quality = store.qualities(store.manifest_index())
    fig = Figure(figsize=(7, 3.6), layout="constrained")
    ax = fig.subplots()
    sizes = range(1, 6)
    for shift, name, label, color in [
            (-0.2, "adder-direct", "direct: 7 tokens a reply", "#EE6677"),
            (0.2, "adder-scratchpad", "scratchpad: 52 tokens a reply", "#4477AA")]:
        values = [quality[name][f"greedy_{s}"] for s in sizes]
        bars = ax.bar([s + shift for s in sizes], values, width=0.4, color=color,
                      label=label)
        ax.bar_label(bars, [f"{v:.0%}" for v in values], fontsize=8, padding=2)
    ax.set_xticks(list(sizes), [f"{s} digit{'s' * (s > 1)}" for s in sizes])
    ax.set_ylim(0, 1.3)
    ax.set_yticks([0, 0.25, 0.5, 0.75, 1])
    ax.set_ylabel("held-out sums right (greedy)")
    ax.set_xlabel("size of the larger number; 100 sums each")
    ax.legend(loc="upper center", ncol=2)
    save_figure(fig, path)


@course_style
def plot_adder_samples(path: pathlib.Path) -> None:
    """Accuracy against the number of samples per problem: one sample, a
    majority vote, and the best of k by the checker, for the scratchpad
    adder and the hurried pupil (adder-sft)."""
    from genai.reasoning.adder import by_samples, held_out, reasoner, reply_length

    ks = (1, 2, 4, 8, 16)
    fig = Figure(figsize=(8, 3.8), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    for ax, name, title in [(axes[0], "adder-scratchpad", "adder-scratchpad: random slips"),
                            (axes[1], "adder-sft", "adder-sft: a wrong habit")]:
        found = by_samples(reasoner(name, device=torch.device("cpu")), held_out()[:200], ks)
        tokens = [k * reply_length("scratchpad") for k in ks]
        for i, label, color, marker in [(0, "one sample", "0.4", "o"),
                                        (1, "majority of k", "#EE6677", "s"),
                                        (2, "best of k (checker)", "#4477AA", "^")]:
            ax.plot(tokens, [found[k][i] for k in ks], color=color, marker=marker,
                    label=label)
        ax.set_xscale("log", base=2)
        ax.set_xticks(tokens, [f"{k}\n({t})" for k, t in zip(ks, tokens)])
        ax.set_xlabel("samples k (tokens written per problem)")
        ax.set_title(title, fontsize=10)
        ax.set_ylim(0, 1.05)
    axes[0].set_ylabel("held-out problems right")
    axes[1].legend(loc="lower right")
    save_figure(fig, path)


@course_style
def plot_grpo_history(path: pathlib.Path) -> None:
    """The mean reward of each GRPO step and the held-out pass@1, from the
    adder-grpo reference's training record."""
    from genai.reasoning.adder import reasoner

    history = reasoner("adder-grpo", device=torch.device("cpu")).history
    rewards = torch.tensor(history["reward"])
    fig = Figure(figsize=(7, 3.6), layout="constrained")
    ax = fig.subplots()
    steps = range(1, len(rewards) + 1)
    ax.plot(steps, rewards, color="#BBBBBB", label="mean reward of the step's 128 replies")
    smooth = rewards.unfold(0, 5, 1).mean(1)
    ax.plot(range(5, len(rewards) + 1), smooth, color="#4477AA",
            label="the same, mean of 5 steps")
    held = sorted(history["pass_at_1"].items())
    ax.plot([s for s, _ in held], [v for _, v in held], color="#EE6677",
            marker="o", label="held-out pass@1 (100 problems, 4 samples)")
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("GRPO step (16 problems, 8 replies each)")
    ax.set_ylabel("share right")
    ax.legend(loc="lower right")
    save_figure(fig, path)


if __name__ == "__main__":
    from genai.drawing import figures_main

    figures_main(globals())
