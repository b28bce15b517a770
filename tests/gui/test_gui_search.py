"""The search mode in the Training tab: its budget field, and the trials table that fills as trials end."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtGui import QFont
from testkit.gui import load_data, train

from designer.base.fileio import write_json
from widgets.training.trials import TrialsView

TRIALS = {"budget_s": 60.0, "best": 2, "trials": [
    {"number": 0, "params": {"stage": "classifier fitted on cached features"}, "state": "complete",
     "best_val_acc": 0.8, "curve": [{"epoch": 0, "step": 0, "val_acc": 0.8}], "time_s": 1.5},
    {"number": 1, "params": {"lr": 0.01, "length": 1.0, "augment": "off", "freeze": "none"}, "state": "pruned",
     "best_val_acc": 0.5, "curve": [{"epoch": 1, "step": 4, "val_acc": 0.5}], "time_s": 3.0},
    {"number": 2, "params": {"lr": 0.0231, "length": 2.0, "augment": "light", "freeze": "early"},
     "state": "complete", "best_val_acc": 0.9, "time_s": 75.0,
     "curve": [{"epoch": 1, "step": 4, "val_acc": 0.6}, {"epoch": 2, "step": 8, "val_acc": 0.9}]},
    {"number": 3, "params": "lr=1", "state": 7, "best_val_acc": "high", "curve": "up"},  # a hostile row
]}


def test_the_trials_table_shows_each_trial_and_its_curve(qtbot, tmp_path):
    view = TrialsView()
    qtbot.addWidget(view)
    write_json(tmp_path / "trials.json", TRIALS)
    view.load(tmp_path)
    table = view.table
    assert table.rowCount() == 4
    row = [table.item(2, c).text() for c in range(table.columnCount())]
    assert row[:5] == ["2", "0.0231", "2× planned", "light (small turns, shifts and zooms)", "early layers"]
    assert row[5] == "90.0 %" and row[6] == "ran to its end" and row[7] == "1 min 15 s"
    assert table.item(1, 6).text() == "stopped early (weak)" and table.item(0, 0).text() == "0 (stage 1)"
    assert table.item(3, 5).text() == "–" and table.item(3, 1).text() == "?"  # checked, not trusted
    assert table.item(2, 0).font().weight() == QFont.Bold and table.item(0, 0).font().weight() != QFont.Bold
    assert "trial 2 with 90.0 %" in view.best.text()

    table.selectRow(2)
    assert view.curve.rowCount() == 2
    assert [view.curve.item(1, c).text() for c in range(3)] == ["2", "8", "90.0 %"]
    view.load(tmp_path)  # a trial ended: the reader's selection and curve stay
    assert view.selected_number() == 2 and view.curve.rowCount() == 2
    view.clear()
    assert table.rowCount() == 0 and view.curve.rowCount() == 0
    view.load(tmp_path / "missing")
    assert table.rowCount() == 0


def test_the_search_mode_has_a_budget_and_trains_here(qtbot, workspace):
    ws = workspace()
    form = ws.training.form
    assert not form.rows.isRowVisible(form.budget)
    form.set_mode("search")
    assert form.rows.isRowVisible(form.budget) and form.budget.value() == pytest.approx(10.0)
    assert "Search (best of several trials)" == form.mode.currentText()
    assert not form.where.isEnabled()  # the trials run one after another in this process
    assert form.auto_plan.isEnabled() and not form.epochs.isEnabled()  # planned from the data, as recommended
    form.budget.setValue(2.5)
    options = ws.context.options()
    assert options.mode == "search" and options.budget_s == pytest.approx(150.0)
    form.set_mode("full")
    assert not form.rows.isRowVisible(form.budget)


def test_a_search_fills_the_trials_table_as_it_goes(qtbot, workspace, shapes, dialogs):
    ws = workspace()
    load_data(qtbot, ws, shapes)
    final = train(qtbot, ws, mode="search", budget_s=60.0, max_trials=2, epochs=1, batch_size=8, fixed=["epochs"])
    assert final.kind == "finished", final
    view = ws.training.trials
    assert not view.isHidden() and view.table.rowCount() == 3  # stage 1 and two trials
    assert (Path(final.run_dir) / "trials.json").is_file() and (Path(final.run_dir) / "best.pt").is_file()
    assert ws.training.plot.point_count("val_acc") >= 2
    progress = ws.training.progress
    assert progress.stage.text() == "Finished 2 trials in " + progress.stage.text().split(" in ", 1)[1]
    assert "Trial" in progress.status.text() or "Stage 1 (trial 0) won" in progress.status.text()
    assert not dialogs.errors
