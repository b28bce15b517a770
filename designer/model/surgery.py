"""Small, pure helpers that operate on an ``nn.Module``: find, get and set layers by
dotted path, adapt the first conv to N input channels, make a new head, and build
layers from the layer library.

Model-specific knowledge is data (``families.CLASSIFIER_PATHS``), not branches: a known
path is tried first, then a generic rule, as timm's ``first_conv``/``classifier``
metadata does.
"""

from __future__ import annotations

import copy
import inspect
import math

import torch
from torch import nn

from designer.base.errors import DesignerError, plain_reason
from designer.base.schema import MAX_LAYER_PARAMS
from designer.model.ops import LayerSpec
from designer.zoo.families import CLASSIFIER_PATHS

HEAD_TYPES = (nn.Linear, nn.Conv2d)

# --- paths ----------------------------------------------------------------------------------


def get_module(model: nn.Module, path: str) -> nn.Module:
    """The module at dotted ``path`` ("" is the model); Sequential indices are parts too."""
    if not path:
        return model
    module = model
    for part in path.split("."):
        child = module._modules.get(part)
        if child is None:
            raise DesignerError(f"There is no layer named {path}.",
                                hint="Pick a layer name from the graph or `python -m designer inspect`.")
        module = child
    return module


def get_conv(model: nn.Module, path: str) -> nn.Conv2d:
    """The convolution at ``path``; a clear error when something else is there."""
    module = get_module(model, path)
    if not isinstance(module, nn.Conv2d):
        raise DesignerError(f"The layer {path} is a {type(module).__name__}, not a 2-D convolution.")
    return module


def set_module(model: nn.Module, path: str, new: nn.Module) -> None:
    """Put ``new`` at ``path``, replacing what was there."""
    if not path:
        raise DesignerError("The whole network cannot be replaced by one layer.",
                            hint="Pick a layer inside it.")
    parent_path, _, name = path.rpartition(".")
    parent = get_module(model, parent_path)
    if name not in parent._modules:
        raise DesignerError(f"There is no layer named {path}.")
    parent._modules[name] = new  # works for Sequential/ModuleList indices and named children alike


def path_exists(model: nn.Module, path: str) -> bool:
    try:
        get_module(model, path)
    except DesignerError:
        return False
    return True


# --- finding the first conv and the classifier ---------------------------------------------------


def declared_paths(model: nn.Module, key: str) -> tuple[str, ...]:
    """Layer paths a network declares about itself: timm puts ``first_conv`` and ``classifier``
    (one path or several, e.g. a distilled ViT's two heads) in ``model.pretrained_cfg``."""
    cfg = getattr(model, "pretrained_cfg", None)
    value = cfg.get(key) if isinstance(cfg, dict) else None
    paths = (value,) if isinstance(value, str) else tuple(value or ())
    return tuple(p for p in paths if isinstance(p, str) and path_exists(model, p))


def find_first_conv(model: nn.Module) -> str:
    """Dotted path of the first convolution: the one the network declares (timm's ``first_conv``),
    else the first ``nn.Conv2d`` (or subclass) in module order."""
    declared = next((p for p in declared_paths(model, "first_conv")
                     if isinstance(get_module(model, p), nn.Conv2d)), None)
    if declared is not None:
        return declared
    for path, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            return path
    raise DesignerError(f"{type(model).__name__} has no convolution layer, so its input channels cannot be "
                        "changed.", hint="Keep 3 channels, or replicate grey images to 3 channels.")


def find_classifier(model: nn.Module) -> str:
    """Dotted path of the final layer: a known path if it is (or, for a head made by
    ``make_head`` or an insert, is a Sequential holding) the last Linear/1x1 conv;
    else the last ``nn.Linear`` in module order."""
    for path in declared_paths(model, "classifier"):  # timm's own metadata first
        if _is_head(get_module(model, path)):
            return path
    last = _last_head_layer(model) or ""
    for path in CLASSIFIER_PATHS:
        module = get_module(model, path) if path_exists(model, path) else None
        if (isinstance(module, HEAD_TYPES) and path == last) or (
                isinstance(module, nn.Sequential) and last.startswith(path + ".")):
            return path
    linears = [p for p, m in model.named_modules() if isinstance(m, nn.Linear)]
    if linears:
        return linears[-1]
    raise DesignerError(f"No classifier (final Linear layer) was found in {type(model).__name__}.",
                        hint="Insert a Linear layer at the end, or replace the layer that makes the outputs.")


