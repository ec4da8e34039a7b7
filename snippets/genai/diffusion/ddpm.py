"""A denoising diffusion model (DDPM) in PyTorch: network, training, sampling.

A network learns to predict the noise that the forward process added to a
data point at step t. Sampling starts from pure noise and removes a little
of the predicted noise at each step: ancestral DDPM sampling walks back
through every step, DDIM through a short sub-sequence of them. A model
trained with class labels (and a "no class" token) can be steered towards a
class with classifier-free guidance.

Steps follow the DDPM paper and genai.diffusion.noise_schedule: t = 0 is clean data,
t = 1..T add noise, and the network sees t = 1..T.

    python -m genai.diffusion.ddpm
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from genai.checkpoint import (CheckpointError, load_checkpoint, restoring,
                              save_checkpoint)
from genai.device import get_device, one_thread
from genai.diffusion.noise_schedule import NoiseSchedule, ScheduleError
from genai.generative_models.toy_data import make_moons


class DiffusionError(ValueError):
    """Input that the diffusion model cannot use: a shape, a label, a scale."""


class CheckpointMismatch(CheckpointError, DiffusionError):
    """A checkpoint saved with another configuration (or unreadable)."""


@dataclass
class DiffusionConfig:
    """Everything that defines a training run; checkpoints store it."""
    data_dim: int = 2
    n_classes: int = 0          # 0: unconditional; C: labels 0..C-1
    hidden: int = 128
    blocks: int = 3             # residual blocks of the network
    time_dim: int = 32          # width of the sinusoidal time embedding
    schedule: str = "linear"    # "linear" or "cosine" (genai.diffusion.noise_schedule)
    steps: int = 1000           # T, the number of noise steps
    train_steps: int = 3000     # optimiser steps
    batch_size: int = 256
    lr: float = 2e-3
    weight_decay: float = 1e-4
    p_uncond: float = 0.1       # label dropout, for classifier-free guidance
    data_range: float = 2.5     # data lie in [-range, range]; DDIM clips to it
    seed: int = 0

    def __post_init__(self):
        if self.schedule not in ("linear", "cosine"):
            raise DiffusionError("schedule must be 'linear' or 'cosine', "
                                 f"got {self.schedule!r}")
        if self.n_classes < 0 or not 0 <= self.p_uncond < 1:
            raise DiffusionError("need n_classes >= 0 and 0 <= p_uncond < 1, "
                                 f"got {self.n_classes}, {self.p_uncond}")


def make_schedule(config: DiffusionConfig) -> NoiseSchedule:
    schedule = getattr(NoiseSchedule, config.schedule)(config.steps)
    if schedule.betas.max() >= 1:  # the linear schedule at T <= 20
        raise ScheduleError(f"{config.steps} steps are too few for the "
                            f"{config.schedule} schedule: a beta reaches 1")
    return schedule


# --8<-- [start:data]
def moons(n: int = 1000, seed: int = 0) -> torch.Tensor:
    """n points (n, 2) of two moons, standardised: mean 0, std 1 per axis."""
    torch.manual_seed(seed)
    x, _ = make_moons(n, noise=0.1, device=torch.device("cpu"))
    # the exact mean and std of this distribution, so every sample agrees
    return ((x - MOONS_MEAN) / MOONS_STD).to(get_device())


MOONS_MEAN = torch.tensor([0.5, 0.25])
MOONS_STD = torch.tensor([0.872, 0.505])
# --8<-- [end:data]


# --8<-- [start:network]
def time_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of steps t (N,) -> (N, dim), as in transformers."""
    half = dim // 2
    # frequencies from 1 down to 10,000**(-(half - 1) / half), evenly
    # spaced on a log scale (for dim = 32, about 1/5,600)
    freqs = torch.exp(-math.log(10_000) * torch.arange(half) / half)
    angles = t.float()[:, None] * freqs.to(t.device)[None]    # (N, half)
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


