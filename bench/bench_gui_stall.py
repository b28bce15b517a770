"""How long the GUI event loop stalls while a network trains in the Training tab.

A 5 ms ``QTimer`` probe runs in the GUI thread; the largest gap between two of
its ticks is the longest time the window could not react (goal: < 50 ms). The
real ``TrainingWorkspace`` trains in its worker ``QThread`` and its live plot
redraws at ~10 Hz, in a shown 1500x900 window (offscreen, or Xvfb when DISPLAY
is set). Scenarios: idle; resnet18 (random weights) at 32x32 and at 96x96 on a
generated shapes folder; each measured from the start event to the last event. The
Training tab's default mode is used (recommended: stage 1 fits the head on cached
features in the worker thread, stage 2 fine-tunes).

The last scenario is the same 96x96 run trained in one separate child process
(``designer.launch``, ``Placement("processes", 1)``): stage 1 still runs in the worker
thread, then the worker thread only reads the child's JSON event lines. Rows marked
"stage 2" repeat the figures over the time after stage 1 only (from the head's epoch-0
event on), where the in-process and child runs differ.

Run:  .venv/bin/python bench/bench_gui_stall.py [--seconds 20] [--no-child]
Prints a table; numbers depend on the machine (quote them with its CPU and load).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("NETSURGEON_OFFLINE", "1")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests")]

PROBE_MS = 5
VERBOSE = False


class Probe:
    """Timestamps of a 5 ms timer's ticks (GUI thread)."""

    def __init__(self):
        from PySide6.QtCore import Qt, QTimer

        self.ticks: list[float] = []
        self.timer = QTimer(interval=PROBE_MS, timerType=Qt.PreciseTimer)
        self.timer.timeout.connect(self.tick)

    def tick(self) -> None:
        self.ticks.append(time.perf_counter())

    def start(self) -> None:
        self.ticks.clear()
        self.timer.start()

    def stop(self) -> list[float]:
        self.timer.stop()
        return [1000 * (b - a) for a, b in zip(self.ticks, self.ticks[1:])]


class _Loop:
    """Run the real Qt event loop for ``seconds`` or until ``until()`` is true (polled at 50 Hz)."""

    def __init__(self, seconds: float, until=None):
        from PySide6.QtCore import QEventLoop, QTimer

        self.loop, self.until = QEventLoop(), until
        self.poll = QTimer(interval=20)
        self.poll.timeout.connect(self.check)
        self.deadline = QTimer(singleShot=True, interval=int(1000 * seconds))
        self.deadline.timeout.connect(self.loop.quit)

    def check(self) -> None:
        if self.until is not None and self.until():
            self.loop.quit()

    def run(self) -> None:
        self.poll.start()
        self.deadline.start()
        self.loop.exec()
        self.poll.stop()
        self.deadline.stop()


class EventLog:
    """When each training event reached the GUI thread (to explain the longest gaps)."""

    def __init__(self):
        self.events: list[tuple[float, str]] = []
        self.stage2_from: float | None = None  # when the head's epoch-0 event (end of stage 1) arrived

    def record(self, event) -> None:
        now = time.perf_counter()
        self.events.append((now, getattr(event, "kind", "?")))
        if getattr(event, "stage", "") == "head" and self.stage2_from is None:
            self.stage2_from = now

    def explain(self, ticks: list[float], t0: float, top: int = 6) -> None:
        gaps = sorted(itertools.pairwise(ticks), key=lambda ab: ab[0] - ab[1])[:top]
        for a, b in gaps:
            before = [k for t, k in self.events if t <= b][-2:]
            print(f"  gap {1000 * (b - a):6.1f} ms at {a - t0:6.2f} s, after events {before}")


def _pump(app, seconds: float, until=None) -> None:
    if until is not None and until():
        return
    _Loop(seconds, until).run()


def _workspace(app, tmp: Path, size: int, tag: str = ""):
    from designer.app.document import Document
    from designer.model.ops import ReplaceClassifier, SetInput
    from designer.model.recipe import Recipe
    from widgets.shell.training_workspace import TrainingWorkspace

    doc = Document(data_dir=str(tmp / f"app{size}{tag}"))  # own runs and feature cache per scenario
    doc.open_recipe(Recipe.for_model("resnet18", weights="none").with_ops(SetInput(size, size, 3),
                                                                        ReplaceClassifier(3)))
    ws = TrainingWorkspace(doc)
    ws.resize(1500, 900)
    ws.show()
    ws.tabs.setCurrentWidget(ws.training)
    return ws