def _is_head(module: nn.Module) -> bool:
    """A final layer, or a head ``make_head`` built (a Sequential ending in one)."""
    if isinstance(module, HEAD_TYPES):
        return True
    return isinstance(module, nn.Sequential) and len(module) > 0 and isinstance(module[-1], HEAD_TYPES)


def companion_heads(model: nn.Module, path: str) -> tuple[str, ...]:
    """Other classifiers the network declares besides ``path`` (a distilled ViT averages two heads),
    which a new head must replace too, or their outputs would no longer add up."""
    return tuple(p for p in declared_paths(model,
                                           "classifier") if p != path and _is_head(get_module(model, p)))


def _last_head_layer(model: nn.Module) -> str | None:
    last = None
    for path, module in model.named_modules():
        if isinstance(module, nn.Linear) or (isinstance(module, nn.Conv2d) and module.kernel_size == (1, 1)):
            last = path
    return last


def head_layers(module: nn.Module) -> list[nn.Linear | nn.Conv2d]:
    """The Linear / Conv2d layers inside a head (the module itself if it is one)."""
    return [m for m in module.modules() if isinstance(m, HEAD_TYPES)]


def head_out_features(module: nn.Module) -> int:
    """How many outputs a head gives (its last Linear's out_features or conv's out_channels); 0 if none."""
    layers = head_layers(module)
    if not layers:
        return 0
    last = layers[-1]
    return last.out_features if isinstance(last, nn.Linear) else last.out_channels


# --- input channels and heads ------------------------------------------------------------------


def adapt_input_conv(weight: torch.Tensor, in_chans: int) -> torch.Tensor:
    """Pretrained first-conv filters for ``in_chans`` inputs, timm-style.

    1 channel: sum over the input channels (exact for grey when all channels share one
    normalisation). N channels: repeat the filters over the channels, then scale by
    old/N so the response to a uniform image keeps its size. Same count: unchanged.
    """
    if in_chans < 1:
        raise DesignerError(f"An input needs at least 1 channel, not {in_chans}.")
    old = weight.shape[1]
    if in_chans == old:
        return weight.clone()
    dtype = weight.dtype
    weight = weight.float()
    if in_chans == 1:
        adapted = weight.sum(dim=1, keepdim=True)
    else:
        repeats = math.ceil(in_chans / old)
        adapted = weight.repeat(1, repeats, 1, 1)[:, :in_chans] * (old / in_chans)
    return adapted.to(dtype)


def adapt_stats(values: tuple, in_chans: int) -> tuple:
    """Per-channel mean/std for ``in_chans`` channels, matching ``adapt_input_conv``:
    the average for 1 channel, repeated channel values for N."""
    values = tuple(float(v) for v in values)
    if in_chans == len(values):
        return values
    if in_chans == 1:
        return (sum(values) / len(values),)
    return tuple(values[i % len(values)] for i in range(in_chans))


def within_budget(make, what: str):
    """``make()`` once on the ``meta`` device (no memory) to count what it would allocate, then for
    real: a layer of billions of weights from a project file is refused, never half-allocated."""
    with torch.device("meta"):
        probe = make()
    count = sum(t.numel() for t in [*probe.parameters(), *probe.buffers()])
    if count > MAX_LAYER_PARAMS:
        raise DesignerError(f"{what} would hold {count:,} numbers; one layer may hold at most "
                            f"{MAX_LAYER_PARAMS:,}.", hint="Use smaller sizes.")
    return make()


