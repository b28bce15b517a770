"""Which layer a class-activation map looks at: the default choice and checks on the user's.

A map needs a layer whose output is still a picture: a 4-D ``(B, C, H, W)`` feature map,
or the tokens of a ViT-style model ``(B, N, C)`` whose ``N`` is a grid of patches after a
few extra tokens (the class token). ``layer_outputs`` runs the network once on the
``meta`` device with a hook on every module (no real compute, as the graph's shape
propagation does) and records each module's output shape, when it finished and how
often it ran.

The default (``default_target``) is the last detailed layer before the head: of the
modules that finish before the classifier starts, the last one to finish with a map of at
least 7x7 positions (or, when none is that large, with the largest map there is). A ResNet
at 224 gives ``layer4`` (7x7), the usual Grad-CAM choice; at 64x64 its ``layer4`` is 2x2 and
paints uniform blobs, so ``layer2`` (8x8) is taken. The last to finish is the outermost block
around that output (``layer4`` rather than its last ReLU).

ViT-style models read only the class token after their last block, so the patch tokens of
the last block's output never reach the prediction and their map would be blank. Their
default is the output of the block before the last one (the last block's input): in
torchvision's ViT ``encoder.layers.encoder_layer_10`` of 12.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
from torch import nn

from designer.base.errors import DesignerError
from designer.inspect.tracing import eval_mode, meta_copy, model_dtype
from designer.model.surgery import get_module

MIN_MAP_SIDE = 7  # the default layer's map is at least 7x7 where the network has one
MAX_PREFIX_TOKENS = 8  # class token, distillation token, registers
SEQUENCES = (nn.Sequential, nn.ModuleList)


@dataclass(frozen=True)
class LayerOutput:
    """One module's output in a forward pass with batch 1 (``shape`` None: not one tensor)."""

    path: str
    shape: tuple | None
    calls: int
    start: int  # the order in which modules started ...
    end: int  # ... and finished
    in_shape: tuple | None = None  # its first input's shape
    fed_by: str | None = None  # the module whose output object is that very input (None: computed between)


@dataclass(frozen=True)
class CamTarget:
    """The layer a map is taken at, and how its output is a grid of ``grid`` positions."""

    path: str
    channels: int
    grid: tuple[int, int]
    tokens: bool = False  # (B, N, C) tokens, reshaped to (B, C, h, w) after ``prefix`` tokens
    prefix: int = 0
    on_input: bool = False  # the map this layer receives rather than the one it makes

    def describe(self) -> str:
        h, w = self.grid
        where = f"the input of layer {self.path}" if self.on_input else f"layer {self.path}"
        if self.tokens:
            return f"{where} ({self.channels}-wide tokens as a {h}x{w} grid)"
        return f"{where} ({self.channels}x{h}x{w})"

    def to_dict(self) -> dict:
        return {"layer": self.path, "on_input": self.on_input, "channels": self.channels,
                "grid": list(self.grid), "tokens": self.tokens, "prefix": self.prefix}


def layer_outputs(model: nn.Module, input_shape) -> dict[str, LayerOutput]:
    """Every module's output for one input of ``input_shape`` (C, H, W): on ``meta`` first (no
    compute); a model that branches on data runs once on real zeros instead."""
    try:
        return _hooked_run(meta_copy(model), input_shape, "meta", model_dtype(model))
    except Exception:  # noqa: BLE001 -- meta tensors cannot take data-dependent branches
        with torch.no_grad():
            device = next((p.device for p in model.parameters()), torch.device("cpu"))
            try:
                return _hooked_run(model, input_shape, device, model_dtype(model))
            except Exception as exc:  # noqa: BLE001 -- the design itself does not run
                detail = (str(exc).splitlines() or [""])[0][:300]
                size = "x".join(map(str, input_shape))
                raise DesignerError(f"The network does not run on a {size} input, "
                                    f"so no heat map can be made ({detail}).",
                                    hint="Fix the design first (the Design tab's analyzer says "
                                         "where).") from None


