"""Representative designs for the export and codegen tests (64x64 inputs: fast on CPU).

Built once per test session and cached; tests must not modify ``design.model``
(export functions copy it).
"""

from __future__ import annotations

import functools

from designer.model.ops import (
    DeleteLayer,
    FreezeUntil,
    InsertAfter,
    LayerSpec,
    LRPreset,
    ReplaceClassifier,
    SetInput,
    SetLRFactor,
)
from designer.model.recipe import Recipe

RECIPES = {
    # A new head and a 1-channel input (the first conv's filters adapted).
    "resnet18_grey": Recipe.for_model("resnet18", weights="none").with_ops(
        SetInput(64, 64, 1), ReplaceClassifier(10),
    ),
    # Frozen early blocks, the head x10 / rest x0.1 preset, one block's own factor, a hidden head.
    "mobilenet_frozen": Recipe.for_model("mobilenet_v3_small", weights="none").with_ops(
        SetInput(64, 64, 3), ReplaceClassifier(4, dropout=0.2, hidden=32),
        FreezeUntil("features.6"), LRPreset("head_x10_rest_x0.1"), SetLRFactor("features.9", 0.5),
    ),
    # The real packaged ImageNet weights (no download).
    "lite0_real": Recipe.for_model("efficientnet_lite0").with_ops(SetInput(64, 64, 3), ReplaceClassifier(3)),
    # Layers inserted (one with sizes inferred) and deleted.
    "inserted_deleted": Recipe.for_model("resnet18", weights="none").with_ops(
        SetInput(64, 64, 3), ReplaceClassifier(3),
        InsertAfter("layer1", LayerSpec.of("BatchNorm2d")),
        InsertAfter("layer3", LayerSpec.of("Dropout", p=0.1)),
        DeleteLayer("layer4.1.relu"),
    ),
}


@functools.cache
def design(name: str):
    from designer.model.build import build

    return build(RECIPES[name])


def example_recipe() -> Recipe:
    """The README's example: resnet18, 5-class head, 1-channel 64x64 input, freeze up to layer2, head x10."""
    return Recipe.for_model("resnet18").with_ops(
        SetInput(64, 64, 1), ReplaceClassifier(5), FreezeUntil("layer2"), LRPreset("head_x10_rest_x0.1"),
    )