def measure_training(app, tmp: Path, folder: Path, size: int, seconds: float, placement=None) -> list[dict]:
    where = "" if placement is None else ", 1 child process"
    ws = _workspace(app, tmp, size, tag="-child" if placement is not None else "")
    ws.data.root_edit.setText(str(folder))
    ws.data.load_images()
    _pump(app, 60, until=lambda: ws.context.split is not None and not ws.data.scan_runner.running)
    _pump(app, 1.0)  # previews
    ws.context.update_training(epochs=30, batch_size=16)
    if placement is not None:  # the Training tab's "Where to train", as a user sets it
        ws.context.update_training(placement=placement.to_dict())
    probe, log = Probe(), EventLog()
    ws.training.runner.item.connect(log.record)
    probe.start()
    t0 = time.perf_counter()
    started = ws.training.start()
    if not started:
        raise SystemExit(f"The Training tab did not start the {size}x{size}{where} run.")
    _pump(app, seconds)
    ws.training.stop()
    _pump(app, 60, until=lambda: not ws.training.training)
    gaps = probe.stop()
    elapsed = time.perf_counter() - t0
    final = ws.training.final_event
    if placement is not None:  # the row is only meaningful if the run really trained elsewhere
        saved = json.loads((Path(ws.training.run_dir) / "options.json").read_text()).get("placement")
        if saved != placement.to_dict():
            raise SystemExit(f"The {size}x{size}{where} run trained {saved or 'here'}, not in a child process.")
    redraws = ws.training.plot.redraws
    steps = ws.training.plot.series["train_batch_acc"].x_iter
    if VERBOSE:
        log.explain(probe.ticks, t0)
    ws.shutdown()
    ws.close()
    name = f"training resnet18 {size}x{size}{where}"
    if final is not None and final.kind == "failed":
        print(f"{name}: the run failed: {final.message} {final.hint}")
    rows = [_row(name, gaps, elapsed, redraws, steps[-1] if steps else 0)]
    if log.stage2_from is not None:  # the same figures from the end of stage 1 on
        later = [b - a for a, b in zip(probe.ticks, probe.ticks[1:]) if a >= log.stage2_from]
        span = probe.ticks[-1] - log.stage2_from
        rows.append(_row("  stage 2 only", [1000 * g for g in later], span, 0, 0))
    return rows


def measure_idle(app, seconds: float) -> dict:
    probe = Probe()
    probe.start()
    _pump(app, seconds)
    return _row("idle (no training)", probe.stop(), seconds, 0, 0)


def _row(name, gaps, elapsed, redraws, steps) -> dict:
    gaps = sorted(gaps) or [0.0]
    return {"scenario": name, "s": elapsed, "ticks": len(gaps), "max": gaps[-1],
            "p99": gaps[int(0.99 * (len(gaps) - 1))], "median": statistics.median(gaps),
            "redraw_hz": redraws / elapsed if elapsed else 0.0, "steps": steps}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0, help="training time per scenario")
    parser.add_argument("--verbose", action="store_true", help="list the longest gaps and the events before")
    parser.add_argument("--no-child", action="store_true",
                        help="leave out the 96x96 run in one child process (designer.launch)")
    args = parser.parse_args(argv)
    global VERBOSE
    VERBOSE = args.verbose
    import torch
    from PySide6.QtWidgets import QApplication
    from testkit.data import make_shapes_folder

    from designer.launch.placement import Placement

    app = QApplication.instance() or QApplication([])
    tmp = Path(tempfile.mkdtemp(prefix="nsstall-"))
    folder = make_shapes_folder(tmp / "shapes", per_class=60, size=96)
    rows = [measure_idle(app, 3.0)]
    for size in (32, 96):
        rows += measure_training(app, tmp, folder, size, args.seconds)
    if not args.no_child:
        rows += measure_training(app, tmp, folder, 96, args.seconds, placement=Placement("processes", 1))
    shutil.rmtree(tmp, ignore_errors=True)  # the images and the runs' folders
    print(f"torch threads {torch.get_num_threads()}, CPUs {os.cpu_count()}, platform "
          f"{app.platformName()}, probe {PROBE_MS} ms"
          + ("" if args.no_child else "; the child process: torch's default threads, "
             + (f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}" if os.environ.get("OMP_NUM_THREADS")
                else "as many as this process")))
    print(f"{'scenario':44} {'time s':>7} {'ticks':>6} {'max gap ms':>10} {'p99 ms':>7} {'median ms':>9} "
          f"{'plot Hz':>8} {'steps':>6}")
    for r in rows:
        plot = "" if r["scenario"].startswith("  ") else f"{r['redraw_hz']:8.1f} {r['steps']:6.0f}"
        print(f"{r['scenario']:44} {r['s']:7.1f} {r['ticks']:6d} {r['max']:10.1f} {r['p99']:7.1f} "
              f"{r['median']:9.1f} {plot}".rstrip())
    worst = max(r["max"] for r in rows[1:])
    print(f"longest stall while training: {worst:.1f} ms ({'within' if worst < 50 else 'ABOVE'} the 50 ms goal)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