def _hooked_run(model: nn.Module, input_shape, device, dtype) -> dict[str, LayerOutput]:
    seen: dict[str, dict] = {}
    clock, handles = [0], []
    made: dict[int, tuple[str, torch.Tensor]] = {}  # id(output) -> (last module to return it, it, kept alive)

    def before(path):
        def hook(module, args):
            first = args[0] if args and isinstance(args[0], torch.Tensor) else None
            row = seen.setdefault(path, {"start": clock[0], "calls": 0, "in_shape": None, "fed_by": None})
            row["calls"] += 1
            if first is not None and row["calls"] == 1:
                row["in_shape"] = tuple(first.shape)
                maker = made.get(id(first))
                row["fed_by"] = maker[0] if maker is not None and maker[1] is first else None
            clock[0] += 1
        return hook

    def after(path):
        def hook(module, args, out):
            seen[path].update(end=clock[0], shape=tuple(out.shape) if isinstance(out, torch.Tensor) else None)
            if isinstance(out, torch.Tensor):
                made[id(out)] = (path, out)
            clock[0] += 1
        return hook

    for path, module in model.named_modules():
        if path:
            handles += [module.register_forward_pre_hook(before(path)),
                        module.register_forward_hook(after(path))]
    try:
        with eval_mode(model):
            model(torch.zeros((1, *input_shape), dtype=dtype, device=device))
    finally:
        for handle in handles:
            handle.remove()
    return {p: LayerOutput(p, r.get("shape"), r["calls"], r["start"], r["end"], r["in_shape"], r["fed_by"])
            for p, r in seen.items() if "end" in r}


