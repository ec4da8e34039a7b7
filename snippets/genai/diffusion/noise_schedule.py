"""Noise schedules and the forward (noising) process of a diffusion model.

Steps follow the DDPM paper (Ho et al., 2020): ``t = 0`` is the clean data
x_0 and ``t = 1, ..., T`` add noise, so ``alpha_bars[0] == 1`` and
``alpha_bars[T]`` is close to 0 (pure noise).

Run ``python -m genai.diffusion.noise_schedule`` to print a few values of both
schedules and to noise a photograph.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch


class ScheduleError(ValueError):
    """A step or a shape that the schedule cannot handle."""


# --8<-- [start:schedules]
def linear_betas(steps: int) -> torch.Tensor:
    """DDPM's schedule: 1e-4 to 0.02 over 1,000 steps, rescaled to `steps`."""
    scale = 1000 / steps
    return torch.linspace(1e-4 * scale, 0.02 * scale, steps,
                          dtype=torch.float64)


def cosine_betas(steps: int, s: float = 0.008) -> torch.Tensor:
    """Nichol & Dhariwal (2021): alpha-bar follows a squared cosine."""
    t = torch.arange(steps + 1, dtype=torch.float64) / steps
    f = torch.cos((t + s) / (1 + s) * math.pi / 2) ** 2
    alpha_bars = f / f[0]
    betas = 1 - alpha_bars[1:] / alpha_bars[:-1]
    return betas.clamp(max=0.999)
# --8<-- [end:schedules]


@dataclass(frozen=True)
class NoiseSchedule:
    """Betas for steps 1..T and what follows from them (float64, CPU)."""

    betas: torch.Tensor

    @classmethod
    def linear(cls, steps: int = 1000) -> "NoiseSchedule":
        return cls(linear_betas(_check_steps(steps)))

    @classmethod
    def cosine(cls, steps: int = 1000) -> "NoiseSchedule":
        return cls(cosine_betas(_check_steps(steps)))

    @property
    def steps(self) -> int:
        return len(self.betas)

    # --8<-- [start:alpha_bars]
    @property
    def alphas(self) -> torch.Tensor:
        """alpha_t = 1 - beta_t for t = 1..T (index 0 holds t = 1)."""
        return 1 - self.betas

    @property
    def alpha_bars(self) -> torch.Tensor:
        """alpha-bar_t = alpha_1 * ... * alpha_t for t = 0..T (index t)."""
        one = torch.ones(1, dtype=torch.float64)  # alpha-bar_0 = 1: no noise
        return torch.cat([one, torch.cumprod(self.alphas, dim=0)])

    def snr(self) -> torch.Tensor:
        """Signal-to-noise ratio alpha-bar_t / (1 - alpha-bar_t), t = 1..T."""
        a = self.alpha_bars[1:]
        return a / (1 - a)
    # --8<-- [end:alpha_bars]

    # --8<-- [start:q_sample]
    def q_sample(self, x0: torch.Tensor, t, noise: torch.Tensor | None = None
                 ) -> torch.Tensor:
        """Draw x_t ~ q(x_t | x_0) = N(sqrt(a_t) x_0, (1 - a_t) I) at once.

        `t` is an int or a tensor with one step per item of the batch."""
        t = self._check_t(t, x0)
        if noise is None:
            noise = torch.randn_like(x0)
        elif noise.shape != x0.shape:
            raise ScheduleError(
                f"noise has shape {tuple(noise.shape)} but x0 has shape "
                f"{tuple(x0.shape)}; they must match")
        a = self.alpha_bars.to(x0.device)[t].to(x0.dtype)
        a = a.reshape(-1, *([1] * (x0.dim() - 1)))  # one a_t per item
        return a.sqrt() * x0 + (1 - a).sqrt() * noise
    # --8<-- [end:q_sample]

    def _check_t(self, t, x0: torch.Tensor) -> torch.Tensor:
        t = torch.as_tensor(t, device=x0.device)
        if t.is_floating_point():
            raise ScheduleError(f"steps must be whole numbers, got {t.dtype}")
        batch = x0.shape[0] if x0.dim() > 0 else 1
        if t.dim() == 0:
            t = t.expand(batch)
        if t.dim() != 1 or len(t) != batch:
            raise ScheduleError(f"got {tuple(t.shape)} steps for a batch of "
                                f"{batch}; give one step per item")
        bad = t[(t < 0) | (t > self.steps)]
        if len(bad):
            raise ScheduleError(
                f"step {int(bad[0])} is outside 0..{self.steps} for this "
                f"{self.steps}-step schedule")
        return t.long()


def _check_steps(steps: int) -> int:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ScheduleError("a schedule needs a whole number of steps >= 1, "
                            f"got {steps!r}")
    return steps


# --8<-- [start:photo]
def load_photo(height: int = 64) -> torch.Tensor:
    """A photograph that ships with scikit-learn, as (3, height, width).

    The 427 x 640 picture of a temple in China is shrunk (keeping its shape)
    and its colours are scaled from 0..255 to -1..1, the range the noise
    is measured against."""
    from PIL import Image
    from sklearn.datasets import load_sample_image

    if not isinstance(height, int) or not 8 <= height <= 427:
        raise ScheduleError(f"height must be a whole number of pixels in "
                            f"8..427, got {height!r}")
    image = Image.fromarray(load_sample_image("china.jpg"))
    width = round(height * image.width / image.height)
    small = image.resize((width, height), Image.Resampling.LANCZOS)
    pixels = np.asarray(small, dtype=np.float32)  # (height, width, 3)
    x = torch.from_numpy(pixels).permute(2, 0, 1)  # channels first
    return x / 127.5 - 1
# --8<-- [end:photo]


def to_image_array(x: torch.Tensor):
    """(3, H, W) in -1..1 back to an (H, W, 3) uint8 array (clipped)."""
    x = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(1, 2, 0).cpu().numpy()


if __name__ == "__main__":
    from genai.cli import demo_arguments

    demo_arguments(__doc__)   # --help says what the demo does
    for name in ("linear", "cosine"):
        schedule = getattr(NoiseSchedule, name)(100)
        ab = schedule.alpha_bars
        print(f"{name:6s} alpha-bar at t = 0, 50, 100: "
              f"{ab[0]:.3f}, {ab[50]:.3f}, {ab[100]:.2g}")
    torch.manual_seed(0)
    x0 = torch.ones(3, 2)
    print("x_t for t = 0, 50, 100:")
    print(NoiseSchedule.linear(100).q_sample(x0, torch.tensor([0, 50, 100])))
    photo = load_photo()
    noisy = NoiseSchedule.cosine(100).q_sample(photo[None], 50)[0]
    print(f"photo {tuple(photo.shape)}, std {photo.std():.2f}; at t = 50 "
          f"std {noisy.std():.2f}")
