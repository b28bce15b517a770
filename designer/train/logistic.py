"""Multinomial logistic regression on cached features, fitted in seconds, made into a Linear head.

The features are divided by ONE number (their root mean square), not standardised feature
by feature: per-feature scaling gives near-constant features huge weights (x 1/std), a head
that is fine in eval mode but blows up as soon as dropout or BatchNorm batch statistics
nudge those features, and one that fine-tuning cannot start from (measured on digits: a
probe at 0.62 fell to 0.45 after fine-tuning; with one scale it is 0.70 and fine-tunes to
0.88). The fit is full-batch L-BFGS in float64 for each L2 strength in a small grid; the
one with the best validation accuracy (then loss) wins.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

L2_GRID = (1e-3, 1e-2, 1e-1)  # on features / their RMS, so the same grid fits any network
MAX_ITER = 200


@dataclass
class LogisticFit:
    weight: torch.Tensor  # (classes, features), acting on the *unscaled* features
    bias: torch.Tensor
    l2: float
    val_acc: float | None
    val_loss: float | None
    train_acc: float | None  # None only without training features, as score gives
    train_loss: float | None


def fit(features: torch.Tensor, labels: torch.Tensor, num_classes: int, l2: float,
        scale: float | None = None, class_weight: torch.Tensor | None = None) -> tuple[torch.Tensor,
                                                                                       torch.Tensor]:
    """(weight, bias) of a Linear for ``features`` (N x D) -> ``num_classes`` logits."""
    x = features.flatten(1).double()
    scale = scale or float(x.pow(2).mean().sqrt().clamp_min(1e-12))
    x = x / scale
    w = torch.zeros(num_classes, x.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros(num_classes, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([w, b], lr=1, max_iter=MAX_ITER, history_size=20,
                                  line_search_fn="strong_wolfe", tolerance_grad=1e-6, tolerance_change=1e-9)
    weight = None if class_weight is None else class_weight.double()

    def closure():
        optimizer.zero_grad()
        loss = F.cross_entropy(x @ w.T + b, labels, weight=weight) + 0.5 * l2 * (w * w).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return (w.detach() / scale).float(), b.detach().float()


def score(weight: torch.Tensor, bias: torch.Tensor, features: torch.Tensor | None,
          labels: torch.Tensor | None) -> tuple[float | None, float | None]:
    """(loss, accuracy) of a Linear head on cached features; (None, None) without any."""
    if features is None or labels is None or not len(labels):
        return None, None
    logits = features.flatten(1).float() @ weight.T + bias
    # the count over the number, as the engine's validation does: a float32 mean made 63/70 "less" than 0.9
    return F.cross_entropy(logits, labels).item(), int((logits.argmax(1) == labels).sum()) / len(labels)


def fit_grid(train_x, train_y, val_x, val_y, num_classes: int, grid=L2_GRID, class_weight=None):
    """Yields one ``LogisticFit`` per L2 strength (so a caller can report or cancel between them)."""
    scale = float(train_x.flatten(1).double().pow(2).mean().sqrt().clamp_min(1e-12))
    for l2 in grid:
        weight, bias = fit(train_x, train_y, num_classes, l2, scale, class_weight)
        train_loss, train_acc = score(weight, bias, train_x, train_y)
        val_loss, val_acc = score(weight, bias, val_x, val_y)
        yield LogisticFit(weight, bias, l2, val_acc, val_loss, train_acc, train_loss)


def better(candidate: LogisticFit, best: LogisticFit | None) -> bool:
    """Higher validation accuracy wins, then lower validation loss (without validation: training)."""
    if best is None:
        return True
    key = (lambda f: (f.val_acc, -f.val_loss)) if candidate.val_acc is not None else (
        lambda f: (f.train_acc, -f.train_loss))
    return key(candidate) > key(best)
