"""Replay a recipe: the base model plus each structural op, giving a ``Design``.

Each structural op has a small handler in ``OP_HANDLERS`` (keyed by ``op.kind``)
that edits a mutable ``_Work`` state in place. Policy ops (freeze, LR factors,
BatchNorm mode) change nothing here; ``finetune`` reads them.

Caching: ``BaseCache`` keeps each base model once and also the last few built
structural prefixes, so adding a policy op, or one more structural op, replays
only what is new. Everything handed out is a deep copy: a caller may train or
edit its model freely without touching the cache.

Build never runs a real forward pass to check the result: a design whose later
layers no longer fit still builds, and ``analysis`` reports where it breaks.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import torch
from torch import nn
from torchvision.models.vision_transformer import interpolate_embeddings

from designer.base.errors import DesignerError, plain_reason
from designer.model.ops import Op
from designer.model.pruned import replay_pruning
from designer.model.recipe import Recipe
from designer.model.surgery import (
    adapt_input_conv,
    adapt_stats,
    companion_heads,
    find_classifier,
    find_first_conv,
    get_conv,
    get_module,
    head_layers,
    head_out_features,
    input_convs,
    io_shapes,
    make_head,
    make_layer,
    meta_copy,
    needs_shape,
    path_exists,
    rebuild_layer,
    set_module,
    shape_into,
)
from designer.zoo import lite0
from designer.zoo.base import BaseModel
from designer.zoo.families import has_position_embeddings
from designer.zoo.sources import ModelInfo, build_base, defaults_for

# Built prefixes bigger than this are not memoized: a copy of vit_h_14 is 2.5 GB.
MEMO_MAX_PARAMS = 200_000_000
CACHE_MAX_PARAMS = 60_000_000  # bases kept besides the newest one (vgg16 alone has 138 M)


@dataclass
class Design:
    """What a built recipe gives you."""

    model: nn.Module
    recipe: Recipe
    input_shape: tuple[int, int, int]  # C, H, W of the data (1 for grey, also when replicated)
    mean: tuple  # per channel the network sees, already adapted to C
    std: tuple
    replicate_grey: bool = False  # data must repeat 1 channel to 3 before Normalize
    classifier_path: str = ""
    num_classes: int = 0
    load_report: object = None  # weights.LoadReport | None

    @property
    def network_input(self) -> NetworkInput:
        return network_input(self)


class NetworkInput(NamedTuple):
    """What the *network itself* takes: shape (C, H, W) and per-channel mean/std."""

    shape: tuple[int, int, int]
    mean: tuple
    std: tuple


def network_input(design: Design | _Work) -> NetworkInput:
    """The network's input for ``design`` (anything with ``input_shape``, ``mean``, ``std`` and
    ``replicate_grey``): grey data replicated to RGB still enters the network with 3 channels, and
    its one mean/std is repeated for them. The one place this rule lives."""
    channels, height, width = (int(v) for v in design.input_shape)
    mean, std = tuple(float(m) for m in design.mean), tuple(float(s) for s in design.std)
    if getattr(design, "replicate_grey", False):
        channels = 3
        mean, std = (mean * 3 if len(mean) == 1 else mean), (std * 3 if len(std) == 1 else std)
    return NetworkInput((channels, height, width), mean, std)


@dataclass
class _Work:
    """The state a replay edits; everything but the model is plain data."""

    model: nn.Module
    input_shape: tuple[int, int, int]
    mean: tuple
    std: tuple
    replicate_grey: bool
    classifier_path: str
    num_classes: int
    sizes_changed: bool = False  # the spatial sizes reaching some layer may have changed


    @property
    def network_shape(self) -> tuple[int, int, int]:
        return network_input(self).shape

    def copy(self) -> _Work:
        return replace(self, model=copy.deepcopy(self.model))


class BaseCache:
    """Base models by ``BaseModel`` (built once), plus the last few built structural prefixes.

    ``loader(base) -> (model, LoadReport | None)`` defaults to ``sources.build_base``;
    ``defaults(base)`` (input size, mean, std) to ``sources.defaults_for``. Thread-safe.
    """

    def __init__(self, loader: Callable | None = None, defaults: Callable | None = None, keep_built: int = 2):
        self.loader = loader or build_base
        self.defaults = defaults or defaults_for
        self.keep_built = keep_built
        self._bases: OrderedDict[BaseModel, tuple[_Work, object]] = OrderedDict()  # least recent first
        self._built: OrderedDict[tuple, _Work] = OrderedDict()
        self._lock = threading.RLock()

    def get(self, base: BaseModel) -> tuple[nn.Module, object]:
        """A fresh deep copy of the base model and its load report."""
        work, report = self._base(base)
        return copy.deepcopy(work.model), report

    def clear(self) -> None:
        with self._lock:
            self._bases.clear()
            self._built.clear()

    def _base(self, base: BaseModel) -> tuple[_Work, object]:
        with self._lock:  # one load per base, even when two threads ask at once
            if base not in self._bases:
                model, report = self.loader(base)
                self._bases[base] = (_initial_work(model, self.defaults(base)), report)
            self._bases.move_to_end(base)
            self._evict(keep=base)
            return self._bases[base]

    def _evict(self, keep: BaseModel) -> None:
        """Forget other bases (and what was built from them) while they hold more than CACHE_MAX_PARAMS,
        those too big to ever fit first, then the least recently used: a big network the user has moved
        on from must not stay in memory."""
        sizes = {b: sum(p.numel() for p in w.model.parameters())
                 for b, (w, _) in self._bases.items() if b != keep}
        for gone in sorted(sizes, key=lambda b: sizes[b] <= CACHE_MAX_PARAMS):
            if sum(sizes.values()) <= CACHE_MAX_PARAMS:
                break
            del self._bases[gone], sizes[gone]
            for key in [k for k in self._built if k[0] == gone]:
                del self._built[key]

    def start(self, base: BaseModel, ops: tuple[Op, ...]) -> tuple[int, _Work, object]:
        """(how many of ``ops`` are already applied, a private copy of that state, load report)."""
        work, report = self._base(base)
        with self._lock:
            for n in range(len(ops), 0, -1):
                key = (base, ops[:n])
                if key in self._built:
                    self._built.move_to_end(key)
                    return n, self._built[key].copy(), report
        return 0, work.copy(), report

    def remember(self, base: BaseModel, ops: tuple[Op, ...], work: _Work) -> None:
        if (not ops or self.keep_built <= 0
                or sum(p.numel() for p in work.model.parameters()) > MEMO_MAX_PARAMS):
            return
        saved = work.copy()
        with self._lock:
            self._built[(base, ops)] = saved
            self._built.move_to_end((base, ops))
            while len(self._built) > self.keep_built:
                self._built.popitem(last=False)


def _initial_work(model: nn.Module, info: ModelInfo) -> _Work:
    baked = has_position_embeddings(model)
    size = int(getattr(model, "image_size", 0) or info.input_size) if baked else int(info.input_size)
    try:
        channels = get_conv(model, find_first_conv(model)).in_channels
    except DesignerError:
        channels = 3
    try:
        head = find_classifier(model)
        classes = head_out_features(get_module(model, head))
    except DesignerError:
        head, classes = "", 0
    return _Work(model.eval(), (channels, size, size), adapt_stats(info.mean, channels),
                 adapt_stats(info.std, channels), False, head, classes)


# --- build ---------------------------------------------------------------------------------------


def build(recipe: Recipe, cache: BaseCache | None = None) -> Design:
    """Replay ``recipe``'s structural ops on a copy of the (cached) base model."""
    cache = cache or BaseCache()
    ops = recipe.structural_ops
    steps = [i for i, op in enumerate(recipe.ops, 1) if op.structural]
    done, work, report = cache.start(recipe.base, ops)
    for op, step in zip(ops[done:], steps[done:], strict=True):  # one step number per structural op
        _replay(work, op, step)
    if done < len(ops) and work.sizes_changed:
        _refresh_static_padding(work)
        work.sizes_changed = False
        cache.remember(recipe.base, ops, work)
    return Design(model=work.model, recipe=recipe, input_shape=work.input_shape,
                  mean=tuple(work.mean), std=tuple(work.std), replicate_grey=work.replicate_grey,
                  classifier_path=work.classifier_path, num_classes=work.num_classes, load_report=report)


