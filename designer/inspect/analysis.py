"""Analyze a design before training: shapes, parameters, FLOPs, memory, and messages.

Every message points at a graph node and, where one exists, carries a one-click
fix: an op from ``designer.model.ops`` that the GUI appends to the recipe and the CLI
prints. Shapes are checked on the ``meta`` device, so analysis costs about as
much as drawing the graph; finding the smallest working input size re-runs
the already traced graph at a few sizes, also on ``meta``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields
from typing import Literal

import networkx as nx
from torch import nn

from designer.base.errors import DesignerError
from designer.inspect import budget
from designer.inspect.graph import format_shape, trace_graph
from designer.inspect.tracing import model_dtype, propagate
from designer.model.build import Design, network_input
from designer.model.ops import (
    Freeze,
    InsertAfter,
    LayerSpec,
    Op,
    ReplaceClassifier,
    ReplaceLayer,
    SetInput,
    SetLayerParams,
)
from designer.model.policy import resolve_policy
from designer.zoo.sources import defaults_for

LEVELS = ("error", "warning", "info")
TRAIN_BATCH = 32  # batch size of the training-memory estimate
SCAN_STEP = 8  # input sizes are scanned in steps of 8, then refined to the exact minimum
SCAN_LIMIT = 1024


@dataclass
class Message:
    level: str  # "error" | "warning" | "info"
    node: str  # graph node id ("" for the whole design)
    text: str
    fix: Op | None = None
    fix_label: str = ""

    def to_dict(self) -> dict:
        return {"level": self.level, "node": self.node, "text": self.text,
                "fix": self.fix.to_dict() if self.fix else None, "fix_label": self.fix_label}


@dataclass
class Report:
    ok: bool
    params_total: int
    params_trainable: int
    params_frozen: int
    flops: int  # multiply-adds for one image, torchvision's GFLOPS convention
    activation_bytes: int  # sum of every node's output, batch 1
    output_shape: tuple | None
    messages: list[Message]
    layers: list[dict]
    input_shape: tuple = ()
    train_memory_bytes: int = 0  # rough estimate for training at batch TRAIN_BATCH
    min_input_size: int | None = None  # set when the input size is the problem
    graph: nx.DiGraph | None = field(default=None, repr=False, compare=False)

    @property
    def errors(self) -> list[Message]:
        return [m for m in self.messages if m.level == "error"]

    @property
    def warnings(self) -> list[Message]:
        return [m for m in self.messages if m.level == "warning"]

    def to_dict(self) -> dict:
        """Plain data for JSON. Field by field: ``asdict`` would deep-copy the traced graph, whose
        fx module holds non-leaf tensors that refuse to be copied."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("graph", "messages")}
        out["messages"] = [m.to_dict() for m in self.messages]
        out["layers"] = [dict(row) for row in self.layers]
        return out


def analyze(design: Design, num_classes: int | None = None, data_channels: int | None = None,
            graph: nx.DiGraph | None = None) -> Report:
    """Check ``design`` at its input size; ``num_classes``/``data_channels`` describe the data.

    ``graph``: this design's graph from ``trace_graph`` with its policy, if the
    caller (the GUI) already has it; it is traced here otherwise.
    """
    policy = _policy(design)
    shape = network_input(design).shape
    if graph is None or graph.graph.get("folded") or tuple(graph.graph.get("input_shape", ())) != shape:
        graph = trace_graph(design.model, shape, policy)
    messages, min_size = _shape_messages(design, graph)
    output_shape = graph.nodes["output"].get("out_shape") if "output" in graph else None
    messages += _class_messages(design, output_shape, num_classes)
    messages += _channel_messages(design, data_channels)
    trainable, frozen = _param_counts(design.model, policy)
    if trainable == 0 and frozen:
        messages.append(Message(
            "warning", design.classifier_path, "Every layer is frozen, so training would change nothing.",
            Freeze(design.classifier_path, frozen=False), f"Unfreeze {design.classifier_path}"))
    messages += _batchnorm_messages(graph, policy)
    if graph.graph.get("fallback"):
        messages.append(Message("info", "", "The graph shows the module tree because tracing failed: "
                                + graph.graph["reason"].splitlines()[0]))
    activation = sum(d.get("nbytes", 0) for _, d in graph.nodes(data=True))
    messages += _memory_messages(design.model, activation)
    return Report(
        ok=not any(m.level == "error" for m in messages), params_total=trainable + frozen,
        params_trainable=trainable, params_frozen=frozen, flops=int(graph.graph["flops_total"]),
        activation_bytes=activation, output_shape=output_shape, messages=messages,
        layers=layer_rows(graph), input_shape=tuple(design.input_shape),
        train_memory_bytes=_train_memory(design.model, activation, trainable), min_input_size=min_size,
        graph=graph,
    )


