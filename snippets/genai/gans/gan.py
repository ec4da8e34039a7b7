"""A generative adversarial network (GAN) in PyTorch, with its training loop.

A generator G turns noise z into samples, a discriminator D scores how real a
sample looks, and the two are trained against each other. The same loop
trains three losses (the 2014 minimax loss, the non-saturating loss used in
practice, and the Wasserstein loss with gradient penalty) and two kinds of
networks (small MLPs for 2-D points, small convolutional nets for 8x8 digits).

Training saves checkpoints and resumes from them: an interrupted run that
starts again reaches the same weights as one that was never interrupted.

    python -m genai.gans.gan
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
from genai.device import get_device

LOSSES = ("minimax", "nonsaturating", "wgan-gp")
ARCHS = ("mlp", "dcgan")


# --8<-- [start:ring]
def ring_of_gaussians(
    n_samples: int, n_modes: int = 8, radius: float = 2.0,
    std: float = 0.05, seed: int = 0, device: torch.device | None = None,
) -> torch.Tensor:
    """n_samples points (N, 2) from n_modes Gaussians on a circle."""
    device = device or get_device()
    gen = torch.Generator().manual_seed(seed)
    # each point picks a mode at random, then adds Gaussian noise
    mode = torch.randint(n_modes, (n_samples,), generator=gen)
    centres = ring_modes(n_modes, radius)
    noise = std * torch.randn(n_samples, 2, generator=gen)
    return (centres[mode] + noise).to(device)


def ring_modes(n_modes: int = 8, radius: float = 2.0) -> torch.Tensor:
    """The centres (n_modes, 2), evenly spaced on a circle."""
    angle = 2 * math.pi * torch.arange(n_modes) / n_modes
    return radius * torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
# --8<-- [end:ring]


@dataclass
class GANConfig:
    """Everything that defines a training run; checkpoints store it."""
    data_dim: int = 2
    latent_dim: int = 8
    hidden: int = 128
    arch: str = "mlp"               # "mlp" or "dcgan" (8x8 images)
    loss: str = "nonsaturating"     # "minimax", "nonsaturating", "wgan-gp"
    lr_g: float = 3e-3
    lr_d: float = 3e-3
    betas: tuple[float, float] = (0.5, 0.999)
    batch_size: int = 256
    steps: int = 3000
    d_steps: int = 1                # discriminator updates per G update
    gp_weight: float = 1.0          # gradient penalty weight lambda (wgan-gp)
    lr_decay: bool = True           # learning rates fall linearly to 0
    seed: int = 0

    def __post_init__(self):
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {ARCHS}, got {self.arch!r}")
        if self.arch == "dcgan" and self.data_dim != 64:
            raise ValueError("the dcgan networks make 8x8 images: "
                             f"data_dim must be 64, got {self.data_dim}")
        self.betas = tuple(self.betas)


# --8<-- [start:models]
class Generator(nn.Module):
    """z (N, latent_dim) -> a sample x (N, data_dim)."""

    def __init__(self, latent_dim: int, data_dim: int, hidden: int = 128):
        super().__init__()
        self.latent_dim = latent_dim
        self.net = nn.Sequential(
            nn.Linear(latent_dim, hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, data_dim),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        check_latent(z, self.latent_dim)
        return self.net(z)


class Discriminator(nn.Module):
    """x (N, data_dim) -> a score (N,): a logit, high for "real"."""

    def __init__(self, data_dim: int, hidden: int = 128):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(data_dim, hidden), nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden), nn.LeakyReLU(0.2),
            nn.Linear(hidden, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)
# --8<-- [end:models]


# --8<-- [start:conv_models]
class ConvGenerator(nn.Module):
    """z (N, latent_dim) -> an 8x8 image, flattened to (N, 64), in [-1, 1]."""

    def __init__(self, latent_dim: int, hidden: int = 64):
        super().__init__()
        self.latent_dim = latent_dim
        self.project = nn.Linear(latent_dim, 2 * hidden * 2 * 2)
        self.net = nn.Sequential(
            nn.BatchNorm2d(2 * hidden), nn.ReLU(),
            # 2x2 -> 4x4
            nn.ConvTranspose2d(2 * hidden, hidden, 4, stride=2, padding=1),
            nn.BatchNorm2d(hidden), nn.ReLU(),
            # 4x4 -> 8x8, one channel
            nn.ConvTranspose2d(hidden, 1, 4, stride=2, padding=1),
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        check_latent(z, self.latent_dim)
        h = self.project(z).view(len(z), -1, 2, 2)
        return self.net(h).flatten(1)


class ConvDiscriminator(nn.Module):
    """An 8x8 image, flattened (N, 64) -> a score (N,)."""

    def __init__(self, hidden: int = 64):
        super().__init__()
        self.net = nn.Sequential(
            # 8x8 -> 4x4
            nn.Conv2d(1, hidden, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            # 4x4 -> 2x2
            nn.Conv2d(hidden, 2 * hidden, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(2 * hidden * 2 * 2, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.view(len(x), 1, 8, 8)).squeeze(-1)
# --8<-- [end:conv_models]


def check_latent(z: torch.Tensor, latent_dim: int) -> None:
    """Fail early, with a message that says what was expected."""
    if z.ndim != 2 or z.shape[1] != latent_dim:
        raise ValueError(
            f"the generator expects noise of shape (N, {latent_dim}), "
            f"got {tuple(z.shape)}; draw it with sample_latent"
        )


def check_data(x: torch.Tensor, config: GANConfig) -> None:
    if x.ndim != 2 or x.shape[1] != config.data_dim:
        raise ValueError(
            f"the data must have shape (N, {config.data_dim}) to match "
            f"config.data_dim, got {tuple(x.shape)}"
        )
    if len(x) < 2:
        raise ValueError(f"the data needs at least 2 points, got {len(x)}")


def build_models(config: GANConfig) -> tuple[nn.Module, nn.Module]:
    """A seeded generator and discriminator on the course's device."""
    torch.manual_seed(config.seed)
    if config.arch == "mlp":
        g = Generator(config.latent_dim, config.data_dim, config.hidden)
        d = Discriminator(config.data_dim, config.hidden)
    else:
        g = ConvGenerator(config.latent_dim, config.hidden)
        d = ConvDiscriminator(config.hidden)
    device = get_device()
    return g.to(device), d.to(device)


