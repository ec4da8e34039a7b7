"""A generative classifier: one Gaussian mixture per class, p(x | y), and p(y).

Together they give the joint p(x, y) = p(y) p(x | y). From it you can draw a
point of a chosen class, and, through Bayes' rule, you can also classify:

    p(y | x) = p(y) p(x | y) / sum_c p(c) p(x | c)

    python -m genai.generative_models.class_conditional
"""

from dataclasses import dataclass

import torch

from genai.device import get_device
from genai.generative_models.gmm import (GaussianMixture, fit_gmm,
                                         log_likelihood, sample)


@dataclass
class ClassConditionalMixture:
    priors: torch.Tensor             # (C,)  p(y = c)
    mixtures: list[GaussianMixture]  # mixture c models p(x | y = c)


# --8<-- [start:fit]
def fit_class_conditional(
    x: torch.Tensor, y: torch.Tensor, n_components: int = 4
) -> ClassConditionalMixture:
    """Fit p(x | y = c) on the points of class c, and p(y = c) by counting."""
    if y.shape != (x.shape[0],):
        raise ValueError(f"need one label per point: x {tuple(x.shape)}, "
                         f"y {tuple(y.shape)}")
    n_classes = int(y.max()) + 1
    # p(y = c) = N_c / N
    priors = torch.bincount(y, minlength=n_classes).float() / len(y)  # (C,)
    mixtures = [fit_gmm(x[y == c], n_components)[0]
                for c in range(n_classes)]
    return ClassConditionalMixture(priors, mixtures)
# --8<-- [end:fit]


# --8<-- [start:sample_class]
def sample_class(
    model: ClassConditionalMixture, label: int, n_samples: int
) -> torch.Tensor:
    """New points of one class: x ~ p(x | y = label). Shape (S, D)."""
    if not 0 <= label < len(model.mixtures):
        raise ValueError(f"label must be in 0..{len(model.mixtures) - 1}, "
                         f"got {label}")
    return sample(model.mixtures[label], n_samples)[0]
# --8<-- [end:sample_class]


# --8<-- [start:bayes]
def predict_proba(
    model: ClassConditionalMixture, x: torch.Tensor
) -> torch.Tensor:
    """p(y = c | x) by Bayes' rule: (N, C), rows sum to 1."""
    # log p(c) + log p(x | c) for every class c: (N, C)
    log_joint = torch.stack(
        [torch.log(prior) + log_likelihood(x, gmm)
         for prior, gmm in zip(model.priors, model.mixtures)], dim=1)
    return torch.softmax(log_joint, dim=1)  # normalise over c
# --8<-- [end:bayes]


if __name__ == "__main__":
    from genai.cli import demo_arguments

    demo_arguments(__doc__)   # --help says what the demo does
    from genai.generative_models.toy_data import moons_train_test

    device = get_device()
    x_train, y_train, x_test, y_test = moons_train_test(seed=0, device=device)
    model = fit_class_conditional(x_train, y_train, n_components=4)
    print(f"p(y): {[round(p, 3) for p in model.priors.tolist()]}")
    lower_moon = sample_class(model, label=1, n_samples=1000)
    print(f"1000 samples of class 1: mean ({lower_moon[:, 0].mean():.2f}, "
          f"{lower_moon[:, 1].mean():.2f})")
    accuracy = (predict_proba(model, x_test).argmax(dim=1) == y_test).float().mean()
    print(f"held-out accuracy of the generative classifier: {accuracy:.3f}")
    for bad in (lambda: sample_class(model, 2, 5),
                lambda: fit_class_conditional(x_train, y_test[:9])):
        try:
            bad()
        except ValueError as err:
            print(f"ValueError: {err}")
