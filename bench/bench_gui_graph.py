"""How fast the graph canvas is on big networks.

1. densenet201 (713 traced nodes): wall time from choosing it in the window to
   its graph drawn on screen, for the default "Auto" fold: cold (nothing cached, as
   the first time in a session; repeated, since a shared machine varies by +-30 %) and
   with its base network already cached; then every layer unfolded.
2. maxvit_t (1,633 traced nodes), every layer unfolded: frame time of the view
   while zooming and panning (the viewport repainted synchronously, as a frame).

Run:  QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_gui_graph.py
Prints a table; numbers depend on the machine (quote them with its CPU).
"""

from __future__ import annotations

import os
import statistics
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("NETSURGEON_OFFLINE", "1")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

COLD_REPEATS = 5
ZOOMS = (0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5)
PAN_STEPS = 60


def _window():
    import tempfile

    from PySide6.QtCore import QSettings

    import main
    from designer.app.document import Document
    from widgets.shell.main_window import MainWindow

    app = main.make_app()
    tmp = tempfile.mkdtemp(prefix="nsbench-")
    window = MainWindow(doc=Document(data_dir=tmp), settings=QSettings(os.path.join(tmp, "s.ini"), QSettings.IniFormat))
    window.resize(1600, 1000)
    window.show()
    app.processEvents()
    return app, window


def _wait(app, window) -> None:
    while window.qdoc.busy:
        app.processEvents()
        time.sleep(0.002)
    app.processEvents()


def _drawn(app, window) -> None:
    view = window.design.canvas.view
    view.viewport().repaint()
    app.processEvents()


def phases(name: str) -> dict[str, float]:
    """The core's share, measured on its own (same calls the worker makes)."""
    from designer.inspect.analysis import analyze
    from designer.inspect.graph import trace_graph
    from designer.model.build import BaseCache, build
    from designer.model.policy import module_state as layer_states
    from designer.model.policy import resolve_policy
    from designer.model.recipe import Recipe

    cache = BaseCache()
    recipe = Recipe.for_model(name, "none")
    t0 = time.perf_counter()
    design = build(recipe, cache)
    t1 = time.perf_counter()
    policy = resolve_policy(recipe, design.model)
    graph = trace_graph(design.model, design.input_shape, policy)
    layer_states(design.model, policy)
    t2 = time.perf_counter()
    analyze(design, graph=graph)
    t3 = time.perf_counter()
    return {"build": t1 - t0, "trace": t2 - t1, "analyze": t3 - t2, "nodes": graph.number_of_nodes()}


def forget(window, base_too: bool) -> None:
    """Drop what the document cached, so the next open builds again."""
    doc = window.qdoc.doc
    doc._states.clear()
    if base_too:
        doc.cache.clear()


def open_to_drawn(app, window, name: str) -> dict[str, float]:
    canvas = window.design.canvas
    t0 = time.perf_counter()
    window.open_model(name, "none")
    _wait(app, window)
    _drawn(app, window)
    t1 = time.perf_counter()
    auto_nodes = len(canvas.scene.nodes)
    t2 = time.perf_counter()
    canvas.set_depth(None)
    _drawn(app, window)
    t3 = time.perf_counter()
    return {"open_to_drawn": t1 - t0, "auto_nodes": auto_nodes, "unfold_all": t3 - t2,
            "all_nodes": len(canvas.scene.nodes)}


def frame_times(app, window) -> dict[str, list[float]]:
    canvas = window.design.canvas
    view, vp = canvas.view, canvas.view.viewport()
    out: dict[str, list[float]] = {"zoom": [], "pan": [], "pan_far": []}
    centre = view.scene().itemsBoundingRect().center()
    for _ in range(2):
        for z in ZOOMS + tuple(reversed(ZOOMS)):
            view.set_zoom(z)
            view.centerOn(centre)
            t = time.perf_counter()
            vp.repaint()
            out["zoom"].append(time.perf_counter() - t)
    for zoom, key in ((0.75, "pan"), (0.08, "pan_far")):
        view.set_zoom(zoom)
        view.centerOn(centre)
        bar = view.verticalScrollBar()
        for i in range(PAN_STEPS):
            bar.setValue(bar.value() + (40 if i % 20 < 10 else -40))
            t = time.perf_counter()
            vp.repaint()
            out[key].append(time.perf_counter() - t)
    return out


def _ms(values) -> str:
    values = sorted(values)
    p95 = values[int(0.95 * (len(values) - 1))]
    return f"median {statistics.median(values) * 1e3:6.1f} ms   p95 {p95 * 1e3:6.1f} ms   max {values[-1] * 1e3:6.1f} ms"


def main() -> None:
    app, window = _window()
    print("NetSurgeon graph canvas benchmark")
    print(f"window 1600x1000, platform {app.platformName()}, {os.cpu_count()} CPU(s)\n")
    core = phases("densenet201")
    print(f"densenet201 ({core['nodes']} traced nodes), core only: build {core['build']:.2f} s, "
          f"trace {core['trace']:.2f} s, analyze {core['analyze']:.2f} s")
    cold = []
    for _ in range(COLD_REPEATS):
        window.open_model("alexnet", "none")  # another design in between, as a user would have
        _wait(app, window)
        forget(window, base_too=True)
        dn = open_to_drawn(app, window, "densenet201")
        cold.append(dn["open_to_drawn"])
    window.open_model("alexnet", "none")
    _wait(app, window)
    forget(window, base_too=False)
    warm = open_to_drawn(app, window, "densenet201")["open_to_drawn"]
    print(f"densenet201 chosen -> graph drawn (Auto fold, {dn['auto_nodes']} nodes), nothing cached: "
          f"median {statistics.median(cold):.2f} s, min {min(cold):.2f}, max {max(cold):.2f} ({COLD_REPEATS} runs)")
    print(f"densenet201 chosen -> graph drawn, base network cached: {warm:.2f} s")
    print(f"densenet201 unfold every layer ({dn['all_nodes']} nodes) -> drawn: {dn['unfold_all']:.2f} s\n")
    mv = open_to_drawn(app, window, "maxvit_t")
    print(f"maxvit_t chosen -> graph drawn (Auto fold, {mv['auto_nodes']} nodes): {mv['open_to_drawn']:.2f} s")
    print(f"maxvit_t unfold every layer ({mv['all_nodes']} nodes) -> drawn: {mv['unfold_all']:.2f} s")
    frames = frame_times(app, window)
    print(f"maxvit_t frame, zoom 0.05x..1.5x    : {_ms(frames['zoom'])}")
    print(f"maxvit_t frame, pan at 0.75x (text): {_ms(frames['pan'])}")
    print(f"maxvit_t frame, pan at 0.08x (boxes): {_ms(frames['pan_far'])}")
    window.qdoc.doc.select(())
    window.close()


if __name__ == "__main__":
    main()
