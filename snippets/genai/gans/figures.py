"""Figures of the chapter "GANs", drawn during the build.

Each ``plot_<name>`` function draws ``docs/gans/img/<name>.png`` (the build
hook finds them here: hooks/figures.py). The trainings they show run once
per process (cached), so figures that share a run share its cost.

    python -m genai.gans.figures          # list the figures
    python -m genai.gans.figures out/     # draw all of them into out/
"""

import functools
import pathlib

import torch
from matplotlib.figure import Figure

from genai.device import get_device, one_thread
from genai.drawing import course_style, save_figure
from genai.gans.gan import (COLLAPSE, DIGITS, RING, generate,
                            load_digits_tensor, ring_modes, ring_of_gaussians,
                            ring_quality, sample, sample_latent, train_gan)

REAL_COLOUR = "0.6"
SAMPLE_COLOUR = "#228833"
D_COLOUR, G_COLOUR = "#4477AA", "#EE6677"
SNAPSHOTS = (1, 300, 1000, 3000)


@functools.cache
def _ring_data() -> torch.Tensor:
    return ring_of_gaussians(2000, seed=0)


@functools.cache
@one_thread
def _ring_run():
    return train_gan(_ring_data(), RING, snapshot_at=SNAPSHOTS)


@functools.cache
@one_thread
def _collapse_run():
    return train_gan(_ring_data(), COLLAPSE)


@functools.cache
@one_thread
def _digits_run():
    return train_gan(load_digits_tensor(), DIGITS)


def _ring_axes(ax, title: str) -> None:
    ax.set_xlim(-3, 3)
    ax.set_ylim(-3, 3)
    ax.set_aspect("equal")
    ax.set_xticks([-2, 0, 2])
    ax.set_yticks([-2, 0, 2])
    ax.set_title(title)


@course_style
def plot_ring_training(path: pathlib.Path) -> None:
    """Generated points (green) over the real ring (grey), during training."""
    run, real = _ring_run(), _ring_data().cpu()
    fig = Figure(figsize=(8, 8.4), layout="constrained")
    for ax, step in zip(fig.subplots(2, 2).flat, SNAPSHOTS):
        fake = run.snapshots[step]
        covered, quality = ring_quality(fake)
        ax.scatter(*real.T, s=4, color=REAL_COLOUR)
        ax.scatter(*fake.T, s=4, color=SAMPLE_COLOUR, alpha=0.5)
        _ring_axes(ax, f"step {step}: {covered}/8 modes, "
                       f"{quality:.0%} good")
    save_figure(fig, path)


@course_style
def plot_losses(path: pathlib.Path) -> None:
    """Both losses over training, smoothed over 50 steps."""
    run = _ring_run()
    fig = Figure(figsize=(8, 4), layout="constrained")
    ax = fig.subplots()
    for losses, colour, label in ((run.d_losses, D_COLOUR, "discriminator"),
                                  (run.g_losses, G_COLOUR, "generator")):
        values = torch.tensor(losses)
        smooth = values.unfold(0, 50, 50).mean(dim=1)
        steps = 50 * torch.arange(1, len(smooth) + 1)
        ax.plot(steps, smooth, color=colour, label=label)
    ax.axhline(2 * torch.log(torch.tensor(2.0)).item(), color=D_COLOUR,
               linestyle=":", label="2 log 2 (D = 1/2)")
    ax.axhline(torch.log(torch.tensor(2.0)).item(), color=G_COLOUR,
               linestyle=":", label="log 2")
    ax.set_xlabel("training step")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    ax.legend(ncols=2, loc="upper right")
    save_figure(fig, path)


@course_style
def plot_decision_surface(path: pathlib.Path) -> None:
    """D(x) over the plane at the end of training, with real and fake points."""
    run, real = _ring_run(), _ring_data().cpu()
    steps = 200
    axis = torch.linspace(-3, 3, steps)
    mesh1, mesh2 = torch.meshgrid(axis, axis, indexing="xy")
    grid = torch.stack([mesh1.flatten(), mesh2.flatten()], 1)
    with torch.no_grad():
        score = run.discriminator(grid.to(get_device()))
    prob = torch.sigmoid(score).cpu().reshape(steps, steps)
    fake = sample(run.generator, 1000)
    fig = Figure(figsize=(6.5, 5.5), layout="constrained")
    ax = fig.subplots()
    image = ax.contourf(mesh1, mesh2, prob, levels=20, cmap="RdBu_r")
    fig.colorbar(image, ax=ax, label="D(x): probability of real")
    ax.scatter(*real.T, s=3, color="black", label="real")
    ax.scatter(*fake.T, s=3, color="#FFDD44", label="generated")
    _ring_axes(ax, "The discriminator after training")
    ax.legend(loc="lower left")
    save_figure(fig, path)


@course_style
def plot_collapse(path: pathlib.Path) -> None:
    """The default run beside the collapsing one, same data and networks."""
    real = _ring_data().cpu()
    fig = Figure(figsize=(8, 4.4), layout="constrained")
    for ax, run, name in zip(fig.subplots(1, 2),
                             (_ring_run(), _collapse_run()),
                             ("default", "slow discriminator")):
        fake = sample(run.generator, 2000)
        covered, quality = ring_quality(fake)
        ax.scatter(*real.T, s=4, color=REAL_COLOUR)
        ax.scatter(*fake.T, s=4, color=SAMPLE_COLOUR, alpha=0.5)
        ax.scatter(*ring_modes().T, s=30, marker="+", color="black")
        _ring_axes(ax, f"{name}: {covered}/8 modes")
    save_figure(fig, path)


def _image_row(axes, images: torch.Tensor) -> None:
    for ax, image in zip(axes, images):
        ax.imshow(image.view(8, 8), cmap="gray_r", vmin=-1, vmax=1)
        ax.set_axis_off()


@course_style
def plot_digits(path: pathlib.Path) -> None:
    """Real digits (top two rows) and generated ones (the rest)."""
    run = _digits_run()
    real = load_digits_tensor()[:16].cpu()
    fake = sample(run.generator, 32, seed=1)
    fig = Figure(figsize=(8, 6.4), layout="constrained")
    axes = fig.subplots(6, 8)
    _image_row(axes[:2].flat, real)
    _image_row(axes[2:].flat, fake)
    axes[0, 0].set_title("real", loc="left")
    axes[2, 0].set_title("generated", loc="left")
    save_figure(fig, path)


@course_style
def plot_interpolation(path: pathlib.Path) -> None:
    """G along straight lines between pairs of latent points."""
    run = _digits_run()
    rng = torch.Generator().manual_seed(3)
    ends = sample_latent(6, DIGITS.latent_dim, rng)
    t = torch.linspace(0, 1, 8, device=ends.device)[:, None]
    fig = Figure(figsize=(8, 3.4), layout="constrained")
    axes = fig.subplots(3, 8)
    for row, (z0, z1) in enumerate(zip(ends[0::2], ends[1::2])):
        # z(t) = (1 - t) z0 + t z1
        z = (1 - t) * z0 + t * z1
        _image_row(axes[row], generate(run.generator, z))
    save_figure(fig, path)


if __name__ == "__main__":
    from genai.drawing import figures_main

    figures_main(globals())