def make_head(in_features: int, num_classes: int, dropout: float = 0.0, hidden: int = 0,
              batchnorm: bool = False, conv: bool = False) -> nn.Module:
    """A new classifier: ``[Dropout] -> [Linear(hidden) -> [BatchNorm] -> ReLU] -> Linear``.

    Without hidden layer ``batchnorm`` normalises the incoming features. ``conv=True``
    builds the same out of 1x1 convolutions (squeezenet's head sees a feature map).
    Just a plain ``Linear`` when nothing optional is asked for.
    """
    if num_classes < 1:
        raise DesignerError(f"The classifier needs at least 1 class, not {num_classes}.")
    if not 0.0 <= dropout < 1.0:
        raise DesignerError(f"Dropout must be between 0 and 1 (exclusive), not {dropout}.")
    lin = (lambda i, o: nn.Conv2d(i, o, 1)) if conv else nn.Linear
    norm = nn.BatchNorm2d if conv else nn.BatchNorm1d

    def head() -> nn.Module:
        layers: list[nn.Module] = [nn.Dropout(dropout)] if dropout > 0 else []
        width = in_features
        if hidden > 0:
            layers += [lin(in_features, hidden)] + ([norm(hidden)] if batchnorm else []) + [nn.ReLU()]
            width = hidden
        elif batchnorm:
            layers.insert(0, norm(in_features))
        layers.append(lin(width, num_classes))
        return layers[0] if len(layers) == 1 else nn.Sequential(*layers)

    return within_budget(head, f"A classifier for {num_classes:,} classes from {in_features:,} features")


# --- the layer library ---------------------------------------------------------------------------

# Sizes set to None are inferred from the shape flowing into the new layer (see INFER);
# an out_features / out_channels left at None keeps the incoming width.
LAYER_LIBRARY: dict[str, dict] = {
    "Linear": {"cls": nn.Linear, "params": {"in_features": None, "out_features": None, "bias": True}},
    "Conv2d": {"cls": nn.Conv2d, "params": {"in_channels": None, "out_channels": None, "kernel_size": 3,
                                            "stride": 1, "padding": 1, "bias": True}},
    "BatchNorm2d": {"cls": nn.BatchNorm2d, "params": {"num_features": None, "eps": 1e-5, "momentum": 0.1}},
    "BatchNorm1d": {"cls": nn.BatchNorm1d, "params": {"num_features": None, "eps": 1e-5, "momentum": 0.1}},
    "LayerNorm": {"cls": nn.LayerNorm, "params": {"normalized_shape": None, "eps": 1e-5}},
    "Dropout": {"cls": nn.Dropout, "params": {"p": 0.5}},
    "Dropout2d": {"cls": nn.Dropout2d, "params": {"p": 0.5}},
    "ReLU": {"cls": nn.ReLU, "params": {}},
    "ReLU6": {"cls": nn.ReLU6, "params": {}},
    "GELU": {"cls": nn.GELU, "params": {"approximate": "none"}},
    "SiLU": {"cls": nn.SiLU, "params": {}},
    "Hardswish": {"cls": nn.Hardswish, "params": {}},
    "LeakyReLU": {"cls": nn.LeakyReLU, "params": {"negative_slope": 0.01}},
    "Sigmoid": {"cls": nn.Sigmoid, "params": {}},
    "Tanh": {"cls": nn.Tanh, "params": {}},
    "MaxPool2d": {"cls": nn.MaxPool2d, "params": {"kernel_size": 2, "stride": 2, "padding": 0}},
    "AvgPool2d": {"cls": nn.AvgPool2d, "params": {"kernel_size": 2, "stride": 2, "padding": 0}},
    "AdaptiveAvgPool2d": {"cls": nn.AdaptiveAvgPool2d, "params": {"output_size": 1}},
    "AdaptiveMaxPool2d": {"cls": nn.AdaptiveMaxPool2d, "params": {"output_size": 1}},
    "Flatten": {"cls": nn.Flatten, "params": {"start_dim": 1, "end_dim": -1}},
    "Identity": {"cls": nn.Identity, "params": {}},
}

# param -> (which input dimension it takes, the input ranks that make sense, what it is called)
INFER: dict[str, tuple[int, tuple[int, ...], str]] = {
    "in_features": (-1, (2, 3, 4), "features"),
    "in_channels": (1, (4,), "channels of an image-shaped (N, C, H, W) input"),
    "normalized_shape": (-1, (2, 3, 4), "features"),
}
NUM_FEATURES_RANKS = {"BatchNorm2d": (4,), "BatchNorm1d": (2, 3)}
SAME_WIDTH = {"out_features": "in_features", "out_channels": "in_channels"}


