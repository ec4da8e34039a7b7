"""Figures of the in-context learning page (docs/llm/in-context.md).

    python -m genai.figures_llm_icl                 # list them
    python -m genai.figures_llm_icl out/            # draw them into out/
"""

from __future__ import annotations

import math
import pathlib

import torch
from matplotlib.figure import Figure

from genai.drawing import course_style, save_figure
from genai.in_context import (N, accuracy_by_k, encode_prompt,
                              ideal_accuracy, pretrained_icl)

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


if __name__ == "__main__":
    from genai.drawing import figures_main

    figures_main(globals())
