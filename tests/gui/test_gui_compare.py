"""Compare runs draws what the runs did (issue 22, item 5): every validation point is marked (a
recommended run validates rarely: a line through lone points drew nothing), its stage-1 star is there,
and each run sits on its own steps."""

from __future__ import annotations

import numpy as np
from testkit.runs import recommended_run_folder
from testkit.train import fake_run

from designer.train.runs import load_run


def _items(plot, name: str) -> dict:
    return {item.name(): item for p, item in plot._overlay_items if p is plot.acc_plot and name in item.name()}


def test_compared_recommended_run_shows_its_points_and_its_star(qtbot, tmp_path):
    from widgets.training.plot import MetricsPlot
    from widgets.training.runs import overlay_curves

    plot = MetricsPlot()
    qtbot.addWidget(plot)
    recommended = load_run(recommended_run_folder(tmp_path / "rec"))
    scratch = load_run(fake_run(tmp_path / "scratch", mode="scratch"))
    plot.set_overlays(overlay_curves([recommended, scratch]))
    items = _items(plot, "rec")
    val = items["rec (val)"]
    x, y = val.getData()
    # stage 1 at 0, then epochs 3, 7 and 13 of 8 steps each: every point there, none as NaN
    assert list(x) == [0, 24, 56, 104] and np.all(np.isfinite(y))
    assert val.opts["symbol"] is not None  # lone points are visible
    star = items["rec (stage 1)"]
    assert star.opts["symbol"] == "star" and list(star.getData()[0]) == [0]
    assert "rec (stage 1)" in plot.legend.text()
    assert "scratch (stage 1)" not in {i.name() for _, i in plot._overlay_items}
    plot.x_combo.setCurrentIndex(1)  # epochs: the same points at their epochs
    assert list(_items(plot, "rec")["rec (val)"].getData()[0]) == [0, 3, 7, 13]


def test_a_resumed_runs_earlier_epochs_sit_on_its_own_steps(qtbot, workspace, tmp_path, dialogs):
    """Resume first draws the run's history: at its own 8 steps per epoch, where the resumed leg's
    batches (numbered by the engine's global step) continue, not at the form's 4."""
    ws = workspace()
    run_dir = recommended_run_folder(tmp_path / "rec")
    ws.training._preload_history(run_dir)
    ws.training.plot.flush()
    x, _ = ws.training.plot.curves["val_acc"].getData()
    assert list(x) == [0, 24, 56, 104]
    x, _ = ws.training.plot.curves["head_acc"].getData()
    assert list(x) == [0]