def needs_shape(spec: LayerSpec) -> bool:
    """True if building ``spec`` needs the shape flowing into it (a size was left out)."""
    args = _layer_args(spec)
    return any(v is None for v in args.values())


def make_layer(spec: LayerSpec, in_shape: tuple | None = None) -> nn.Module:
    """Build a library layer. ``in_shape`` is the full shape flowing into it, batch first
    (e.g. ``(1, 512, 7, 7)``); it fills in sizes the spec leaves out."""
    args = _layer_args(spec)
    for name in [n for n, v in args.items() if v is None and n not in SAME_WIDTH]:
        args[name] = _infer(spec.type, name, in_shape)
    for name, source in SAME_WIDTH.items():
        if name in args and args[name] is None:
            args[name] = args.get(source)
    cls = _layer_class(spec.type)
    try:
        return within_budget(lambda: cls(**args), f"The new {spec.type} layer ({args})")
    except (TypeError, ValueError, RuntimeError) as exc:
        raise DesignerError(f"A {spec.type} layer cannot be made with {args}: {exc}.") from exc


def _layer_class(type_name: str) -> type[nn.Module]:
    entry = LAYER_LIBRARY.get(type_name)
    if entry is not None:
        return entry["cls"]
    cls = getattr(nn, type_name, None)  # any other torch.nn layer, e.g. from the CLI
    if isinstance(cls, type) and issubclass(cls, nn.Module):
        return cls
    raise DesignerError(f"Unknown layer type '{type_name}'.",
                        hint=f"Use one of: {', '.join(LAYER_LIBRARY)}.")


def _layer_args(spec: LayerSpec) -> dict:
    _layer_class(spec.type)
    defaults = dict((LAYER_LIBRARY.get(spec.type) or {}).get("params", {}))
    given = {k: tuple(v) if isinstance(v, list) else v for k, v in spec.kwargs.items()}
    return {**defaults, **given}


def _infer(type_name: str, name: str, in_shape) -> int:
    if name == "num_features":
        dim, ranks, what = 1, NUM_FEATURES_RANKS.get(type_name, (2, 3, 4)), "features/channels"
    elif name in INFER:
        dim, ranks, what = INFER[name]
    else:
        raise DesignerError(f"The {type_name} layer needs a value for '{name}'.",
                            hint=f"Give {name} explicitly.")
    if in_shape is None:
        raise DesignerError(f"The {type_name} layer needs '{name}', and it cannot be worked out here.",
                            hint=f"Give {name} explicitly.")
    if len(in_shape) not in ranks:
        raise DesignerError(
            f"A {type_name} layer needs an input shaped like {_rank_words(ranks)}, but it would get "
            f"{tuple(in_shape)}, so '{name}' ({what}) cannot be worked out.",
            hint="Put the layer where the data has that shape, or pick another layer type.")
    return int(in_shape[dim])


def _rank_words(ranks: tuple[int, ...]) -> str:
    names = {2: "(N, features)", 3: "(N, C, L)", 4: "(N, C, H, W)"}
    return " or ".join(names[r] for r in ranks)


# --- hyperparameters of an existing layer -------------------------------------------------------

_SKIP_ARGS = {"self", "device", "dtype"}


def layer_params(module: nn.Module) -> dict:
    """A layer's editable hyperparameters: its constructor arguments that it keeps as
    attributes (``bias`` as True/False). Containers have none."""
    try:
        sig = inspect.signature(type(module).__init__)
    except (TypeError, ValueError):
        return {}
    out: dict[str, object] = {}
    for name, param in sig.parameters.items():
        if name in _SKIP_ARGS or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if name == "bias" and isinstance(getattr(module, "weight", None), torch.Tensor):
            out[name] = module.bias is not None
            continue
        value = getattr(module, name, inspect.Parameter.empty)
        if isinstance(value, torch.Size):
            value = tuple(value)
        if isinstance(value, (bool, int, float, str, tuple)) or value is None:
            out[name] = value
    return out


