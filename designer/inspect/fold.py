"""Folding the layer graph by path depth: the one rule the canvas and ``inspect --depth`` use.

Blocks (``layer1``, ``features.3``) fold to one node; single blocks can be opened
(``expanded``), which is what a double-click on the canvas does; int-only nodes
(``size``/``getitem`` of shapes) are left out; and ``auto_depth`` picks how deep to
fold so a big network stays readable.
"""

from __future__ import annotations

from collections import defaultdict

import networkx as nx

from designer.inspect.graph import layout

AUTO_MAX_NODES = 90  # "Auto" depth shows at most about this many nodes


def is_shape_only(d: dict, failed_at: float = float("inf")) -> bool:
    """Nodes that compute ints (x.size(0), shape[1]): not part of the data flow. Nodes at or
    after a shape error (``failed_at``: its order) have no shape either, but are kept."""
    return (d.get("out_shape") is None and d.get("kind") in ("function", "method") and not d.get("params")
            and d.get("order", 0) < failed_at)


def failed_order(graph: nx.DiGraph) -> float:
    error = graph.graph.get("shape_error") or {}
    node = error.get("node")
    return graph.nodes[node]["order"] if node in graph else float("inf")


def max_depth(graph: nx.DiGraph) -> int:
    return max((d["path"].count(".") + 1 for _, d in graph.nodes(data=True)), default=1)


def fold_key(node: str, path: str, depth: int | None, expanded) -> str:
    parts = path.split(".")
    if depth is None or len(parts) <= depth:
        return node
    k = depth
    while k < len(parts) and ".".join(parts[:k]) in expanded:
        k += 1
    return node if k >= len(parts) else ".".join(parts[:k])


def fold(graph: nx.DiGraph, depth: int | None = None, expanded=()) -> nx.DiGraph:
    """Collapse every node whose path is deeper than ``depth`` (None: keep every layer) into its
    prefix block, except inside the ``expanded`` blocks (what a double-click opens). Int-only
    nodes (shape arithmetic) are left out. A block sums its members' params, FLOPs and bytes,
    keeps its last member's output shape and lists its ``members`` so a view can open it."""
    expanded = set(expanded)
    failed = failed_order(graph)
    keep = [n for n, d in graph.nodes(data=True) if not is_shape_only(d, failed)]
    order = {n: graph.nodes[n]["order"] for n in keep}
    keep.sort(key=order.__getitem__)
    key = {n: fold_key(n, graph.nodes[n]["path"], depth, expanded) for n in keep}
    groups: dict[str, list[str]] = defaultdict(list)
    for n in keep:
        groups[key[n]].append(n)
    out: nx.DiGraph[str] = nx.DiGraph()
    out.graph.update(graph.graph, folded=depth is not None, fold_depth=depth)
    for block, members in groups.items():
        if members == [block]:
            out.add_node(block, **graph.nodes[block], folded=False, children=0, members=[block])
        else:
            out.add_node(block, **block_attrs(graph, block, members))
    for u, v in graph.edges:
        if u in key and v in key and key[u] != key[v]:
            out.add_edge(key[u], key[v])
    return out


def block_attrs(graph: nx.DiGraph, block: str, members: list[str]) -> dict:
    datas = [graph.nodes[m] for m in members]
    shaped = [d for d in datas if d.get("out_shape") is not None] or datas
    op_type = graph.graph.get("module_types", {}).get(block, "Block")
    with_params = [d for d in datas if d.get("params")]
    lr_weight: dict[float, int] = defaultdict(int)
    for d in with_params:
        if d.get("lr_factor") is not None:
            lr_weight[d["lr_factor"]] += d["params"]
    short = block.split(".")
    label = ".".join(short[-2:]) if len(short) > 1 and short[-1].isdigit() else short[-1]
    return {
        "kind": "block", "op_type": op_type, "path": block, "module": block, "label": label,
        "depth": block.count(".") + 1, "out_shape": shaped[-1].get("out_shape"),
        "params": sum(d.get("params") or 0 for d in datas),
        "trainable": sum(d.get("trainable") or 0 for d in datas),
        "frozen": None if not with_params else all(d.get("frozen") for d in with_params),
        "partly_frozen": any(d.get("frozen") for d in with_params),
        "lr_factor": max(lr_weight, key=lr_weight.__getitem__) if lr_weight else None,
        "flops": sum(d.get("flops") or 0 for d in datas), "nbytes": sum(d.get("nbytes", 0) for d in datas),
        "order": datas[0]["order"], "folded": True, "children": len(members), "members": list(members),
        "shared": False,
    }


def auto_depth(graph: nx.DiGraph, limit: int = AUTO_MAX_NODES) -> int | None:
    """The deepest fold depth that shows at most ``limit`` nodes (None: everything fits)."""
    failed = failed_order(graph)
    shown = [(n, d) for n, d in graph.nodes(data=True) if not is_shape_only(d, failed)]
    if len(shown) <= limit:
        return None
    best = 1
    for depth in range(1, max_depth(graph) + 1):
        if len({fold_key(n, d["path"], depth, ()) for n, d in shown}) > limit:
            break
        best = depth
    return best


def visible_node_for(view: nx.DiGraph, path: str) -> str | None:
    """The node that shows ``path``: itself, or the folded block that contains it."""
    if path in view:
        return path
    parts = path.split(".")
    for k in range(len(parts) - 1, 0, -1):
        prefix = ".".join(parts[:k])
        if prefix in view:
            return prefix
    for node, d in view.nodes(data=True):  # e.g. a module shown by its call node "x_1"
        if d.get("module") == path and d.get("kind") == "module":
            return node
    return None


def visible_nodes_for(view: nx.DiGraph, path: str) -> list[str]:
    """Nodes that show ``path``: its own (or folded block) node, else all its drawn children
    (a container whose layers are drawn one by one)."""
    node = visible_node_for(view, path)
    if node is not None:
        return [node]
    prefix = path + "."
    return [n for n, d in view.nodes(data=True) if str(d.get("path", "")).startswith(prefix)]


def blocks_to_open(graph: nx.DiGraph, path: str, depth: int | None) -> list[str]:
    """The block prefixes to expand so that ``path`` is drawn as its own node."""
    if depth is None:
        return []
    parts = path.split(".")
    return [".".join(parts[:k]) for k in range(depth, len(parts))]


def positions(view: nx.DiGraph) -> dict[str, tuple[float, float]]:
    return layout(view)


def find_nodes(graph: nx.DiGraph, text: str, limit: int = 50) -> list[str]:
    """Node ids whose id or op type contains ``text`` (case-insensitive), in model order."""
    text = text.strip().lower()
    if not text:
        return []
    failed = failed_order(graph)
    hits = [n for n, d in graph.nodes(data=True) if not is_shape_only(d, failed)
            and (text in n.lower() or text in str(d.get("op_type", "")).lower())]
    hits.sort(key=lambda n: graph.nodes[n]["order"])
    return hits[:limit]
