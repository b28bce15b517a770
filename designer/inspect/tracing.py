"""torch.fx tracing and shape/FLOP propagation on the ``meta`` device.

Read-only: the user's model is traced and run symbolically, never changed
(its train/eval flags are restored afterwards) and never computed on real data.
Propagation runs every node on ``meta`` tensors, so a 700-node DenseNet costs
tens of milliseconds instead of a real forward pass. Shape-keeping layers
(BatchNorm, activations, dropout) skip their meta kernels entirely: those are
Python decompositions and would otherwise dominate the cost.
"""

from __future__ import annotations

import copy
import math
import re
import sys
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import torch
import torchvision
from torch import fx, nn
from torch.nn import functional as F
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

# Subclasses of these stay leaves too: EfficientNet-Lite0's Conv2dStaticSamePadding
# subclasses nn.Conv2d outside torch.nn, and the default tracer would dissolve it.
LEAF_BASES = (nn.modules.conv._ConvNd, nn.Linear, nn.modules.batchnorm._NormBase,
              nn.LayerNorm, nn.GroupNorm)
_CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)

# Layers whose output has the input's shape; their meta kernels are skipped.
_SHAPE_KEEPING = {
    cls.forward for cls in (
        nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU,
        nn.Mish, nn.Hardswish, nn.Hardsigmoid, nn.Sigmoid, nn.Tanh, nn.Hardtanh, nn.Softplus,
        nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.Identity,
    )
}
_NORM_FORWARDS = {nn.modules.batchnorm._BatchNorm.forward, nn.LayerNorm.forward, nn.GroupNorm.forward}
_CONV_FORWARDS = {nn.Conv1d.forward, nn.Conv2d.forward, nn.Conv3d.forward}


def timm_notrace() -> tuple[tuple[type, ...], tuple]:
    """The modules and functions timm registers as not traceable (its own fx feature extractor
    treats them as leaves), when timm is already loaded: a timm network was built. Never imports timm."""
    fx_hints = sys.modules.get("timm.layers._fx")
    if fx_hints is None:
        return (), ()
    modules = tuple(fx_hints.get_notrace_modules())
    return modules, tuple(f for f in fx_hints.get_notrace_functions() if callable(f))


def is_leaf(module: nn.Module) -> bool:
    """A module drawn as one node: torch.nn layers, their subclasses, timm's not-traceable
    blocks, and any module without children (its forward is opaque but its shape is not)."""
    if isinstance(module, LEAF_BASES) or type(module) in timm_notrace()[0]:
        return True
    if isinstance(module, _CONTAINERS):
        return False
    if next(module.children(), None) is None:
        return True
    return type(module).__module__.startswith("torch.nn")


class PathTracer(fx.Tracer):
    """Records, for every fx node, the dotted path of the module whose forward made it."""

    def __init__(self):
        # torch annotates autowrap_modules as a 1-tuple (Tuple[ModuleType]); it takes any number
        super().__init__(autowrap_modules=(math, torchvision.ops),  # type: ignore[arg-type]
                         autowrap_functions=timm_notrace()[1])
        self.owner: dict[str, str] = {}
        self._current = ""

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return is_leaf(m)

    def call_module(self, m, forward, args, kwargs):
        outer = self._current
        self._current = self.path_of_module(m)
        try:
            return super().call_module(m, forward, args, kwargs)
        finally:
            self._current = outer

    def create_proxy(self, kind, target, args, kwargs, name=None, type_expr=None, *rest):
        proxy = super().create_proxy(kind, target, args, kwargs, name, type_expr, *rest)
        self.owner[proxy.node.name] = self._current
        return proxy


@contextmanager
def eval_mode(model: nn.Module):
    """Eval mode for the duration (googlenet, inception and Lite0 differ in train
    mode); every module's own flag is restored, e.g. frozen BN kept in eval."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for m, training in modes:
            m.training = training


def trace_module(model: nn.Module) -> tuple[fx.GraphModule, dict[str, str]]:
    """Symbolic trace (call inside ``eval_mode``); returns the GraphModule and node owners."""
    tracer = PathTracer()
    graph = tracer.trace(model)
    return fx.GraphModule(tracer.root, graph), tracer.owner


def base_name(node: fx.Node, owner: str) -> str:
    """torchvision-style node name: owner path + op, without fx's global counter."""
    if node.op == "placeholder":
        return "input"
    if node.op == "output":
        return "output"
    if node.op in ("call_module", "get_attr"):
        return str(node.target)
    op = re.sub(r"_\d+$", "", node.name)
    return f"{owner}.{op}" if owner else op


