"""Where a design's network comes from: a source and a name, and its weights (``BaseModel``).

A recipe (``designer.model.recipe``) is a ``BaseModel`` plus edit ops. Every value is checked by the
project's schema before anything is built: names match a gallery name, timm's ``architecture.tag``
or a builder reference; weights are "default", "none" or a file path.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic.dataclasses import dataclass

from designer.base.errors import DesignerError
from designer.base.schema import MAX_TEXT, STRICT, checked, describe_value, friendly, matching
from designer.zoo.families import Source, source_for

DOTTED = r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*"
TIMM_NAME = r"[A-Za-z0-9_]+\.[A-Za-z0-9_]+"  # architecture.tag: timm's pretrained names
MODEL_NAME = rf"[A-Za-z0-9_]+|{TIMM_NAME}|{DOTTED}:{DOTTED}"


def _plain_text(value: str) -> str:
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("it should not hold control characters (line breaks, tabs, NUL)")
    return value


ModelName = Annotated[str, Field(min_length=1, max_length=256),
                      matching(MODEL_NAME,
                               "a gallery name (resnet18, timm's resnet18.a1_in1k) or a builder reference "
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

    source: Source
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