class Block(nn.Module):
    """h + MLP(h + embedding): a residual block that knows t (and y)."""

    def __init__(self, hidden: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.LayerNorm(hidden), nn.SiLU(), nn.Linear(hidden, hidden),
            nn.SiLU(), nn.Linear(hidden, hidden),
        )

    def forward(self, h: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        return h + self.net(h + emb)


class Denoiser(nn.Module):
    """eps_theta(x_t, t, y): the noise in x_t (N, D), predicted, (N, D).

    With n_classes > 0, label n_classes is the "no class" token."""

    def __init__(self, config: DiffusionConfig):
        super().__init__()
        self.config = config
        hidden = config.hidden
        self.time_mlp = nn.Sequential(
            nn.Linear(config.time_dim, hidden), nn.SiLU(),
            nn.Linear(hidden, hidden),
        )
        # one vector per class, plus one for "no class"
        self.class_emb = nn.Embedding(config.n_classes + 1, hidden)
        self.inp = nn.Linear(config.data_dim, hidden)
        self.blocks = nn.ModuleList(Block(hidden)
                                    for _ in range(config.blocks))
        self.out = nn.Sequential(nn.LayerNorm(hidden), nn.SiLU(),
                                 nn.Linear(hidden, config.data_dim))

    def forward(self, x: torch.Tensor, t: torch.Tensor,
                y: torch.Tensor | None = None) -> torch.Tensor:
        check_batch(x, t, y, self.config)
        if y is None:  # no label: the "no class" token
            y = torch.full_like(t, self.config.n_classes)
        emb = (self.time_mlp(time_embedding(t, self.config.time_dim))
               + self.class_emb(y))                           # (N, H)
        h = self.inp(x)                                       # (N, H)
        for block in self.blocks:
            h = block(h, emb)
        return self.out(h)                                    # (N, D)
# --8<-- [end:network]


def check_data(x: torch.Tensor, config: DiffusionConfig) -> None:
    """Data must be (N, data_dim)."""
    if x.ndim != 2 or x.shape[1] != config.data_dim:
        raise DiffusionError(
            f"the data must have shape (N, {config.data_dim}) to match "
            f"config.data_dim, got {tuple(x.shape)}")


def check_labels(y: torch.Tensor, config: DiffusionConfig,
                 null_ok: bool = True) -> None:
    """Labels 0..C-1 of the trained classes (and C, "no class", if null_ok)."""
    if config.n_classes == 0:
        raise DiffusionError("this model was trained without classes; "
                             "sample it without labels")
    top = config.n_classes if null_ok else config.n_classes - 1
    if len(y) and (int(y.min()) < 0 or int(y.max()) > top):
        bad = int(y.min()) if int(y.min()) < 0 else int(y.max())
        raise DiffusionError(f"class label {bad} is outside the trained "
                             f"classes 0..{config.n_classes - 1}")


def check_batch(x, t, y, config: DiffusionConfig) -> None:
    check_data(x, config)
    if t.shape != (len(x),):
        raise DiffusionError(f"need one step per item: x {tuple(x.shape)}, "
                             f"t {tuple(t.shape)}")
    if len(t) and (int(t.min()) < 1 or int(t.max()) > config.steps):
        bad = int(t.min()) if int(t.min()) < 1 else int(t.max())
        raise ScheduleError(f"the network sees steps 1..{config.steps}, "
                            f"got {bad}")
    if y is not None:
        if y.shape != t.shape:
            raise DiffusionError(f"need one label per item: x "
                                 f"{tuple(x.shape)}, y {tuple(y.shape)}")
        check_labels(y, config)


def build_model(config: DiffusionConfig) -> Denoiser:
    """A seeded network on the course's device."""
    torch.manual_seed(config.seed)
    return Denoiser(config).to(get_device())


# --8<-- [start:loss]
def diffusion_loss(model: Denoiser, schedule: NoiseSchedule,
                   x0: torch.Tensor, y: torch.Tensor | None = None,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """DDPM's simple objective: || eps - eps_theta(x_t, t) ||^2, averaged."""
    n = len(x0)
    # a random step t in 1..T and fresh noise for every item
    t = torch.randint(1, schedule.steps + 1, (n,), generator=generator)
    eps = torch.randn(x0.shape, generator=generator)
    t, eps = t.to(x0.device), eps.to(x0.device)
    x_t = schedule.q_sample(x0, t, eps)  # sqrt(a_t) x0 + sqrt(1 - a_t) eps
    return F.mse_loss(model(x_t, t, y), eps)
# --8<-- [end:loss]


@dataclass
class DiffusionRun:
    """A trained network and what happened during training."""
    model: Denoiser
    config: DiffusionConfig
    schedule: NoiseSchedule
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0


# --8<-- [start:train]
@one_thread
def train_diffusion(
    data: torch.Tensor, config: DiffusionConfig,
    labels: torch.Tensor | None = None,
    checkpoint: str | Path | None = None, checkpoint_every: int = 500,
    stop_after: int | None = None,
) -> DiffusionRun:
    """Train eps_theta on data (N, D) (with labels (N,) if conditional)."""
    check_data(data, config)
    if labels is not None:
        check_labels(labels, config, null_ok=False)
    model = build_model(config)
    schedule = make_schedule(config)
    opt = torch.optim.AdamW(model.parameters(), config.lr,
                            weight_decay=config.weight_decay)
    # one seeded generator draws every batch, step, noise and label drop
    rng = torch.Generator().manual_seed(config.seed)
    run, step = DiffusionRun(model, config, schedule), 0
    if checkpoint is not None and Path(checkpoint).is_file():
        step = resume(checkpoint, run, opt, rng)
    start = time.process_time()
    while step < config.train_steps:
        # the learning rate falls linearly to 0
        for group in opt.param_groups:
            group["lr"] = config.lr * (1 - step / config.train_steps)
        idx = torch.randint(len(data), (config.batch_size,), generator=rng)
        x0, y = data[idx.to(data.device)], None
        if labels is not None:
            # drop some labels to "no class": one model learns both
            y = labels[idx.to(labels.device)].clone()
            drop = torch.rand(config.batch_size, generator=rng)
            y[drop.to(y.device) < config.p_uncond] = config.n_classes
        loss = diffusion_loss(model, schedule, x0, y, rng)
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        run.losses.append(loss.item())
        if checkpoint is not None and (
            step % checkpoint_every == 0 or step == config.train_steps
        ):
            save_state(checkpoint, run, opt, rng, step)
        if stop_after is not None and step >= stop_after:
            break  # simulates an interruption
    run.seconds += time.process_time() - start
    model.eval()
    return run
# --8<-- [end:train]


# --8<-- [start:checkpoint]
def save_state(path, run: DiffusionRun, opt, rng, step: int) -> None:
    """Everything needed to continue exactly where training stopped."""
    save_checkpoint(path, run.config, {
        "step": step, "model": run.model.state_dict(),
        "opt": opt.state_dict(), "rng": rng.get_state(),
        "losses": run.losses, "seconds": run.seconds,
    })


def resume(path, run: DiffusionRun, opt, rng) -> int:
    """Load a checkpoint made with the same configuration; its step."""
    try:
        state = load_checkpoint(path, run.config, map_location=get_device())
    except CheckpointError as error:
        raise CheckpointMismatch(str(error)) from None
    with restoring(path):    # a missing key or a wrong type: CheckpointError
        run.model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        rng.set_state(state["rng"].cpu())  # map_location may have moved it
        run.losses[:] = state["losses"]
        run.seconds = state["seconds"]
        return int(state["step"])
# --8<-- [end:checkpoint]


# --8<-- [start:guidance]
def predict_noise(model: Denoiser, x: torch.Tensor, t: torch.Tensor,
                  labels: torch.Tensor | None = None,
                  guidance: float = 1.0) -> torch.Tensor:
    """eps for x_t; with labels, classifier-free guidance of scale w:

    eps = eps_uncond + w (eps_cond - eps_uncond)
    w = 0: ignore the labels; w = 1: the plain conditional model (no
    guidance); w > 1: push further towards the class."""
    if labels is None:
        return model(x, t)
    if guidance < 0:
        raise DiffusionError(f"the guidance scale must be >= 0, got "
                             f"{guidance} (1 means no guidance)")
    if guidance == 1:
        return model(x, t, labels)
    null = torch.full_like(labels, model.config.n_classes)
    # both predictions in one batch of 2N
    eps = model(torch.cat([x, x]), torch.cat([t, t]),
                torch.cat([labels, null]))
    eps_cond, eps_uncond = eps.chunk(2)
    return eps_uncond + guidance * (eps_cond - eps_uncond)
# --8<-- [end:guidance]


def _start(model: Denoiser, n: int, labels, seed: int):
    """Pure noise x_T (n, D), a seeded generator and labels on the device."""
    device = next(model.parameters()).device
    rng = torch.Generator().manual_seed(seed)
    x = torch.randn(n, model.config.data_dim, generator=rng).to(device)
    if labels is not None:
        labels = torch.as_tensor(labels, device=device)
        if labels.ndim == 0:  # one label for every sample
            labels = labels.expand(n)
        if labels.shape != (n,):
            raise DiffusionError(f"need one label per sample: n = {n}, "
                                 f"labels {tuple(labels.shape)}")
        check_labels(labels, model.config, null_ok=False)
    return x, rng, labels


# --8<-- [start:ddpm]
@one_thread
@torch.no_grad()
def ddpm_sample(
    model: Denoiser, schedule: NoiseSchedule, n: int, labels=None,
    guidance: float = 1.0, seed: int = 0, snapshot_at: tuple[int, ...] = (),
) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
    """n samples by ancestral sampling, T steps from pure noise.

    Returns x_0 (n, D) on the CPU and {t: x_t} for each t in snapshot_at."""
    for t in snapshot_at:
        if not 0 <= t <= schedule.steps:
            raise ScheduleError(f"snapshot step {t} is outside "
                                f"0..{schedule.steps}")
    x, rng, labels = _start(model, n, labels, seed)  # x_T ~ N(0, I)
    a, ab = schedule.alphas.tolist(), schedule.alpha_bars.tolist()
    snapshots = {}
    for t in range(schedule.steps, 0, -1):
        if t in snapshot_at:
            snapshots[t] = x.cpu()
        steps = torch.full((n,), t, device=x.device)
        eps = predict_noise(model, x, steps, labels, guidance)
        alpha, beta = a[t - 1], 1 - a[t - 1]
        # the mean of p(x_{t-1} | x_t): remove the predicted noise
        mean = (x - beta / math.sqrt(1 - ab[t]) * eps) / math.sqrt(alpha)
        # sigma_t^2 = beta~_t = beta_t (1 - a_{t-1}) / (1 - a_t), 0 at t = 1
        var = beta * (1 - ab[t - 1]) / (1 - ab[t])
        z = torch.randn(x.shape, generator=rng).to(x.device)
        x = mean + math.sqrt(var) * z
    if 0 in snapshot_at:
        snapshots[0] = x.cpu()
    return x.cpu(), snapshots
# --8<-- [end:ddpm]


# --8<-- [start:ddim]
def ddim_steps(schedule: NoiseSchedule, n_steps: int) -> list[int]:
    """n_steps + 1 evenly spaced steps from T down to 0."""
    if not 1 <= n_steps <= schedule.steps:
        raise ScheduleError(f"DDIM takes 1..{schedule.steps} steps with this "
                            f"schedule, got {n_steps}")
    points = torch.linspace(schedule.steps, 0, n_steps + 1)
    return points.round().long().tolist()


@one_thread
@torch.no_grad()
def ddim_sample(
    model: Denoiser, schedule: NoiseSchedule, n: int, n_steps: int = 50,
    labels=None, guidance: float = 1.0, seed: int = 0,
) -> torch.Tensor:
    """n samples with deterministic DDIM (eta = 0) in n_steps network calls."""
    steps = ddim_steps(schedule, n_steps)
    x, _, labels = _start(model, n, labels, seed)
    ab = schedule.alpha_bars.tolist()
    for t, s in zip(steps[:-1], steps[1:]):          # t > s
        eps = predict_noise(model, x, torch.full((n,), t, device=x.device),
                            labels, guidance)
        # the clean point that x_t and eps imply ...
        x0 = (x - math.sqrt(1 - ab[t]) * eps) / math.sqrt(ab[t])
        # kept inside the data's range, and eps made consistent with it
        x0 = x0.clamp(-model.config.data_range, model.config.data_range)
        eps = (x - math.sqrt(ab[t]) * x0) / math.sqrt(1 - ab[t])
        # ... noised again to the level of step s, with the same eps
        x = math.sqrt(ab[s]) * x0 + math.sqrt(1 - ab[s]) * eps
    return x.cpu()
# --8<-- [end:ddim]


# --8<-- [start:chamfer]
def chamfer_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean distance to the nearest point of the other set, both ways, averaged.

    0 when the sets coincide; small when every point of each set has a
    close neighbour in the other."""
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise DiffusionError(f"need two point sets (N, D) and (M, D), got "
                             f"{tuple(a.shape)} and {tuple(b.shape)}")
    dist = torch.cdist(a.cpu().double(), b.cpu().double())   # (N, M)
    return 0.5 * (dist.min(dim=1).values.mean()
                  + dist.min(dim=0).values.mean()).item()
# --8<-- [end:chamfer]


# The configurations the chapter uses.
# --8<-- [start:configs]
# 2-D points: 100 noise steps, a small network, 3,000 training steps
MOONS = DiffusionConfig(steps=100, hidden=64, lr=4e-3, train_steps=3000)
# 8x8 digits with 10 classes: 1,000 noise steps, pixels in [-1, 1]
DIGITS = DiffusionConfig(data_dim=64, n_classes=10, hidden=256,
                         train_steps=2500, batch_size=128, data_range=1.0)
GUIDANCE = 2.0  # the default guidance scale w for the digits
# --8<-- [end:configs]


if __name__ == "__main__":
    from genai.cli import demo_arguments

    demo_arguments(__doc__)   # --help says what the demo does
    import dataclasses
    import tempfile

    data, held_out = moons(1000, seed=0), moons(1000, seed=1)
    config = dataclasses.replace(MOONS, train_steps=400)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "diffusion.pt"
        first = train_diffusion(data, config, checkpoint=path, stop_after=200)
        print(f"interrupted after {len(first.losses)} steps")
        run = train_diffusion(data, config, checkpoint=path)
        print(f"resumed and finished: {len(run.losses)} steps, loss "
              f"{sum(run.losses[:50]) / 50:.3f} -> "
              f"{sum(run.losses[-50:]) / 50:.3f}")
        try:
            train_diffusion(data, dataclasses.replace(config, hidden=32),
                            checkpoint=path)
        except CheckpointMismatch as error:
            print(f"CheckpointMismatch: {str(error).splitlines()[1].strip()}")
    x_ddpm, _ = ddpm_sample(run.model, run.schedule, 1000)
    x_ddim = ddim_sample(run.model, run.schedule, 1000, n_steps=50)
    noise = torch.randn(1000, 2, generator=torch.Generator().manual_seed(2))
    print(f"Chamfer distance to held-out moons: DDPM {config.steps} steps "
          f"{chamfer_distance(x_ddpm, held_out):.3f}, DDIM 50 steps "
          f"{chamfer_distance(x_ddim, held_out):.3f}, pure noise "
          f"{chamfer_distance(noise, held_out):.3f}")