def model_dtype(model: nn.Module) -> torch.dtype:
    for p in model.parameters():
        if p.is_floating_point():
            return p.dtype
    return torch.float32


def model_device(model: nn.Module) -> torch.device:
    return next((p.device for p in model.parameters()), torch.device("cpu"))


def to_meta(value):
    if isinstance(value, torch.Tensor) and value.device.type != "meta":
        return torch.empty(value.shape, dtype=value.dtype, device="meta")
    return value


def meta_copy(module: nn.Module) -> nn.Module:
    """Deep copy whose parameters and buffers live on ``meta`` (no data copied)."""
    memo = {}
    for p in module.parameters():
        memo[id(p)] = nn.Parameter(to_meta(p), requires_grad=p.requires_grad)
    for b in module.buffers():
        memo[id(b)] = to_meta(b)
    return copy.deepcopy(module, memo)


def tensor_shape(value):
    """Shape of a tensor output, the first tensor's shape of a tuple output, else None."""
    if isinstance(value, torch.Tensor):
        return tuple(value.shape)
    if isinstance(value, (tuple, list)):
        for item in value:
            if isinstance(item, torch.Tensor):
                return tuple(item.shape)
    return None


def tensor_bytes(value) -> int:
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, (tuple, list)):
        return sum(tensor_bytes(v) for v in value)
    return 0


class _ShapeCheckError(RuntimeError):
    """A shape-keeping layer got an input it cannot take (e.g. BN channel count)."""


def _check_norm(mod: nn.Module, x: torch.Tensor) -> None:
    if isinstance(mod, nn.modules.batchnorm._BatchNorm):
        got = x.shape[1] if x.dim() >= 2 else None
        if got != mod.num_features:
            raise _ShapeCheckError(
                f"{type(mod).__name__} expects {mod.num_features} channels, got input {tuple(x.shape)}")
        with suppress(NotImplementedError):
            mod._check_input_dim(x)  # e.g. BatchNorm2d on a flattened tensor
    elif isinstance(mod, nn.LayerNorm):
        if tuple(x.shape[-len(mod.normalized_shape):]) != tuple(mod.normalized_shape):
            raise _ShapeCheckError(
                f"LayerNorm expects trailing shape {tuple(mod.normalized_shape)}, got {tuple(x.shape)}")
    elif x.dim() < 2 or x.shape[1] != mod.num_channels:
        raise _ShapeCheckError(f"GroupNorm expects {mod.num_channels} channels, got {tuple(x.shape)}")


_NOT_FAST = object()


def _fast_forward(mod: nn.Module, args, kwargs):
    """Shape-only forward for common layers, without copying weights to meta."""
    if kwargs or len(args) != 1 or not isinstance(args[0], torch.Tensor):
        return _NOT_FAST
    x, forward = args[0], type(mod).forward
    if forward in _SHAPE_KEEPING:
        return x
    if forward in _NORM_FORWARDS:
        _check_norm(mod, x)
        return x
    if forward in _CONV_FORWARDS:
        conv: Any = mod  # a Conv1d/2d/3d: each defines its own _conv_forward, their base does not
        return conv._conv_forward(x, to_meta(conv.weight), to_meta(conv.bias))
    if forward is nn.Linear.forward:
        return F.linear(x, to_meta(mod.weight), to_meta(mod.bias))
    return _NOT_FAST


def _fast_cat(args, kwargs):
    """torch.cat's shape without its Python meta kernel (DenseNet concatenates ~100 times)."""
    tensors = args[0] if args else kwargs.get("tensors")
    dim = args[1] if len(args) > 1 else kwargs.get("dim", 0)
    if (not isinstance(tensors, (list, tuple)) or not tensors or set(kwargs) - {"tensors", "dim"}
            or not all(isinstance(t, torch.Tensor) and t.device.type == "meta" for t in tensors)
            or len({(t.dim(), t.dtype) for t in tensors}) != 1 or tensors[0].dim() == 0):
        return _NOT_FAST
    ref = tensors[0]
    dim = dim % ref.dim()
    for t in tensors:
        if any(a != b for i, (a, b) in enumerate(zip(t.shape, ref.shape, strict=True)) if i != dim):
            raise _ShapeCheckError(f"Sizes of tensors must match except in dimension {dim}: "
                                   f"{tuple(ref.shape)} and {tuple(t.shape)}")
    shape = list(ref.shape)
    shape[dim] = sum(t.shape[dim] for t in tensors)
    return torch.empty(shape, dtype=ref.dtype, device="meta")


