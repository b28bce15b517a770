"""The Compress dialog: the goal and the accuracy floor in, then each measured step as a point of the
accuracy-vs-latency plot (the Pareto front drawn as a line) and a row of the table. The work is
``designer.app.compress.compress_job`` in a ``PanelJob``: this dialog only starts, stops and shows it.
When it has finished, any step (a point of the plot or a row of the table) can be opened as a project:
``designer.app.compress.step_project`` writes it from that step's recorded pruning and weights.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from designer.app.compress import CompressRequest, compress_job, step_project
from designer.base.errors import DesignerError
from designer.compress.goal import parse_goal
from designer.compress.loop import CompressSettings, StepMeasured
from designer.compress.pareto import pareto_front
from designer.compress.prune import IMPORTANCES
from widgets.base.panel_job import PanelJob
from widgets.base.plots import own_menus

COLUMNS = ("model", "b1 ms", "b32 ms", "MB", "M params", "val acc")


class CompressDialog(QDialog):
    """``request`` names the project, the trained run, the data and the output folder. ``runs`` (optional):
    (label, run folder) pairs the user picks from, the first chosen; ``output_for(run folder)`` gives
    the default output folder of a run; ``open_project(path)`` opens a picked step's project."""

    def __init__(self, request: CompressRequest, parent=None, runs=(), output_for=None, open_project=None):
        super().__init__(parent)
        self.setWindowTitle("Compress for a device")
        self.request, self.points, self.report = request, [], None
        self.row_steps: list[int] = []  # each table row's step (an int8 row: the float step it came from)
        self.output_for, self.open_project = output_for, open_project
        self.run_choice = QComboBox(toolTip="The trained run whose weights are compressed")
        for label, folder in runs:
            self.run_choice.addItem(label, folder)
        self.output = QLineEdit(request.output, toolTip="A new folder: compressing never writes over results")
        self.goal = QLineEdit("latency=0.5x", placeholderText="latency=0.5x, size=4MB or params=0.3x")
        self.max_drop = QDoubleSpinBox(decimals=3, minimum=0.0, maximum=1.0, singleStep=0.005, value=0.02)
        self.steps = QSpinBox(minimum=1, maximum=40, value=8,
                              toolTip="Pruning steps; each removes an equal share of up to 80 % of channels")
        self.finetune_epochs = QSpinBox(minimum=1, maximum=50, value=2,
                                        toolTip="Epochs of recovery training after each pruning step")
        self.importance = QComboBox()
        self.importance.addItems(IMPORTANCES)
        self.progress, self.status = QProgressBar(), QLabel(wordWrap=True)
        self.plot = own_menus(pg.PlotWidget(background="w"))
        self.plot.setLabel("bottom", "latency at batch 1 (ms)")
        self.plot.setLabel("left", "validation accuracy")
        self.plot.getAxis("left").enableAutoSIPrefix(False)  # not "(x0.001)" on an accuracy
        self.picked = pg.ScatterPlotItem(size=16, pen=pg.mkPen("#111827", width=2), brush=pg.mkBrush(None))
        self.scatter = pg.ScatterPlotItem(size=9, brush=pg.mkBrush("#2563eb"))
        self.front = pg.PlotDataItem(pen=pg.mkPen("#dc2626", width=2))
        self.plot.addItem(self.scatter)
        self.plot.addItem(self.front)
        self.plot.addItem(self.picked)  # a ring around the picked step's point
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.table.setMinimumHeight(150)
        self.start_button, self.stop_button = QPushButton("Compress"), QPushButton("Stop", enabled=False)
        self.open_button = QPushButton("Open this step", enabled=False,
                                       toolTip="Open the chosen point's network as a project (its pruning "
                                               "recorded as data, its weights as a finished run)")
        self._lay_out()
        self.runner = PanelJob(self, "compress", on_progress=self._on_progress, on_item=self._on_item,
                               on_done=self._on_result, on_failed=self._on_failed,
                               on_cancelled=self._on_cancelled, on_finished=self._on_finished)
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.runner.cancel)
        self.open_button.clicked.connect(self.open_selected)
        self.table.itemSelectionChanged.connect(self._update_open)
        self.scatter.sigClicked.connect(self._on_point_clicked)
        self.run_choice.currentIndexChanged.connect(self._on_run_chosen)
        self._on_run_chosen()

    def _lay_out(self) -> None:
        form = QFormLayout()
        if self.run_choice.count():
            form.addRow("Trained run", self.run_choice)
        form.addRow("Save into", self.output)
        form.addRow("Goal", self.goal)
        form.addRow("Most accuracy to lose", self.max_drop)
        form.addRow("Rank channels by", self.importance)
        form.addRow("Pruning steps", self.steps)
        form.addRow("Recovery epochs per step", self.finetune_epochs)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        buttons.addWidget(self.open_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        for widget, stretch in ((self.progress, 0), (self.status, 0), (self.plot, 3), (self.table, 2)):
            layout.addWidget(widget, stretch)

    def settings(self) -> CompressSettings:
        goal = parse_goal(self.goal.text())
        return CompressSettings(goal, self.max_drop.value(), self.importance.currentText(),
                                steps=self.steps.value(), finetune_epochs=self.finetune_epochs.value())

    @Slot()
    def start(self) -> None:
        try:
            settings = self.settings()
        except DesignerError as exc:
            self.status.setText(f"{exc.message} {exc.hint}")
            return
        weights = self.run_choice.currentData() or self.request.weights
        self.request = replace(self.request, weights=weights, output=self.output.text().strip())
        self.points, self.row_steps, self.report = [], [], None
        self.table.setRowCount(0)
        self._update_open()
        self.runner.start(compress_job, self.request, settings)
        self.start_button.setEnabled(False)
        self.stop_button.setEnabled(True)

    @Slot(object)
    def _on_progress(self, progress) -> None:
        self.status.setText(progress.text)
        self.progress.setRange(0, 0 if progress.fraction is None else 100)
        if progress.fraction is not None:
            self.progress.setValue(round(progress.fraction * 100))

    @Slot(object)
    def _on_item(self, item) -> None:
        if not isinstance(item, StepMeasured):
            return
        f = item.figures
        self.points.append((f.latency_b1_ms, f.val_acc or 0.0))
        self.row_steps.append(f.step)
        row = self.table.rowCount()
        self.table.insertRow(row)
        acc = "-" if f.val_acc is None else f"{f.val_acc:.4f}"
        cells = (f.label, f"{f.latency_b1_ms:.2f}", f"{f.latency_b32_ms:.1f}", f"{f.size_bytes / 1e6:.2f}",
                 f"{f.params / 1e6:.2f}", acc)
        for column, text in enumerate(cells):
            self.table.setItem(row, column, QTableWidgetItem(text))
        self._redraw()

    def _redraw(self) -> None:
        xs, ys = [p[0] for p in self.points], [p[1] for p in self.points]
        self.scatter.setData(xs, ys, data=list(range(len(xs))))  # a point's data: its table row
        front = pareto_front(self.points)
        self.front.setData([xs[i] for i in front], [ys[i] for i in front])

    @Slot(object)
    def _on_result(self, report) -> None:
        self.report = report
        kept = report["kept"]
        self.status.setText(f"{report['stop_reason']}. Kept: {kept['label']} ({kept['format']}), "
                            f"{kept['latency_b1_ms']:.2f} ms at batch 1. Saved in {self.request.output}. "
                            "Pick a point or a row to open that step.")
        self._update_open()

    # --- picking a step -------------------------------------------------------------------------

    @Slot()
    def _on_run_chosen(self, *_) -> None:
        folder = self.run_choice.currentData()
        if folder and self.output_for is not None:
            self.output.setText(str(self.output_for(folder)))

    def _on_point_clicked(self, _item, points, *_) -> None:
        if len(points):
            self.table.selectRow(int(points[0].data()))

    def selected_step(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        return self.row_steps[rows[0].row()] if rows and rows[0].row() < len(self.row_steps) else None

    @Slot()
    def _update_open(self) -> None:
        self.open_button.setEnabled(self.report is not None and self.selected_step() is not None)
        rows = self.table.selectionModel().selectedRows()
        row = rows[0].row() if rows else None
        if row is not None and row < len(self.points):
            self.picked.setData([self.points[row][0]], [self.points[row][1]])
        else:
            self.picked.setData([], [])

    @Slot()
    def open_selected(self) -> Path | None:
        """The chosen step's project (written on first use), opened in the window when it can be."""
        step = self.selected_step()
        if self.report is None or step is None:
            return None
        try:
            path = step_project(self.request.output, step)
        except DesignerError as exc:
            self.status.setText(f"{exc.message} {exc.hint}")
            return None
        self.status.setText(f"Step {step}'s project: {path}")
        if self.open_project is not None:
            self.open_project(str(path))
            self.accept()
        return path

    @Slot(object)
    def _on_failed(self, failure) -> None:
        self.status.setText(failure.text)

    @Slot()
    def _on_cancelled(self) -> None:
        self.status.setText("Stopped.")

    @Slot()
    def _on_finished(self) -> None:
        self.start_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        self.progress.setRange(0, 100)
        if self.report is not None:  # done: full, whichever step the last progress named
            self.progress.setValue(100)
        else:
            self.progress.reset()
