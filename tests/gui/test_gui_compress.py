"""The Compress dialog: a trained run compressed from the window (each measured step a point and a row,
the Pareto front drawn), a bad goal told in words, and the job stopped by the Stop button."""

from __future__ import annotations

import pytest
from testkit.data import make_digits_folder

from designer.app.compress import CompressRequest
from designer.cli.main import main


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("gui-compress")
    data = make_digits_folder(root / "data", per_class=6, size=32)
    project = str(root / "p.nsd.json")
    assert main(["new", "resnet18", "--weights", "none", "-o", project]) == 0
    assert main(["edit", project, "--input", "3x32x32", "--classes", "10"]) == 0
    assert main(["train", project, "--data", str(data), "--mode", "full", "--epochs", "1", "--device", "cpu",
                 "-o", str(root / "run")]) == 0
    return root, data, project


def _dialog(qtbot, trained, out_name: str):
    from widgets.compress.dialog import CompressDialog

    root, data, project = trained
    dialog = CompressDialog(CompressRequest(project, str(root / "run"), str(root / out_name), str(data)))
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_a_bad_goal_is_told_in_words(qtbot, tmp_path):
    from widgets.compress.dialog import CompressDialog

    dialog = CompressDialog(CompressRequest("p.nsd.json", "run", str(tmp_path / "out")))
    qtbot.addWidget(dialog)
    dialog.goal.setText("faster please")
    dialog.start()
    assert not dialog.runner.running and "not a compression goal" in dialog.status.text()


@pytest.mark.slow
def test_compress_from_the_window(qtbot, trained):
    dialog = _dialog(qtbot, trained, "out")
    dialog.goal.setText("params=0.7x")
    dialog.max_drop.setValue(1.0)
    dialog.start()
    assert dialog.runner.running and not dialog.start_button.isEnabled()
    qtbot.waitUntil(lambda: not dialog.runner.running, timeout=600_000)
    assert dialog.report is not None, dialog.status.text()
    rows = dialog.table.rowCount()
    assert rows == len(dialog.report["steps"]) + len(dialog.report["int8"]) and rows >= 3
    assert len(dialog.front.getData()[0]) >= 1 and "Kept:" in dialog.status.text()
    assert dialog.start_button.isEnabled()


@pytest.mark.slow
def test_stop_ends_the_job(qtbot, trained):
    dialog = _dialog(qtbot, trained, "stopped")
    dialog.goal.setText("params=0.1x")
    dialog.start()
    qtbot.waitUntil(lambda: dialog.table.rowCount() >= 1, timeout=300_000)  # the original is measured
    dialog.stop_button.click()
    qtbot.waitUntil(lambda: not dialog.runner.running, timeout=300_000)
    assert dialog.status.text() == "Stopped." and dialog.report is None
