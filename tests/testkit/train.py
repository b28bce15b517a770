"""Tiny designs and data for the feature, evaluation, run and CLI-train tests (CPU, seconds)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


def tiny_cnn(channels: int = 1, classes: int = 10) -> nn.Module:
    """Random conv features: good enough for a linear probe on digits (~0.9)."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(channels, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(),
        nn.Linear(128, classes),
    )


def tiny_rgb_cnn() -> nn.Module:
    """A builder for projects (``testkit.train:tiny_rgb_cnn``): no BatchNorm, so a few steps
    on a tiny folder already evaluate well (BN running stats would still be settling)."""
    return tiny_cnn(3, 10)


@dataclass
class FakeDesign:
    """Duck-typed ``build.Design`` without a recipe (the engine then trains every layer)."""

    model: nn.Module
    input_shape: tuple = (1, 16, 16)
    mean: tuple = (0.5,)
    std: tuple = (0.5,)
    replicate_grey: bool = False
    num_classes: int = 10
    classifier_path: str = "7"
    recipe: object = None


def tiny_design(classes: int = 10) -> FakeDesign:
    return FakeDesign(tiny_cnn(1, classes), num_classes=classes)


def final(events):
    """The last event, after checking the stream starts with start and ends once."""
    kinds = [e.kind for e in events]
    assert kinds[0] == "start", kinds
    assert sum(k in ("finished", "stopped", "failed") for k in kinds) == 1, kinds
    return events[-1]


def fake_run(run_dir, mode: str = "full", best_val_acc: float = 0.5, classes=None, status: str = "finished"):
    """A run folder as a finished run leaves it (one epoch, a best.pt), without training: for views
    that only list runs."""
    from pathlib import Path

    from designer.base.fileio import write_json

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True)
    torch.save({"w": torch.zeros(1)}, run_dir / "best.pt")
    write_json(run_dir / "history.json", {"status": status, "best_val_acc": best_val_acc, "best_epoch": 1,
                                          "epochs": [{"epoch": 1, "val_acc": best_val_acc}]})
    write_json(run_dir / "summary.json", {"mode": mode, "status": status, "best_val_acc": best_val_acc,
                                          **({"classes": list(classes)} if classes else {})})
    return run_dir
