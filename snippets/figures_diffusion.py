"""Figures of the diffusion chapter's reverse process, DDIM and guidance.

Each ``plot_*`` function draws one PNG and closes it. Two models train once
per process (cached): the 2-D model on the moons, and one class-conditional
digits model that gives both unconditional samples ("no class" label) and
guided ones. The build draws them through docs/diffusion/figures.txt.

    python -m genai.figures_diffusion   # lists the figures
"""

import functools
import pathlib
import time

import torch
from matplotlib.figure import Figure

from genai.diffusion import (DIGITS, GUIDANCE, MOONS, chamfer_distance,
                             ddim_sample, ddpm_sample, moons, one_thread,
                             train_diffusion)
from genai.diffusion_digits import DigitJudge, class_accuracy, load_digits_data
from genai.drawing import course_style, save_figure

REAL_COLOUR = "0.6"
SAMPLE_COLOUR = "#228833"
REVERSE_STEPS = (100, 60, 30, 15, 5, 0)
SCALES = (0.0, 1.0, GUIDANCE, 5.0)


@functools.cache
def _moons_run():
    return train_diffusion(moons(1000, seed=0), MOONS)


@functools.cache
def _digits_run():
    x, y = load_digits_data()
    return train_diffusion(x, DIGITS, labels=y)


@functools.cache
@one_thread
def _judge() -> DigitJudge:
    return DigitJudge()


def _plane(ax, title: str) -> None:
    ax.set_xlim(-2.8, 2.8)
    ax.set_ylim(-2.8, 2.8)
    ax.set_aspect("equal")
    ax.set_xticks([-2, 0, 2])
    ax.set_yticks([-2, 0, 2])
    ax.set_title(title)


def _images(axes, images: torch.Tensor) -> None:
    for ax, image in zip(axes, images):
        ax.imshow(image.view(8, 8), cmap="gray_r", vmin=-1, vmax=1)
        ax.set_axis_off()