class FlopTally(TorchDispatchMode):
    """Adds up torch's registered FLOP formulas (matmul, conv, attention).

    Not ``FlopCounterMode``: its ModuleTracker installs process-wide module hooks,
    which a training thread running at the same time would trip over. A dispatch
    mode is thread-local.
    """

    def __init__(self):
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            self.total += formula(*args, **kwargs, out_val=out)
        return out


class MetaRunner(fx.Interpreter):
    """Runs a traced graph on meta tensors, recording each node's output and FLOPs."""

    def __init__(self, gm: fx.GraphModule, counter: FlopTally | None = None, meta: bool = True):
        super().__init__(gm, garbage_collect_values=True)
        self.counter, self.meta = counter, meta
        self.shapes: dict[str, tuple | None] = {}
        self.nbytes: dict[str, int] = {}
        self.flops: dict[str, int] = {}
        self.failed: fx.Node | None = None
        self._leaf_copies: dict[str, nn.Module] = {}

    def run_node(self, n: fx.Node):
        before = self.counter.total if self.counter else 0
        try:
            out = super().run_node(n)
        except Exception:
            self.failed = n
            raise
        self.shapes[n.name] = tensor_shape(out)
        self.nbytes[n.name] = tensor_bytes(out)
        if self.counter:
            self.flops[n.name] = self.counter.total - before
        return out

    def get_attr(self, target, args, kwargs):
        value = super().get_attr(target, args, kwargs)
        return to_meta(value) if self.meta else value

    def call_function(self, target, args, kwargs):
        if self.meta and target is torch.cat:
            out = _fast_cat(args, kwargs)
            if out is not _NOT_FAST:
                return out
        return super().call_function(target, args, kwargs)

    def call_module(self, target, args, kwargs):
        mod = self.fetch_attr(target)
        if not self.meta:
            return mod(*args, **kwargs)
        out = _fast_forward(mod, args, kwargs)
        if out is not _NOT_FAST:
            return out
        if next(iter(mod.parameters()), None) is None and next(iter(mod.buffers()), None) is None:
            return mod(*args, **kwargs)
        if target not in self._leaf_copies:
            self._leaf_copies[target] = meta_copy(mod)
        return self._leaf_copies[target](*args, **kwargs)


@dataclass
class Propagation:
    """What a symbolic run found: per fx node name, output shape, bytes and FLOPs."""

    shapes: dict[str, tuple | None] = field(default_factory=dict)
    nbytes: dict[str, int] = field(default_factory=dict)
    flops: dict[str, int] = field(default_factory=dict)
    failed_node: str | None = None  # fx node name
    error: str = ""
    output: object = None
    exc: Exception | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.failed_node is None


def _is_meta_limitation(exc: Exception) -> bool:
    """An error from running on meta itself, not from the network's shapes."""
    text = str(exc)
    return isinstance(exc, NotImplementedError) or ("meta" in text.lower() and "device" in text.lower())


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def propagate(gm: fx.GraphModule, input_shape, batch: int = 1, count_flops: bool = True,
              dtype: torch.dtype = torch.float32) -> Propagation:
    """Shapes (and FLOPs, as multiply-adds) of every node for ``batch x input_shape``.

    Never raises for a network that does not fit its input: the failing node and
    the error come back in the result. Falls back to a real forward on zeros
    only when an op has no meta implementation.
    """
    result = _run(gm, input_shape, batch, count_flops, dtype, meta=True)
    if not result.ok and result.exc is not None and _is_meta_limitation(result.exc):
        with torch.no_grad():
            result = _run(gm, input_shape, batch, count_flops, dtype, meta=False)
    return result


def _run(gm, input_shape, batch, count_flops, dtype, meta: bool) -> Propagation:
    x = torch.zeros((batch, *input_shape), dtype=dtype, device="meta" if meta else model_device(gm))
    counter = FlopTally() if count_flops else None
    runner = MetaRunner(gm, counter, meta=meta)
    result = Propagation()
    try:
        if counter is None:
            result.output = runner.run(x)
        else:
            with counter:
                result.output = runner.run(x)
    except Exception as exc:  # noqa: BLE001 - any layer may raise anything on a bad shape
        result.failed_node = runner.failed.name if runner.failed is not None else None
        result.error = _first_line(exc)
        result.exc = exc
        if result.failed_node is None:
            result.failed_node = "output"
    result.shapes, result.nbytes = runner.shapes, runner.nbytes
    result.flops = {k: v // 2 for k, v in runner.flops.items()}  # FLOPs -> multiply-adds
    return result
