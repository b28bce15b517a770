"""The layer graph: trace a model into a networkx DiGraph, fold it by path depth, lay it out.

Node ids are dotted module paths (``"layer1.0.conv1"``), as in torchvision's
``get_graph_node_names``; a module called twice gets ``_1`` on its second node,
and a function gets its owner's path plus its name (``"layer1.0.add"``).
Every node carries:

``label``, ``op_type`` (class or function name), ``kind`` (``input``/``output``/
``module``/``function``/``method``/``attr``), ``path`` (the name to fold by and,
for modules, the path ops take), ``module`` (path of the module owning the node;
for a module node, the module itself), ``out_shape`` (with batch 1; ``None`` for
ints), ``params``, ``trainable`` (trainable parameter count), ``frozen``
(``None`` without parameters), ``lr_factor``, ``flops`` (multiply-adds, the
convention of torchvision's GFLOPS column), ``depth`` (path components), ``order``.

``graph.graph`` holds ``fallback`` / ``reason`` (module tree instead of a trace),
``input_shape``, ``shape_error`` (``None`` or ``{"node", "message"}``) and totals.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import networkx as nx
import torch
from torch import nn

from designer.inspect.tracing import (
    base_name,
    eval_mode,
    is_leaf,
    meta_copy,
    model_device,
    model_dtype,
    propagate,
    tensor_bytes,
    tensor_shape,
    trace_module,
)


def trace_graph(model: nn.Module, input_shape, policy=None) -> nx.DiGraph:
    """Trace ``model`` (eval mode, read-only) and propagate shapes for ``input_shape`` (C, H, W)."""
    input_shape = tuple(int(s) for s in input_shape)
    with eval_mode(model):
        try:
            gm, owners = trace_module(model)
        except Exception as exc:  # noqa: BLE001 - fx raises many types on dynamic control flow
            return fallback_graph(model, input_shape, policy, f"{type(exc).__name__}: {exc}")
        prop = propagate(gm, input_shape, dtype=model_dtype(model))
    graph = _graph_from_fx(gm, owners, prop, _param_states(model, policy))
    graph.graph.update(fallback=False, reason="", gm=gm, propagation=prop)
    _finish(graph, model, input_shape, prop.failed_node and graph.graph["ids"][prop.failed_node], prop.error)
    return graph


def _graph_from_fx(gm, owners, prop, states) -> nx.DiGraph:
    graph: nx.DiGraph[str] = nx.DiGraph()
    ids: dict[str, str] = {}
    used: set[str] = set()
    counts: Counter[str] = Counter()
    seen_modules: set[str] = set()
    for order, n in enumerate(gm.graph.nodes):
        base = base_name(n, owners.get(n.name, ""))
        node_id = _unique(base, used, counts)
        ids[n.name] = node_id
        attrs = _node_attrs(n, base, owners.get(n.name, ""), gm, states, seen_modules)
        attrs.update(order=order, out_shape=prop.shapes.get(n.name), flops=prop.flops.get(n.name, 0),
                     nbytes=prop.nbytes.get(n.name, 0), shared=node_id != base,
                     inputs=[ids[src.name] for src in n.all_input_nodes])
        attrs["label"] = _label(node_id, attrs["op_type"])
        graph.add_node(node_id, **attrs)
        for src in n.all_input_nodes:
            graph.add_edge(ids[src.name], node_id)
    graph.graph["ids"] = ids
    return graph


def _unique(base: str, used: set, counts: Counter) -> str:
    k = counts[base]
    node_id = f"{base}_{k}" if k else base
    while node_id in used:
        k += 1
        node_id = f"{base}_{k}"
    counts[base] = k + 1
    used.add(node_id)
    return node_id


def _node_attrs(n, base, owner, gm, states, seen_modules) -> dict:
    kind = {"placeholder": "input", "output": "output", "call_module": "module",
            "call_function": "function", "call_method": "method", "get_attr": "attr"}[n.op]
    attrs = {"kind": kind, "path": base, "module": owner, "depth": base.count(".") + 1}
    names: list[str] = []
    if kind == "module":
        mod = gm.get_submodule(n.target)
        attrs.update(op_type=type(mod).__name__, module=base)
        if base not in seen_modules:  # a module called twice owns its parameters once
            seen_modules.add(base)
            names = [name for name, _ in mod.named_parameters(prefix=base)]
    elif kind == "attr":
        value = _fetch(gm, n.target)
        attrs["op_type"] = "Parameter" if isinstance(value, nn.Parameter) else "Tensor"
        names = [base] if isinstance(value, nn.Parameter) else []
    elif kind in ("function", "method"):
        attrs["op_type"] = n.target if kind == "method" else getattr(n.target, "__name__", str(n.target))
    else:
        attrs["op_type"] = kind.capitalize()
    attrs.update(_policy_attrs(names, states))
    return attrs


def _fetch(gm, target: str):
    obj = gm
    for part in target.split("."):
        obj = getattr(obj, part)
    return obj


def annotate_policy(graph: nx.DiGraph, model: nn.Module, policy) -> nx.DiGraph:
    """A copy of ``graph`` whose params / trainable / frozen / lr_factor follow ``policy``: a
    policy edit (freeze, LR factor) leaves the structure alone, so the graph is re-coloured, not
    traced again. Without a policy the parameters' ``requires_grad`` decides."""
    states = _param_states(model, policy)
    modules = dict(model.named_modules())
    out = graph.copy()
    for _, d in out.nodes(data=True):
        names = []
        if d.get("kind") == "module" and not d.get("shared") and d.get("module") in modules:
            names = [n for n, _ in modules[d["module"]].named_parameters(prefix=d["module"])]
        elif d.get("kind") == "attr" and d.get("path") in states:
            names = [d["path"]]
        d.update(_policy_attrs(names, states))
    return out


