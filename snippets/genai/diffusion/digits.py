"""Diffusion on the 8x8 digits of scikit-learn: data, a judge, class accuracy.

The digits model is genai.diffusion.ddpm's network with 64 inputs and 10 classes.
To check that "draw a 7" gives a 7, a separate classifier, trained on real
digits only, labels the generated images; class accuracy is the share it
labels as the class that was asked for.

    python -m genai.diffusion.digits
"""

from __future__ import annotations

import torch

from genai import store
from genai.device import get_device
from genai.diffusion.ddpm import (DIGITS, GUIDANCE, Denoiser, DiffusionError,
                                  DiffusionRun, build_model, ddim_sample,
                                  ddpm_sample, make_schedule, train_diffusion)
from genai.diffusion.noise_schedule import NoiseSchedule


# --8<-- [start:data]
def load_digits_data() -> tuple[torch.Tensor, torch.Tensor]:
    """The 1,797 digits: pixels (N, 64) in [-1, 1] and labels (N,) 0..9."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    pixels = torch.tensor(digits.data, dtype=torch.float32)  # 0..16
    labels = torch.tensor(digits.target, dtype=torch.long)
    device = get_device()
    return (pixels / 8 - 1).to(device), labels.to(device)
# --8<-- [end:data]


# --8<-- [start:judge]
class DigitJudge:
    """A logistic regression on real digits that labels any 8x8 image."""

    def __init__(self, seed: int = 0):
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import train_test_split

        x, y = load_digits_data()
        x_train, x_test, y_train, y_test = train_test_split(
            x.cpu().numpy(), y.cpu().numpy(), test_size=0.25,
            random_state=seed, stratify=y.cpu().numpy())
        self.model = LogisticRegression(max_iter=2000, C=0.1)
        self.model.fit(x_train, y_train)
        # its accuracy on real digits it never saw
        self.test_accuracy = self.model.score(x_test, y_test)

    def predict(self, images: torch.Tensor) -> torch.Tensor:
        if images.ndim != 2 or images.shape[1] != 64:
            raise DiffusionError(f"the judge takes images (N, 64), got "
                                 f"{tuple(images.shape)}")
        return torch.tensor(self.model.predict(images.cpu().numpy()))
# --8<-- [end:judge]


# --8<-- [start:accuracy]
def class_accuracy(model: Denoiser, schedule: NoiseSchedule,
                   judge: DigitJudge, guidance: float, per_class: int = 50,
                   n_steps: int | None = 50, seed: int = 0) -> float:
    """Share of generated digits that the judge labels as asked.

    per_class digits of each class 0..9, with DDIM in n_steps steps (or
    ancestral DDPM sampling with n_steps=None)."""
    labels = torch.arange(10).repeat_interleave(per_class)    # (10 P,)
    if n_steps is None:
        images, _ = ddpm_sample(model, schedule, len(labels), labels,
                                guidance, seed)
    else:
        images = ddim_sample(model, schedule, len(labels), n_steps, labels,
                             guidance, seed)
    return (judge.predict(images) == labels).float().mean().item()
# --8<-- [end:accuracy]


# ---------------------------------------------------------------------------
# The digits model that the art app and the figures read (see genai.store)
# ---------------------------------------------------------------------------
def _train(config, checkpoint, log) -> DiffusionRun:
    pixels, labels = load_digits_data()
    return train_diffusion(pixels, config, labels=labels,
                           checkpoint=checkpoint)


def _save(run: DiffusionRun):
    return run.model.state_dict(), {"losses": run.losses}


def _build(config, tensors, data, device) -> DiffusionRun:
    model = build_model(config)
    model.load_state_dict(tensors)
    return DiffusionRun(model.to(device).eval(), config,
                        make_schedule(config), losses=data["losses"],
                        seconds=data.get("cpu_seconds", 0.0))


def _losses(run: DiffusionRun) -> dict:
    return {"last_100_steps": sum(run.losses[-100:]) / 100}


def _quality(run: DiffusionRun) -> dict:
    """Class accuracy at the default guidance, 20 digits of each class."""
    judge = DigitJudge()
    return {"class_accuracy": class_accuracy(
        run.model, run.schedule, judge, GUIDANCE, per_class=20),
        "judge_accuracy": judge.test_accuracy}


RECIPE = store.Recipe(
    "digits", "class-conditional diffusion model of the 8x8 digits",
    DIGITS, train=_train, save=_save, build=_build, losses=_losses,
    quality=_quality,
    bars=(store.Bar("class_accuracy", ">=", 0.95, why=f"at guidance {GUIDANCE}"),))


if __name__ == "__main__":
    from genai.cli import demo_arguments

    demo_arguments(__doc__)   # --help says what the demo does
    import dataclasses

    torch.set_num_threads(1)
    x, y = load_digits_data()
    print(f"digits: {tuple(x.shape)}, labels {tuple(y.shape)}, "
          f"pixels in [{x.min():.0f}, {x.max():.0f}]")
    judge = DigitJudge()
    print(f"judge accuracy on held-out real digits: {judge.test_accuracy:.1%}")
    config = dataclasses.replace(DIGITS, train_steps=300)
    run = train_diffusion(x, config, labels=y)
    print(f"a short run ({config.train_steps} steps): loss "
          f"{sum(run.losses[:30]) / 30:.3f} -> {sum(run.losses[-30:]) / 30:.3f}")
    accuracy = class_accuracy(run.model, run.schedule, judge, guidance=3.0,
                              per_class=10, n_steps=20)
    print(f"class accuracy after {config.train_steps} steps: {accuracy:.0%}")
