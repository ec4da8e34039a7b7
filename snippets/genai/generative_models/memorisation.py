"""Are samples new? Distances to the training set, and held-out likelihood.

A model that generalises puts probability between and around its training
points, so its samples land near the data but not on it, and it gives fresh
points from the same distribution a good score. A model that memorises puts
all its probability on the training points themselves.

    python -m genai.generative_models.memorisation
"""

import torch

from genai.device import get_device
from genai.generative_models.gmm import fit_gmm, log_likelihood


# --8<-- [start:nearest]
def nearest_distance(
    points: torch.Tensor, reference: torch.Tensor
) -> torch.Tensor:
    """Distance from each point (S, D) to its closest reference (N, D): (S,)."""
    if (points.ndim != 2 or reference.ndim != 2
            or points.shape[1] != reference.shape[1]):
        raise ValueError(
            f"need points (S, D) and reference (N, D), got "
            f"{tuple(points.shape)} and {tuple(reference.shape)}"
        )
    # min_j ||p_s - r_j||, computed from the differences: the faster
    # matrix-product formula loses the small distances to rounding
    dist = torch.cdist(points, reference,
                       compute_mode="donot_use_mm_for_euclid_dist")  # (S, N)
    return dist.min(dim=1).values
# --8<-- [end:nearest]


# --8<-- [start:heldout]
def heldout_curve(
    x_train: torch.Tensor, x_test: torch.Tensor, ks: list[int], seed: int = 0
) -> list[tuple[int, float, float]]:
    """One mixture per K: (K, mean train log p(x), mean held-out log p(x))."""
    rows = []
    for k in ks:
        gmm, _ = fit_gmm(x_train, n_components=k, seed=seed)
        rows.append((k, log_likelihood(x_train, gmm).mean().item(),
                     log_likelihood(x_test, gmm).mean().item()))
    return rows
# --8<-- [end:heldout]


if __name__ == "__main__":
    from genai.cli import demo_arguments

    demo_arguments(__doc__)   # --help says what the demo does
    from genai.generative_models.gmm import sample
    from genai.generative_models.toy_data import moons_train_test

    device = get_device()
    x_train, _, x_test, _ = moons_train_test(seed=0, device=device)
    rows = heldout_curve(x_train, x_test, [1, 4, 8, 16])
    for k, train_ll, test_ll in rows:
        print(f"K={k:3d}: train {train_ll:8.3f}   held-out {test_ll:10.3f}")
    print(f"real held-out points: median distance to their nearest "
          f"training point {nearest_distance(x_test, x_train).median():.4f}")
    torch.manual_seed(1)
    for k in (8, 400):  # K=400: one component per training point
        gmm, _ = fit_gmm(x_train, n_components=k)
        if k == 400:
            print(f"K={k:3d}: train {log_likelihood(x_train, gmm).mean():8.3f}   "
                  f"held-out {log_likelihood(x_test, gmm).mean():10.3f}")
        new_points, _ = sample(gmm, 1000)
        gap = nearest_distance(new_points, x_train)
        print(f"K={k:3d}: median distance from a sample to its nearest "
              f"training point {gap.median():.4f}")
    try:
        nearest_distance(x_train, x_train[:, :1])
    except ValueError as err:
        print(f"ValueError: {err}")