def _param_states(model: nn.Module, policy) -> dict[str, tuple[int, bool, float]]:
    """Parameter name -> (numel, frozen, lr factor), from the policy or requires_grad."""
    frozen = getattr(policy, "frozen", None) or {}
    factors = getattr(policy, "lr_factor", None) or {}
    return {name: (p.numel(), bool(frozen.get(name, not p.requires_grad)), float(factors.get(name, 1.0)))
            for name, p in model.named_parameters()}


def _policy_attrs(names, states) -> dict:
    rows = [states[n] for n in names if n in states]
    params = sum(r[0] for r in rows)
    trainable = sum(r[0] for r in rows if not r[1])
    return {"params": params, "trainable": trainable, **_aggregate_state(rows)}


def _aggregate_state(rows) -> dict:
    """frozen: True when every parameter is; lr_factor: the factor most parameters have."""
    rows = [r for r in rows if r[0]]
    if not rows:
        return {"frozen": None, "lr_factor": None}
    weight: dict[float, int] = defaultdict(int)
    for numel, _, lr in rows:
        weight[lr] += numel
    return {"frozen": all(r[1] for r in rows), "lr_factor": max(weight, key=weight.__getitem__)}


def _label(node_id: str, op_type: str) -> str:
    parts = node_id.split(".")
    short = ".".join(parts[-2:]) if len(parts) > 1 and parts[-1].isdigit() else parts[-1]
    return short if short == op_type.lower() else f"{short}: {op_type}"


def _finish(graph, model, input_shape, failed_id, error) -> None:
    graph.graph["input_shape"] = input_shape
    graph.graph["shape_error"] = {"node": failed_id, "message": error} if failed_id else None
    graph.graph["module_types"] = {p: type(m).__name__ for p, m in model.named_modules() if p}
    graph.graph["params_total"] = sum(p.numel() for p in model.parameters())
    graph.graph["flops_total"] = sum(d["flops"] or 0 for _, d in graph.nodes(data=True))
    graph.graph.setdefault("folded", False)


# --- fallback: the module tree ---------------------------------------------------------


