"""The Compress dialog: the goal and the accuracy floor in, then each measured step as a point of the
accuracy-vs-latency plot (the Pareto front drawn as a line) and a row of the table. The work is
``designer.app.compress.compress_job`` in a ``JobRunner``: this dialog only starts, stops and shows it.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from designer.app.compress import CompressRequest, compress_job
from designer.base.errors import DesignerError
from designer.compress.goal import parse_goal
from designer.compress.loop import CompressSettings, StepMeasured
from designer.compress.pareto import pareto_front
from designer.compress.prune import IMPORTANCES
from widgets.base.plots import own_menus
from widgets.base.worker import JobRunner

COLUMNS = ("model", "b1 ms", "b32 ms", "MB", "M params", "val acc")


class CompressDialog(QDialog):
    """``request`` names the project, the trained run, the data and the output folder."""

    def __init__(self, request: CompressRequest, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Compress for a device")
        self.request, self.points, self.report = request, [], None
        self.goal = QLineEdit("latency=0.5x", placeholderText="latency=0.5x, size=4MB or params=0.3x")
        self.max_drop = QDoubleSpinBox(decimals=3, minimum=0.0, maximum=1.0, singleStep=0.005, value=0.02)
        self.importance = QComboBox()
        self.importance.addItems(IMPORTANCES)
        self.progress, self.status = QProgressBar(), QLabel(wordWrap=True)
        self.plot = own_menus(pg.PlotWidget(background="w"))
        self.plot.setLabel("bottom", "latency at batch 1 (ms)")
        self.plot.setLabel("left", "validation accuracy")
        self.scatter = pg.ScatterPlotItem(size=9, brush=pg.mkBrush("#2563eb"))
        self.front = pg.PlotDataItem(pen=pg.mkPen("#dc2626", width=2))
        self.plot.addItem(self.scatter)
        self.plot.addItem(self.front)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.start_button, self.stop_button = QPushButton("Compress"), QPushButton("Stop", enabled=False)
        self._lay_out()
        self.runner = JobRunner(self, "compress")
        self.runner.progress.connect(self._on_progress)
        self.runner.item.connect(self._on_item)
        self.runner.result.connect(self._on_result)
        self.runner.failed.connect(self._on_failed)
        self.runner.cancelled.connect(self._on_cancelled)
        self.runner.finished.connect(self._on_finished)
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.runner.cancel)

    def _lay_out(self) -> None:
        form = QFormLayout()
        form.addRow("Goal", self.goal)
        form.addRow("Most accuracy to lose", self.max_drop)
        form.addRow("Rank channels by", self.importance)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.stop_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        for widget in (self.progress, self.status, self.plot, self.table):
            layout.addWidget(widget)

    def settings(self) -> CompressSettings:
        goal = parse_goal(self.goal.text())
        return CompressSettings(goal, self.max_drop.value(), self.importance.currentText())

    @Slot()
    def start(self) -> None:
        try:
            settings = self.settings()
        except DesignerError as exc:
            self.status.setText(f"{exc.message} {exc.hint}")
            return
        self.points, self.report = [], None
        self.table.setRowCount(0)
        if self.runner.start(compress_job, self.request, settings):
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
        self.scatter.setData(xs, ys)
        front = pareto_front(self.points)
        self.front.setData([xs[i] for i in front], [ys[i] for i in front])

    @Slot(object)
    def _on_result(self, report) -> None:
        self.report = report
        kept = report["kept"]
        self.status.setText(f"{report['stop_reason']}. Kept: {kept['label']} ({kept['format']}), "
                            f"{kept['latency_b1_ms']:.2f} ms at batch 1. Saved in {self.request.output}.")

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
