"""Training tab: live curves, stop keeps the best weights, resume, from-scratch overlay, bad device,
closing the window mid-run, tooltips; the worker runner on its own."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from testkit.gui import load_data, runners_idle, train

from designer.base.errors import DesignerError


def test_two_epochs_feed_the_live_plot(qtbot, workspace, shapes, dialogs):
    ws = workspace()
    load_data(qtbot, ws, shapes)
    ws.tabs.setCurrentWidget(ws.training)
    final = train(qtbot, ws, epochs=2, batch_size=8, mode="full")
    assert final.kind == "finished", final
    plot = ws.training.plot
    qtbot.waitUntil(lambda: plot.point_count("val_acc") == 2, timeout=5000)
    assert plot.point_count("train_batch_acc") >= 2 and plot.point_count("train_loss") == 2
    assert plot.redraws >= 1
    run_dir = Path(final.run_dir)
    assert (run_dir / "best.pt").is_file() and (run_dir / "summary.json").is_file()
    assert str(run_dir.resolve()) in ws.context.doc.settings["runs"]
    assert ws.training.runs.rowCount() == 1 and "Best" in ws.training.progress.best.text()
    assert ws.training.progress.bar.value() == ws.training.progress.bar.maximum()
    assert not dialogs.errors


def test_a_run_stopped_before_its_first_epoch_is_no_result(qtbot, workspace, shapes, dialogs):
    """Issue 13: listed in the history at once, but never offered as weights to evaluate or export,
    and the message does not claim that best weights were kept."""
    from widgets.export.dialog import ExportDialog

    ws = workspace()
    load_data(qtbot, ws, shapes)
    ws.context.update_training(epochs=50, batch_size=2, mode="full")  # 18 steps to the first epoch's end
    assert ws.training.start()
    run_dir = str(Path(ws.training.run_dir))
    qtbot.waitUntil(lambda: run_dir in ws.training.runs.paths(), timeout=60_000)  # listed once it starts
    assert ws.training.runs.item(ws.training.runs.paths().index(run_dir), 3).text() == "running"
    ws.training.stop()  # before the first epoch can end
    qtbot.waitUntil(lambda: not ws.training.training, timeout=60_000)
    final = ws.training.final_event
    assert final.kind == "stopped" and final.epoch == 0
    assert not (Path(run_dir) / "best.pt").exists()
    status = ws.training.progress.status.text()
    assert "no weights were saved" in status and "best weights are kept" not in status
    assert ws.training.runs.item(ws.training.runs.paths().index(run_dir), 3).text() == "stopped"
    ws.tabs.setCurrentWidget(ws.results)
    assert ws.results.run_combo.count() == 0 and not ws.results.evaluate_button.isEnabled()
    assert ws.results.result is None  # nothing was evaluated on its own
    dialog = ExportDialog(ws.context.qdoc, ws)
    qtbot.addWidget(dialog)
    assert [dialog.weights.itemData(i) for i in range(dialog.weights.count())] == [None]
    dialog.close()
    assert not dialogs.errors


def test_train_with_the_defaults_shows_both_stages(qtbot, workspace, shapes, dialogs):
    """Issue 12: no option touched; stage 1 (the classifier fitted on cached features) is the star at 0,
    fine-tuning follows on the same timeline, and the window says what the mode chose and which won."""
    ws = workspace()
    load_data(qtbot, ws, shapes)
    ws.tabs.setCurrentWidget(ws.training)
    assert ws.training.form.mode.currentData() == "recommended"
    assert not ws.training.form.schedule.isEnabled()  # the mode plans its own schedule
    assert ws.training.start()
    qtbot.waitUntil(lambda: "Stage 1" in ws.training.progress.stage.text() or not ws.training.training,
                    timeout=60_000)
    qtbot.waitUntil(lambda: not ws.training.training, timeout=120_000)
    final = ws.training.final_event
    assert final.kind == "finished", final
    plot = ws.training.plot
    qtbot.waitUntil(lambda: plot.point_count("head_acc") == 1, timeout=5000)
    x, _ = plot.curves["head_acc"].getData()
    assert x[0] == 0  # stage 1 sits at the start of the timeline
    assert plot.point_count("val_acc") >= 2 and plot.point_count("train_batch_acc") >= 2  # then stage 2
    assert "stage 1" in plot.legend.text()
    status = ws.training.progress.status.text()
    assert "stage 1" in final.outcome and final.outcome in status
    table = ws.training.runs
    assert table.item(0, 2).text() == "recommended" and "optimizer steps" in table.item(0, 2).toolTip()
    assert not dialogs.errors


def test_lr_finder_plots_the_loss_and_uses_the_suggestion(qtbot, workspace, shapes, dialogs):
    ws = workspace()
    load_data(qtbot, ws, shapes)
    ws.context.update_training(batch_size=8)
    dialog = ws.training.show_lr_finder()
    assert not dialog.use_button.isEnabled()
    assert dialog.run_test()
    qtbot.waitUntil(lambda: not dialog.runner.running, timeout=60_000)
    assert dialog.finding is not None, dialog.result.text()
    x, _ = dialog.curve.getData()
    assert len(x) >= 8 and dialog.marker.isVisible() and "Suggested learning rate" in dialog.result.text()
    assert dialog.use_button.isEnabled()
    dialog.use_button.click()
    lr = ws.context.training_settings()["lr"]
    assert lr == pytest.approx(dialog.finding.suggestion, rel=0.05)
    assert not ws.training.form.auto_lr.isChecked() and ws.training.form.lr.value() == pytest.approx(lr, rel=1e-3)
    dialog.close()
    assert not dialogs.errors


def test_plot_buffers_points_and_redraws_on_its_timer(qtbot):
    from designer.train.events import BatchEvent
    from widgets.training.plot import REDRAW_MS, MetricsPlot

    plot = MetricsPlot()
    qtbot.addWidget(plot)
    for k in range(1, 501):
        plot.add_batch(BatchEvent(epoch=1, step=k, steps_per_epoch=500, global_step=k, loss=1 / k, acc=0.5,
                                  lr=0.1, eta_s=1.0, images_per_s=10.0))
    assert plot.point_count("train_batch_loss") == 0  # buffered, not drawn per batch
    qtbot.waitUntil(lambda: plot.point_count("train_batch_loss") == 500, timeout=5 * REDRAW_MS)
    assert plot.redraws == 1
    plot.x_combo.setCurrentIndex(1)  # epochs
    x, _ = plot.curves["train_batch_loss"].getData()
    assert x[-1] == pytest.approx(1.0)


def test_stop_keeps_best_weights_and_resume_continues(qtbot, workspace, shapes, dialogs):
    ws = workspace()
    load_data(qtbot, ws, shapes)
    ws.context.update_training(epochs=200, batch_size=8, mode="full")
    assert ws.training.start()
    run_dir = Path(ws.training.run_dir)
    qtbot.waitUntil(lambda: (run_dir / "last.pt").is_file(), timeout=60_000)  # an epoch is done
    ws.training.stop()
    qtbot.waitUntil(lambda: not ws.training.training, timeout=60_000)
    final = ws.training.final_event
    assert final.kind == "stopped" and final.epoch >= 1
    assert (run_dir / "best.pt").is_file() and (run_dir / "last.pt").is_file()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "stopped"
    import torch

    state = torch.load(run_dir / "best.pt", weights_only=True)
    assert state and all(torch.isfinite(t).all() for t in state.values() if t.is_floating_point())
    # Resume the stopped run (selected in the history) for one more epoch.
    ws.training.runs.select_path(str(run_dir))
    assert ws.training.resume_button.isEnabled()
    ws.training.form.epochs.setValue(final.epoch + 1)
    assert ws.training.resume_selected()
    row = ws.training.runs.paths().index(str(run_dir))
    qtbot.waitUntil(lambda: ws.training.runs.item(row, 3).text() == "running", timeout=60_000)  # not "stopped"
    qtbot.waitUntil(lambda: not ws.training.training, timeout=60_000)
    assert ws.training.runs.item(row, 3).text() == "finished"
    assert ws.training.final_event.kind == "finished"
    history = json.loads((run_dir / "history.json").read_text())
    assert [e["epoch"] for e in history["epochs"]] == list(range(1, final.epoch + 2))
    assert not dialogs.errors


def test_fine_tune_and_scratch_runs_overlay(qtbot, workspace, shapes, dialogs):
    ws = workspace()
    load_data(qtbot, ws, shapes)
    first = train(qtbot, ws, epochs=2, batch_size=8, mode="full")
    ws.training.form.set_mode("scratch")
    assert ws.context.training_settings()["mode"] == "scratch"
    second = train(qtbot, ws, epochs=2, batch_size=8)
    assert first.kind == second.kind == "finished"
    table = ws.training.runs
    assert table.rowCount() == 2
    modes = {table.item(r, 2).text() for r in range(2)}
    assert modes == {"fine-tune", "from scratch"}
    for path in table.paths():
        table.set_checked(path)
    names = ws.training.plot.overlay_names()
    # per run: validation and training curves, in the accuracy and the loss plot
    assert len(names) == 8 and sum("(val)" in n for n in names) == 4
    assert {n.split(" ")[0] for n in names} == {Path(p).name for p in table.paths()}
    ws.training.plot.x_combo.setCurrentIndex(1)
    assert len(ws.training.plot.overlay_names()) == 8
    table.set_checked(table.paths()[0], False)
    assert len(ws.training.plot.overlay_names()) == 4


def test_unavailable_device_gives_a_clear_message(qtbot, workspace, shapes, dialogs):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    ws = workspace()
    load_data(qtbot, ws, shapes)
    index = ws.training.form.device.findData("cuda")
    assert "not available" in ws.training.form.device.itemText(index)
    ws.training.form.device.setCurrentIndex(index)
    assert not ws.training.start()
    _title, text = dialogs.errors[-1]
    assert "CUDA" in text and "Traceback" not in text
    assert ws.training.start_button.isEnabled()


def test_start_without_data_says_what_to_do(qtbot, workspace, dialogs):
    ws = workspace()
    assert not ws.training.start()
    assert "Data tab" in dialogs.errors[-1][1]


def test_closing_the_window_mid_run_stops_cleanly(qtbot, workspace, shapes, dialogs):
    ws = workspace()
    load_data(qtbot, ws, shapes)
    ws.tabs.setCurrentWidget(ws.training)
    window = ws.window()
    asked = dialogs.answer("ask_stop_training", True)
    ws.context.update_training(epochs=200, batch_size=8)
    assert ws.training.start()
    run_dir = Path(ws.training.run_dir)
    qtbot.waitUntil(lambda: (run_dir / "best.pt").is_file(), timeout=60_000)
    assert not window.close()  # refused for now: the run stops first, the GUI keeps running
    assert asked
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=60_000)
    assert runners_idle(ws)
    assert ws.training.final_event.kind == "stopped"
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "stopped"


def test_closing_can_be_refused_while_training(qtbot, workspace, shapes, dialogs):
    ws = workspace()
    load_data(qtbot, ws, shapes)
    ws.tabs.setCurrentWidget(ws.training)
    dialogs.answer("ask_stop_training", False)
    ws.context.update_training(epochs=200, batch_size=8)
    assert ws.training.start()
    assert not ws.window().close()
    assert ws.window().isVisible() and ws.training.training
    ws.training.stop()
    qtbot.waitUntil(lambda: not ws.training.training, timeout=60_000)


def test_every_option_explains_itself(qtbot, workspace):
    ws = workspace()
    form = ws.training.form
    for widget in (form.mode, form.optimizer, form.lr, form.schedule, form.warmup, form.epochs,
                   form.batch_size, form.weight_decay, form.device, form.amp, form.seed, form.workers,
                   ws.data.augment.hflip, ws.data.augment.class_weights, ws.data.val_fraction):
        assert len(widget.toolTip()) > 40, widget
    assert "smaller is safer" in form.lr.toolTip()
    # Defaults: the recommended mode at the from-scratch rate; plain fine-tuning 10x below it.
    assert form.auto_lr.isChecked() and form.mode.currentData() == "recommended"
    assert form.lr.value() == pytest.approx(0.01) and "Planned by the recommended mode" in form.schedule.toolTip()
    form.set_mode("full")
    fine = form.lr.value()
    assert form.schedule.isEnabled() and form.schedule.currentData() == "cosine"
    form.set_mode("scratch")
    assert form.lr.value() == pytest.approx(10 * fine)
    form.auto_lr.setChecked(False)
    form.lr.setValue(0.005)
    assert ws.context.options().lr == pytest.approx(0.005)


# --- the worker on its own ---------------------------------------------------------------------------


def _counting(control, n, fail_at=None):
    for k in range(n):
        control.check()
        if k == fail_at:
            raise DesignerError("Bad input.", hint="Fix it.")
        time.sleep(0.01)
        yield k
    return "done"


def test_job_runner_relays_items_results_and_errors(qtbot):
    from widgets.base.worker import JobRunner

    runner = JobRunner()
    items, results, errors, cancelled = [], [], [], []
    runner.item.connect(items.append)
    runner.result.connect(results.append)
    runner.failed.connect(lambda failure: errors.append(failure.text))
    runner.cancelled.connect(lambda: cancelled.append(True))
    with qtbot.waitSignal(runner.finished, timeout=10_000):
        runner.start(_counting, 5)
    assert items == list(range(5)) and results == ["done"] and not errors
    with qtbot.waitSignal(runner.finished, timeout=10_000):
        runner.start(_counting, 5, fail_at=2)
    assert errors == ["Bad input. Fix it."]
    runner.start(_counting, 10_000)
    assert not runner.start(_counting, 1)  # one job at a time
    runner.cancel()
    assert runner.wait(10_000) and not runner.running
    assert cancelled == [True] and results == ["done"]
    assert threading.active_count() < 50


def test_job_runner_turns_crashes_into_one_line(qtbot):
    from widgets.base.worker import JobRunner

    def crash(cancel):
        raise ZeroDivisionError("division by zero")

    runner = JobRunner()
    errors = []
    runner.failed.connect(errors.append)
    with qtbot.waitSignal(runner.finished, timeout=10_000):
        runner.start(crash)
    assert [e.message for e in errors] == ["Unexpected problem: division by zero"]
    assert errors[0].log_path and "ZeroDivisionError" in Path(errors[0].log_path).read_text()


def test_the_form_shows_what_the_recommended_mode_will_train(qtbot, workspace, shapes):
    """Issue 22: planned fields show the plan's values for the loaded data, marked Automatic; unticked,
    the run uses exactly what the fields say."""
    from designer.launch.run import planned_length
    from designer.train.recommended import plan

    ws = workspace()
    load_data(qtbot, ws, shapes)
    form, n = ws.training.form, len(ws.context.split.train)
    expected = plan(ws.context.options(), n).options
    assert form.auto_plan.isChecked() and not form.epochs.isEnabled() and not form.batch_size.isEnabled()
    assert (form.epochs.value(), form.batch_size.value()) == (expected.epochs, expected.batch_size)
    assert form.schedule.currentData() == expected.schedule and form.warmup.value() == pytest.approx(
        expected.warmup_epochs, abs=0.05)
    assert ws.context.options().fixed == []
    form.auto_plan.setChecked(False)  # the user takes over: the fields' values are what trains
    assert form.epochs.isEnabled() and form.batch_size.isEnabled()
    form.epochs.setValue(2)
    form.batch_size.setValue(32)
    options = ws.context.options()
    assert sorted(options.fixed) == ["batch_size", "epochs", "schedule", "warmup_epochs"]
    assert plan(options, n).options.epochs == 2 and plan(options, n).options.batch_size == 32
    assert planned_length(options, n)[1] == 2
    assert form.max_minutes.isEnabled() and options.max_minutes == form.max_minutes.value()


def test_training_alone_does_not_mark_the_design_changed(qtbot, workspace, shapes, dialogs):
    """Issue 22, item 10 (a guard: this held already): a run is a record, not an edit."""
    ws = workspace()
    load_data(qtbot, ws, shapes)
    ws.context.update_training(epochs=1, batch_size=8)
    doc = ws.context.doc
    doc.mark_saved()
    assert ws.training.start()
    qtbot.waitUntil(lambda: not ws.training.training, timeout=120_000)
    assert doc.settings["runs"] and not doc.dirty