def _replay(work: _Work, op: Op, step: int) -> None:
    handler = OP_HANDLERS.get(op.kind)
    if handler is None:
        raise DesignerError(f"Step {step} '{op.describe()}': this kind of edit cannot be built.")
    try:
        handler(work, op)
    except DesignerError as exc:
        raise DesignerError(f"Step {step} '{op.describe()}': {_lower_first(exc.message)}",
                            hint=exc.hint) from exc
    except Exception as exc:  # torch can fail in many ways; the user needs the step
        raise DesignerError(f"Step {step} '{op.describe()}' failed: {plain_reason(exc)}") from exc
    _refresh_classifier(work)
    work.sizes_changed = work.sizes_changed or op.kind in CHANGES_SIZES


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


# --- op handlers ---------------------------------------------------------------------------------


def _set_input(work: _Work, op) -> None:
    if op.height < 1 or op.width < 1 or op.channels < 1:
        raise DesignerError(f"An input of {op.channels}x{op.height}x{op.width} is not possible.",
                            hint="Use positive sizes, e.g. 3x224x224.")
    if op.conv_mode not in ("adapt", "replicate"):
        raise DesignerError(f"Unknown channel mode '{op.conv_mode}'.", hint="Use 'adapt' or 'replicate'.")
    replicate = op.conv_mode == "replicate"
    if replicate and op.channels != 1:
        raise DesignerError("Only grey (1-channel) images can be replicated to RGB, "
                            f"not {op.channels} channels.",
                            hint="Use conv_mode 'adapt' for other channel counts.")
    net_channels = 3 if replicate else op.channels
    if net_channels != work.network_shape[0]:
        _adapt_first_conv(work.model, net_channels, work.network_shape)
        work.mean, work.std = adapt_stats(work.mean, net_channels), adapt_stats(work.std, net_channels)
    _resize_vit(work.model, op.height, op.width)
    if (op.height, op.width) != tuple(work.input_shape[1:]):
        set_timm_input_size(work.model, op.height, op.width)
    work.sizes_changed = work.sizes_changed or (op.height, op.width) != work.input_shape[1:]
    work.input_shape = (op.channels, op.height, op.width)
    work.replicate_grey = replicate


