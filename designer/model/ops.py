"""Edit operations: the small, immutable, serialisable steps of a recipe.

Ops are plain data. What they *do* lives elsewhere, keyed by ``op.kind``:
``build`` replays the structural ones on a model, ``finetune`` turns the policy
ones into frozen flags, LR factors and BatchNorm modes, and ``codegen`` renders
each one as PyTorch code. Keeping them data-only is what lets one recipe drive
the GUI, the CLI, the project file and the exported script alike.

Layer paths are dotted module paths as in ``model.named_modules()``
(``"layer4.1.conv2"``, ``"features.3"``); the empty path ``""`` is the whole
model.

Every op is a checked dataclass (``designer.base.schema``): an op cannot even be
made with a value of the wrong type, out of range, not finite or too large, wherever
it comes from (a project file, a CLI flag, a dialog), so nothing bad reaches a build.
"""

from __future__ import annotations

import math
import re
from dataclasses import fields
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, Field, model_validator
from pydantic.dataclasses import dataclass

from designer.base.errors import DesignerError
from designer.base.schema import (
    IDENTIFIER,
    MAX_INPUT_VALUES,
    STRICT,
    WORD,
    Channels,
    ClassCount,
    Factor,
    Fraction,
    LayerPath,
    Side,
    Width,
    friendly,
    matching,
)

# A layer's settings are numbers, flags, short words (padding="same") and small tuples of ints.
MAX_SETTING = 2**31 - 1
MAX_SETTINGS = 32


def _setting_ok(value) -> bool:
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return abs(value) <= MAX_SETTING
    if isinstance(value, float):
        return math.isfinite(value) and abs(value) <= 1e9
    if isinstance(value, str):
        return len(value) <= 32 and re.fullmatch(WORD, value) is not None
    if isinstance(value, tuple):
        return len(value) <= 8 and all(
            isinstance(v, int) and not isinstance(v, bool) and abs(v) <= MAX_SETTING for v in value)
    return False


def _check_settings(items: tuple) -> tuple:
    if len(items) > MAX_SETTINGS:
        raise ValueError(f"a layer takes at most {MAX_SETTINGS} settings")
    for item in items:
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)):
            raise ValueError("settings should be name/value pairs")
        name, value = item
        if not re.fullmatch(IDENTIFIER, name) or len(name) > 64:
            raise ValueError(f"{name[:40]!r} is not a setting name")
        if not _setting_ok(value):
            raise ValueError(f"setting '{name}' is {value!r:.40}; a setting should be a whole number "
                             f"(at most {MAX_SETTING:,} in size), a finite number, true/false, "
                             "a short word (letters, digits, _ or -) or up to 8 whole numbers")
    return items


Settings = Annotated[tuple[Any, ...], AfterValidator(_check_settings)]

def frozen_value(value: Any) -> Any:
    """Lists (what JSON gives back for tuples) as tuples, so ops stay hashable and a
    recipe loaded from a file equals the one that was saved."""
    if isinstance(value, (list, tuple)):
        return tuple(frozen_value(v) for v in value)
    return value


def frozen_items(kwargs: dict) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((k, frozen_value(v)) for k, v in kwargs.items()))


@friendly("The layer")
@dataclass(config=STRICT)
class LayerSpec:
    """A layer from the layer library: a ``torch.nn`` class name and its arguments.

    ``args`` is a tuple of ``(name, value)`` pairs so the spec stays hashable and
    immutable. An argument left out (e.g. a Linear's ``in_features``) is
    inferred from the shape flowing into the layer when the recipe is built.
    """

    type: Annotated[str, Field(max_length=64), matching(IDENTIFIER, "a layer type such as Conv2d")]
    args: Settings = ()

    @classmethod
    def of(cls, type: str, **kwargs: Any) -> LayerSpec:
        return cls(type=type, args=frozen_items(kwargs))

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.args)

    def to_dict(self) -> dict:
        return {"type": self.type, "args": self.kwargs}

    @classmethod
    def from_dict(cls, data: dict, where: str = "The layer") -> LayerSpec:
        if not isinstance(data, dict) or not isinstance(data.get("args", {}), dict):
            raise DesignerError(f"{where} must be written as {{\"type\": ..., \"args\": {{...}}}}, not "
                                f"{_short(data)}.")
        try:
            raw_type: Any = data.get("type")  # unchecked outside input: pydantic checks it here
            return cls(type=raw_type, args=frozen_items(data.get("args", {})))
        except DesignerError as exc:
            raise DesignerError(exc.message.replace("The layer", where, 1), hint=exc.hint) from None


