"""Quality bars of the diffusion chapter, measured: prints, never asserts.

* 2-D: the moons (standardised). Symmetric Chamfer distance between 1,000
  samples and 1,000 held-out points after training MOONS (bar: <= 0.1,
  training <= 30 s of CPU time), beside the same figure for pure Gaussian
  noise and for a second sample of real data.
* DDIM against DDPM: sampling time and Chamfer distance at 10, 20, 50 steps
  against ancestral sampling with all 100.
* Digits: the class-conditional DIGITS model (training time; bar: <= 3 min),
  its judge's accuracy on real held-out digits, and class accuracy of
  generated digits at several guidance scales (bar: >= 90% at the default).
  A grid of generated digits goes to benchmarks/out/diffusion_digits.png.

    python benchmarks/diffusion_quality.py
"""

import time
from pathlib import Path

import torch

from genai.device import get_device
from genai.diffusion.ddpm import (DIGITS, GUIDANCE, MOONS, chamfer_distance, ddim_sample,
                                  ddpm_sample, moons, train_diffusion)
from genai.diffusion.digits import DigitJudge, class_accuracy, load_digits_data

OUT = Path(__file__).parent / "out"


def timed(sample):
    start = time.perf_counter()
    x = sample()
    return x, time.perf_counter() - start


def two_d() -> None:
    data, held_out = moons(1000, seed=0), moons(1000, seed=1)
    run = train_diffusion(data, MOONS)
    print(f"2-D moons: trained {MOONS.train_steps} steps in "
          f"{run.seconds:.1f} s of CPU time")
    noise = torch.randn(1000, 2, generator=torch.Generator().manual_seed(5))
    print(f"  Chamfer to 1,000 held-out points (bar <= 0.1):")
    print(f"    second real sample  {chamfer_distance(moons(1000, 2), held_out):.3f}")
    print(f"    pure Gaussian noise {chamfer_distance(noise, held_out):.3f}")
    for seed in (0, 1, 2):
        x, _ = ddpm_sample(run.model, run.schedule, 1000, seed=seed)
        print(f"    DDPM samples, seed {seed} {chamfer_distance(x, held_out):.3f}")
    model, schedule = run.model, run.schedule
    (x, _), ddpm_time = timed(lambda: ddpm_sample(model, schedule, 1000))
    print(f"  DDPM, {schedule.steps} steps: {ddpm_time:.2f} s, "
          f"Chamfer {chamfer_distance(x, held_out):.3f}")
    for k in (50, 20, 10):
        x, seconds = timed(lambda: ddim_sample(model, schedule, 1000, k))
        print(f"  DDIM, {k:3d} steps: {seconds:.2f} s "
              f"({ddpm_time / seconds:.1f}x faster), "
              f"Chamfer {chamfer_distance(x, held_out):.3f}")


def digits() -> None:
    x, y = load_digits_data()
    run = train_diffusion(x, DIGITS, labels=y)
    print(f"digits: trained {DIGITS.train_steps} steps in {run.seconds:.1f} s "
          "of CPU time (bar <= 180 s)")
    judge = DigitJudge()
    print(f"  judge accuracy on held-out real digits: {judge.test_accuracy:.1%}")
    for w in (0.0, 0.5, 1.0, GUIDANCE, 3.0, 5.0):
        accuracy = class_accuracy(run.model, run.schedule, judge, w,
                                  per_class=100)
        default = " (default)" if w == GUIDANCE else ""
        print(f"  class accuracy, DDIM 50 steps, w = {w:g}{default}: "
              f"{accuracy:.1%}", flush=True)
    accuracy = class_accuracy(run.model, run.schedule, judge, GUIDANCE,
                              per_class=20, n_steps=None)
    print(f"  class accuracy, DDPM {DIGITS.steps} steps, w = {GUIDANCE:g}: "
          f"{accuracy:.1%}")
    labels = torch.arange(10).repeat(10)
    model, schedule = run.model, run.schedule
    _, ddpm_time = timed(lambda: ddpm_sample(model, schedule, 100, labels,
                                             GUIDANCE))
    _, ddim_time = timed(lambda: ddim_sample(model, schedule, 100, 50,
                                             labels, GUIDANCE))
    print(f"  100 digits: DDPM {DIGITS.steps} steps {ddpm_time:.2f} s, "
          f"DDIM 50 steps {ddim_time:.2f} s "
          f"({ddpm_time / ddim_time:.0f}x faster)")
    labels = torch.arange(10).repeat(8)
    images = ddim_sample(run.model, run.schedule, 80, 50, labels, GUIDANCE)
    free = ddim_sample(run.model, run.schedule, 20, 50, seed=1)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 8))
    for ax, image in zip(fig.subplots(10, 10).flat, torch.cat([images, free])):
        ax.imshow(image.view(8, 8), cmap="gray_r", vmin=-1, vmax=1)
        ax.set_axis_off()
    OUT.mkdir(exist_ok=True)
    fig.savefig(OUT / "diffusion_digits.png", dpi=100)
    print(f"  grid (8 rows 0-9 at w = {GUIDANCE:g}, 2 rows without a class): "
          f"{OUT / 'diffusion_digits.png'}")


if __name__ == "__main__":
    torch.set_num_threads(1)
    print(f"device: {get_device()}, 1 CPU thread")
    two_d()
    digits()