def _adapt_first_conv(model: nn.Module, channels: int, shape: tuple[int, int, int]) -> None:
    """Change the first conv to ``channels`` inputs in place, keeping its class (Lite0's
    'SAME'-padding conv stays one) and adapting its pretrained filters; so too every other
    conv that reads the image itself (FastViT's stem has parallel branches)."""
    for path in dict.fromkeys([find_first_conv(model), *input_convs(model, shape)]):
        conv = get_conv(model, path)
        if conv.groups != 1:
            raise DesignerError(f"The first convolution {path} is grouped, so its input channels "
                                "cannot be changed.")
        new = copy.deepcopy(conv)
        new.weight = nn.Parameter(adapt_input_conv(conv.weight.detach(), channels),
                                  requires_grad=conv.weight.requires_grad)
        new.in_channels = channels
        set_module(model, path, new)


def _resize_vit(model: nn.Module, height: int, width: int) -> None:
    """What rebuilding a ViT with ``image_size`` and ``interpolate_embeddings`` gives, done in place
    (so earlier edits, such as a new head, survive): new position embeddings and image size."""
    vit: Any = model  # torchvision's VisionTransformer, untyped: its attributes are its own
    if not has_position_embeddings(vit) or (height == width == vit.image_size):
        return
    patch = vit.patch_size
    if height != width:
        raise DesignerError(f"A Vision Transformer takes square images only, not {height}x{width}.",
                            hint=f"Use {height}x{height}, ideally a multiple of its patch size {patch}.")
    if height < patch:
        raise DesignerError(f"A Vision Transformer with {patch}-pixel patches needs images of at least "
                            f"{patch}x{patch}, not {height}x{width}.",
                            hint=f"Use a multiple of {patch}, e.g. 64.")
    old = vit.encoder.pos_embedding
    state = interpolate_embeddings(height, patch, {"encoder.pos_embedding": old.detach()})
    vit.encoder.pos_embedding = nn.Parameter(state["encoder.pos_embedding"], requires_grad=old.requires_grad)
    vit.image_size = height
    vit.seq_length = vit.encoder.pos_embedding.shape[1]


def set_timm_input_size(model: nn.Module, height: int, width: int) -> bool:
    """timm's own way to take another size where the size is baked in (position embeddings, window
    attention biases): ``model.set_input_size``. Where timm cannot, the network stays as it was and
    the analyzer says which sizes work. True when the size was set."""
    setter: Any = getattr(model, "set_input_size", None)  # timm's, where the model has one
    if not callable(setter) or not hasattr(model, "pretrained_cfg"):
        return False
    try:  # first on a data-free copy, so a failure leaves the real network untouched
        trial: Any = meta_copy(model)  # a timm model: set_input_size is its own
        trial.set_input_size(img_size=(height, width))
    except Exception:  # noqa: BLE001 -- timm asserts in many ways; the analyzer reports the size instead
        return False
    setter(img_size=(height, width))
    return True


def _replace_classifier(work: _Work, op) -> None:
    path = work.classifier_path if path_exists(work.model, work.classifier_path or "\0") else ""
    path = path or find_classifier(work.model)
    layers = head_layers(get_module(work.model, path))
    if not layers:
        raise DesignerError(f"The classifier {path} has no Linear layer to take its input size from.")
    first = layers[0]
    conv = isinstance(first, nn.Conv2d)
    in_features = first.in_channels if isinstance(first, nn.Conv2d) else first.in_features
    for target in (path, *companion_heads(work.model, path)):
        head = make_head(in_features, op.num_classes, op.dropout, op.hidden, op.batchnorm, conv=conv)
        set_module(work.model, target, head.to(first.weight.device))
    work.classifier_path, work.num_classes = path, op.num_classes


