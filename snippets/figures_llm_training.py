"""Figures of the page "Training a tiny GPT", drawn when the site is built.

The loss curves come from the history stored in the pretrained models'
checkpoints (genai.gpt_train.pretrained_run), so drawing them trains
nothing once the models are cached.

    python -m genai.figures_llm_training          # list the figures
    python -m genai.figures_llm_training out/     # draw them into out/
"""

from __future__ import annotations

import math

from matplotlib.figure import Figure

from genai.drawing import course_style, figures_main, save_figure
from genai.gpt_train import PRETRAINED, lr_at, pretrained_run


@course_style
def plot_lr_schedule(path) -> None:
    """The learning rate of the stories model: warm-up, then cosine."""
    config = PRETRAINED["stories"]
    steps = range(config.steps + 1)
    fig = Figure(figsize=(6, 3.2))
    ax = fig.subplots()
    ax.plot(steps, [lr_at(s, config) for s in steps], color="C0")
    ax.axvline(config.warmup_steps, color="gray", linestyle=":", lw=1)
    ax.text(config.warmup_steps + 4, config.lr * 0.5, "end of\nwarm-up",
            color="gray")
    ax.axhline(config.min_lr, color="gray", linestyle="--", lw=1)
    ax.text(config.steps * 0.62, config.min_lr * 1.6, "min_lr", color="gray")
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate")
    ax.ticklabel_format(axis="y", style="sci", scilimits=(0, 0))
    save_figure(fig, path)


@course_style
def plot_loss_curves(path) -> None:
    """Training and validation loss of the two pretrained models."""
    fig = Figure(figsize=(6, 5.6))
    axes = fig.subplots(2, 1, sharex=False)
    for ax, name in zip(axes, ("facts", "stories")):
        run = pretrained_run(name)
        steps, train, val, _ = zip(*run.history)
        ax.plot(steps, train, label="training", color="C0")
        ax.plot(steps, val, label="validation", color="C1", linestyle="--")
        start = math.log(run.tokenizer.vocab_size)
        ax.axhline(start, color="gray", linestyle=":", lw=1)
        ax.text(steps[-1], start, f"ln {run.tokenizer.vocab_size}",
                color="gray", ha="right", va="bottom")
        ax.set_ylim(0, start * 1.15)
        ax.set_title(f'"{name}" model')
        ax.set_ylabel("loss (nats)")
        ax.legend(loc="center right")
    axes[-1].set_xlabel("step")
    fig.tight_layout()
    save_figure(fig, path)


if __name__ == "__main__":
    figures_main(globals())
