"""Training tab, "Where to train" (issue 15): separate processes train like this process, Stop and
closing the window end every child process, the choice is saved with the project (a hostile value
falls back to this process), and All GPUs is offered only where PyTorch sees a GPU."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PySide6.QtCore import Qt
from testkit.data import make_shapes_folder
from testkit.gui import load_data, runners_idle, train
from testkit.procs import processes_naming

from designer.app.document import Document
from designer.launch.placement import Placement, saved_placement
from designer.model.ops import ReplaceClassifier, SetInput
from designer.model.recipe import Recipe
from designer.train.runs import load_run
from designer.zoo import builders

pytestmark = pytest.mark.usefixtures("one_thread")
BUILDER = "testkit.train:tiny_rgb_cnn"  # no BatchNorm: 2 processes of 8 images step like 1 of 16
SETTINGS = {"mode": "full", "epochs": 4, "batch_size": 16, "lr": 0.05, "device": "cpu", "seed": 0,
            "workers": 0}


@pytest.fixture(autouse=True)
def one_thread_children(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # child processes on two shared cores


@pytest.fixture
def shapes24(tmp_path):
    return make_shapes_folder(tmp_path / "shapes24", per_class=32, size=24)


def builder_document(tmp_path) -> Document:
    builders.trust(BUILDER)
    doc = Document(data_dir=str(tmp_path / "appdata"))
    doc.open_recipe(Recipe.for_model(BUILDER).with_ops(SetInput(24, 24, 3), ReplaceClassifier(3)))
    return doc


def choose(form, where: str, processes: int = 2) -> None:
    """What a user does: pick the place in the list, then the number of processes."""
    form.where.choice.setCurrentIndex(form.where.choice.findData(where))
    form.where.count.setValue(processes)


def ready(qtbot, workspace, tmp_path, shapes24, **settings):
    ws = workspace(builder_document(tmp_path))
    load_data(qtbot, ws, shapes24, val_fraction=25)
    ws.tabs.setCurrentWidget(ws.training)
    ws.context.update_training(**{**SETTINGS, **settings})
    return ws


def losses(run_dir) -> dict[str, list]:
    epochs = load_run(run_dir).epochs
    return {k: [e[k] for e in epochs] for k in ("train_loss", "val_loss")}


@pytest.mark.slow
def test_two_separate_processes_train_like_this_process(qtbot, workspace, tmp_path, shapes24, dialogs):
    ws = ready(qtbot, workspace, tmp_path, shapes24)
    here = train(qtbot, ws)
    assert here.kind == "finished", here
    choose(ws.training.form, "processes", 2)
    assert ws.context.training_settings()["placement"] == {"where": "processes", "processes": 2}
    starts = []
    ws.training.runner.runner.item.connect(
        lambda e: starts.append(e) if getattr(e, "kind", "") == "start" else None)
    two = train(qtbot, ws, timeout=240_000)
    assert two.kind == "finished", two
    assert starts and starts[0].device == "2 x cpu" and "2 processes on the CPU (gloo)" in starts[0].plan
    assert "Trained in 2 processes on the CPU" in ws.training.progress.status.text()
    plot = ws.training.plot
    # paced, the last always
    validated = sum(1 for r in load_run(two.run_dir).epochs if r["val_acc"] is not None)
    assert validated >= 1
    qtbot.waitUntil(lambda: plot.point_count("train_loss") == 4 and plot.point_count("val_acc") == validated,
                    timeout=5000)
    table = ws.training.runs
    rows = {Path(p).name: r for r, p in enumerate(table.paths())}
    mine, theirs = rows[Path(two.run_dir).name], rows[Path(here.run_dir).name]
    assert table.item(mine, 3).text() == table.item(theirs, 3).text() == "finished"
    assert table.item(mine, 2).text() == "fine-tune, 2 processes"
    assert table.item(theirs, 2).text() == "fine-tune"
    # The same model, schedule and global batch; only the order of the images differs.
    a, b = losses(here.run_dir), losses(two.run_dir)
    assert len(a["train_loss"]) == len(b["train_loss"]) == 4
    for key in ("train_loss", "val_loss"):  # the engine validates when it is worth the time: compare there
        pairs = [(x, y) for x, y in zip(a[key], b[key], strict=True) if x is not None and y is not None]
        assert pairs and max(abs(x - y) for x, y in pairs) <= 0.15, (key, a[key], b[key])
    assert b["train_loss"][-1] < b["train_loss"][0] - 0.3  # it learned: close curves are not two flat ones
    assert not processes_naming(two.run_dir)
    assert not dialogs.errors


@pytest.mark.slow
def test_stop_ends_every_child_process_keeps_the_best_weights_and_resumes(qtbot, workspace, tmp_path,
                                                                          shapes24, dialogs):
    ws = ready(qtbot, workspace, tmp_path, shapes24, epochs=200)
    choose(ws.training.form, "processes", 2)
    assert ws.training.start()
    run_dir = Path(ws.training.run_dir)
    # torchrun and its two workers are up, and an epoch has ended
    qtbot.waitUntil(lambda: (run_dir / "best.pt").is_file() and len(processes_naming(run_dir)) >= 3,
                    timeout=180_000)
    ws.training.stop_button.click()
    assert not ws.training.stop_button.isEnabled()
    qtbot.waitUntil(lambda: not ws.training.training, timeout=120_000)
    final = ws.training.final_event
    assert final.kind == "stopped" and final.epoch >= 1 and final.best_val_acc is not None, final
    assert not processes_naming(run_dir)
    assert (run_dir / "best.pt").is_file() and load_run(run_dir).status == "stopped"
    row = ws.training.runs.paths().index(str(run_dir))
    assert ws.training.runs.item(row, 3).text() == "stopped"
    assert "best weights are kept" in ws.training.progress.status.text()
    # Resume it from the history in one separate process, for one more epoch.
    starts = []
    ws.training.runner.runner.item.connect(
        lambda e: starts.append(e) if getattr(e, "kind", "") == "start" else None)
    ws.training.runs.select_path(str(run_dir))
    ws.training.form.epochs.setValue(final.epoch + 1)
    choose(ws.training.form, "processes", 1)
    assert ws.training.resume_selected()
    qtbot.waitUntil(lambda: not ws.training.training, timeout=180_000)
    assert ws.training.final_event.kind == "finished", ws.training.final_event
    assert starts[0].device == "1 x cpu" and starts[0].start_epoch == final.epoch + 1
    assert load_run(run_dir).trained_epochs == final.epoch + 1 and not processes_naming(run_dir)
    assert ws.training.runs.item(row, 2).text() == "fine-tune, 1 process"
    assert not dialogs.errors


@pytest.mark.slow
def test_closing_the_window_ends_the_child_process(qtbot, workspace, tmp_path, shapes24, dialogs):
    ws = ready(qtbot, workspace, tmp_path, shapes24, epochs=200)
    asked = dialogs.answer("ask_stop_training", True)
    choose(ws.training.form, "processes", 1)
    assert ws.training.start()
    run_dir = Path(ws.training.run_dir)
    qtbot.waitUntil(lambda: (run_dir / "best.pt").is_file() and bool(processes_naming(run_dir)),
                    timeout=180_000)
    window = ws.window()
    assert not window.close() and asked  # the run stops first, then the window closes
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=120_000)
    assert runners_idle(ws) and not processes_naming(run_dir)
    assert ws.training.final_event.kind == "stopped"


def _open(qtbot, ws, path) -> None:
    ws.context.qdoc.open_project(str(path))
    qtbot.waitUntil(lambda: not ws.context.qdoc.busy, timeout=60_000)
    assert ws.context.doc.path == str(path)


HOSTILE = ({"where": "moon"}, {"where": "processes", "processes": 10**9},
           {"where": "processes", "processes": True},
           {"where": "processes", "processes": 0}, {"processes": "2"}, {"where": ["gpus"]}, "gpus", [1, 2], 7)


def test_the_choice_is_saved_with_the_project_and_a_hostile_one_falls_back(qtbot, workspace, tmp_path,
                                                                           dialogs):
    ws = workspace()
    form = ws.training.form
    assert form.where.placement() == Placement() and form.where.count.isHidden()  # the default
    choose(form, "processes", 3)
    assert not form.where.count.isHidden() and form.where.count.value() == 3
    path = Path(ws.context.doc.save(str(tmp_path / "where.nsd.json")))
    assert json.loads(path.read_text())["training"]["placement"] == {"where": "processes", "processes": 3}
    choose(form, "here")
    _open(qtbot, ws, path)
    assert form.where.placement() == Placement("processes", 3) and form.where.count.value() == 3
    saved = json.loads(path.read_text())
    for hostile in HOSTILE:
        saved["training"]["placement"] = hostile
        path.write_text(json.dumps(saved))
        choose(form, "processes", 5)
        _open(qtbot, ws, path)
        assert form.where.choice.currentData() == "here", hostile
        assert saved_placement(ws.context.training_settings()) == Placement(), hostile
    assert not dialogs.errors


def test_modes_that_train_here_rest_the_choice_with_the_reason(qtbot, workspace):
    ws = workspace()
    form = ws.training.form
    choose(form, "processes", 2)
    for widget in (form.where.choice, form.where.count):
        assert len(widget.toolTip()) > 40, widget
    assert "smoother" in form.where.count.toolTip()
    for mode in ("cached-head", "linear-probe"):
        form.set_mode(mode)
        assert not form.where.isEnabled() and "in this process" in form.where.choice.toolTip()
        # remembered, but this mode trains here whatever it says
        assert ws.training._placement(ws.context.design_source(), ws.context.options()) == Placement()
    form.set_mode("full")
    assert form.where.isEnabled() and form.where.placement() == Placement("processes", 2)
    assert form.where.count.isEnabled() and not form.where.count.isHidden()


def test_all_gpus_is_offered_only_with_a_gpu(qtbot, workspace, shapes, dialogs):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    ws = workspace()
    combo = ws.training.form.where.choice
    index = combo.findData("gpus")
    assert not combo.model().item(index).isEnabled() and "none found" in combo.itemText(index)
    assert "no GPU" in combo.itemData(index, Qt.ToolTipRole) and "no GPU" in combo.toolTip()
    # A project saved where there were GPUs: the choice shows, and Start says why it cannot.
    load_data(qtbot, ws, shapes)
    ws.context.update_training(mode="full", epochs=1, batch_size=8,
                               placement={"where": "gpus", "processes": 2})
    assert combo.currentData() == "gpus"
    assert not ws.training.start()
    title, text = dialogs.errors[-1]
    assert title == "Cannot start training" and "no GPU" in text and "Traceback" not in text
    assert ws.training.start_button.isEnabled() and not ws.training.training
