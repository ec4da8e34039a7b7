"""The chapter's data: moons and blobs of the asked size and classes, the
same for the same seed, and a held-out set that is not the training set."""

import pytest
import torch

from genai.generative_models.toy_data import make_blobs, make_moons, moons_train_test

CPU = torch.device("cpu")


def test_moons_shapes_classes_and_range():
    torch.manual_seed(0)
    x, y = make_moons(401, noise=0.0, device=CPU)
    assert x.shape == (401, 2) and y.shape == (401,) and x.dtype == torch.float32
    assert torch.bincount(y).tolist() == [200, 201]
    upper = x[y == 0]
    assert torch.allclose(upper.norm(dim=1), torch.ones(200), atol=1e-5)   # on the unit circle
    assert (upper[:, 1] >= -1e-6).all()
    with pytest.raises(ValueError, match="n_samples >= 2"):
        make_moons(1, device=CPU)


def test_blobs_sit_around_their_centres():
    torch.manual_seed(0)
    x, y = make_blobs(4000, centers=((-1.0, 0.0), (1.0, 0.5)), std=0.4, device=CPU)
    assert torch.allclose(x[y == 0].mean(dim=0), torch.tensor([-1.0, 0.0]), atol=0.05)
    assert torch.allclose(x[y == 1].std(dim=0), torch.tensor([0.4, 0.4]), atol=0.03)


def test_the_chapter_data_is_seeded_and_held_out_is_fresh():
    first = moons_train_test(seed=3, device=CPU)
    again = moons_train_test(seed=3, device=CPU)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    x_train, _, x_test, _ = first
    assert not torch.equal(x_train, x_test)
    assert not torch.equal(moons_train_test(seed=4, device=CPU)[0], x_train)
