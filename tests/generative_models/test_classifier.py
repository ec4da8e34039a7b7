"""The discriminative classifier: an MLP trained by cross-entropy learns the
moons, its probabilities are probabilities, and bad shapes fail clearly."""

import pytest
import torch

from genai.generative_models.classifier import accuracy, predict_proba, train_classifier
from genai.generative_models.toy_data import moons_train_test

CPU = torch.device("cpu")


def test_it_learns_the_moons_and_gives_probabilities():
    x, y, x_test, y_test = moons_train_test(seed=0, device=CPU)
    torch.manual_seed(0)
    untrained = train_classifier(x, y, steps=0)
    model = train_classifier(x, y)
    assert accuracy(model, x_test, y_test) > 0.95 > accuracy(untrained, x_test, y_test) - 0.3
    proba = predict_proba(model, x_test)
    assert proba.shape == (len(x_test), 2) and (proba >= 0).all()
    assert torch.allclose(proba.sum(dim=1), torch.ones(len(x_test)), atol=1e-6)


def test_bad_shapes_fail_with_a_message():
    with pytest.raises(ValueError, match=r"need x \(N, D\) and y \(N,\)"):
        train_classifier(torch.zeros(4, 2), torch.zeros(3, dtype=torch.long))
