"""A discriminative model: a small MLP that learns p(y | x) on 2-D points.

It can label a point (which moon is it on?), but it models only p(y | x):
it has no p(x), no description of where the points lie, to sample from.

    python -m genai.generative_models.classifier
"""

import torch
from torch import nn

from genai.device import get_device


# --8<-- [start:model]
class MLPClassifier(nn.Module):
    """x (N, D) -> logits (N, C); softmax of the logits is p(y | x)."""

    def __init__(self, in_dim: int = 2, hidden: int = 32, n_classes: int = 2):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(in_dim, hidden), nn.Tanh(),     # (N, D) -> (N, H)
            nn.Linear(hidden, hidden), nn.Tanh(),     # (N, H) -> (N, H)
            nn.Linear(hidden, n_classes),             # (N, H) -> (N, C)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
# --8<-- [end:model]


# --8<-- [start:train]
def train_classifier(
    x: torch.Tensor, y: torch.Tensor, hidden: int = 32, steps: int = 300,
    lr: float = 0.02,
) -> MLPClassifier:
    """Full-batch Adam on the cross-entropy  -mean_n log p(y_n | x_n)."""
    if x.ndim != 2 or y.shape != (x.shape[0],):
        raise ValueError(f"need x (N, D) and y (N,), got {tuple(x.shape)} "
                         f"and {tuple(y.shape)}")
    model = MLPClassifier(x.shape[1], hidden, int(y.max()) + 1).to(x.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        logits = model(x)                                    # (N, C)
        # -mean_n log softmax(logits_n)[y_n]
        loss = nn.functional.cross_entropy(logits, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model
# --8<-- [end:train]


# --8<-- [start:predict]
@torch.no_grad()
def predict_proba(model: MLPClassifier, x: torch.Tensor) -> torch.Tensor:
    """p(y = c | x) for every point and class: (N, C), rows sum to 1."""
    return torch.softmax(model(x), dim=1)


def accuracy(model: MLPClassifier, x: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of points whose most probable class is the true one."""
    return (predict_proba(model, x).argmax(dim=1) == y).float().mean().item()
# --8<-- [end:predict]


if __name__ == "__main__":
    from genai.cli import demo_arguments

    demo_arguments(__doc__)   # --help says what the demo does
    from genai.generative_models.toy_data import moons_train_test

    device = get_device()
    x_train, y_train, x_test, y_test = moons_train_test(seed=0, device=device)
    model = train_classifier(x_train, y_train)
    print(f"device: {device}")
    print(f"train accuracy {accuracy(model, x_train, y_train):.3f}, "
          f"held-out accuracy {accuracy(model, x_test, y_test):.3f}")
    probe = torch.tensor([[0.0, 1.0], [1.0, -0.5], [0.5, 0.25]], device=device)
    for point, p in zip(probe.tolist(), predict_proba(model, probe).tolist()):
        print(f"p(y | x={point}) = [{p[0]:.3f}, {p[1]:.3f}]")
    try:
        train_classifier(x_train[:, 0], y_train)
    except ValueError as err:
        print(f"1-D input -> ValueError: {err}")
