"""Memorisation checks: nearest distances are exact (also for tiny ones),
and the held-out curve shows more components fitting the training set
better while the held-out score turns down."""

import pytest
import torch

from genai.generative_models.memorisation import heldout_curve, nearest_distance
from genai.generative_models.toy_data import moons_train_test

CPU = torch.device("cpu")


def test_nearest_distance_is_exact_even_for_tiny_distances():
    """In float32, the matrix-product formula |p|^2 + |r|^2 - 2 p.r loses a
    distance of 1e-4 between points 5 from the origin; the differences do not."""
    reference = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    points = torch.tensor([[3.0, 4.0 + 1e-4], [0.6, 0.8]])
    exact = (points.double()[:, None] - reference.double()[None]).norm(dim=-1).min(dim=1).values
    assert torch.allclose(nearest_distance(points, reference).double(), exact, rtol=1e-5)
    product = torch.cdist(points, reference, compute_mode="use_mm_for_euclid_dist")
    assert not torch.allclose(product.min(dim=1).values.double(), exact, rtol=1e-2)
    assert nearest_distance(reference, reference).eq(0).all()     # a copy is at distance 0


def test_more_components_fit_the_training_set_better_and_the_held_out_set_worse():
    x, _, x_test, _ = moons_train_test(seed=0, device=CPU)
    rows = heldout_curve(x[:120], x_test, [2, 8, 60])
    train = [row[1] for row in rows]
    held_out = [row[2] for row in rows]
    assert train == sorted(train)                     # more components, closer fit
    assert held_out[-1] < max(held_out)               # past some size, worse on new points


def test_bad_shapes_fail_with_a_message():
    with pytest.raises(ValueError, match=r"need points \(S, D\) and reference \(N, D\)"):
        nearest_distance(torch.zeros(3, 2), torch.zeros(3, 3))
