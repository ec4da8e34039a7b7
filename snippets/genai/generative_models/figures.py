"""Figures of the chapter "What generative models are", drawn during the build.

Each ``plot_<name>`` function fits what it shows and draws
``docs/generative-models/img/<name>.png`` (the build hook finds them here:
hooks/figures.py).

    python -m genai.generative_models.figures          # list the figures
    python -m genai.generative_models.figures out/     # draw all of them into out/
"""

import pathlib

import torch
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from genai.device import get_device
from genai.drawing import course_style, save_figure
from genai.generative_models.class_conditional import fit_class_conditional
from genai.generative_models.class_conditional import \
    predict_proba as bayes_proba
from genai.generative_models.class_conditional import sample_class
from genai.generative_models.classifier import predict_proba, train_classifier
from genai.generative_models.gmm import fit_gmm, log_likelihood, sample
from genai.generative_models.memorisation import (heldout_curve,
                                                  nearest_distance)
from genai.generative_models.milestones import PUBLISHED_PARAMETERS
from genai.generative_models.toy_data import moons_train_test

CLASS_COLOURS = ("#4477AA", "#EE6677")  # blue and red, readable for colour-blind readers
SAMPLE_COLOUR = "#228833"               # green: points a model made up


def _grid(x: torch.Tensor, steps: int = 200, margin: float = 0.5):
    """A steps x steps grid around the data: (G, 2) points and the two axes."""
    lo = x.min(dim=0).values.cpu() - margin
    hi = x.max(dim=0).values.cpu() + margin
    g1 = torch.linspace(lo[0].item(), hi[0].item(), steps)
    g2 = torch.linspace(lo[1].item(), hi[1].item(), steps)
    mesh1, mesh2 = torch.meshgrid(g1, g2, indexing="xy")                 # (steps, steps)
    points = torch.stack([mesh1.flatten(), mesh2.flatten()], dim=1)       # (G, 2)
    return points.to(x.device), mesh1.numpy(), mesh2.numpy()


def _scatter_classes(ax, x: torch.Tensor, y: torch.Tensor, **kwargs) -> None:
    x, y = x.cpu(), y.cpu()
    for c, colour in enumerate(CLASS_COLOURS):
        ax.scatter(x[y == c, 0], x[y == c, 1], s=10, color=colour, label=f"class {c}", **kwargs)


@course_style
def plot_discriminative_vs_generative(path: pathlib.Path) -> None:
    """Left: a classifier's p(y=1 | x). Right: a mixture's p(x) and samples from it."""
    device = get_device()
    x_train, y_train, _, _ = moons_train_test(seed=0, device=device)
    model = train_classifier(x_train, y_train)
    gmm, _ = fit_gmm(x_train, n_components=8)
    new_points, _ = sample(gmm, 400)
    grid, g1, g2 = _grid(x_train)
    p_class1 = predict_proba(model, grid)[:, 1].reshape(g1.shape).cpu().numpy()
    log_px = log_likelihood(grid, gmm).reshape(g1.shape).cpu().numpy()

    fig = Figure(figsize=(8.5, 4.3), layout="constrained")
    left, right = fig.subplots(1, 2, sharex=True, sharey=True)
    left.contourf(g1, g2, p_class1, levels=20, cmap="RdBu_r", alpha=0.35, vmin=0, vmax=1)
    left.contour(g1, g2, p_class1, levels=[0.5], colors="black", linewidths=1.5)
    _scatter_classes(left, x_train, y_train)
    left.set_title("Discriminative: p(y | x)")
    left.legend(loc="lower left")

    right.contourf(g1, g2, log_px.clip(min=-6), levels=12, cmap="Purples", alpha=0.7)
    right.scatter(*x_train.cpu().T, s=6, color="0.45", label="training points")
    right.scatter(*new_points.cpu().T, s=10, marker="x", color=SAMPLE_COLOUR,
                  label="new samples")
    right.set_title("Generative: log p(x), 400 samples")
    right.legend(loc="lower left")
    for ax in (left, right):
        ax.set_xlabel("x1")
        ax.set_aspect("equal")
    left.set_ylabel("x2")
    save_figure(fig, path)


