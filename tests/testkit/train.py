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


def tiny_cli_project(root, per_class: int):
    """(root, data folder, project path): a 3-class shapes folder and a project of ``tiny_rgb_cnn`` at
    3x24x24 made through the CLI, its builder trusted as the window does once the user says yes."""
    from designer.cli.main import main
    from designer.zoo import builders
    from testkit.data import make_shapes_folder

    data = make_shapes_folder(root / "data", per_class=per_class, size=24)
    path = str(root / "p.json")
    assert main(["new", "testkit.train:tiny_rgb_cnn", "-o", path, "--trust-builder"]) == 0
    assert main(["edit", path, "--input", "3x24x24", "--classes", "3", "--trust-builder"]) == 0
    builders.trust("testkit.train:tiny_rgb_cnn")
    return root, data, path


def trained_resnet18_project(root, per_class: int, epochs: int):
    """(data folder, project path, run folder): a digits folder at 32x32 and an untrained resnet18 for
    10 classes at 3x32x32, fine-tuned through the CLI for ``epochs`` (the compress tests' starting point)."""
    from designer.cli.main import main
    from testkit.data import make_digits_folder

    data = make_digits_folder(root / "data", per_class=per_class, size=32)
    project, run = str(root / "p.nsd.json"), root / "run"
    assert main(["new", "resnet18", "--weights", "none", "-o", project]) == 0
    assert main(["edit", project, "--input", "3x32x32", "--classes", "10"]) == 0
    assert main(["train", project, "--data", str(data), "--mode", "full", "--epochs", str(epochs),
                 "--device", "cpu", "-o", str(run)]) == 0
    return data, project, run