@dataclass(config=STRICT)
class Op:
    """Base class. Subclasses set ``kind`` (the JSON tag) and ``structural``."""

    kind: ClassVar[str] = ""
    title: ClassVar[str] = "Edit"
    structural: ClassVar[bool] = True

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"op": self.kind}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, LayerSpec):
                value = value.to_dict()
            elif f.name == "params":
                value = dict(value)
            out[f.name] = value
        return out

    def describe(self) -> str:
        """One line for the undo history and the CLI."""
        args = ", ".join(f"{k}={v}" for k, v in self.to_dict().items() if k != "op")
        return f"{self.kind}({args})"


# --- structural ops: they change the network -------------------------------------


@friendly(lambda cls: cls.title)
@dataclass(config=STRICT)
class SetInput(Op):
    """Input size and channel count.

    ``conv_mode="adapt"`` changes the first conv to ``channels`` inputs and adapts
    its pretrained weights (sum over RGB for 1, repeat and rescale for N).
    ``conv_mode="replicate"`` keeps a 3-channel network; the data pipeline then
    repeats a grey image over 3 channels before normalising (exact, not approximate).
    """

    kind: ClassVar[str] = "set_input"
    title: ClassVar[str] = "Set input"  # how messages name this kind of edit
    height: Side
    width: Side
    channels: Channels = 3
    conv_mode: Literal["adapt", "replicate"] = "adapt"

    @model_validator(mode="after")
    def _not_absurd(self):
        # Each side within its limit can still multiply to 68 GB per image (1024x4096x4096).
        if self.channels * self.height * self.width > MAX_INPUT_VALUES:
            raise ValueError(f"an input of {self.channels}x{self.height}x{self.width} is "
                             f"{self.channels * self.height * self.width / 1e6:,.0f} million values "
                             "per image; "
                             f"at most {MAX_INPUT_VALUES / 1e6:.0f} million (e.g. 3x4096x4096)")
        return self

    def describe(self) -> str:
        return f"Set input to {self.channels}x{self.height}x{self.width}"


@friendly(lambda cls: cls.title)
@dataclass(config=STRICT)
class ReplaceClassifier(Op):
    """A new head for ``num_classes``, optionally dropout → hidden Linear → BN → ReLU."""

    kind: ClassVar[str] = "replace_classifier"
    title: ClassVar[str] = "Replace classifier"  # how messages name this kind of edit
    num_classes: ClassCount
    dropout: Fraction = 0.0
    hidden: Width = 0
    batchnorm: bool = False

    def describe(self) -> str:
        return f"Replace classifier for {self.num_classes} classes"


@friendly(lambda cls: cls.title)
@dataclass(config=STRICT)
class DeleteLayer(Op):
    """Remove a layer; it becomes ``nn.Identity`` so module paths stay stable."""

    kind: ClassVar[str] = "delete_layer"
    title: ClassVar[str] = "Delete layer"  # how messages name this kind of edit
    path: LayerPath

    def describe(self) -> str:
        return f"Delete {self.path}"


@friendly(lambda cls: cls.title)
@dataclass(config=STRICT)
class InsertAfter(Op):
    """Insert a layer after ``path``: the module there becomes ``Sequential(old, new)``."""

    kind: ClassVar[str] = "insert_after"
    title: ClassVar[str] = "Insert layer"  # how messages name this kind of edit
    path: LayerPath
    layer: LayerSpec

    def describe(self) -> str:
        return f"Insert {self.layer.type} after {self.path}"