@course_style
def plot_samples_are_new(path: pathlib.Path) -> None:
    """Samples of a K=8 mixture vs a K=N mixture, and their distance to the data."""
    device = get_device()
    x_train, _, x_test, _ = moons_train_test(seed=0, device=device)
    torch.manual_seed(1)
    # two scatter plots side by side, the histogram below them: still
    # legible when the figure is shrunk to a phone's width
    fig = Figure(figsize=(8, 7.4), layout="constrained")
    axes = fig.subplot_mosaic([["k8", "kN"], ["hist", "hist"]])
    gaps = {"real held-out points": nearest_distance(x_test, x_train).cpu()}
    for ax, k in zip((axes["k8"], axes["kN"]), (8, len(x_train))):
        gmm, _ = fit_gmm(x_train, n_components=k)
        new_points, _ = sample(gmm, 400)
        gaps[f"samples, K = {k}"] = nearest_distance(new_points, x_train).cpu()
        ax.scatter(*x_train.cpu().T, s=14, facecolors="none", edgecolors="0.4",
                   linewidths=0.6, label="training points")
        ax.scatter(*new_points.cpu().T, s=6, color=SAMPLE_COLOUR, label="samples")
        ax.set_title(f"K = {k} components")
        ax.legend(loc="lower left")
    hist = axes["hist"]
    bins = torch.logspace(-5, 0, 40).numpy()
    for (label, gap), colour in zip(gaps.items(), ("0.3", SAMPLE_COLOUR, "#AA3377")):
        hist.hist(gap.numpy(), bins=bins, histtype="step", linewidth=1.8,
                  color=colour, label=label)
    hist.set_xscale("log")
    hist.set_xlabel("distance to the nearest training point")
    hist.set_ylabel("count")
    hist.legend(loc="upper left")
    hist.set_title("How far from the data?")
    save_figure(fig, path)


@course_style
def plot_heldout_curve(path: pathlib.Path) -> None:
    """Mean log-likelihood on training and held-out points against K."""
    device = get_device()
    x_train, _, x_test, _ = moons_train_test(seed=0, device=device)
    rows = heldout_curve(x_train, x_test, list(range(1, 21)))
    ks, train_ll, test_ll = zip(*rows)
    fig = Figure(figsize=(7, 4.2), layout="constrained")
    ax = fig.subplots()
    ax.plot(ks, train_ll, "o-", color="0.3", label="training points")
    ax.plot(ks, test_ll, "s-", color=SAMPLE_COLOUR, label="held-out points")
    best = max(rows, key=lambda row: row[2])
    ax.axvline(best[0], color=SAMPLE_COLOUR, linestyle=":", linewidth=1)
    ax.annotate(f"best held-out: K = {best[0]}", (best[0], best[2]),
                xytext=(10, -45), textcoords="offset points",
                arrowprops={"arrowstyle": "->"})
    ax.set_xlabel("number of components K")
    ax.set_ylabel("mean log p(x)")
    ax.set_xticks(range(2, 21, 2))
    ax.grid(alpha=0.3)
    ax.legend()
    save_figure(fig, path)


@course_style
def plot_class_conditional(path: pathlib.Path) -> None:
    """Samples drawn for each class, and the boundary that Bayes' rule gives."""
    device = get_device()
    x_train, y_train, _, _ = moons_train_test(seed=0, device=device)
    model = fit_class_conditional(x_train, y_train, n_components=4)
    grid, g1, g2 = _grid(x_train)
    p_class1 = bayes_proba(model, grid)[:, 1].reshape(g1.shape).cpu().numpy()
    fig = Figure(figsize=(7, 4.4), layout="constrained")
    ax = fig.subplots()
    ax.contour(g1, g2, p_class1, levels=[0.5], colors="black", linewidths=1.2)
    ax.scatter(*x_train.cpu().T, s=6, color="0.75", label="training points")
    for c, colour in enumerate(CLASS_COLOURS):
        new_points = sample_class(model, c, 200).cpu()
        ax.scatter(*new_points.T, s=12, marker="x", color=colour,
                   label=f"samples of p(x | y={c})")
    ax.set_title("Samples of each class; black line: p(y=1 | x) = 0.5")
    ax.set_aspect("equal")
    ax.legend(loc="lower left")
    save_figure(fig, path)


