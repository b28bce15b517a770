"""The core's names that the command line spells as flags: the choices a flag offers, its limits,
and the edit ops a flag becomes.

``designer.cli`` imports only ``designer.app`` and ``designer.base`` (an import-linter contract), so
what its argument parser needs from the layers below is re-exported here, in one place.
"""

from __future__ import annotations

from designer.compress.goal import parse_goal
from designer.compress.loop import CompressSettings, StepMeasured
from designer.compress.prune import IMPORTANCES
from designer.data.transforms import Augment
from designer.export.formats import DEFAULT_TOLERANCE, FORMATS
from designer.inspect.cam import METHODS
from designer.inspect.graph import format_shape
from designer.launch.placement import Placement
from designer.model.ops import (
    BN_MODES,
    LR_PRESETS,
    DeleteLayer,
    Freeze,
    FreezeUntil,
    InsertAfter,
    LayerSpec,
    LRPreset,
    Op,
    ReplaceClassifier,
    ReplaceLayer,
    SetBatchNormMode,
    SetInput,
    SetLayerParams,
    SetLRFactor,
)
from designer.train.options import (
    DEVICES,
    MAX_BUDGET_S,
    MIN_BUDGET_S,
    MODES,
    OPTIMIZERS,
    PLAN_FIELDS,
    SCHEDULES,
    TrainOptions,
)
from designer.zoo.sources import CATEGORIES, GALLERY_SOURCES

__all__ = [
    "BN_MODES", "CATEGORIES", "DEFAULT_TOLERANCE", "DEVICES", "FORMATS", "GALLERY_SOURCES", "IMPORTANCES",
    "LR_PRESETS", "MAX_BUDGET_S", "METHODS", "MIN_BUDGET_S", "MODES", "OPTIMIZERS", "PLAN_FIELDS",
    "SCHEDULES", "Augment", "CompressSettings", "DeleteLayer", "Freeze", "FreezeUntil", "InsertAfter",
    "LRPreset", "LayerSpec", "Op", "Placement", "ReplaceClassifier", "ReplaceLayer", "SetBatchNormMode",
    "SetInput", "SetLRFactor", "SetLayerParams", "StepMeasured", "TrainOptions", "format_shape",
    "parse_goal",
]