@friendly(lambda cls: cls.title)
@dataclass(config=STRICT)
class ReplaceLayer(Op):
    kind: ClassVar[str] = "replace_layer"
    title: ClassVar[str] = "Replace layer"  # how messages name this kind of edit
    path: LayerPath
    layer: LayerSpec

    def describe(self) -> str:
        return f"Replace {self.path} with {self.layer.type}"


@friendly(lambda cls: cls.title)
@dataclass(config=STRICT)
class SetLayerParams(Op):
    """Change hyperparameters of one layer (a Linear's out_features, a Conv's stride,
    a Dropout's p); weights are kept where their shape still fits."""

    kind: ClassVar[str] = "set_layer_params"
    title: ClassVar[str] = "Layer settings"  # how messages name this kind of edit
    path: LayerPath
    params: Settings

    @classmethod
    def of(cls, path: str, **params: Any) -> SetLayerParams:
        return cls(path=path, params=frozen_items(params))

    def describe(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.params)
        return f"Set {self.path}: {args}"


MAX_PRUNED_GROUPS = 100_000
MAX_PRUNED_INDICES = 5_000_000  # every channel index recorded, over all groups


def _check_history(history: tuple) -> tuple:
    total = 0
    for entry in history:
        if not (isinstance(entry, tuple) and len(entry) == 3):
            raise ValueError("each pruned group is [layer path, out channels (true/false), channel indices]")
        path, out, indices = entry
        if not (isinstance(path, str) and len(path) <= 512 and re.fullmatch(r"[A-Za-z0-9_.]+", path)):
            raise ValueError(f"{str(path)[:40]!r} is not a layer path")
        if not isinstance(out, bool) or not isinstance(indices, tuple):  # pydantic words a ValueError
            raise ValueError(  # noqa: TRY004
                f"the pruning of '{path}' is not [path, true/false, [channel indices]]")
        if not all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i < 1_000_000 for i in indices):
            raise ValueError(f"the pruning of '{path}' has a channel index that is not a whole number "
                             "from 0")
        total += len(indices)
    if total > MAX_PRUNED_INDICES:
        raise ValueError(f"the pruning lists {total:,} channels; at most {MAX_PRUNED_INDICES:,}")
    return history


PruningHistory = Annotated[tuple[Any, ...], Field(max_length=MAX_PRUNED_GROUPS),
                           AfterValidator(_check_history)]


@friendly(lambda cls: cls.title)
@dataclass(config=STRICT)
class PruneChannels(Op):
    """Structured channel pruning as plain data: Torch-Pruning's ``pruning_history()``, each pruned
    dependency group as (layer path, out channels?, channel indices), replayed in order on the
    network the earlier steps built (``model.pruned``). Never a pickled module."""

    kind: ClassVar[str] = "prune_channels"
    title: ClassVar[str] = "Prune channels"  # how messages name this kind of edit
    history: PruningHistory
    note: Annotated[str, Field(max_length=200)] = ""  # what the pruning reached, in words

    def describe(self) -> str:
        return f"Prune channels ({self.note or f'{len(self.history)} groups'})"


# --- policy ops: they shape training, not the network --------------------------------


@friendly(lambda cls: cls.title)
@dataclass(config=STRICT)
class Freeze(Op):
    """Freeze (or unfreeze, with ``frozen=False``) every parameter under ``path``."""

    kind: ClassVar[str] = "freeze"
    title: ClassVar[str] = "Freeze"  # how messages name this kind of edit
    structural: ClassVar[bool] = False
    path: LayerPath
    frozen: bool = True

    def describe(self) -> str:
        return f"{'Freeze' if self.frozen else 'Unfreeze'} {self.path or 'everything'}"


@friendly(lambda cls: cls.title)
@dataclass(config=STRICT)
class FreezeUntil(Op):
    """Freeze every layer up to and including ``path`` (in the model's order)."""

    kind: ClassVar[str] = "freeze_until"
    title: ClassVar[str] = "Freeze up to"  # how messages name this kind of edit
    structural: ClassVar[bool] = False
    path: LayerPath

    def describe(self) -> str:
        return f"Freeze everything up to {self.path}"


