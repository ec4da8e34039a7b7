"""Figures of the pages "The transformer" and "Scale", drawn during the build.

The site's build hook calls them through docs/llm/figures.txt.

    python -m genai.figures_llm_model   # lists the figures it can draw
"""

import pathlib

import torch
from matplotlib.figure import Figure

from genai.drawing import course_style, save_figure
from genai.gpt import attention
from genai.scale import CONFIGS, meta_model, parameter_split

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


if __name__ == "__main__":
    from genai.drawing import figures_main

    figures_main(globals())
