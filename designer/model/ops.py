"""Edit operations: the small, immutable, serialisable steps of a recipe.

Ops are plain data. What they *do* lives elsewhere, keyed by ``op.kind``:
``build`` replays the structural ones on a model, ``finetune`` turns the policy
ones into frozen flags, LR factors and BatchNorm modes, and ``codegen`` renders
each one as PyTorch code. Keeping them data-only is what lets one recipe drive
the GUI, the CLI, the project file and the exported script alike.

Layer paths are dotted module paths as in ``model.named_modules()``
(``"layer4.1.conv2"``, ``"features.3"``); the empty path ``""`` is the whole
model.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar

from designer.base.errors import DesignerError


def frozen_value(value: Any) -> Any:
    """Lists (what JSON gives back for tuples) as tuples, so ops stay hashable and a
    recipe loaded from a file equals the one that was saved."""
    if isinstance(value, (list, tuple)):
        return tuple(frozen_value(v) for v in value)
    return value


def frozen_items(kwargs: dict) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((k, frozen_value(v)) for k, v in kwargs.items()))


@dataclass(frozen=True)
class LayerSpec:
    """A layer from the layer library: a ``torch.nn`` class name and its arguments.

    ``args`` is a tuple of ``(name, value)`` pairs so the spec stays hashable and
    immutable. An argument left out (e.g. a Linear's ``in_features``) is
    inferred from the shape flowing into the layer when the recipe is built.
    """

    type: str
    args: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, type: str, **kwargs: Any) -> LayerSpec:
        return cls(type, frozen_items(kwargs))

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.args)

    def to_dict(self) -> dict:
        return {"type": self.type, "args": self.kwargs}

    @classmethod
    def from_dict(cls, data: dict) -> LayerSpec:
        return cls.of(data["type"], **data.get("args", {}))


@dataclass(frozen=True)
class Op:
    """Base class. Subclasses set ``kind`` (the JSON tag) and ``structural``."""

    kind: ClassVar[str] = ""
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


@dataclass(frozen=True)
class SetInput(Op):
    """Input size and channel count.

    ``conv_mode="adapt"`` changes the first conv to ``channels`` inputs and adapts
    its pretrained weights (sum over RGB for 1, repeat and rescale for N).
    ``conv_mode="replicate"`` keeps a 3-channel network; the data pipeline then
    repeats a grey image over 3 channels before normalising (exact, not approximate).
    """

    kind: ClassVar[str] = "set_input"
    height: int
    width: int
    channels: int = 3
    conv_mode: str = "adapt"

    def describe(self) -> str:
        return f"Set input to {self.channels}x{self.height}x{self.width}"


@dataclass(frozen=True)
class ReplaceClassifier(Op):
    """A new head for ``num_classes``, optionally dropout → hidden Linear → BN → ReLU."""

    kind: ClassVar[str] = "replace_classifier"
    num_classes: int
    dropout: float = 0.0
    hidden: int = 0
    batchnorm: bool = False

    def describe(self) -> str:
        return f"Replace classifier for {self.num_classes} classes"


@dataclass(frozen=True)
class DeleteLayer(Op):
    """Remove a layer; it becomes ``nn.Identity`` so module paths stay stable."""

    kind: ClassVar[str] = "delete_layer"
    path: str

    def describe(self) -> str:
        return f"Delete {self.path}"


@dataclass(frozen=True)
class InsertAfter(Op):
    """Insert a layer after ``path``: the module there becomes ``Sequential(old, new)``."""

    kind: ClassVar[str] = "insert_after"
    path: str
    layer: LayerSpec

    def describe(self) -> str:
        return f"Insert {self.layer.type} after {self.path}"


@dataclass(frozen=True)
class ReplaceLayer(Op):
    kind: ClassVar[str] = "replace_layer"
    path: str
    layer: LayerSpec

    def describe(self) -> str:
        return f"Replace {self.path} with {self.layer.type}"


@dataclass(frozen=True)
class SetLayerParams(Op):
    """Change hyperparameters of one layer (a Linear's out_features, a Conv's stride,
    a Dropout's p); weights are kept where their shape still fits."""

    kind: ClassVar[str] = "set_layer_params"
    path: str
    params: tuple[tuple[str, Any], ...]

    @classmethod
    def of(cls, path: str, **params: Any) -> SetLayerParams:
        return cls(path, frozen_items(params))

    def describe(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.params)
        return f"Set {self.path}: {args}"


# --- policy ops: they shape training, not the network --------------------------------


@dataclass(frozen=True)
class Freeze(Op):
    """Freeze (or unfreeze, with ``frozen=False``) every parameter under ``path``."""

    kind: ClassVar[str] = "freeze"
    structural: ClassVar[bool] = False
    path: str
    frozen: bool = True

    def describe(self) -> str:
        return f"{'Freeze' if self.frozen else 'Unfreeze'} {self.path or 'everything'}"


@dataclass(frozen=True)
class FreezeUntil(Op):
    """Freeze every layer up to and including ``path`` (in the model's order)."""

    kind: ClassVar[str] = "freeze_until"
    structural: ClassVar[bool] = False
    path: str

    def describe(self) -> str:
        return f"Freeze everything up to {self.path}"


@dataclass(frozen=True)
class SetLRFactor(Op):
    """Learning rate of the parameters under ``path`` is ``base_lr * factor``."""

    kind: ClassVar[str] = "set_lr_factor"
    structural: ClassVar[bool] = False
    path: str
    factor: float

    def describe(self) -> str:
        return f"LR factor x{self.factor:g} on {self.path or 'everything'}"


LR_PRESETS = ("head_x10_rest_x0.1", "layer_decay")


@dataclass(frozen=True)
class LRPreset(Op):
    """``head_x10_rest_x0.1``: the classifier gets ``head_factor``, all else
    ``rest_factor``. ``layer_decay``: top-level blocks get ``decay**distance``
    from the head, so early layers learn slowest."""

    kind: ClassVar[str] = "lr_preset"
    structural: ClassVar[bool] = False
    name: str
    head_factor: float = 10.0
    rest_factor: float = 0.1
    decay: float = 0.7

    def describe(self) -> str:
        return f"LR preset {self.name}"


BN_MODES = ("frozen_eval", "train", "eval")


@dataclass(frozen=True)
class SetBatchNormMode(Op):
    """``frozen_eval`` (default): BatchNorm layers whose parameters are frozen run in
    eval mode, so their running statistics and outputs do not drift.
    ``train``: all BN layers follow the model's mode. ``eval``: all BN layers stay in eval."""

    kind: ClassVar[str] = "set_batchnorm_mode"
    structural: ClassVar[bool] = False
    mode: str = "frozen_eval"

    def describe(self) -> str:
        return f"BatchNorm mode {self.mode}"


OP_TYPES: dict[str, type[Op]] = {
    cls.kind: cls
    for cls in (
        SetInput, ReplaceClassifier, DeleteLayer, InsertAfter, ReplaceLayer,
        SetLayerParams, Freeze, FreezeUntil, SetLRFactor, LRPreset, SetBatchNormMode,
    )
}


def op_from_dict(data: dict) -> Op:
    """Rebuild an op from its JSON form, with a clear error for unknown or bad ops."""
    if not isinstance(data, dict) or "op" not in data:
        raise DesignerError(f"An edit step in the file is not valid: {data!r}.")
    cls = OP_TYPES.get(data["op"])
    if cls is None:
        raise DesignerError(
            f"Unknown edit step '{data['op']}'.",
            hint="The file may come from a newer NetSurgeon; update the app.",
        )
    kwargs = {k: v for k, v in data.items() if k != "op"}
    if "layer" in kwargs:
        kwargs["layer"] = LayerSpec.from_dict(kwargs["layer"])
    if "params" in kwargs:
        kwargs["params"] = frozen_items(dict(kwargs["params"]))
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise DesignerError(f"Edit step '{data['op']}' has bad fields: {exc}.") from exc