def token_grid(tokens: int, input_hw: tuple[int, int]) -> tuple[int, int, int] | None:
    """(prefix, h, w) when ``tokens`` are a few extra tokens then an h x w grid shaped like the
    input (a class token first is the common case); None when they are not."""
    height, width = input_hw
    for prefix in (1, 0, *range(2, MAX_PREFIX_TOKENS + 1)):
        patches = tokens - prefix
        if patches < 4:
            continue
        h = max(1, round(math.sqrt(patches * height / width)))
        if patches % h == 0 and abs((patches // h) / h - width / height) <= 0.25 * width / height:
            return prefix, h, patches // h
    return None


def _as_target(out: LayerOutput, input_hw) -> CamTarget | None:
    """The map ``out`` makes, or None when its output is not a picture."""
    shape = out.shape
    if shape is None or shape[0] != 1:
        return None
    if len(shape) == 4:
        return CamTarget(out.path, shape[1], (shape[2], shape[3]))
    if len(shape) == 3 and (grid := token_grid(shape[1], input_hw)) is not None:
        prefix, h, w = grid
        return CamTarget(out.path, shape[2], (h, w), tokens=True, prefix=prefix)
    return None


def target_for(model: nn.Module, input_shape, path: str,
               outputs: dict[str, LayerOutput] | None = None) -> CamTarget:
    """The user's layer ``path``, checked: it exists, runs once, and gives a map."""
    get_module(model, path)  # a clear error for a name that is not a layer
    if not path:
        raise DesignerError("The whole network is not a layer a heat map can look at.",
                            hint="Pick a layer before the pooling, e.g. the last block of features.")
    outputs = layer_outputs(model, input_shape) if outputs is None else outputs
    out = outputs.get(path)
    if out is None:
        raise DesignerError(f"The layer {path} never runs as a whole (it may be a list of blocks), so it has "
                            "no map of its own.", hint="Pick a layer or a block inside it.")
    if out.calls != 1:
        raise DesignerError(f"The layer {path} runs {out.calls} times in one pass (a shared layer), so its "
                            "map would be ambiguous.", hint="Pick the block around it instead.")
    target = _as_target(out, tuple(input_shape[1:]))
    if target is None:
        shown = "x".join(str(s) for s in out.shape[1:]) if out.shape else "no single tensor"
        raise DesignerError(f"The layer {path} gives {shown}, not a map over the image (channels x height x "
                            "width, or a grid of tokens).", hint="Pick a layer before the pooling and the "
                                                                 "head.")
    return target


def default_target(model: nn.Module, input_shape, classifier_path: str = "",
                   outputs: dict[str, LayerOutput] | None = None) -> CamTarget:
    """The last layer before the head with a map of at least 7x7 (see the module docstring)."""
    outputs = layer_outputs(model, input_shape) if outputs is None else outputs
    head = outputs.get(classifier_path)
    before_head = [o for o in outputs.values() if o.calls == 1 and (head is None or o.end < head.start)]
    hw = tuple(input_shape[1:])
    maps = [(o, t) for o in before_head if (t := _as_target(o, hw)) is not None and not t.tokens]
    tokens = [(o, t) for o in before_head if (t := _as_target(o, hw)) is not None and t.tokens]
    last_map = _last_detailed_map([(o, t) for o, t in maps if _survives(o, outputs)])
    last_tokens = max(tokens, key=lambda pair: pair[0].end, default=None)
    if last_tokens is not None and (last_map is None or last_tokens[0].end > last_map[0].end):
        return _before_last_block(model, outputs, tokens, hw) or last_tokens[1]
    if last_map is None:
        raise DesignerError("No layer of this network keeps a map of the image, so it has no heat map.",
                            hint="Heat maps need a convolutional or ViT-style network.")
    return _map_after(outputs, last_map[0]) or last_map[1]


def _survives(out: LayerOutput, outputs) -> bool:
    """False for a map that its own block makes smaller before handing it on, e.g. the padding
    inside a strided conv (EfficientNet-Lite0's static padding): it is not what the block shows."""
    parts = out.path.split(".")
    for k in range(1, len(parts)):
        outer = outputs.get(".".join(parts[:k]))
        if outer is not None and outer.shape is not None and len(outer.shape) == 4 and out.shape is not None \
                and outer.shape[2] * outer.shape[3] < out.shape[2] * out.shape[3]:
            return False
    return True


def _last_detailed_map(maps):
    """Of (output, target) pairs, the last whose map is at least MIN_MAP_SIDE on each side, or,
    when none is, the last of the largest: a 2x2 map at a 64x64 input paints uniform blobs."""
    detailed = [(o, t) for o, t in maps if min(t.grid) >= MIN_MAP_SIDE]
    if not detailed and maps:
        largest = max(t.grid[0] * t.grid[1] for _, t in maps)
        detailed = [(o, t) for o, t in maps if t.grid[0] * t.grid[1] == largest]
    return max(detailed, key=lambda pair: pair[0].end, default=None)


def _map_after(outputs, last: LayerOutput) -> CamTarget | None:
    """The input of the next module when something changed ``last``'s map on the way there, e.g.
    EfficientNet-Lite0's ReLU6, a module it also calls at the stem (so it has no map of its own):
    Grad-CAM wants the map after the activation. None when the next module takes ``last``'s own
    output (a ResNet's avgpool takes ``layer4``'s)."""
    later = [o for o in outputs.values() if o.start > last.end and o.calls == 1]
    following = min(later, key=lambda o: o.start, default=None)
    if following is None or following.in_shape != last.shape or following.fed_by == last.path:
        return None
    target = _as_target(last, (0, 0))
    return None if target is None else replace(target, path=following.path, on_input=True)


def _before_last_block(model, outputs, tokens, input_hw) -> CamTarget | None:
    """In the stack of repeated token blocks that finishes last, the block before the last one."""
    modules = dict(model.named_modules())
    token_paths = {o.path for o, _ in tokens}
    best = None
    for path, module in modules.items():
        if not isinstance(module, SEQUENCES):
            continue
        blocks = [f"{path}.{name}" if path else name for name in module._modules]
        blocks = [b for b in blocks if b in token_paths]
        if len(blocks) >= 2 and (best is None or outputs[blocks[-1]].end > outputs[best[-1]].end):
            best = blocks
    return None if best is None else _as_target(outputs[best[-2]], input_hw)


def graph_map_problem(graph, path: str) -> str | None:
    """Why the layer ``path`` cannot be a heat map's layer, read from the traced layer graph
    (``inspect.graph``: no forward pass), or None when its output is a map. Cheap enough for a
    context menu; ``target_for`` makes the full check when the maps are computed."""
    nodes = [d for _, d in graph.nodes(data=True)
             if d.get("kind") in ("module", "function", "method")
             and path and (d.get("module") == path or str(d.get("module", "")).startswith(path + "."))]
    if not nodes:
        return f"The layer {path} is not in the traced graph."
    if graph.graph.get("module_types", {}).get(path) in ("ModuleList", "ModuleDict"):
        return f"The layer {path} is a list of blocks that never runs as a whole; pick a block inside it."
    calls = sum(d.get("kind") == "module" and d.get("module") == path for d in nodes)
    if calls > 1:
        return f"The layer {path} runs {calls} times in one pass (a shared layer); pick the block around it."
    shape = max(nodes, key=lambda d: d.get("order", 0)).get("out_shape")
    input_shape = graph.graph.get("input_shape") or (0, 1, 1)
    if shape is not None and len(shape) == 4:
        return None
    if shape is not None and len(shape) == 3 and token_grid(shape[1], tuple(input_shape[1:])) is not None:
        return None
    shown = "x".join(str(s) for s in shape[1:]) if shape else "no single tensor"
    return f"The layer {path} gives {shown}, not a map over the image; pick a layer before the pooling."
