"""The Compress dialog: a trained run compressed from the window (each measured step a point and a row,
the Pareto front drawn), a bad goal told in words, and the job stopped by the Stop button."""

from __future__ import annotations

import pytest
from testkit.data import make_digits_folder
from testkit.train import trained_resnet18_project

from designer.app.compress import CompressRequest
from designer.cli.main import main


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("gui-compress")
    data, project, _run = trained_resnet18_project(root, per_class=6, epochs=1)
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
    assert dialog.progress.value() == 100  # a finished job shows a full bar, not its last step's share
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
    assert dialog.progress.value() == -1  # reset: nothing was finished


@pytest.mark.slow
def test_compress_from_the_main_window_and_open_a_step(qtbot, make_window, tmp_path):
    """File > Compress for a device… on a saved project with a finished run: the dialog offers that run and
    a folder beside the project; after the run a picked point opens its step's project in the window."""
    from testkit.gui import wait_idle

    from widgets.shell.launcher import install_workspaces

    data = make_digits_folder(tmp_path / "data", per_class=6, size=32)
    project = str(tmp_path / "p.nsd.json")
    assert main(["new", "resnet18", "--weights", "none", "-o", project]) == 0
    assert main(["edit", project, "--input", "3x32x32", "--classes", "10"]) == 0
    window = make_window()
    install_workspaces(window)
    assert not window.compress_action.isEnabled()  # nothing open yet
    window.open_project(project)
    wait_idle(qtbot, window)
    assert not window.compress_action.isEnabled()  # saved, but no finished run
    assert main(["train", project, "--data", str(data), "--mode", "full", "--epochs", "1", "--device", "cpu",
                 "-o", str(tmp_path / "runs" / "first")]) == 0
    window.update_actions()  # the run was made outside the window (the Training tab notifies by itself)
    assert window.compress_action.isEnabled()
    window.compress_action.trigger()
    dialog = window.compress_dialog
    assert dialog.run_choice.currentData() == str((tmp_path / "runs" / "first").resolve())
    assert dialog.output.text() == str(tmp_path.resolve() / "compressed-first")
    dialog.goal.setText("params=0.1x")  # out of reach in two steps: both are kept, step 2 is chosen
    dialog.max_drop.setValue(1.0)
    dialog.steps.setValue(2)
    dialog.finetune_epochs.setValue(1)
    dialog.start_button.click()
    assert dialog.runner.running
    qtbot.waitUntil(lambda: not dialog.runner.running, timeout=600_000)
    assert dialog.report is not None, dialog.status.text()
    assert not dialog.open_button.isEnabled()  # nothing picked yet
    assert dialog.report["chosen_step"] == 2
    # pick the plot's point of step 1 (a pruned step, not the chosen one), as a click on it does
    row = dialog.row_steps.index(1)
    points = [p for p in dialog.scatter.points() if p.data() == row]
    dialog._on_point_clicked(dialog.scatter, points)
    assert dialog.selected_step() == 1 and dialog.open_button.isEnabled()
    dialog.open_button.click()
    wait_idle(qtbot, window)
    opened = window.qdoc.doc
    assert opened.path.endswith("p.step-1.nsd.json") and "compressed-first" in opened.path
    assert opened.recipe.ops[-1].kind == "prune_channels"
    runs = window.compress_dialog is dialog and install_runs(window)
    assert [r.status for r in runs] == ["finished"] and runs[0].has_weights  # its weights, as a finished run


def install_runs(window):
    """The runs the window's Data & Training tab lists for the open project."""
    from widgets.shell.training_workspace import TrainingWorkspace

    workspace = next(window.tabs.widget(i) for i in range(window.tabs.count())
                     if isinstance(window.tabs.widget(i), TrainingWorkspace))
    return workspace.context.runs()