def _image_rows(rows: list, row_height: float = 1.15) -> Figure:
    """One band of 10 images per (title, images (k * 10, 64)) in rows."""
    heights = [len(images) // 10 + 0.35 for _, images in rows]
    fig = Figure(figsize=(8, row_height * sum(heights)), layout="constrained")
    bands = fig.subfigures(len(rows), 1, height_ratios=heights)
    for band, (title, images) in zip(getattr(bands, "flat", [bands]), rows):
        band.suptitle(title, x=0.01, ha="left", fontsize=12)
        axes = band.subplots(len(images) // 10, 10, squeeze=False)
        _images(axes.flat, images)
    return fig


@course_style
def plot_moons_reverse(path: pathlib.Path) -> None:
    """1,000 samples at several steps of the reverse process, moons in grey."""
    run, real = _moons_run(), moons(1000, seed=1).cpu()
    x0, snaps = ddpm_sample(run.model, run.schedule, 1000,
                            snapshot_at=REVERSE_STEPS)
    fig = Figure(figsize=(8, 5.8), layout="constrained")
    for ax, t in zip(fig.subplots(2, 3).flat, REVERSE_STEPS):
        ax.scatter(*real.T, s=3, color=REAL_COLOUR)
        ax.scatter(*snaps[t].T, s=3, color=SAMPLE_COLOUR, alpha=0.6)
        _plane(ax, f"t = {t}")
    save_figure(fig, path)


@course_style
def plot_moons_loss(path: pathlib.Path) -> None:
    """The training loss of the 2-D model, averaged over 100 steps."""
    run = _moons_run()
    losses = torch.tensor(run.losses)
    smooth = losses.unfold(0, 100, 100).mean(dim=1)
    fig = Figure(figsize=(7, 3.5), layout="constrained")
    ax = fig.subplots()
    ax.plot(100 * torch.arange(1, len(smooth) + 1), smooth,
            color=SAMPLE_COLOUR)
    ax.set_xlabel("training step")
    ax.set_ylabel("noise-prediction MSE")
    ax.set_ylim(0, None)
    ax.grid(alpha=0.3)
    save_figure(fig, path)


def _timed(sample):
    start = time.perf_counter()
    x = sample()
    return x, time.perf_counter() - start


@course_style
def plot_ddim_moons(path: pathlib.Path) -> None:
    """DDPM with every step beside DDIM with fewer: time and Chamfer distance."""
    run, real = _moons_run(), moons(1000, seed=1).cpu()
    model, schedule = run.model, run.schedule
    ddpm, ddpm_time = _timed(lambda: ddpm_sample(model, schedule, 1000)[0])
    panels = [(f"DDPM, {schedule.steps} steps", ddpm, ddpm_time)]
    for k in (50, 20, 10):
        x, seconds = _timed(lambda: ddim_sample(model, schedule, 1000, k))
        panels.append((f"DDIM, {k} steps", x, seconds))
    fig = Figure(figsize=(8, 8.6), layout="constrained")
    for ax, (name, x, seconds) in zip(fig.subplots(2, 2).flat, panels):
        ax.scatter(*real.T, s=3, color=REAL_COLOUR)
        ax.scatter(*x.T, s=3, color=SAMPLE_COLOUR, alpha=0.6)
        _plane(ax, f"{name}\n{seconds:.2f} s, Chamfer "
                   f"{chamfer_distance(x, real):.3f}")
    save_figure(fig, path)


@course_style
def plot_ddim_digits(path: pathlib.Path) -> None:
    """Digits 0-9 from the same model: DDPM with 1,000 steps, DDIM with fewer."""
    run = _digits_run()
    model, schedule = run.model, run.schedule
    labels = torch.arange(10)
    rows = [(f"DDPM, {schedule.steps} steps", None), ("DDIM, 50 steps", 50),
            ("DDIM, 10 steps", 10)]
    bands = []
    for name, k in rows:
        if k is None:
            images, seconds = _timed(lambda: ddpm_sample(
                model, schedule, 10, labels, GUIDANCE, seed=1)[0])
        else:
            images, seconds = _timed(lambda: ddim_sample(
                model, schedule, 10, k, labels, GUIDANCE, seed=1))
        bands.append((f"{name}: {seconds:.2f} s", images))
    save_figure(_image_rows(bands), path)


@course_style
def plot_digits(path: pathlib.Path) -> None:
    """Real digits (top two rows), then unconditional DDPM samples."""
    run = _digits_run()
    real, _ = load_digits_data()
    fake, _ = ddpm_sample(run.model, run.schedule, 30, seed=2)
    fig = _image_rows([("real", real[:20].cpu()),
                       ("generated, no class given", fake)])
    save_figure(fig, path)


@course_style
def plot_draw_seven(path: pathlib.Path) -> None:
    """Twenty answers to "draw a 7" at the default guidance scale."""
    run = _digits_run()
    sevens = ddim_sample(run.model, run.schedule, 20, 50, labels=7,
                         guidance=GUIDANCE, seed=3)
    said = _judge().predict(sevens)
    title = (f"asked for a 7 at w = {GUIDANCE:g}: the judge reads "
             f"{int((said == 7).sum())} of 20 as 7")
    save_figure(_image_rows([(title, sevens)]), path)


@course_style
def plot_guidance_scales(path: pathlib.Path) -> None:
    """Digits 0-9 at several guidance scales, with class accuracy per scale."""
    run = _digits_run()
    judge = _judge()
    bands = []
    for w in SCALES:
        images = ddim_sample(run.model, run.schedule, 10, 50,
                             torch.arange(10), w, seed=4)
        accuracy = class_accuracy(run.model, run.schedule, judge, w)
        bands.append((f"w = {w:g}: class accuracy {accuracy:.0%}", images))
    save_figure(_image_rows(bands), path)


if __name__ == "__main__":
    from genai.drawing import figures_main

    figures_main(globals())