def _memory_messages(model: nn.Module, activation: int) -> list[Message]:
    need = activation + _weight_bytes(model)
    if need <= budget.memory_limit():
        return []
    return [Message("error", "",
                    f"One image at a time would need about {budget.gb(need)} of memory; the limit "
                    f"here is {budget.gb(budget.memory_limit())}. Use a smaller input size.")]


def _weight_bytes(model: nn.Module) -> int:
    return sum(p.numel() * p.element_size() for p in model.parameters())


def memory_need(design: Design, batch: int = 1, training: bool = False) -> int:
    """The analyzer's memory estimate for ``design`` at ``batch``: activations (plus, when training,
    gradients and Adam's two moments), plus the weights. Traced on the meta device,
    nothing allocated; an untraceable network is counted by its input alone."""
    shape = tuple(getattr(design, "input_shape", ()) or ())
    floor = 4 * math.prod(shape) if shape else 0
    try:
        graph = trace_graph(design.model, network_input(design).shape, _policy(design))
        activation = max(floor, sum(d.get("nbytes", 0) for _, d in graph.nodes(data=True)))
    except DesignerError:
        raise
    except Exception:  # noqa: BLE001 -- tracing failed: the input-size check still holds
        activation = floor
    weights = _weight_bytes(design.model)
    if not training:
        return batch * activation + weights
    trainable = sum(p.numel() for p in design.model.parameters() if p.requires_grad)
    return batch * activation + weights + 3 * 4 * trainable  # as _train_memory: the analyzer's estimate


def check_memory(design: Design, what: str, batch: int = 1, training: bool = False) -> None:
    """Refuse ``what`` ("Exporting", "Predicting") in one line naming the size when the analyzer says it
    needs more memory than the limit (``budget``); ``--memory-limit GB`` raises it."""
    budget.refuse_over_limit(memory_need(design, batch, training), what, batch)


def _policy(design: Design):
    """The recipe's resolved policy (freeze, LR factors, BN mode)."""
    return resolve_policy(design.recipe, design.model)


def _param_counts(model: nn.Module, policy) -> tuple[int, int]:
    frozen_map = getattr(policy, "frozen", None) or {}
    trainable = frozen = 0
    for name, p in model.named_parameters():
        if frozen_map.get(name, not p.requires_grad):
            frozen += p.numel()
        else:
            trainable += p.numel()
    return trainable, frozen


def _train_memory(model: nn.Module, activation_bytes: int, trainable: int) -> int:
    """Activations kept for backward at batch 32, plus weights, and for trainable
    parameters their gradients and two Adam moments. An estimate, not a measurement."""
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    return TRAIN_BATCH * activation_bytes + weights + 3 * 4 * trainable


def layer_rows(graph: nx.DiGraph) -> list[dict]:
    """One row per node that outputs a tensor, for the CLI table and the GUI list."""
    rows = []
    for node, d in sorted(graph.nodes(data=True), key=lambda item: item[1]["order"]):
        if d.get("out_shape") is None and d["kind"] not in ("input", "output") and not d.get("params"):
            continue  # ints from size()/getitem, or nodes after a shape error
        rows.append({
            "name": node, "type": d["op_type"], "out_shape": format_shape(d.get("out_shape")),
            "params": d["params"], "trainable": d["trainable"], "frozen": d["frozen"],
            "lr_factor": d["lr_factor"], "flops": d.get("flops") or 0,
        })
    return rows


# --- shape errors --------------------------------------------------------------------


def _shape_messages(design: Design, graph) -> tuple[list[Message], int | None]:
    error = graph.graph.get("shape_error")
    if not error:
        return [], None
    node = error["node"]
    data = graph.nodes[node] if node in graph else {}
    module = _module(design.model, data.get("path", "")) if data.get("kind") == "module" else None
    in_shape = _input_shape_of(graph, node)
    if isinstance(module, nn.Linear) and in_shape and in_shape[-1] != module.in_features:
        return _linear_mismatch(graph, node, data["path"], module, in_shape), None
    fixed = _channel_mismatch(node, data, module, in_shape)
    if fixed:
        return fixed, None
    joined = _inputs_text(graph, node)
    if joined and not _runs_at_default_size(design, graph):  # e.g. a residual add after an edit changed
        # one branch; no input size mends that. (LeViT's attention biases meet a smaller grid: size.)
        return [Message("error", node, f"The tensors meeting at {node} ({data.get('op_type', '?')}) do not "
                        f"match{joined}: {_clean(error['message'])}. "
                        "Check the edits on the paths into it.")], None
    return _size_messages(design, graph, node, data, error["message"])


