"""The Training tab: options, Start / Stop / Resume, live curves, progress and the run history.

Training runs in a worker ``QThread`` (``PanelJob`` iterating ``training_jobs.train_job``);
its events reach this panel's slots through queued signals, and the plot only
buffers them (it redraws at ~10 Hz). Stop sets the run's cancel flag: the engine
finishes the batch, saves ``last.pt`` (for Resume) and hands back the best weights.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from designer.app.audit import run_record
from designer.app.jobs import train_job
from designer.base.errors import DesignerError
from designer.launch.placement import CHILD_MODES, Placement, saved_placement
from designer.launch.run import check_placement, planned_length
from designer.train.runs import load_run, new_run_dir, plan_resume
from designer.train.setup import resolve_device
from widgets.base import feedback, questions
from widgets.base.panel_job import PanelJob
from widgets.training.lrfinder import LRFinderDialog
from widgets.training.options import TrainingOptionsForm
from widgets.training.plot import MetricsPlot
from widgets.training.progress import TrainingProgress
from widgets.training.runs import RunTable, overlay_curves, steps_per_epoch, where_text
from widgets.training.trials import TrialsView


class TrainingPanel(QWidget):
    run_started = Signal(str)  # run folder
    run_ended = Signal(str, str)  # run folder, final kind (finished/stopped/failed)

    def __init__(self, context, parent=None):
        super().__init__(parent)
        self.context = context
        self.runner = PanelJob(self, "training", on_item=self._on_event, on_failed=self._on_failed,
                               on_finished=self._on_runner_finished)
        self.run_dir: str | None = None  # the run in progress
        self._mode = ""  # its training mode
        self._where = ""  # where it trains, in a few words ("" in this process)
        self.final_event = None
        self.lr_finder: LRFinderDialog | None = None
        self._build()
        self._connect()
        self._update_buttons()

    # --- building -----------------------------------------------------------------------------

    def _build(self) -> None:
        self.form = TrainingOptionsForm(self.context)
        self.start_button = QPushButton("Start training", objectName="primary")
        self.start_button.setToolTip("Train a new run with these options on the data from the Data tab.")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop after the current batch. The best weights of the finished epochs "
                                    "are kept (none before the first epoch ends) and the run can be resumed.")
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Continue the run selected in the history below from where it "
                                      "stopped, up to the number of epochs set above (a finished run asks "
                                      "for its new total).")
        buttons = QHBoxLayout()
        for b in (self.start_button, self.stop_button, self.resume_button):
            buttons.addWidget(b)
        self.progress = TrainingProgress()
        options_box = QGroupBox("Training options")
        QVBoxLayout(options_box).addWidget(self.form)
        left = QVBoxLayout()
        left.addWidget(options_box)
        left.addLayout(buttons)
        left.addWidget(self.progress)
        left.addStretch(1)
        side = QWidget()
        side.setLayout(left)
        scroll = QScrollArea(widgetResizable=True)
        scroll.setWidget(side)
        scroll.setMinimumWidth(440)  # the option boxes show their labels in full
        scroll.setMaximumWidth(470)
        self.plot = MetricsPlot()
        self.runs = RunTable(self.context)
        history = QWidget()
        hl = QVBoxLayout(history)
        hl.setContentsMargins(0, 0, 0, 0)
        hl.addWidget(QLabel("Run history — tick runs to compare their curves", objectName="sectionTitle"))
        hl.addWidget(self.runs)
        self.trials = TrialsView()  # the search mode's trials, shown while (and after) a search runs
        self.trials.hide()
        right = QSplitter(Qt.Vertical)
        right.addWidget(self.plot)
        right.addWidget(self.trials)
        right.addWidget(history)
        right.setStretchFactor(0, 3)
        right.setStretchFactor(1, 2)
        right.setStretchFactor(2, 1)
        right.setChildrenCollapsible(False)  # neither the plot nor the run history is dragged out of sight
        layout = QHBoxLayout(self)
        layout.addWidget(scroll)
        layout.addWidget(right, 1)

    def _connect(self) -> None:
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self.resume_button.clicked.connect(self.resume_selected)
        self.form.find_lr.clicked.connect(self.show_lr_finder)
        self.runs.overlay_changed.connect(self._on_overlay_changed)
        self.runs.itemSelectionChanged.connect(self._update_buttons)
        self.context.split_changed.connect(self._update_buttons)

    # --- actions ---------------------------------------------------------------------------------

    @property
    def training(self) -> bool:
        return self.runner.running

    @Slot()
    def start(self) -> bool:
        """Start a new run with the form's options; False (with a message) if it cannot start."""
        try:
            split = self.context.require_split()
            mismatch = self.context.class_mismatch()
            if mismatch:
                raise DesignerError(mismatch, hint="Use Edit > Replace classifier on the Design tab.")
            options = self.context.options()
            resolve_device(options.device)  # a missing GPU is said at once, before any work
            source = self.context.design_source()
            placement = self._placement(source, options)
        except DesignerError as exc:
            self._show_error("Cannot start training", str(exc))
            return False
        runs_dir = self.context.runs_dir()
        run_dir = new_run_dir(runs_dir, options.mode)
        return self._launch(source, split, options, run_dir, None, runs_dir / ".features", placement)

    @Slot()
    def resume_selected(self) -> bool:
        path = self.runs.selected_path()
        if not path:
            self._show_error("Nothing to resume", "Select a stopped run in the run history first.")
            return False
        return self.resume(path)

    def resume(self, run_path: str) -> bool:
        """Continue a stopped run in its own folder, from its last.pt, on its own data split, up to the
        form's epochs; a finished run first asks for its new total (it did what it was asked)."""
        try:
            epochs = self._resume_epochs(run_path)
            if epochs is None:
                return False  # the question was cancelled
            plan = plan_resume(run_path, epochs)
            split = plan.split or self.context.require_split()
            source = self.context.design_source()
            placement = self._placement(source, plan.options)
        except DesignerError as exc:
            self._show_error("Cannot resume", f"{exc.message} (Set Epochs above the epochs it has done.)"
                             if "already done" in exc.message else str(exc))
            return False
        return self._launch(source, split, plan.options, plan.run.path, str(plan.checkpoint),
                            self.context.runs_dir() / ".features", placement)

    def _resume_epochs(self, run_path: str) -> int | None:
        run = load_run(run_path)
        if run.status != "finished":
            return self.form.epochs.value()
        done = run.trained_epochs
        return questions.ask_total_epochs(self, run.name, done, max(done + 1, self.form.epochs.value()))

    def _placement(self, source, options) -> Placement:
        """Where the form says to train (this process for the modes that always train here);
        what a child process cannot train is refused now, in the words of the core."""
        placement = saved_placement(self.context.training_settings())
        if not placement.in_child or options.mode not in CHILD_MODES:
            return Placement()
        check_placement(source, options, placement)
        return placement

    def _launch(self, source, split, options, run_dir, resume, cache_dir, placement: Placement) -> bool:
        if self.training:
            return False
        self.run_dir, self.final_event, self._mode = str(run_dir), None, options.mode
        self._where = where_text(placement)
        self.plot.clear()
        self.trials.clear()
        self.trials.setVisible(options.mode == "search")
        if resume:
            self._preload_history(run_dir)
        elif options.mode in CHILD_MODES:  # the axes take the run's length now, not while it is built
            self.plot.set_planned(*planned_length(options, len(split.train), placement))
        where = placement.describe(options.device) if placement.in_child else ""
        self.progress.reset("Preparing the network…", where)
        record = None if resume else run_record(self.context.data_settings())  # the audit it trains after
        self.runner.start(train_job, source, split, options, str(run_dir), resume, str(cache_dir), placement,
                          record=record)
        self._update_buttons()
        self.run_started.emit(str(run_dir))
        return True

    def _preload_history(self, run_dir) -> None:
        try:
            run = load_run(run_dir)
        except DesignerError:
            return
        for record in run.epochs:
            self.plot.add_epoch(record, steps_per_epoch(run))

    @Slot()
    def show_lr_finder(self) -> LRFinderDialog:
        """The learning-rate finder (one per panel, kept with its last curve)."""
        if self.lr_finder is None:
            self.lr_finder = LRFinderDialog(self.context, self)
        self.lr_finder.show()
        self.lr_finder.raise_()
        return self.lr_finder

    @Slot()
    def stop(self) -> None:
        if self.training:
            self.runner.cancel()
            self.progress.stage.setText("Stopping after the current batch…")
            self._update_buttons()

    # --- events from the worker (GUI thread) ---------------------------------------------------------

    @Slot(object)
    def _on_event(self, event) -> None:
        kind = getattr(event, "kind", "")
        if kind == "batch":
            if event.epoch > 0:
                self.plot.add_batch(event)
            self.progress.on_batch(event)
        elif kind == "epoch":
            self.plot.add_epoch(event, self.progress.steps)
            self.progress.on_epoch(event)
            if self._mode == "search":  # a trial ended: its row is in trials.json now
                self.trials.load(self.run_dir)
        elif kind == "start":
            self.progress.on_start(event)
            # a search's length is its budget, not its upper bound on trials: the axes start at one trial
            trials = 1 if getattr(event, "unit", "") == "trial" else event.epochs
            self.plot.set_planned(trials * event.steps_per_epoch, trials)
            # Listed at once as running; the project's run list is re-read when it ends (re-reading
            # it here would cost the GUI thread ~50 ms just as training starts).
            self.runs.show_running(self.run_dir, self._mode, self._where)
        elif kind in ("finished", "stopped", "failed"):
            self.final_event = event
            self.progress.on_final(event)
            if kind == "failed":
                self._show_error("Training failed", f"{event.message} {event.hint}".strip())

    @Slot(object)
    def _on_failed(self, failure) -> None:
        self.progress.on_error(failure.text)
        self._show_error("Cannot start training", failure.text)

    @Slot()
    def _on_runner_finished(self) -> None:
        self.plot.flush()
        run_dir, final = self.run_dir, self.final_event
        self._update_buttons()
        if self._mode == "search":
            self.trials.load(run_dir)
        if run_dir and Path(run_dir).is_dir():
            self.context.add_run(run_dir)
            self.runs.refresh()
        self.run_ended.emit(run_dir or "", getattr(final, "kind", "failed"))

    @Slot(list)
    def _on_overlay_changed(self, paths: list) -> None:
        runs = []
        for path in paths:
            try:
                runs.append(load_run(path))
            except DesignerError:
                continue
        self.plot.set_overlays(overlay_curves(runs))

    @Slot()
    def _update_buttons(self, *_) -> None:
        busy = self.training
        self.start_button.setEnabled(not busy)
        self.stop_button.setEnabled(busy and not self.runner.cancel_requested)
        path = self.runs.selected_path()
        self.resume_button.setEnabled(not busy and bool(path) and (Path(path) / "last.pt").is_file())
        self.form.setEnabled(not busy)

    def _show_error(self, title: str, message: str) -> None:
        self.progress.status.setText(message)
        feedback.show_error(self, title, message)

    # --- shutdown -------------------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Stop a running training (best weights kept) and the LR test, and wait for their threads."""
        self.runner.shutdown()
        if self.lr_finder is not None:
            self.lr_finder.runner.shutdown()
