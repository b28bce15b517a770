"""A design is a recipe: a base model plus an ordered list of edit ops.

The model is built by replaying the recipe (``designer.model.build``); undo/redo
swaps recipes; the project file is the recipe as JSON; the exported script is
each op rendered as Python. Recipes are immutable, so a training thread can
hold one without sharing mutable state with the GUI.
"""

from __future__ import annotations

import dataclasses
from dataclasses import replace
from typing import Annotated, Literal

from pydantic import AfterValidator, Field
from pydantic.dataclasses import dataclass

from designer.base.errors import DesignerError
from designer.base.schema import MAX_TEXT, STRICT, checked, describe_value, friendly, matching
from designer.model.families import source_for
from designer.model.ops import Op, op_from_dict

MAX_OPS = 10_000
DOTTED = r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*"
TIMM_NAME = r"[A-Za-z0-9_]+\.[A-Za-z0-9_]+"  # architecture.tag: timm's pretrained names
MODEL_NAME = rf"[A-Za-z0-9_]+|{TIMM_NAME}|{DOTTED}:{DOTTED}"


def _plain_text(value: str) -> str:
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("it should not hold control characters (line breaks, tabs, NUL)")
    return value


ModelName = Annotated[str, Field(min_length=1, max_length=256),
                      matching(MODEL_NAME, "a gallery name (resnet18, timm's resnet18.a1_in1k) or a builder reference "
                                "(package.module:function)")]
WeightsChoice = Annotated[str, Field(min_length=1, max_length=MAX_TEXT), AfterValidator(_plain_text)]


@friendly("The base model")
@dataclass(config=STRICT)
class BaseModel:
    """Where the network comes from.

    ``source``: ``"torchvision"`` (``name`` is a ``torchvision.models`` name),
    ``"lite0"`` (EfficientNet-Lite0, ``name="efficientnet_lite0"``),
    ``"timm"`` (``name`` is one of timm's pretrained classifiers, ``architecture.tag``; checked against
    timm's registry before anything is built) or
    ``"builder"`` (``name`` is ``"package.module:callable"`` returning an ``nn.Module``).
    ``weights``: ``"default"`` (pretrained, from cache or download), ``"none"``
    (random init) or a path to a ``.pth``/``.pt``/``.safetensors`` state dict.
    """

    source: Literal["torchvision", "lite0", "timm", "builder"]
    name: ModelName
    weights: WeightsChoice = "default"

    def __post_init__(self):
        if (self.source == "builder") != (":" in self.name):
            raise DesignerError(f"The base model {describe_value(self.name)} does not fit its source "
                                f"'{self.source}': only a builder is named package.module:function.")
        if (self.source == "timm") != (source_for(self.name) == "timm"):
            raise DesignerError(f"The base model {describe_value(self.name)} does not fit its source "
                                f"'{self.source}': only timm names carry a tag, as in resnet18.a1_in1k.")

    def to_dict(self) -> dict:
        return {"source": self.source, "name": self.name, "weights": self.weights}

    @classmethod
    def from_dict(cls, data: dict) -> BaseModel:
        if not isinstance(data, dict):
            raise DesignerError(f"The base model entry should be an object, not {describe_value(data)}.")
        with checked("The base model"):
            return cls(**data)

    def describe(self) -> str:
        return f"{self.name} ({self.source}, weights={self.weights})"


@dataclasses.dataclass(frozen=True)
class Recipe:
    base: BaseModel
    ops: tuple[Op, ...] = ()

    def with_op(self, op: Op) -> Recipe:
        return replace(self, ops=self.ops + (op,))

    def with_ops(self, *ops: Op) -> Recipe:
        return replace(self, ops=self.ops + tuple(ops))

    def with_base(self, base: BaseModel) -> Recipe:
        return replace(self, base=base)

    def with_weights(self, weights: str) -> Recipe:
        """The same design starting from other base weights ("none": random, the from-scratch
        baseline, or the structure to load a run's weights into)."""
        return replace(self, base=replace(self.base, weights=weights))

    @property
    def structural_ops(self) -> tuple[Op, ...]:
        return tuple(op for op in self.ops if op.structural)

    @property
    def policy_ops(self) -> tuple[Op, ...]:
        return tuple(op for op in self.ops if not op.structural)

    def to_dict(self) -> dict:
        return {"base": self.base.to_dict(), "ops": [op.to_dict() for op in self.ops]}

    @classmethod
    def from_dict(cls, data: dict) -> Recipe:
        if not isinstance(data, dict) or "base" not in data:
            raise DesignerError("The design has no base model.")
        ops = data.get("ops", [])
        if not isinstance(ops, list):
            raise DesignerError(f"The design's edit list should be a list, not {describe_value(ops)}.")
        if len(ops) > MAX_OPS:
            raise DesignerError(f"The design has {len(ops):,} edit steps; at most {MAX_OPS:,} are allowed.")
        return cls(BaseModel.from_dict(data["base"]), tuple(op_from_dict(o, k) for k, o in enumerate(ops, 1)))

    @classmethod
    def for_model(cls, name: str, weights: str = "default") -> Recipe:
        """Recipe for a gallery name or a ``module:callable`` builder."""
        with checked("The model"):
            return cls(BaseModel(source_for(name), name, weights))