@friendly(lambda cls: cls.title)
@dataclass(config=STRICT)
class SetLRFactor(Op):
    """Learning rate of the parameters under ``path`` is ``base_lr * factor``."""

    kind: ClassVar[str] = "set_lr_factor"
    title: ClassVar[str] = "LR factor"  # how messages name this kind of edit
    structural: ClassVar[bool] = False
    path: LayerPath
    factor: Factor

    def describe(self) -> str:
        return f"LR factor x{self.factor:g} on {self.path or 'everything'}"


LR_PRESETS = ("head_x10_rest_x0.1", "layer_decay")


@friendly(lambda cls: cls.title)
@dataclass(config=STRICT)
class LRPreset(Op):
    """``head_x10_rest_x0.1``: the classifier gets ``head_factor``, all else
    ``rest_factor``. ``layer_decay``: top-level blocks get ``decay**distance``
    from the head, so early layers learn slowest."""

    kind: ClassVar[str] = "lr_preset"
    title: ClassVar[str] = "LR preset"  # how messages name this kind of edit
    structural: ClassVar[bool] = False
    name: Literal["head_x10_rest_x0.1", "layer_decay"]
    head_factor: Factor = 10.0
    rest_factor: Factor = 0.1
    decay: Annotated[float, Field(gt=0.0, le=1.0, allow_inf_nan=False)] = 0.7

    def describe(self) -> str:
        return f"LR preset {self.name}"


BN_MODES = ("frozen_eval", "train", "eval")


@friendly(lambda cls: cls.title)
@dataclass(config=STRICT)
class SetBatchNormMode(Op):
    """``frozen_eval`` (default): BatchNorm layers whose parameters are frozen run in
    eval mode, so their running statistics and outputs do not drift.
    ``train``: all BN layers follow the model's mode. ``eval``: all BN layers stay in eval."""

    kind: ClassVar[str] = "set_batchnorm_mode"
    title: ClassVar[str] = "BatchNorm mode"  # how messages name this kind of edit
    structural: ClassVar[bool] = False
    mode: Literal["frozen_eval", "train", "eval"] = "frozen_eval"

    def describe(self) -> str:
        return f"BatchNorm mode {self.mode}"


OP_TYPES: dict[str, type[Op]] = {
    cls.kind: cls
    for cls in (
        SetInput, ReplaceClassifier, DeleteLayer, InsertAfter, ReplaceLayer,
        SetLayerParams, PruneChannels, Freeze, FreezeUntil, SetLRFactor, LRPreset, SetBatchNormMode,
    )
}


def op_from_dict(data: dict, step: int | None = None) -> Op:
    """Rebuild an op from its JSON form; anything unknown, missing or out of range is one clear
    DesignerError naming the step and the field."""
    where = f"Edit step {step}" if step else "An edit step"
    if not isinstance(data, dict) or not isinstance(data.get("op"), str):
        raise DesignerError(f"{where} in the file is not valid: {_short(data)}.",
                            hint="Each step is a JSON object with an \"op\" name.")
    cls = OP_TYPES.get(data["op"])
    if cls is None:
        raise DesignerError(
            f"Unknown edit step {_short(data['op'])}" + (f" (step {step})." if step else "."),
            hint="The file may come from a newer NetSurgeon; update the app.",
        )
    kwargs = {k: v for k, v in data.items() if k != "op"}
    if "layer" in kwargs:
        kwargs["layer"] = LayerSpec.from_dict(kwargs["layer"], f"{where} ({cls.title}), its layer")
    if "history" in kwargs:
        kwargs["history"] = frozen_value(kwargs["history"])
    if "params" in kwargs:
        if not isinstance(kwargs["params"], dict):
            raise DesignerError(f"{where} ({cls.title}): 'params' should be an object of settings, "
                                f"not {_short(kwargs['params'])}.")
        kwargs["params"] = frozen_items(kwargs["params"])
    try:
        return cls(**kwargs)
    except DesignerError as exc:
        raise DesignerError(f"{where}: {exc.message}", hint=exc.hint) from None


def _short(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