def _delete_layer(work: _Work, op) -> None:
    get_module(work.model, op.path)  # a clear error for a path that does not exist
    set_module(work.model, op.path, nn.Identity())


def _insert_after(work: _Work, op) -> None:
    old = get_module(work.model, op.path)
    in_shape = io_shapes(work.model, op.path, work.network_shape)[1] if needs_shape(op.layer) else None
    new = make_layer(op.layer, in_shape)
    set_module(work.model, op.path, nn.Sequential(old, _like(new, old)))


def _replace_layer(work: _Work, op) -> None:
    old = get_module(work.model, op.path)
    in_shape = io_shapes(work.model, op.path, work.network_shape)[0] if needs_shape(op.layer) else None
    set_module(work.model, op.path, _like(make_layer(op.layer, in_shape), old))


def _set_layer_params(work: _Work, op) -> None:
    old = get_module(work.model, op.path)
    if not op.path or len(old._modules):
        raise DesignerError(f"{op.path or 'The network'} is a block of layers; its settings cannot be edited "
                            "as one.", hint="Select one of the layers inside it.")
    set_module(work.model, op.path, rebuild_layer(old, dict(op.params)))


def _prune_channels(work: _Work, op) -> None:
    replay_pruning(work.model, work.network_shape, op.history)


def _like(new: nn.Module, old: nn.Module) -> nn.Module:
    """``new`` on ``old``'s device and in its train/eval mode."""
    ref = next(iter(old.parameters()), None)
    if ref is not None:
        new.to(ref.device)
    return new.train(old.training)


# Ops after which layers may see other spatial sizes (SetInput decides for itself).
CHANGES_SIZES = frozenset({"delete_layer", "insert_after", "replace_layer", "set_layer_params"})

OP_HANDLERS: dict[str, Callable[[_Work, Op], None]] = {
    "set_input": _set_input,
    "replace_classifier": _replace_classifier,
    "delete_layer": _delete_layer,
    "insert_after": _insert_after,
    "replace_layer": _replace_layer,
    "set_layer_params": _set_layer_params,
    "prune_channels": _prune_channels,
}


# --- after the ops -------------------------------------------------------------------------------


def _refresh_classifier(work: _Work) -> None:
    """Follow the classifier through edits; if it was deleted, the last Linear takes over."""
    if work.classifier_path and path_exists(work.model, work.classifier_path):
        outputs = head_out_features(get_module(work.model, work.classifier_path))
        if outputs:
            work.num_classes = outputs
            return
    try:
        work.classifier_path = find_classifier(work.model)
        work.num_classes = head_out_features(get_module(work.model, work.classifier_path))
    except DesignerError:
        work.classifier_path, work.num_classes = "", 0


def _refresh_static_padding(work: _Work) -> None:
    """Lite0's convs pad TF-'SAME' for the size they were built for: recompute for the sizes
    that now reach them (a new input size, an inserted pooling layer)."""
    if not lite0.has_static_padding(work.model):
        return
    try:
        sizes = static_paddings(work.model, work.network_shape)
    except DesignerError:
        return  # the design does not run; analysis says where
    for path, (height, width) in sizes.items():
        conv = get_conv(work.model, path)
        conv.static_padding = lite0.same_padding(conv, height, width)


def static_paddings(model: nn.Module, input_shape: tuple) -> dict[str, tuple[int, int]]:
    """Input (H, W) reaching each static-'SAME'-padding conv (Lite0), with each padding
    updated on the way so later sizes are right. Meta device: no compute."""
    meta = meta_copy(model)
    sizes: dict[str, tuple[int, int]] = {}
    handles = []
    for path, module in meta.named_modules():
        if isinstance(module, nn.Conv2d) and hasattr(module, "static_padding"):
            def pre_hook(conv, args, path=path):
                sizes[path] = tuple(args[0].shape[-2:])
                conv.static_padding = lite0.same_padding(conv, *sizes[path])
            handles.append(module.register_forward_pre_hook(pre_hook))
    try:
        meta(torch.zeros((1, *input_shape), device="meta"))
    except Exception as exc:  # the network cannot run there
        raise DesignerError(f"The network does not run at {'x'.join(map(str, input_shape))}: {exc}") from exc
    finally:
        for h in handles:
            h.remove()
    return sizes


__all__ = ["BaseCache", "Design", "NetworkInput", "build", "io_shapes", "network_input", "shape_into"]
