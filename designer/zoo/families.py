"""What NetSurgeon knows about each kind of network, as data: one small record per family.

timm keeps ``first_conv`` and ``classifier`` in each model's pretrained config;
this registry does the same for the networks the gallery offers. Every other
module reads it instead of branching on names:

- ``zoo`` builds with ``arch_kwargs`` (no auxiliary heads, a ViT at its weights' size)
  and sorts the gallery into categories with ``edge``;
- ``surgery`` finds the classifier at one of ``classifier_paths``;
- ``build`` and ``codegen`` change the input size the family's way (``sizing``);
- the model card and the generated script describe where a ``Source``'s weights come from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

DEFAULT_MODEL = "efficientnet_lite0"  # the built-in default: its ImageNet weights ship in a pip package
LITE0 = "efficientnet_lite0"

# How a family takes another input size:
#   "any"   - convolutions and adaptive pooling: any size that is not too small works;
#   "vit"   - the image size is baked into position embeddings: interpolate them (torchvision's
#             interpolate_embeddings), square sizes only;
#   "same"  - TF "SAME" paddings computed for one size (Lite0): recompute them for the new size.
SIZINGS = ("any", "vit", "same")


@dataclass(frozen=True)
class Family:
    name: str
    prefixes: tuple[str, ...]  # gallery names that start with one of these belong here
    classifier_paths: tuple[str, ...] = ()  # where the final layer lives, most specific first
    sizing: str = "any"
    edge: bool = False  # built for phones and small devices
    # Constructor arguments so the eval graph has no auxiliary heads; "pretrained" ones mirror what
    # torchvision's own builders set when they load ImageNet weights, "random" ones when they do not.
    arch_kwargs: dict = field(default_factory=dict)
    pretrained_kwargs: dict = field(default_factory=dict)
    random_kwargs: dict = field(default_factory=dict)
    aux_prefixes: tuple[str, ...] = ()  # state-dict keys of auxiliary heads the eval graph drops


_NO_AUX = {"aux_logits": False}
# First matching prefix wins, so the longer names come first.
FAMILIES: tuple[Family, ...] = (
    Family("efficientnet_lite", ("efficientnet_lite",), ("_fc",), sizing="same", edge=True),
    Family("efficientnet_v2", ("efficientnet_v2",), ("classifier.1",)),
    Family("efficientnet", ("efficientnet",), ("classifier.1",)),
    Family("wide_resnet", ("wide_resnet",), ("fc",)),
    Family("resnext", ("resnext",), ("fc",)),
    Family("resnet", ("resnet",), ("fc",)),
    Family("regnet", ("regnet",), ("fc",)),
    Family("mobilenet", ("mobilenet",), ("classifier.3", "classifier.1"), edge=True),
    Family("mnasnet", ("mnasnet",), ("classifier.1",), edge=True),
    Family("shufflenet", ("shufflenet",), ("fc",), edge=True),
    Family("squeezenet", ("squeezenet",), ("classifier.1",), edge=True),  # a 1x1 conv head
    Family("densenet", ("densenet",), ("classifier",)),
    Family("inception", ("inception",), ("fc",), arch_kwargs=_NO_AUX,
           pretrained_kwargs={"transform_input": True, "init_weights": False},
           random_kwargs={"init_weights": True}, aux_prefixes=("AuxLogits.",)),
    Family("googlenet", ("googlenet",), ("fc",), arch_kwargs=_NO_AUX,
           pretrained_kwargs={"transform_input": True, "init_weights": False},
           random_kwargs={"init_weights": True}, aux_prefixes=("aux1.", "aux2.")),
    Family("alexnet", ("alexnet",), ("classifier.6",)),
    Family("vgg", ("vgg",), ("classifier.6",)),
    Family("convnext", ("convnext",), ("classifier.2",)),
    Family("maxvit", ("maxvit",), ("classifier.5",)),
    Family("swin", ("swin",), ("head",)),
    Family("vit", ("vit",), ("heads.head",), sizing="vit"),
)
BY_NAME = {f.name: f for f in FAMILIES}
# Every known classifier path, most specific first: tried before the generic "last Linear" rule.
CLASSIFIER_PATHS: tuple[str, ...] = tuple(dict.fromkeys(
    sorted((p for f in FAMILIES for p in f.classifier_paths), key=lambda p: (-p.count("."), -len(p)))))
CUSTOM = Family("custom", ())


def family_of(name: str) -> Family:
    """The family record of a gallery name (a bare record for names no family claims)."""
    found = next((f for f in FAMILIES if name.startswith(f.prefixes)), None)
    return found or Family(name.rstrip("0123456789_"), ())


# --- which source a name belongs to (the sources themselves: designer.zoo.sources.SOURCES) ------------


# Where a base model comes from (zoo.base.BaseModel.source).
Source = Literal["torchvision", "lite0", "timm", "builder"]


def source_for(name: str) -> Source:
    """The source of a gallery name or a ``module:callable`` builder reference. timm's pretrained
    names carry a tag after a dot (``resnet18.a1_in1k``); torchvision's never do."""
    if ":" in name:
        return "builder"
    if "." in name:
        return "timm"
    return "lite0" if name == LITE0 else "torchvision"


# --- input sizing, read off a built network -----------------------------------------------------


def has_position_embeddings(model) -> bool:
    """torchvision's VisionTransformer: its image size is baked into ``encoder.pos_embedding``."""
    return hasattr(model, "image_size") and hasattr(model, "patch_size") and hasattr(
        getattr(model, "encoder", None), "pos_embedding")