def _module(model: nn.Module, path: str) -> nn.Module | None:
    try:
        return model.get_submodule(path)
    except AttributeError:
        return None


def _input_shape_of(graph, node) -> tuple | None:
    inputs = graph.nodes[node].get("inputs", []) if node in graph else []
    return graph.nodes[inputs[0]].get("out_shape") if inputs else None


def _linear_mismatch(graph, node, path, linear: nn.Linear, in_shape) -> list[Message]:
    got, need = in_shape[-1], linear.in_features
    text = (f"{node} (Linear) expects {need} input features but receives {got} "
            f"(shape {format_shape(in_shape)}).")
    resize = SetLayerParams.of(path, in_features=got)
    pool = _pool_fix(graph, node, need)
    if pool is None:
        return [Message("error", node, text, resize, f"Resize {node} to take {got} features")]
    fix, label = pool
    return [Message("error", node, text + " Adaptive pooling keeps its pretrained weights usable.", fix,
                    label),
            Message("info", node, f"Alternatively resize {node} to take {got} features "
                    "(its weights are then re-initialised).", resize, f"Resize {node} to {got} inputs")]


def _pool_fix(graph, node, need: int):
    """AdaptiveAvgPool2d after the last 4-D module before ``node``, sized so that
    C x s x s == the Linear's in_features (VGG/AlexNet expect 512x7x7 / 256x6x6)."""
    cur = node
    while True:
        inputs = graph.nodes[cur].get("inputs", [])
        if len(inputs) != 1:
            return None
        cur = inputs[0]
        d = graph.nodes[cur]
        shape = d.get("out_shape")
        if shape is not None and len(shape) == 4 and d["kind"] == "module":
            break
        if d["kind"] in ("input", "attr"):
            return None
    side = math.isqrt(need // shape[1]) if need % shape[1] == 0 else 0
    if side * side * shape[1] != need:
        return None
    spec = LayerSpec.of("AdaptiveAvgPool2d", output_size=side)
    label = f"Pool {cur} to {shape[1]}x{side}x{side}"
    if d["op_type"] == "Identity":  # a deleted layer: put the pooling in its place
        return ReplaceLayer(d["path"], spec), label
    return InsertAfter(d["path"], spec), label


def _channel_mismatch(node, data, module, in_shape) -> list[Message]:
    if module is None or not in_shape or len(in_shape) < 2:
        return []
    got = in_shape[1]
    for cls, attr in ((nn.modules.conv._ConvNd, "in_channels"),
                      (nn.modules.batchnorm._NormBase, "num_features"), (nn.GroupNorm, "num_channels")):
        if isinstance(module, cls) and getattr(module, attr) != got:
            text = (f"{node} ({data['op_type']}) expects {getattr(module, attr)} channels but receives {got} "
                    f"(shape {format_shape(in_shape)}).")
            fix = SetLayerParams.of(data["path"], **{attr: got})
            return [Message("error", node, text, fix, f"Set {node} {attr}={got}")]
    return []


def _size_messages(design: Design, graph, node, data, error) -> tuple[list[Message], int | None]:
    c, h, w = network_input(design).shape
    where = f"{node} ({data.get('op_type', '?')})" if data else node
    gm = graph.graph.get("gm")
    if gm is None:  # module-tree fallback: no graph to re-run at other sizes
        return [Message("error", node, f"The network fails at {where} with a {h}x{w} input: {error}")], None
    limit = min(SCAN_LIMIT, max(2 * max(h, w), _default_size(design), 64))
    smallest, fits = smallest_input_size(gm, c, limit, model_dtype(design.model))
    if smallest is None or fits is None:
        return [Message("error", node, f"The network fails at {where} with a {h}x{w} input, and no square "
                        f"input up to {limit}x{limit} works: {_clean(error)}.")], None
    # "too small" only where bigger inputs keep working; ViT/MaxViT run at their built size
    bigger = (c, fits + SCAN_STEP, fits + SCAN_STEP)
    bigger_ok = propagate(gm, bigger, count_flops=False, dtype=model_dtype(design.model)).ok
    problem = "is too small for" if max(h, w) < smallest and bigger_ok else "does not fit"
    text = (f"Input {h}x{w} {problem} {where}: {_clean(error)}. "
            f"The smallest input size that works is {smallest}x{smallest}.")
    replicate = getattr(design, "replicate_grey", False)
    fix = SetInput(fits, fits, design.input_shape[0], "replicate" if replicate else "adapt")
    return [Message("error", node, text, fix, f"Set input to {fits}x{fits}")], smallest


def _runs_at_default_size(design: Design, graph) -> bool:
    """Does the network run at its gallery size (so the size, not an edit, is what breaks it)?"""
    c, h, w = network_input(design).shape
    size, gm = _default_size(design), graph.graph.get("gm")
    if gm is None or (h, w) == (size, size):
        return False
    return propagate(gm, (c, size, size), count_flops=False, dtype=model_dtype(design.model)).ok


def _inputs_text(graph, node) -> str:
    """ " (inputs 64x56x56, 64x28x28)" when a node joins tensor inputs that disagree, else ""."""
    shapes = [graph.nodes[i].get("out_shape") for i in graph.nodes[node].get("inputs",
                                                                             [])] if node in graph else []
    shapes = [format_shape(s) for s in shapes if s is not None]
    return f" (inputs {', '.join(shapes)})" if len(set(shapes)) > 1 else ""


def _clean(error: str) -> str:
    """Drop trace-time artefacts such as "but got Proxy(getitem_2)" from assert messages."""
    return re.sub(r"\s*but got Proxy\([^)]*\)", "", error).rstrip("!. ")


def _default_size(design: Design) -> int:
    try:
        return int(defaults_for(design.recipe.base).input_size)
    except DesignerError:  # not a gallery name: ImageNet's usual size
        return 224


def smallest_input_size(gm, channels: int, limit: int = SCAN_LIMIT,
                        dtype=None) -> tuple[int | None, int | None]:
    """(exact smallest square size that runs, smallest multiple of 8 that runs).

    Sizes are scanned upwards in steps of 8 (not bisected: ViT and MaxViT run
    only at their built size), then refined downwards one pixel at a time.
    """
    kwargs = {"count_flops": False} if dtype is None else {"count_flops": False, "dtype": dtype}

    def runs(size: int) -> bool:
        return propagate(gm, (channels, size, size), **kwargs).ok

    fits = next((s for s in range(SCAN_STEP, limit + 1, SCAN_STEP) if runs(s)), None)
    if fits is None:
        return None, None
    smallest = fits
    while smallest - 1 > fits - SCAN_STEP and runs(smallest - 1):
        smallest -= 1
    return smallest, fits


# --- other checks ----------------------------------------------------------------------


def _class_messages(design: Design, output_shape, num_classes) -> list[Message]:
    if num_classes is None or not output_shape or output_shape[-1] == num_classes:
        return []
    node = design.classifier_path or "output"
    return [Message("warning", node, f"The classifier outputs {output_shape[-1]} classes but the data has "
                    f"{num_classes}.", ReplaceClassifier(num_classes),
                    f"Replace the classifier for {num_classes} classes")]


def _channel_messages(design: Design, data_channels) -> list[Message]:
    c, h, w = design.input_shape
    if not data_channels or data_channels == c or getattr(design, "replicate_grey",
                                                          False) and data_channels == 1:
        return []
    mode: Literal["adapt", "replicate"] = "replicate" if data_channels == 1 else "adapt"
    return [Message("warning", "input", f"The images have {data_channels} channel(s) but the network "
                    f"takes {c}.", SetInput(h, w, data_channels, mode),
                    f"Set input to {data_channels} channel(s) ({mode})")]


def _batchnorm_messages(graph, policy) -> list[Message]:
    """BatchNorm in train mode needs more than one value per channel: a 1x1 map at batch 1 fails."""
    bn_mode = getattr(policy, "bn_mode", "frozen_eval")
    if bn_mode == "eval":
        return []
    hits = [n for n, d in graph.nodes(data=True)
            if d["op_type"].startswith("BatchNorm") and d.get("out_shape") is not None
            and math.prod(d["out_shape"][2:]) == 1 and not (bn_mode == "frozen_eval" and d["frozen"])]
    if not hits:
        return []
    more = f" and {len(hits) - 1} more" if len(hits) > 1 else ""
    return [Message("info", hits[0], f"BatchNorm at {hits[0]}{more} sees a 1x1 map: training needs a batch "
                    "size of at least 2 (the trainer drops a last batch of 1).")]
