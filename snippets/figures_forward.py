"""Figures of the page "The forward process", drawn during the build.

Each ``plot_*`` function takes a path and writes one file there. The build
calls them through docs/diffusion/figures.txt.

    python -m genai.figures_forward           # list the figures
    python -m genai.figures_forward out/      # draw all of them into out/
"""

from __future__ import annotations

import functools
import json
import pathlib

import numpy as np
import torch
from matplotlib.figure import Figure

from genai.drawing import course_style, save_figure
from genai.noise_schedule import NoiseSchedule, load_photo, to_image_array

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


if __name__ == "__main__":
    from genai.drawing import figures_main

    figures_main(globals())