def sample_latent(n: int, latent_dim: int, generator=None) -> torch.Tensor:
    """Standard normal noise z (n, latent_dim) on the course's device."""
    z = torch.randn(n, latent_dim, generator=generator)
    return z.to(get_device())


# --8<-- [start:losses]
def d_loss_gan(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """-[log D(x) + log(1 - D(G(z)))], with D = sigmoid(score)."""
    # log(1 - sigmoid(s)) = logsigmoid(-s), computed stably
    return -(F.logsigmoid(d_real).mean() + F.logsigmoid(-d_fake).mean())


def g_loss_minimax(d_fake: torch.Tensor) -> torch.Tensor:
    """The 2014 game: G minimises log(1 - D(G(z)))."""
    return F.logsigmoid(-d_fake).mean()


def g_loss_nonsaturating(d_fake: torch.Tensor) -> torch.Tensor:
    """Used in practice: G minimises -log D(G(z))."""
    return -F.logsigmoid(d_fake).mean()
# --8<-- [end:losses]


# --8<-- [start:wgan_gp]
def gradient_penalty(d: nn.Module, real, fake, generator=None):
    """Mean of (||grad_x D(x)|| - 1)^2 at points between real and fake."""
    t = torch.rand(len(real), 1, generator=generator).to(real.device)
    x = (t * real + (1 - t) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(d(x).sum(), x, create_graph=True)
    return ((grad.norm(dim=1) - 1) ** 2).mean()


def d_loss_wgan(d_real, d_fake):
    """The critic widens the gap E[D(real)] - E[D(fake)]."""
    return d_fake.mean() - d_real.mean()


def g_loss_wgan(d_fake):
    return -d_fake.mean()
# --8<-- [end:wgan_gp]


@dataclass
class GANRun:
    """A trained pair and what happened during training."""
    generator: nn.Module
    discriminator: nn.Module
    config: GANConfig
    d_losses: list[float] = field(default_factory=list)
    g_losses: list[float] = field(default_factory=list)
    snapshots: dict[int, torch.Tensor] = field(default_factory=dict)
    seconds: float = 0.0


# --8<-- [start:train]
def train_gan(
    data: torch.Tensor, config: GANConfig,
    checkpoint: str | Path | None = None, checkpoint_every: int = 500,
    snapshot_at: tuple[int, ...] = (), stop_after: int | None = None,
) -> GANRun:
    """Train G and D on data (N, data_dim); resume from checkpoint if any."""
    check_data(data, config)
    g, d = build_models(config)
    opt_g = torch.optim.Adam(g.parameters(), config.lr_g, betas=config.betas)
    opt_d = torch.optim.Adam(d.parameters(), config.lr_d, betas=config.betas)
    # one seeded generator draws every batch, noise and interpolation
    rng = torch.Generator().manual_seed(config.seed)
    z_fixed = sample_latent(2000, config.latent_dim, rng)
    run, step = GANRun(g, d, config), 0
    if checkpoint is not None and Path(checkpoint).is_file():
        step = resume(checkpoint, run, opt_g, opt_d, rng)
    start = time.process_time()
    while step < config.steps:
        if config.lr_decay:
            set_lr(opt_g, config.lr_g * (1 - step / config.steps))
            set_lr(opt_d, config.lr_d * (1 - step / config.steps))
        # 1. the discriminator: real points up, generated points down
        for _ in range(config.d_steps):
            idx = torch.randint(len(data), (config.batch_size,), generator=rng)
            real = data[idx.to(data.device)]
            z = sample_latent(config.batch_size, config.latent_dim, rng)
            fake = g(z).detach()
            d_real, d_fake = d(real), d(fake)
            if config.loss == "wgan-gp":
                gp = gradient_penalty(d, real, fake, rng)
                loss_d = d_loss_wgan(d_real, d_fake) + config.gp_weight * gp
            else:
                loss_d = d_loss_gan(d_real, d_fake)
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
        # 2. the generator: make D score its samples as real
        z = sample_latent(config.batch_size, config.latent_dim, rng)
        d_fake = d(g(z))
        if config.loss == "minimax":
            loss_g = g_loss_minimax(d_fake)
        elif config.loss == "nonsaturating":
            loss_g = g_loss_nonsaturating(d_fake)
        else:
            loss_g = g_loss_wgan(d_fake)
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        step += 1
        run.d_losses.append(loss_d.item())
        run.g_losses.append(loss_g.item())
        if step in snapshot_at:
            run.snapshots[step] = generate(g, z_fixed)
        if checkpoint is not None and (
            step % checkpoint_every == 0 or step == config.steps
        ):
            save_state(checkpoint, run, opt_g, opt_d, rng, step)
        if stop_after is not None and step >= stop_after:
            break  # simulates an interruption
    run.seconds += time.process_time() - start
    return run
# --8<-- [end:train]


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


# --8<-- [start:checkpoint]
def save_state(path, run: GANRun, opt_g, opt_d, rng, step: int) -> None:
    """Everything needed to continue exactly where training stopped."""
    save_checkpoint(path, run.config, {
        "step": step,
        "generator": run.generator.state_dict(),
        "discriminator": run.discriminator.state_dict(),
        "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(),
        "rng": rng.get_state(),
        "d_losses": run.d_losses, "g_losses": run.g_losses,
        "seconds": run.seconds,
    })


def resume(path, run: GANRun, opt_g, opt_d, rng) -> int:
    """Load a checkpoint made with the same configuration; its step."""
    state = load_checkpoint(path, run.config, map_location=get_device())
    with restoring(path):    # a missing key or a wrong type: CheckpointError
        run.generator.load_state_dict(state["generator"])
        run.discriminator.load_state_dict(state["discriminator"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        rng.set_state(state["rng"])
        run.d_losses[:] = state["d_losses"]
        run.g_losses[:] = state["g_losses"]
        run.seconds = state["seconds"]
        return int(state["step"])
# --8<-- [end:checkpoint]


@torch.no_grad()
def generate(g: nn.Module, z: torch.Tensor) -> torch.Tensor:
    """G(z) in evaluation mode, on the CPU."""
    was_training = g.training
    g.eval()
    x = g(z).cpu()
    g.train(was_training)
    return x


def sample(g: nn.Module, n: int, seed: int = 0) -> torch.Tensor:
    """n new samples from a trained generator, (n, data_dim) on the CPU."""
    rng = torch.Generator().manual_seed(seed)
    return generate(g, sample_latent(n, g.latent_dim, rng))


# --8<-- [start:metrics]
def ring_quality(
    samples: torch.Tensor, n_modes: int = 8, radius: float = 2.0,
    std: float = 0.05, min_share: float = 0.01,
) -> tuple[int, float]:
    """(modes covered, share of high-quality samples).

    A sample is high quality if it lies within 3 std of its nearest mode.
    A mode is covered if at least min_share of all samples are high-quality
    samples near it (1%: 20 of 2,000).
    """
    modes = ring_modes(n_modes, radius)
    dist = torch.cdist(samples.cpu(), modes)          # (N, n_modes)
    nearest_dist, nearest = dist.min(dim=1)
    good = nearest_dist <= 3 * std                    # (N,)
    counts = torch.bincount(nearest[good], minlength=n_modes)
    covered = int((counts >= min_share * len(samples)).sum())
    return covered, good.float().mean().item()
# --8<-- [end:metrics]


def load_digits_tensor() -> torch.Tensor:
    """The 1,797 8x8 digits of scikit-learn, (N, 64), scaled to [-1, 1]."""
    from sklearn.datasets import load_digits

    pixels = torch.tensor(load_digits().data, dtype=torch.float32)
    return (pixels / 8.0 - 1.0).to(get_device())


# The configurations the chapter uses.
# --8<-- [start:configs]
RING = GANConfig()  # the default: non-saturating loss, 3,000 steps
# the discriminator learns 10 times slower than the generator
COLLAPSE = GANConfig(lr_d=3e-4)
# the same, with the Wasserstein loss, a gradient penalty, 5 critic steps
COLLAPSE_WGAN = GANConfig(lr_d=3e-4, loss="wgan-gp", d_steps=5)
DIGITS = GANConfig(arch="dcgan", data_dim=64, latent_dim=16, hidden=32,
                   lr_g=2e-3, lr_d=2e-3, betas=(0.5, 0.999),
                   batch_size=64, steps=1000)
# --8<-- [end:configs]


if __name__ == "__main__":
    from genai.cli import demo_arguments

    demo_arguments(__doc__)   # --help says what the demo does
    import dataclasses
    import tempfile

    data = ring_of_gaussians(2000, seed=0)
    config = dataclasses.replace(RING, steps=300)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "gan.pt"
        first = train_gan(data, config, checkpoint=path, stop_after=150)
        print(f"interrupted after {len(first.g_losses)} steps")
        run = train_gan(data, config, checkpoint=path)
        print(f"resumed and finished: {len(run.g_losses)} steps")
        try:
            train_gan(data, dataclasses.replace(config, hidden=64),
                      checkpoint=path)
        except CheckpointError as error:
            print(f"CheckpointError: {str(error).splitlines()[1].strip()}")
    covered, quality = ring_quality(sample(run.generator, 2000))
    print(f"after {config.steps} steps: {covered}/8 modes, "
          f"{quality:.0%} high-quality samples")
