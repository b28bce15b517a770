"""Resume on a finished run asks for its new total and the history keeps its first finish (issue 22,
item 8)."""

from __future__ import annotations

import json
from pathlib import Path

from testkit.gui import load_data, train


def test_resume_of_a_finished_run_asks_for_the_new_total(qtbot, workspace, shapes, dialogs):
    ws = workspace()
    load_data(qtbot, ws, shapes)
    assert train(qtbot, ws, epochs=1, batch_size=8, mode="full").kind == "finished"
    run_dir = ws.training.run_dir
    ws.training.runs.select_path(run_dir)
    assert ws.training.resume_button.isEnabled()
    asked = dialogs.answer("ask_total_epochs", None)  # cancelled: nothing starts
    assert not ws.training.resume_selected() and not ws.training.training
    assert asked and asked[0][1:] == (1, 2)  # the run's name, its epochs done, a suggestion above them
    dialogs.answer("ask_total_epochs", 2)
    ws.training.form.epochs.setValue(1)  # the form's epochs are not what a finished run asks
    assert ws.training.resume_selected()
    qtbot.waitUntil(lambda: not ws.training.training, timeout=60_000)
    assert ws.training.final_event.kind == "finished"
    history = json.loads((Path(run_dir) / "history.json").read_text())
    assert [e["epoch"] for e in history["epochs"]] == [1, 2]
    assert [f["epochs"] for f in history["finishes"]] == [1, 2]
    row = ws.training.runs.paths().index(run_dir)
    status = ws.training.runs.item(row, 3).text()
    assert status.startswith("finished; first finished at 1 epoch,"), status
    assert not dialogs.errors
