"""Small 2-D data sets for the first chapter: two moons and Gaussian blobs.

Every point is a row (x1, x2) with a class label 0 or 1 (or 0..C-1 for blobs).
The points are drawn with torch's global random generator, so call
``torch.manual_seed(...)`` first to get the same data set every time.

    python -m genai.generative_models.toy_data
"""

import math

import torch

from genai.device import get_device


# --8<-- [start:make_moons]
def make_moons(
    n_samples: int = 400, noise: float = 0.1, device: torch.device | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Two interleaving half circles: x (N, 2) float32 and y (N,) int64."""
    if n_samples < 2:
        raise ValueError(f"make_moons needs n_samples >= 2, got {n_samples}")
    device = device or get_device()
    n_upper = n_samples // 2
    n_lower = n_samples - n_upper
    # angles in [0, pi)
    t_upper = math.pi * torch.rand(n_upper, device=device)  # (N0,)
    t_lower = math.pi * torch.rand(n_lower, device=device)  # (N1,)
    # upper moon: (cos t, sin t); lower moon: (1 - cos t, 0.5 - sin t)
    upper = torch.stack([torch.cos(t_upper), torch.sin(t_upper)], dim=1)
    lower = torch.stack([1 - torch.cos(t_lower), 0.5 - torch.sin(t_lower)],
                        dim=1)
    x = torch.cat([upper, lower])                            # (N, 2)
    x = x + noise * torch.randn(n_samples, 2, device=device)  # add noise
    y = torch.cat([
        torch.zeros(n_upper, dtype=torch.long, device=device),
        torch.ones(n_lower, dtype=torch.long, device=device),
    ])  # (N,)
    perm = torch.randperm(n_samples, device=device)  # shuffle so the classes mix
    return x[perm], y[perm]
# --8<-- [end:make_moons]


def make_blobs(
    n_samples: int = 400,
    centers: list[tuple[float, float]] = ((-1.0, 0.0), (1.0, 0.5)),
    std: float = 0.4,
    device: torch.device | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Round Gaussian clouds, one class per centre. Returns x (N, 2), y (N,)."""
    device = device or get_device()
    centres = torch.tensor(centers, dtype=torch.float32,
                           device=device)                   # (C, 2)
    # the class of each point, then x = c_y + std * z
    y = torch.randint(len(centres), (n_samples,), device=device)  # (N,)
    x = centres[y] + std * torch.randn(n_samples, 2, device=device)
    return x, y


# --8<-- [start:chapter_data]
def moons_train_test(
    seed: int = 0, n_samples: int = 400, noise: float = 0.15,
    device: torch.device | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The chapter's data: a training set and an independent held-out set."""
    torch.manual_seed(seed)
    x_train, y_train = make_moons(n_samples, noise, device)  # (N, 2), (N,)
    # fresh draws from the same distribution
    x_test, y_test = make_moons(n_samples, noise, device)
    return x_train, y_train, x_test, y_test
# --8<-- [end:chapter_data]


if __name__ == "__main__":
    from genai.cli import demo_arguments

    demo_arguments(__doc__)   # --help says what the demo does
    x, y, x_test, y_test = moons_train_test(seed=0)
    print(f"moons: x {tuple(x.shape)}, y {tuple(y.shape)}, on {x.device}")
    print(f"  points per class: {torch.bincount(y).tolist()}")
    print(f"  x1 range [{x[:, 0].min():.2f}, {x[:, 0].max():.2f}], "
          f"x2 range [{x[:, 1].min():.2f}, {x[:, 1].max():.2f}]")
    print(f"held-out: x {tuple(x_test.shape)}, points per class: {torch.bincount(y_test).tolist()}")
    xb, yb = make_blobs(300, centers=[(-2.0, 0.0), (0.0, 2.0), (2.0, 0.0)])
    print(f"blobs: x {tuple(xb.shape)}, points per class: {torch.bincount(yb).tolist()}")
    try:
        make_moons(1)
    except ValueError as err:
        print(f"make_moons(1) -> ValueError: {err}")