def _leaf_paths(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Leaf modules in registration order, skipping anything inside a leaf."""
    leaves, inside = [], None
    for path, mod in model.named_modules():
        if not path or (inside is not None and path.startswith(inside + ".")):
            continue
        if is_leaf(mod):
            leaves.append((path, mod))
            inside = path
    return leaves


def fallback_graph(model: nn.Module, input_shape, policy, reason: str) -> nx.DiGraph:
    """Leaf modules chained in registration order, with shapes from hooks on a meta copy."""
    leaves = _leaf_paths(model)
    states = _param_states(model, policy)
    shapes, failed, error = _hook_shapes(model, [p for p, _ in leaves], input_shape)
    graph: nx.DiGraph[str] = nx.DiGraph()
    chain = [("input", {"kind": "input", "op_type": "Input", "path": "input", "module": "",
                        "out_shape": (1, *input_shape), **_policy_attrs([], states)})]
    for path, mod in leaves:
        names = [n for n, _ in mod.named_parameters(prefix=path)]
        chain.append((path, {"kind": "module", "op_type": type(mod).__name__, "path": path,
                             "module": path, "out_shape": shapes.get(path, (None, 0))[0],
                             "nbytes": shapes.get(path, (None, 0))[1], **_policy_attrs(names, states)}))
    chain.append(("output", {"kind": "output", "op_type": "Output", "path": "output", "module": "",
                             "out_shape": chain[-1][1]["out_shape"], **_policy_attrs([], states)}))
    for order, (node_id, attrs) in enumerate(chain):
        attrs.setdefault("nbytes", 0)
        attrs.update(order=order, inputs=[chain[order - 1][0]] if order else [], flops=0, shared=False,
                     depth=attrs["path"].count(".") + 1, label=_label(node_id, attrs["op_type"]))
        graph.add_node(node_id, **attrs)
        if order:
            graph.add_edge(chain[order - 1][0], node_id)
    graph.graph.update(fallback=True, reason=reason, gm=None, propagation=None, ids={})
    _finish(graph, model, input_shape, failed, error)
    return graph


def _hook_shapes(model, paths, input_shape):
    """Shapes from forward hooks: ({path: (shape, bytes)}, failed path or None, error).

    Tries a meta copy first; a model that failed to trace often branches on data,
    which meta tensors cannot do, so it then runs once on real zeros.
    """
    result = _run_hooked(meta_copy(model), paths, input_shape, model_dtype(model), "meta")
    if result[1] is not None:
        with torch.no_grad():
            result = _run_hooked(model, paths, input_shape, model_dtype(model), model_device(model))
    return result


def _run_hooked(model, paths, input_shape, dtype, device):
    shapes: dict[str, tuple] = {}
    started: list[str] = []
    handles = []
    modules = dict(model.named_modules())
    for path in paths:
        handles.append(modules[path].register_forward_pre_hook(lambda m, a, p=path: started.append(p)))
        handles.append(modules[path].register_forward_hook(
            lambda m, a, out, p=path: shapes.__setitem__(p, (tensor_shape(out), tensor_bytes(out)))))
    try:
        with eval_mode(model):
            model(torch.zeros((1, *input_shape), dtype=dtype, device=device))
    except Exception as exc:  # noqa: BLE001 - the forward itself may fail on this input
        lines = str(exc).strip().splitlines()
        return shapes, (started[-1] if started else "input"), lines[0] if lines else type(exc).__name__
    finally:
        for handle in handles:
            handle.remove()
    return shapes, None, ""


# --- layout -----------------------------------------------------------------------------


def layout(graph: nx.DiGraph, dx: float = 1.0, dy: float = 1.0) -> dict[str, tuple[float, float]]:
    """Positions by topological generation: generation -> y, place in it -> x, centred.

    Folding can close a cycle (a block used before and after another); edges that
    point backwards in execution order are then ignored for layering.
    """
    dag = graph
    if not nx.is_directed_acyclic_graph(graph):
        order = nx.get_node_attributes(graph, "order")
        dag = nx.DiGraph()
        dag.add_nodes_from(graph.nodes)
        dag.add_edges_from((u, v) for u, v in graph.edges if order.get(u, 0) < order.get(v, 0))
    order = nx.get_node_attributes(graph, "order")
    pos = {}
    for y, generation in enumerate(nx.topological_generations(dag)):
        generation.sort(key=lambda n: order.get(n, 0))
        mid = (len(generation) - 1) / 2
        for x, node in enumerate(generation):
            pos[node] = ((x - mid) * dx, y * dy)
    return pos


def format_shape(shape) -> str:
    """(1, 64, 56, 56) -> "64x56x56"; drops the batch dimension."""
    if shape is None:
        return "-"
    dims = list(shape[1:]) if len(shape) > 1 else list(shape)
    return "x".join(str(d) for d in dims) if dims else "scalar"
