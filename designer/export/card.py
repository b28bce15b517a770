"""The model card: a small JSON file that travels with exported weights.

It says what the numbers in the weight file mean: the recipe that built the
network, the class names in output order, the input size and normalisation,
where the base weights came from (with the SHA-256 of that file when there is
one), and the training settings and final metrics when they are known.
"""

from __future__ import annotations

from datetime import datetime, timezone

import torch

from designer.model.build import Design, network_input
from designer.zoo.sources import weights_origin

CARD_VERSION = 1


def model_card(design: Design, *, classes=None, training=None, metrics=None) -> dict:
    (channels, height, width), mean, std = network_input(design)
    return {
        "card_version": CARD_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "made_with": f"NetSurgeon, torch {torch.__version__}",
        "recipe": design.recipe.to_dict(),
        "classes": list(classes) if classes else None,
        "num_classes": design.num_classes,
        "input": {
            "channels": channels, "height": height, "width": width,
            "layout": "NCHW, float32, RGB order (grey: one channel)",
            "mean": list(mean), "std": list(std),
            "replicate_grey": bool(getattr(design, "replicate_grey", False)),
            "preprocess": "resize to height x width, scale pixels to [0, 1], then (x - mean) / std"
            + ("; grey images are repeated to 3 channels first" if getattr(design, "replicate_grey", False)
               else ""),
        },
        "output": "logits, one per class, in the order of 'classes'",
        "base_weights": weights_origin(design.recipe.base),
        "training": training,
        "metrics": metrics,
        "trained_in": _trained_in(metrics),
    }


def _trained_in(metrics) -> dict | None:
    """The run folder the weights come from and its validation accuracy, first thing a reader
    asks of a model card (None: the design's own weights, not a run's)."""
    if not metrics or not metrics.get("run_folder"):
        return None
    return {"run_folder": metrics["run_folder"], "best_val_acc": metrics.get("best_val_acc")}