def rebuild_layer(module: nn.Module, changes: dict) -> nn.Module:
    """A new layer like ``module`` with ``changes`` applied; weights whose shape still fits are copied."""
    params = layer_params(module)
    unknown = sorted(set(changes) - set(params))
    kind = type(module).__name__
    if unknown:
        known = ", ".join(params) or "none"
        raise DesignerError(f"A {kind} layer has no setting {', '.join(map(repr, unknown))}.",
                            hint=f"Its settings are: {known}.")
    args = {**params, **{k: tuple(v) if isinstance(v, list) else v for k, v in changes.items()}}
    try:
        new = within_budget(lambda: type(module)(**args), f"The {kind} layer with these settings ({args})")
    except Exception as exc:  # any constructor failure is a bad setting for the user
        raise DesignerError(f"The {kind} layer cannot take these settings ({args}): {exc}.") from exc
    copy_fitting(module, new)
    return new.train(module.training)


def copy_fitting(old: nn.Module, new: nn.Module) -> list[str]:
    """Copy every tensor of ``old`` whose name and shape fit ``new``; returns what was copied."""
    state = new.state_dict()
    fits = {k: v for k, v in old.state_dict().items() if k in state and v.shape == state[k].shape}
    new.load_state_dict(fits, strict=False)
    ref = next(iter(old.parameters()), None)
    if ref is not None:
        new.to(ref.device)
    return sorted(fits)


# --- shapes without compute ----------------------------------------------------------------------


class _Reached(Exception):
    """Raised from a hook to stop a shape pass once the wanted layer has run."""


def meta_copy(model: nn.Module) -> nn.Module:
    """A copy of ``model`` on the ``meta`` device: same structure, no data, no copy of the weights."""
    memo: dict = {}
    for t in list(model.parameters()) + list(model.buffers()):
        empty = torch.empty_like(t, device="meta")
        memo[id(t)] = nn.Parameter(empty, t.requires_grad) if isinstance(t, nn.Parameter) else empty
    return copy.deepcopy(model, memo).eval()


def input_convs(model: nn.Module, input_shape: tuple) -> list[str]:
    """Paths of the convolutions that read the network's input tensor itself, found by one forward
    on ``meta`` (no compute); [] when the network does not run at ``input_shape``."""
    meta = meta_copy(model)
    image = torch.zeros((1, *input_shape), device="meta")
    found: list[str] = []
    handles = [module.register_forward_pre_hook(
        lambda _m, args, path=path: found.append(path) if args and args[0] is image else None)
        for path, module in meta.named_modules() if isinstance(module, nn.Conv2d)]
    try:
        with torch.no_grad():
            meta(image)
    except Exception:  # noqa: BLE001 -- a network that fails here keeps its declared first conv only
        return []
    finally:
        for handle in handles:
            handle.remove()
    return list(dict.fromkeys(found))


def io_shapes(model: nn.Module, path: str, input_shape: tuple) -> tuple[tuple, tuple]:
    """(input shape, output shape) of the layer at ``path`` when a batch of one
    ``input_shape`` (C, H, W) image enters ``model``; batch first. Runs on ``meta``: no compute."""
    target = get_module(meta := meta_copy(model), path)
    seen: dict = {}

    def hook(module, args, output):
        first = args[0] if args else None
        seen["io"] = (tuple(getattr(first, "shape", ())), tuple(getattr(output, "shape", ())))
        raise _Reached

    handle = target.register_forward_hook(hook)
    try:
        meta(torch.zeros((1, *input_shape), device="meta"))
    except _Reached:
        pass
    except Exception as exc:  # any failure means the network does not reach the layer
        raise DesignerError(
            f"The network does not run up to {path} at input {'x'.join(map(str, input_shape))} "
            f"({plain_reason(exc)}), so the new layer's "
            "size cannot be worked out.",
            hint="Give its sizes explicitly, or fix the earlier error first.") from exc
    finally:
        handle.remove()
    if "io" not in seen:
        raise DesignerError(f"{path} is not used when the network runs, "
                            "so the size flowing there is unknown.",
                            hint="Give the new layer's sizes explicitly.")
    return seen["io"]


def shape_into(model: nn.Module, path: str, input_shape: tuple) -> tuple:
    """The shape flowing into the layer at ``path`` (batch first)."""
    return io_shapes(model, path, input_shape)[0]
