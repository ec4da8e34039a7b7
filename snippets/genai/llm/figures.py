"""Figures of the Transformers and LLMs chapter, drawn while the site is built.

Each ``plot_<name>`` function writes ``docs/llm/img/<name>.png`` (the build
hook finds them here: hooks/figures.py). The loss curves and the in-context
figures read the course's reference models (genai.store): drawing them
trains nothing.

    python -m genai.llm.figures          # list the figures
    python -m genai.llm.figures out/     # draw all of them into out/
"""

from __future__ import annotations

import math
import pathlib

import torch
from matplotlib.figure import Figure

from genai.drawing import course_style, save_figure
from genai.llm.gpt import attention
from genai.llm.in_context import (N, accuracy_by_k, encode_prompt,
                                  ideal_accuracy, pretrained_icl)
from genai.llm.pretrained import PRETRAINED, pretrained_run
from genai.llm.scale import CONFIGS, meta_model, parameter_split
from genai.llm.train import lr_at

WORDS = ["The", "capital", "of", "France", "is", "Paris"]
PARTS = {"embeddings": "#4477AA", "attention": "#EE6677", "MLP": "#228833",
         "LayerNorm": "#CCBB44"}


@course_style
def plot_causal_attention(path: pathlib.Path) -> None:
    """Attention weights of random queries and keys, without and with the
    causal mask."""
    torch.manual_seed(0)
    q, k = torch.randn(2, len(WORDS), 8).unbind(0)
    eye = torch.eye(len(WORDS))      # v = identity: the output is the weights
    fig = Figure(figsize=(8, 4.2), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, causal in zip(axes, (False, True)):
        weights = attention(q, k, eye, causal=causal)
        ax.imshow(weights.numpy(), cmap="Blues", vmin=0, vmax=1)
        for i in range(len(WORDS)):
            for j in range(len(WORDS)):
                w = weights[i, j].item()
                label = "0" if w == 0 else "1" if w == 1 else f"{w:.2f}"[1:]
                ax.text(j, i, label, ha="center",
                        va="center", fontsize=9,
                        color="white" if w > 0.6 else "black")
        ax.set_xticks(range(len(WORDS)), WORDS, rotation=60)
        ax.set_yticks(range(len(WORDS)), WORDS)
        ax.set_xlabel("key (attended to)")
        ax.set_title("causal mask" if causal else "no mask")
    axes[0].set_ylabel("query (attending)")
    save_figure(fig, path)


@course_style
def plot_parameter_split(path: pathlib.Path) -> None:
    """Where the parameters are: embeddings, attention, MLP, LayerNorm."""
    fig = Figure(figsize=(7, 3.6), layout="constrained")
    ax = fig.subplots()
    names = list(CONFIGS)
    left = [0.0] * len(names)
    for part, colour in PARTS.items():
        shares = []
        for name in names:
            split = parameter_split(meta_model(CONFIGS[name]))
            shares.append(100 * split[part] / sum(split.values()))
        ax.barh(names, shares, left=left, color=colour, label=part)
        left = [a + b for a, b in zip(left, shares)]
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("share of the parameters (%)")
    ax.legend(ncols=4, loc="lower center", bbox_to_anchor=(0.5, 1.0),
              frameon=False)
    save_figure(fig, path)


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


PROMPT = "c5 a2 h7 e0 b2 c"


@course_style
def plot_icl_accuracy(path: pathlib.Path) -> None:
    """Accuracy of the answer against the number of examples k."""
    model = pretrained_icl(device="cpu")
    rows = accuracy_by_k(model, ks=range(N + 1))
    ks = [row["k"] for row in rows]
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    ax.plot(ks, [100 * ideal_accuracy(k) for k in ks], "--", color="0.4",
            label="perfect reader of the examples")
    ax.plot(ks, [100 * row["accuracy"] for row in rows], "o-",
            color="#4477AA", label="the tiny GPT")
    ax.axhline(100 / N, linestyle=":", color="#CC6677",
               label="chance (1 in 8)")
    ax.set_xlabel("examples in the prompt, k")
    ax.set_ylabel("right answers (%)")
    ax.set_ylim(0, 100)
    ax.set_xticks(ks)
    ax.legend(loc="upper left")
    save_figure(fig, path)


@course_style
def plot_icl_loss(path: pathlib.Path) -> None:
    """The training loss, averaged over 50 steps."""
    model = pretrained_icl(device="cpu")
    window = 50
    losses = torch.tensor(model.losses)
    smooth = losses[: len(losses) // window * window].view(-1, window)
    steps = window * torch.arange(1, len(smooth) + 1)
    fig = Figure(figsize=(6, 3.6), layout="constrained")
    ax = fig.subplots()
    ax.plot(steps, smooth.mean(dim=1), color="#4477AA")
    ax.set_xlabel("training step")
    ax.set_ylabel("loss")
    save_figure(fig, path)


@torch.no_grad()
def last_position_attention(model, ids: torch.Tensor) -> list[torch.Tensor]:
    """For each layer, how much the last position attends to each token:
    (n_head, T) weights, recomputed from the model's own projections."""
    T = ids.size(1)
    x = model.transformer.wte(ids) + model.transformer.wpe(torch.arange(T))
    weights = []
    for block in model.transformer.h:
        h = block.ln_1(x)
        C, H = h.size(-1), block.attn.n_head
        q, k, _ = block.attn.c_attn(h).split(C, dim=2)
        q = q[0, -1].view(H, 1, C // H)                   # the last token
        k = k[0].view(T, H, C // H).transpose(0, 1)       # (H, T, d)
        scores = q @ k.transpose(-2, -1) / math.sqrt(C // H)
        weights.append(scores.softmax(dim=-1)[:, 0])      # (H, T)
        x = block(x)
    return weights


@course_style
def plot_icl_attention(path: pathlib.Path) -> None:
    """Where the query letter looks, in each layer, for one prompt."""
    model = pretrained_icl(device="cpu")
    ids = torch.tensor([encode_prompt(PROMPT)])
    weights = last_position_attention(model, ids)
    tokens = PROMPT.split()
    fig = Figure(figsize=(6, 1.2 + 1.1 * len(weights)), layout="constrained")
    axes = fig.subplots(len(weights), 1, sharex=True, squeeze=False)[:, 0]
    for layer, (ax, w) in enumerate(zip(axes, weights), start=1):
        ax.bar(range(len(tokens)), w.mean(dim=0), color="#4477AA")
        ax.set_ylim(0, 1)
        ax.set_ylabel(f"layer {layer}")
    axes[-1].set_xticks(range(len(tokens)), tokens)
    axes[-1].set_xlabel(f"the prompt {PROMPT!r}: attention of the query")
    save_figure(fig, path)


@course_style
def plot_buildup(path: pathlib.Path) -> None:
    """Validation loss of each stage of the build-up, from the reference."""
    from genai.llm.buildup import stages

    trained = stages()
    names = list(trained["losses"])
    losses = [trained["losses"][name] for name in names]
    ln_v = math.log(trained["tokenizer"].vocab_size)
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.subplots()
    bars = ax.bar(range(len(names)), losses, color="#4477AA")
    ax.bar_label(bars, fmt="%.2f", padding=2)
    ax.axhline(ln_v, linestyle="--", color="0.4", label=f"ln V = {ln_v:.2f}")
    ax.axhline(losses[0], linestyle=":", color="#CC6677",
               label=f"bigram {losses[0]:.2f}")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_ylabel("validation loss")
    ax.set_ylim(0, ln_v * 1.1)
    ax.legend(loc="upper right")
    save_figure(fig, path)


@course_style
def plot_sft_mask(path: pathlib.Path) -> None:
    """The tokens of one instruction example: which ones the loss counts."""
    from genai.llm.instruct import IGNORE, base_with_chat_tokens, sft_example

    _, tokenizer = base_with_chat_tokens(device=torch.device("cpu"))
    ids, targets = sft_example(tokenizer, "Capital of Peru?",
                               "Lima. Lima is a city in South America.")
    full = ids + [targets[-1]]
    # position i's target is token i + 1: colour each token by whether it is
    # a target, that is, whether the loss counts its prediction
    counted = [False] + [t != IGNORE for t in targets]
    pieces = [tokenizer.decode([i]).replace(" ", "\u2423") for i in full]
    fig = Figure(figsize=(9, 2.6), layout="constrained")
    ax = fig.subplots()
    x, row, width = 0.0, 0, 13.5
    for piece, count in zip(pieces, counted):
        w = 0.25 + 0.13 * len(piece)
        if x + w > width:
            x, row = 0.0, row + 1
        ax.add_patch(matplotlib_box(x, -row, w, count))
        ax.text(x + w / 2, -row + 0.35, piece, ha="center", va="center",
                fontsize=9, family="monospace",
                color="white" if count else "black")
        x += w + 0.08
    ax.set_xlim(-0.1, width)
    ax.set_ylim(-row - 0.2, 0.9)
    ax.axis("off")
    ax.set_title("Dark: tokens the loss predicts and counts (the answer and "
                 "<|end|>). Light: read, not counted.", fontsize=10)
    save_figure(fig, path)


@course_style
def plot_lora_losses(path: pathlib.Path) -> None:
    """The answer loss of full fine-tuning and of LoRA, step by step, from
    the two reference models' training records."""
    from genai import store

    fig = Figure(figsize=(7, 3.8), layout="constrained")
    ax = fig.subplots()
    for name, label, color in [
            ("assistant", "full fine-tuning: 915,712 numbers", "#4477AA"),
            ("lora", "LoRA: 35,456 numbers", "#EE6677")]:
        losses = torch.tensor(store.load(name, device=torch.device("cpu"))
                              .losses)
        smooth = losses.unfold(0, 20, 1).mean(1)     # mean of 20 steps
        ax.plot(range(20, len(losses) + 1), smooth, color=color,
                label=label)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss on the answers (mean of 20 steps)")
    ax.legend(loc="upper right")
    save_figure(fig, path)


def matplotlib_box(x, y, w, counted):
    from matplotlib.patches import FancyBboxPatch

    return FancyBboxPatch((x, y + 0.05), w, 0.6,
                          boxstyle="round,pad=0.02,rounding_size=0.08",
                          facecolor="#4477AA" if counted else "#DDDDDD",
                          edgecolor="0.3", linewidth=0.6)


if __name__ == "__main__":
    from genai.drawing import figures_main

    figures_main(globals())
