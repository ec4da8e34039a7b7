"""The generative classifier: priors by counting, one mixture per class,
samples of the asked class, and Bayes' rule giving probabilities that
classify held-out moons well."""

import pytest
import torch

from genai.generative_models.class_conditional import (fit_class_conditional, predict_proba,
                                                       sample_class)
from genai.generative_models.toy_data import moons_train_test

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def fitted():
    x, y, x_test, y_test = moons_train_test(seed=0, device=CPU)
    return fit_class_conditional(x, y, n_components=4), x, y, x_test, y_test


def test_priors_count_the_classes(fitted):
    model, _, y, _, _ = fitted
    assert torch.allclose(model.priors, torch.bincount(y).float() / len(y))
    assert len(model.mixtures) == 2


def test_bayes_rule_classifies_held_out_moons(fitted):
    model, _, _, x_test, y_test = fitted
    proba = predict_proba(model, x_test)
    assert torch.allclose(proba.sum(dim=1), torch.ones(len(x_test)), atol=1e-5)
    assert (proba.argmax(dim=1) == y_test).float().mean() > 0.95


def test_samples_of_a_class_look_like_that_class(fitted):
    model, x, y, _, _ = fitted
    torch.manual_seed(0)
    for label in (0, 1):
        points = sample_class(model, label, 2000)
        assert torch.allclose(points.mean(dim=0), x[y == label].mean(dim=0), atol=0.08)
        assert (predict_proba(model, points).argmax(dim=1) == label).float().mean() > 0.9


def test_bad_labels_fail_with_a_message(fitted):
    model, x, y, _, _ = fitted
    with pytest.raises(ValueError, match="label must be in 0..1, got 2"):
        sample_class(model, 2, 5)
    with pytest.raises(ValueError, match="one label per point"):
        fit_class_conditional(x, y[:-1])
