"""A generative model: a Gaussian mixture fitted with EM, written in PyTorch.

The mixture is a density over points x in R^D:

    p(x) = sum_k pi_k N(x | mu_k, Sigma_k)

Because it describes where the points lie, it can score a point (log p(x))
and it can draw new points: pick a component k with probability pi_k, then
draw x from that component's Gaussian.

    python -m genai.generative_models.gmm
"""

import math
from dataclasses import dataclass

import torch

from genai.device import get_device


@dataclass
class GaussianMixture:
    weights: torch.Tensor  # (K,)       pi_k, sum to 1
    means: torch.Tensor    # (K, D)     mu_k
    covs: torch.Tensor     # (K, D, D)  Sigma_k, symmetric positive definite

    @property
    def n_components(self) -> int:
        return self.weights.shape[0]


def check_points(x: torch.Tensor, n_components: int | None = None) -> None:
    """Fail early, with a message that says what was expected."""
    if x.ndim != 2:
        raise ValueError(f"x must have shape (N, D), one point per row; "
                         f"got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"x must be a float tensor, got {x.dtype}")
    if n_components is not None and not 1 <= n_components <= x.shape[0]:
        raise ValueError(
            f"n_components must be between 1 and the number of points "
            f"({x.shape[0]}), got {n_components}"
        )


# --8<-- [start:log_prob]
def component_log_prob(x: torch.Tensor, gmm: GaussianMixture) -> torch.Tensor:
    """log pi_k + log N(x_n | mu_k, Sigma_k) for every n and k: (N, K)."""
    check_points(x)
    n_dims = x.shape[1]
    # Sigma = L L^T, with L lower triangular (the Cholesky factor)
    chol = torch.linalg.cholesky(gmm.covs)                # (K, D, D)
    diff = x[:, None, :] - gmm.means[None, :, :]          # (N, K, D)
    # z = L^-1 (x - mu): solve L z = x - mu, a triangular system
    z = torch.linalg.solve_triangular(
        chol[None], diff[..., None], upper=False
    ).squeeze(-1)                                         # (N, K, D)
    # (x - mu)^T Sigma^-1 (x - mu) = ||L^-1 (x - mu)||^2
    maha = (z**2).sum(dim=-1)                             # (N, K)
    # log det Sigma = 2 sum_i log L_ii
    diag = torch.diagonal(chol, dim1=-2, dim2=-1)         # (K, D)
    log_det = 2 * torch.log(diag).sum(dim=-1)             # (K,)
    # log N(x | mu, Sigma)
    #   = -1/2 [D log(2 pi) + log det Sigma + (x-mu)^T Sigma^-1 (x-mu)]
    log_normal = -0.5 * (
        n_dims * math.log(2 * math.pi) + log_det + maha
    )                                                     # (N, K)
    return torch.log(gmm.weights) + log_normal


def log_likelihood(x: torch.Tensor, gmm: GaussianMixture) -> torch.Tensor:
    """log p(x_n) = log sum_k pi_k N(x_n | mu_k, Sigma_k): (N,)."""
    return torch.logsumexp(component_log_prob(x, gmm), dim=1)
# --8<-- [end:log_prob]


# --8<-- [start:e_step]
def e_step(
    x: torch.Tensor, gmm: GaussianMixture
) -> tuple[torch.Tensor, torch.Tensor]:
    """Responsibilities r_nk = p(k | x_n), (N, K), and log p(x_n), (N,)."""
    # log pi_k N(x_n | mu_k, Sigma_k)
    log_joint = component_log_prob(x, gmm)                # (N, K)
    log_px = torch.logsumexp(log_joint, dim=1)            # (N,)  log p(x_n)
    # Bayes' rule with prior pi_k:
    # r_nk = pi_k N(x_n | k) / sum_j pi_j N(x_n | j)
    resp = torch.exp(log_joint - log_px[:, None])         # (N, K) rows sum to 1
    return resp, log_px
# --8<-- [end:e_step]


# --8<-- [start:m_step]
def m_step(
    x: torch.Tensor, resp: torch.Tensor, reg_covar: float = 1e-6
) -> GaussianMixture:
    """The mixture that maximises the expected log-likelihood under resp."""
    n_points, n_dims = x.shape
    # N_k = sum_n r_nk
    counts = resp.sum(dim=0) + 1e-10                      # (K,)
    # pi_k = N_k / N
    weights = counts / n_points                           # (K,)
    # mu_k = sum_n r_nk x_n / N_k
    means = resp.T @ x / counts[:, None]                  # (K, D)
    diff = x[None, :, :] - means[:, None, :]              # (K, N, D)
    # Sigma_k = sum_n r_nk (x_n - mu_k)(x_n - mu_k)^T / N_k
    outer = torch.einsum("nk,kni,knj->kij", resp, diff, diff)  # (K, D, D)
    covs = outer / counts[:, None, None]
    # a small ridge on the diagonal keeps every Sigma_k invertible
    covs = covs + reg_covar * torch.eye(n_dims, device=x.device)
    return GaussianMixture(weights, means, covs)
# --8<-- [end:m_step]


# --8<-- [start:fit]
def init_mixture(
    x: torch.Tensor, n_components: int, reg_covar: float = 1e-6,
    kmeans_steps: int = 10, seed: int = 0,
) -> GaussianMixture:
    """Start from a few k-means steps: each point joins its nearest centre."""
    one_hot = torch.nn.functional.one_hot
    # a private generator: the same seed picks the same starting points,
    # on every device, whatever else used torch's global random numbers
    generator = torch.Generator().manual_seed(seed)
    first = torch.randperm(x.shape[0], generator=generator)[:n_components]
    centres = x[first.to(x.device)]                       # (K, D) K points
    for _ in range(kmeans_steps):
        nearest = torch.cdist(x, centres).argmin(dim=1)   # (N,)
        hard = one_hot(nearest, n_components).to(x.dtype)  # (N, K)
        counts = hard.sum(dim=0)[:, None]                 # (K, 1)
        # each centre moves to the mean of its points; an empty one stays
        means = hard.T @ x / counts.clamp(min=1)          # (K, D)
        centres = torch.where(counts > 0, means, centres)
    nearest = torch.cdist(x, centres).argmin(dim=1)
    return m_step(x, one_hot(nearest, n_components).to(x.dtype), reg_covar)


def fit_gmm(
    x: torch.Tensor, n_components: int, max_iter: int = 200,
    tol: float = 1e-4, reg_covar: float = 1e-6, seed: int = 0,
) -> tuple[GaussianMixture, list[float]]:
    """EM: alternate E and M steps until log p(x) stops improving."""
    check_points(x, n_components)
    gmm = init_mixture(x, n_components, reg_covar, seed=seed)
    history = []            # mean log p(x_n), computed in each E-step
    for _ in range(max_iter):
        resp, log_px = e_step(x, gmm)       # E: who is responsible for what
        gmm = m_step(x, resp, reg_covar)    # M: refit each Gaussian
        history.append(log_px.mean().item())
        if len(history) > 1 and history[-1] - history[-2] < tol:
            break
    return gmm, history
# --8<-- [end:fit]


# --8<-- [start:sample]
@torch.no_grad()
def sample(
    gmm: GaussianMixture, n_samples: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """New points: k ~ Categorical(pi), then x = mu_k + L_k z, z ~ N(0, I)."""
    device = gmm.means.device
    n_dims = gmm.means.shape[1]
    k = torch.multinomial(gmm.weights, n_samples, replacement=True)  # (S,)
    z = torch.randn(n_samples, n_dims, 1, device=device)  # (S, D, 1)
    chol = torch.linalg.cholesky(gmm.covs)                # (K, D, D)
    # x = mu_k + L_k z has covariance L_k I L_k^T = Sigma_k
    x = gmm.means[k] + (chol[k] @ z).squeeze(-1)          # (S, D)
    return x, k
# --8<-- [end:sample]


if __name__ == "__main__":
    from genai.cli import demo_arguments

    demo_arguments(__doc__)   # --help says what the demo does
    from genai.generative_models.toy_data import moons_train_test

    device = get_device()
    x_train, _, x_test, _ = moons_train_test(seed=0, device=device)
    gmm, history = fit_gmm(x_train, n_components=8)
    print(f"device: {device}; EM stopped after {len(history)} iterations")
    print(f"log-likelihood never went down: "
          f"{all(b >= a - 1e-5 for a, b in zip(history, history[1:]))}")
    print(f"mean log p(x): train {log_likelihood(x_train, gmm).mean():.3f}, "
          f"held-out {log_likelihood(x_test, gmm).mean():.3f}")
    print(f"weights: {[round(w, 3) for w in gmm.weights.tolist()]}")
    new_points, component = sample(gmm, 5)
    for point, k in zip(new_points.tolist(), component.tolist()):
        print(f"  sample from component {k}: ({point[0]:+.3f}, {point[1]:+.3f})")
    for bad in (lambda: fit_gmm(x_train, 0), lambda: fit_gmm(x_train[:, 0], 2),
                lambda: fit_gmm(x_train.long(), 2)):
        try:
            bad()
        except ValueError as err:
            print(f"ValueError: {err}")
