"""The Results tab: how good a run's best weights are, and where they go wrong.

Pick a run and which of its images to score (its own validation split by default);
the evaluation runs in a worker thread. Shows accuracy, a confusion-matrix
heatmap with counts, per-class accuracy, the misclassified images (most confident
mistakes first: often mislabelled files) and a box to classify new images. Each image can
show its heat map for the true or the predicted class (``heatmaps``).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from designer.app.jobs import evaluate_job
from designer.base.errors import DesignerError
from widgets.base import feedback
from widgets.base.panel_job import PanelJob
from widgets.results.heatmaps import HeatMapBar, HeatMaps
from widgets.results.predict import PredictBox
from widgets.results.views import ConfusionTable, Gallery, PerClassTable
from widgets.training.runs import MODE_NAMES, acc_text

NO_RUNS = "Train a network, then evaluate it here."
PICK_RUN = "Pick a run and press Evaluate."
SUBSETS = (("val", "Validation images"), ("test", "Test images"), ("train", "Training images"),
           ("all", "All images"))


class ResultsPanel(QWidget):
    def __init__(self, context, parent=None):
        super().__init__(parent)
        self.context = context
        self.runner = PanelJob(self, "evaluate", on_progress=self._on_progress, on_done=self._on_result,
                               on_failed=self._on_failed, on_cancelled=self._on_cancelled,
                               on_finished=self._on_finished, error_title="Cannot evaluate")
        self.result = None  # the EvaluationResult shown
        self._stale = False  # the run list changed while the tab was hidden
        self._build()
        self.run_combo.currentIndexChanged.connect(self._on_selection)
        self.subset_combo.currentIndexChanged.connect(self._on_selection)
        self.evaluate_button.clicked.connect(self.evaluate)
        context.runs_changed.connect(self.refresh_runs)
        self.refresh_runs()

    def _build(self) -> None:
        self.run_combo = QComboBox(toolTip="The training run whose best weights are evaluated.")
        self.run_combo.setMinimumWidth(280)
        self.subset_combo = QComboBox(toolTip="Which images to score. Validation images were never trained "
                                              "on, so they show how the network does on new images.")
        for value, label in SUBSETS:
            self.subset_combo.addItem(label, value)
        self.evaluate_button = QPushButton("Evaluate", objectName="primary")
        self.accuracy = QLabel(NO_RUNS, objectName="pageTitle")
        self.status = QLabel("", objectName="muted", wordWrap=True)
        self.progress = QProgressBar(maximumWidth=260, maximumHeight=14, textVisible=False)
        self.progress.hide()
        bar = QHBoxLayout()
        for w in (QLabel("Run"), self.run_combo, QLabel("on"), self.subset_combo, self.evaluate_button,
                  self.progress):
            bar.addWidget(w)
        bar.addStretch(1)
        self.confusion = ConfusionTable()
        self.per_class = PerClassTable()
        self.gallery = Gallery()
        self.gallery.setToolTip("Images the network got wrong, the most confident mistakes first. "
                                "Confident mistakes are often mislabelled files.")
        self.predict_box = PredictBox(self.context, self.selected_run)
        tabs = QTabWidget(documentMode=True)
        tabs.addTab(self.gallery, "Misclassified images")
        tabs.addTab(self.predict_box, "Classify new images")
        self.lower_tabs = tabs
        self.heat_bar = HeatMapBar()
        self.heat_maps = HeatMaps(self.context, self.heat_bar, [self.gallery, self.predict_box.gallery],
                                  self.selected_run, self)
        self.heat_maps.message.connect(self.status.setText)
        self.predict_box.predicted.connect(self._on_predicted)
        lower = QWidget()
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.addWidget(self.heat_bar)
        lower_layout.addWidget(tabs, 1)
        top = QSplitter(Qt.Horizontal)
        top.addWidget(self._titled("Confusion matrix (rows: true class, columns: predicted)", self.confusion))
        top.addWidget(self._titled("Accuracy per class", self.per_class))
        top.setStretchFactor(0, 3)
        top.setStretchFactor(1, 2)
        body = QSplitter(Qt.Vertical)
        body.addWidget(top)
        body.addWidget(lower)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.accuracy)
        layout.addWidget(self.status)
        layout.addWidget(body, 1)

    @staticmethod
    def _titled(title: str, widget) -> QWidget:
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel(title, objectName="sectionTitle"))
        layout.addWidget(widget, 1)
        return box

    # --- runs ---------------------------------------------------------------------------------------

    @Slot()
    def refresh_runs(self, force: bool = False) -> None:
        if not force and not self.isVisible() and self.run_combo.count():
            self._stale = True  # read the runs when the tab is shown, not during a run's start
            return
        self._stale = False
        current = self.selected_run()
        try:
            runs = [r for r in self.context.runs() if r.has_weights]  # not runs stopped before an epoch
        except DesignerError:
            runs = []
        self.run_combo.blockSignals(True)
        try:
            self.run_combo.clear()
            for run in reversed(runs):  # newest first
                mode = MODE_NAMES.get(run.mode, run.mode)
                label = f"{run.name} · {mode} · best {acc_text(run.best_val_acc)}"
                self.run_combo.addItem(label, str(run.path))
            index = self.run_combo.findData(current) if current else 0
            self.run_combo.setCurrentIndex(max(0, index))
        finally:
            self.run_combo.blockSignals(False)
        self.evaluate_button.setEnabled(self.run_combo.count() > 0 and not self.runner.running)
        if not self.runner.running:
            self.accuracy.setText(self._title())

    def selected_run(self) -> str | None:
        return self.run_combo.currentData() if hasattr(self, "run_combo") else None

    def select_run(self, path: str) -> None:
        self.refresh_runs(force=True)
        index = self.run_combo.findData(str(Path(path).resolve()))
        if index < 0:
            index = self.run_combo.findData(str(path))
        if index >= 0:
            self.run_combo.setCurrentIndex(index)

    @Slot()
    def _on_selection(self, *_) -> None:
        if self.isVisible():
            self.evaluate()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._stale:
            self.refresh_runs()
        shown = (self.result.run, self.result.subset) if self.result else None
        run = self.selected_run()
        if run and shown != (Path(run).name, self.subset_combo.currentData()):
            self.evaluate()

    # --- evaluation -----------------------------------------------------------------------------------

    @Slot()
    def evaluate(self) -> bool:
        run = self.selected_run()
        if not run or self.runner.running:
            return False
        try:
            source = self.context.design_source()
        except DesignerError as exc:
            feedback.show_error(self, "Cannot evaluate", str(exc))
            return False
        self.accuracy.setText(f"Evaluating {Path(run).name}…")
        self.status.setText("Loading the run's weights…")
        self.progress.setRange(0, 0)  # busy until the first images are scored
        self.progress.show()
        self.evaluate_button.setEnabled(False)
        self.runner.start(evaluate_job, source, run, self.context.split, self.subset_combo.currentData())
        return True

    @Slot(object)
    def _on_progress(self, progress) -> None:
        if progress.total:
            self.progress.setRange(0, int(progress.total))
            self.progress.setValue(int(progress.done))
        self.status.setText(f"{progress.text}…")

    @Slot(object)
    def _on_result(self, result) -> None:
        self.result = result
        ev = result.evaluation
        self.accuracy.setText(self._title())
        wrong = len(ev.misclassified)
        failed = f"; {len(ev.failed)} could not be read" if ev.failed else ""
        self.status.setText(f"Run {result.run}: {wrong} of {ev.num_images} images misclassified{failed}.")
        self.confusion.set_evaluation(ev)
        self.per_class.set_evaluation(ev)
        self.gallery.set_misclassified(ev, result.thumbs)
        self.lower_tabs.setTabText(0, f"Misclassified images ({wrong})")
        self.heat_maps.images_changed()

    @Slot(list)
    def _on_predicted(self, results) -> None:
        self.heat_maps.images_changed()

    @Slot(object)
    def _on_failed(self, failure) -> None:
        self.status.setText(failure.text)

    @Slot()
    def _on_cancelled(self) -> None:
        self.status.setText("Evaluation cancelled.")

    @Slot()
    def _on_finished(self) -> None:
        self.progress.hide()
        self.evaluate_button.setEnabled(self.run_combo.count() > 0)
        self.accuracy.setText(self._title())  # also after a failed or cancelled evaluation

    def _title(self) -> str:
        """The page's headline when nothing runs: the accuracy shown, or what to do first."""
        if self.result is None:
            return PICK_RUN if self.run_combo.count() else NO_RUNS
        ev = self.result.evaluation
        subset = dict(SUBSETS).get(self.result.subset, self.result.subset).lower()
        subset = subset.removeprefix("all ")  # "on 102 images", not "on 102 all images"
        return f"Accuracy {acc_text(ev.accuracy)} on {ev.num_images} {subset}"

    def shutdown(self) -> None:
        self.runner.shutdown()
        self.heat_maps.shutdown()
        self.predict_box.shutdown()
