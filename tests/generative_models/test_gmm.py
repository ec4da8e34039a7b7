"""The Gaussian mixture fitted by EM: its density is a density, EM never
lowers the likelihood, its fit agrees with scikit-learn's on the same data,
samples follow the mixture, and bad input fails with a message."""

import math

import pytest
import torch

from genai.generative_models.gmm import (GaussianMixture, check_points, component_log_prob,
                                         e_step, fit_gmm, log_likelihood, m_step, sample)
from genai.generative_models.toy_data import make_blobs, moons_train_test

CPU = torch.device("cpu")


def blobs(n=600, seed=0):
    torch.manual_seed(seed)
    return make_blobs(n, centers=((-2.0, 0.0), (2.0, 1.0), (0.0, -2.5)), std=0.5, device=CPU)


def test_the_log_density_is_scipys():
    from scipy.stats import multivariate_normal

    gmm = GaussianMixture(torch.tensor([0.3, 0.7], dtype=torch.float64),
                          torch.tensor([[0.0, 0.0], [1.0, -1.0]], dtype=torch.float64),
                          torch.tensor([[[1.0, 0.3], [0.3, 0.5]], [[0.4, 0.0], [0.0, 2.0]]],
                                       dtype=torch.float64))
    x = torch.tensor([[0.2, 0.1], [1.5, -2.0], [-3.0, 4.0]], dtype=torch.float64)
    theirs = torch.tensor([[math.log(w) + multivariate_normal(m, c).logpdf(p)
                            for w, m, c in zip(gmm.weights.tolist(), gmm.means.numpy(),
                                               gmm.covs.numpy())] for p in x.numpy()])
    assert torch.allclose(component_log_prob(x, gmm), theirs, atol=1e-10)
    assert torch.allclose(log_likelihood(x, gmm), torch.logsumexp(theirs, dim=1), atol=1e-10)


def test_the_density_integrates_to_one():
    """On a fine grid, sum p(x) dx = 1 (a density, not just a score)."""
    x, _ = blobs()
    gmm, _ = fit_gmm(x.double(), 3)
    axis = torch.linspace(-6, 6, 241, dtype=torch.float64)
    grid = torch.cartesian_prod(axis, axis)
    cell = (axis[1] - axis[0]) ** 2
    assert log_likelihood(grid, gmm).exp().sum() * cell == pytest.approx(1.0, abs=1e-3)


def test_em_never_lowers_the_log_likelihood_and_stops_when_it_levels_off():
    x_train, _, _, _ = moons_train_test(seed=0, device=CPU)
    _, history = fit_gmm(x_train, 8, max_iter=500, tol=1e-4)
    steps = [b - a for a, b in zip(history, history[1:])]
    assert min(steps) > -1e-5, min(steps)            # float32 rounding at most
    assert len(history) < 500 and steps[-1] < 1e-4


def test_the_fit_agrees_with_scikit_learns():
    """Same data, same number of components: the same log-likelihood per
    point (both are local optima from k-means starts: well-separated blobs
    give both the same one)."""
    from sklearn.mixture import GaussianMixture as SklearnMixture

    x = blobs()[0].double()
    ours, _ = fit_gmm(x, 3, tol=1e-8, max_iter=500)
    theirs = SklearnMixture(3, tol=1e-8, max_iter=500, random_state=0).fit(x.numpy())
    assert log_likelihood(x, ours).mean().item() == pytest.approx(theirs.score(x.numpy()), abs=1e-4)
    order = torch.argsort(ours.means[:, 0])
    their_order = torch.argsort(torch.from_numpy(theirs.means_[:, 0]))
    assert torch.allclose(ours.means[order], torch.from_numpy(theirs.means_)[their_order], atol=1e-3)
    assert torch.allclose(ours.weights[order], torch.from_numpy(theirs.weights_)[their_order],
                          atol=1e-3)


def test_the_e_and_m_steps():
    x, _ = blobs()
    gmm, _ = fit_gmm(x, 3)
    resp, log_px = e_step(x, gmm)
    assert torch.allclose(resp.sum(dim=1), torch.ones(len(x)), atol=1e-5)
    assert torch.allclose(log_px, log_likelihood(x, gmm))
    again = m_step(x, resp)
    assert torch.allclose(again.weights.sum(), torch.tensor(1.0))
    # symmetric positive definite covariances
    assert torch.allclose(again.covs, again.covs.transpose(1, 2))
    assert (torch.linalg.eigvalsh(again.covs) > 0).all()


def test_samples_follow_the_mixture():
    x, _ = blobs(3000)
    gmm, _ = fit_gmm(x, 3)
    torch.manual_seed(1)
    points, k = sample(gmm, 20000)
    shares = torch.bincount(k, minlength=3).float() / len(k)
    assert torch.allclose(shares, gmm.weights, atol=0.02)
    assert torch.allclose(points.mean(dim=0), (gmm.weights[:, None] * gmm.means).sum(dim=0),
                          atol=0.05)


@pytest.mark.parametrize("x, k, message", [
    (torch.zeros(5), None, "shape (N, D)"),
    (torch.zeros(5, 2, dtype=torch.long), None, "float tensor"),
    (torch.zeros(5, 2), 6, "between 1 and the number of points (5), got 6"),
    (torch.zeros(5, 2), 0, "got 0"),
])
def test_bad_points_fail_with_a_message(x, k, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_points(x, k)
