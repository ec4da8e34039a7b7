"""Figures of the diffusion chapter, drawn while the site is built.

Each ``plot_<name>`` function writes ``docs/diffusion/img/<name>.png`` (the
build hook finds them here: hooks/figures.py). The forward process's
figures are drawn from a photo and a fixed noise draw; the reverse
process's from a 2-D model on the moons trained once per process, and from
the course's digits model (the reference in genai.store).

    python -m genai.diffusion.figures          # list the figures
    python -m genai.diffusion.figures out/     # draw all of them into out/
"""

from __future__ import annotations

import functools
import json
import pathlib
import time

import numpy as np
import torch
from matplotlib.figure import Figure

from genai import store
from genai.diffusion.ddpm import (GUIDANCE, MOONS, chamfer_distance,
                                  ddim_sample, ddpm_sample, moons, one_thread,
                                  train_diffusion)
from genai.diffusion.digits import DigitJudge, class_accuracy, load_digits_data
from genai.diffusion.noise_schedule import (NoiseSchedule, load_photo,
                                            to_image_array)
from genai.drawing import course_style, save_figure

STEPS = 100              # the chapter's schedules have T = 100 steps
SHOWN = (0, 50, 100)     # the three steps of the first figure
STRIP = (0, 20, 40, 60, 80, 100)
SPRITE_COLUMNS = 11      # 101 frames in an 11 x 10 grid
SPRITE_HEIGHT = 48       # pixels; the sheet of noisy frames hardly compresses
SEED = 0
COLOURS = {"linear": "#4477AA", "cosine": "#EE6677"}


@functools.cache
def _photo(height: int) -> torch.Tensor:
    return load_photo(height)


@functools.cache
def _noise(height: int) -> torch.Tensor:
    """One fixed noise draw: every frame of a figure uses the same one."""
    generator = torch.Generator().manual_seed(SEED)
    return torch.randn(_photo(height).shape, generator=generator)


def _schedule(name: str) -> NoiseSchedule:
    return getattr(NoiseSchedule, name)(STEPS)


def _frames(name: str, steps, height: int = 64) -> list[np.ndarray]:
    """The photo at each of `steps`, noised with the same draw, as images."""
    x0, noise = _photo(height), _noise(height)
    batch = x0.expand(len(steps), *x0.shape)
    xt = _schedule(name).q_sample(batch, torch.tensor(steps),
                                  noise.expand_as(batch))
    return [to_image_array(x) for x in xt]


def _alpha_bar_text(a: float) -> str:
    return f"{a:.3f}" if a >= 0.01 else f"{a:.1e}"


@course_style
def plot_forward_steps(path: pathlib.Path) -> None:
    """The photo at t = 0, 50 and 100 of the 100-step cosine schedule."""
    alpha_bars = _schedule("cosine").alpha_bars
    fig = Figure(figsize=(7, 2.2), layout="constrained")
    for ax, t, image in zip(fig.subplots(1, 3), SHOWN,
                            _frames("cosine", SHOWN)):
        ax.imshow(image, interpolation="nearest")
        ax.set_title(f"t = {t}\n"
                     f"$\\bar\\alpha_t$ = {_alpha_bar_text(alpha_bars[t])}")
        ax.set_axis_off()
    save_figure(fig, path)


@course_style
def plot_forward_strip(path: pathlib.Path) -> None:
    """The same photo and noise along both schedules, t = 0 to 100."""
    fig = Figure(figsize=(8, 2.2), layout="constrained")
    axes = fig.subplots(2, len(STRIP))
    for row, name in zip(axes, ("linear", "cosine")):
        for ax, t, image in zip(row, STRIP, _frames(name, STRIP)):
            ax.imshow(image, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if name == "linear":
                ax.set_title(f"t = {t}")
        row[0].set_ylabel(name, color=COLOURS[name])
    save_figure(fig, path)


@course_style
def plot_schedules(path: pathlib.Path) -> None:
    """alpha-bar_t and log SNR of the linear and cosine schedules, T = 100."""
    fig = Figure(figsize=(8, 3.4), layout="constrained")
    left, right = fig.subplots(1, 2)
    t = np.arange(STEPS + 1)
    for name, colour in COLOURS.items():
        schedule = _schedule(name)
        left.plot(t, schedule.alpha_bars, color=colour, label=name)
        right.plot(t[1:], schedule.snr().log(), color=colour, label=name)
    left.set_title(r"signal kept: $\bar\alpha_t$")
    right.set_title(r"log SNR: $\log(\bar\alpha_t / (1 - \bar\alpha_t))$")
    right.axhline(0, color="0.6", linewidth=1, zorder=0)
    for ax in (left, right):
        ax.set_xlabel("step t")
        ax.set_xlim(0, STEPS)
        ax.grid(alpha=0.3)
        ax.legend()
    save_figure(fig, path)


def plot_forward_sprite(path: pathlib.Path) -> None:
    """All 101 frames (cosine schedule, one noise draw) and their index.

    Writes the sprite sheet ``<name>.png``, frames in a grid row by row, and
    ``<name>.json`` beside it: the grid's layout and alpha-bar_t of every
    frame, for the slider on the page (docs/assets/diffusion-slider.js).
    Whichever of the two `path` names, both are written."""
    path = pathlib.Path(path)
    from PIL import Image

    steps = list(range(STEPS + 1))
    frames = _frames("cosine", steps, SPRITE_HEIGHT)
    height, width, _ = frames[0].shape
    rows = -(-len(frames) // SPRITE_COLUMNS)
    sheet = np.full((rows * height, SPRITE_COLUMNS * width, 3), 255, np.uint8)
    for t, frame in enumerate(frames):
        row, column = divmod(t, SPRITE_COLUMNS)
        sheet[row * height:(row + 1) * height,
              column * width:(column + 1) * width] = frame
    path.parent.mkdir(parents=True, exist_ok=True)
    sprite = path.with_suffix(".png")
    Image.fromarray(sheet).save(sprite, optimize=True)
    alpha_bars = _schedule("cosine").alpha_bars.tolist()
    index = {"sprite": sprite.name, "schedule": "cosine", "steps": STEPS,
             "frames": len(frames), "columns": SPRITE_COLUMNS, "rows": rows,
             "frame_width": width, "frame_height": height,
             "alpha_bars": [float(f"{a:.4g}") for a in alpha_bars]}
    path.with_suffix(".json").write_text(json.dumps(index))


REAL_COLOUR = "0.6"
SAMPLE_COLOUR = "#228833"
REVERSE_STEPS = (100, 60, 30, 15, 5, 0)
SCALES = (0.0, 1.0, GUIDANCE, 5.0)


@functools.cache
def _moons_run():
    return train_diffusion(moons(1000, seed=0), MOONS)


@functools.cache
def _digits_run():
    return store.load("digits")


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