@course_style
def plot_sampling_families(path: pathlib.Path) -> None:
    """A schematic: how each family of generative models turns randomness into data."""
    rows = [
        ("GAN", ["noise z", "generator G", "sample x"], "one pass"),
        ("Diffusion", ["noise x_T", "denoise", "denoise", "...", "x_0"], "many small steps"),
        ("Autoregressive LM", ["x_1", "p(x_2 | x_1)", "p(x_3 | x_1,x_2)", "...", "x_T"],
         "one token at a time"),
        ("VAE", ["latent z", "decoder", "sample x"], "one pass"),
        ("Normalising flow", ["noise z", "invertible f", "x = f(z)"], "one pass, exact p(x)"),
    ]
    # each family: its name and a note on one line, its chain of boxes below
    fig = Figure(figsize=(8, 7.2), layout="constrained")
    ax = fig.subplots()
    ax.set_xlim(-0.1, 10.1)
    ax.set_ylim(-0.6, 1.3 * len(rows) - 0.5)
    ax.axis("off")
    width, gap = 1.72, 0.35
    for i, (family, boxes, note) in enumerate(rows):
        y = 1.3 * (len(rows) - 1 - i)
        ax.text(0.0, y + 0.55, family, fontsize=13, fontweight="bold",
                va="center")
        ax.text(10.0, y + 0.55, note, fontsize=12, style="italic",
                va="center", ha="right")
        for j, label in enumerate(boxes):
            x = j * (width + gap)
            is_model = j not in (0, len(boxes) - 1) and label != "..."
            ax.add_patch(FancyBboxPatch((x, y - 0.25), width, 0.5,
                                        boxstyle="round,pad=0.02",
                                        facecolor="#CCBBEE" if is_model else "#EEEEEE",
                                        edgecolor="0.3"))
            ax.text(x + width / 2, y, label, ha="center", va="center",
                    fontsize=12)
            if j:
                ax.annotate("", (x, y), (x - gap, y),
                            arrowprops={"arrowstyle": "->"})
    ax.set_title("Five ways to turn randomness into data\n(purple: the learned part)")
    save_figure(fig, path)


@course_style
def plot_gpt_sizes(path: pathlib.Path) -> None:
    """Published parameter counts of GPT, GPT-2 and GPT-3 on a log scale."""
    names = list(PUBLISHED_PARAMETERS)
    years = [PUBLISHED_PARAMETERS[n][0] for n in names]
    sizes = [PUBLISHED_PARAMETERS[n][1] for n in names]
    fig = Figure(figsize=(7, 3.8), layout="constrained")
    ax = fig.subplots()
    bars = ax.bar([f"{n}\n({y})" for n, y in zip(names, years)], sizes, color="#AA3377")
    ax.set_yscale("log")
    ax.set_ylabel("parameters (log scale)")
    for bar, size in zip(bars, sizes):
        label = f"{size / 1e9:g}B" if size >= 1e9 else f"{size / 1e6:g}M"
        ax.annotate(label, (bar.get_x() + bar.get_width() / 2, size), ha="center",
                    xytext=(0, 3), textcoords="offset points")
    ax.set_ylim(1e7, 1e12)
    ax.set_title("Published sizes of the first three GPT models")
    save_figure(fig, path)


if __name__ == "__main__":
    from genai.drawing import figures_main

    figures_main(globals())
