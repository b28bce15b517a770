"""The search mode's trials: one row per trial (its settings, best validation accuracy, how it ended),
filled from the run's trials.json as each trial ends, and the curve of the trial selected.

trials.json is read, not the events: the table then shows the same thing for a search running here, one
read back later, and one whose folder was sent by someone else. Its values come from outside, so each is
checked before it is shown.
"""

from __future__ import annotations

import math
from pathlib import Path

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from designer.base.fileio import read_json
from designer.train.search import TRIALS_FILE
from designer.train.search_text import AUGMENT_WORDS
from widgets.training.runs import acc_text, time_text

COLUMNS = ("Trial", "Learning rate", "Length", "Augmentation", "Frozen", "Best validation", "How it ended",
           "Time")
CURVE_COLUMNS = ("Epoch", "Step", "Validation")
STATE_WORDS = {"complete": "ran to its end", "pruned": "stopped early (weak)", "cut": "cut by the budget",
               "failed": "failed", "stopped": "stopped by you"}
MAX_ROWS = 1000


def _number(value) -> float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def _text(value, limit: int = 60) -> str:
    return value[:limit] if isinstance(value, str) else ""


def read_trials(run_dir) -> list[dict]:
    """The trials of a search run folder, checked ([] when there are none)."""
    data = read_json(Path(run_dir) / TRIALS_FILE) if run_dir else {}
    trials = data.get("trials") if isinstance(data, dict) else None
    out = []
    for trial in trials[:MAX_ROWS] if isinstance(trials, list) else []:
        if isinstance(trial, dict) and isinstance(trial.get("number"), int):
            params = trial.get("params") if isinstance(trial.get("params"), dict) else {}
            curve = trial.get("curve") if isinstance(trial.get("curve"), list) else []
            out.append({"number": trial["number"], "params": params, "state": _text(trial.get("state")),
                        "best_val_acc": _number(trial.get("best_val_acc")),
                        "time_s": _number(trial.get("time_s")),
                        "curve": [p for p in curve[:MAX_ROWS] if isinstance(p, dict)]})
    return out


def row_texts(trial: dict) -> list[str]:
    """What the table shows of one trial."""
    params = trial["params"]
    lr, length = _number(params.get("lr")), _number(params.get("length"))
    if trial["number"] == 0:  # stage 1 of the recommended mode, the baseline
        cells = ["0 (stage 1)", "—", "—", "classifier fitted on cached features", "—"]
    else:
        augment = _text(params.get("augment"))
        cells = [str(trial["number"]), f"{lr:.3g}" if lr is not None else "?",
                 f"{length:g}× planned" if length is not None else "?", AUGMENT_WORDS.get(augment, augment),
                 "early layers" if params.get("freeze") == "early" else "none"]
    state = STATE_WORDS.get(trial["state"], trial["state"])
    seconds = trial["time_s"]
    return [*cells, acc_text(trial["best_val_acc"]), state, time_text(seconds) if seconds is not None else ""]


def _table(columns) -> QTableWidget:
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(list(columns))
    table.setEditTriggers(QAbstractItemView.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectRows)
    table.setSelectionMode(QAbstractItemView.SingleSelection)
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setStretchLastSection(True)
    return table


class TrialsView(QWidget):
    """The trials table and, under it, the validation curve of the selected trial."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.trials: list[dict] = []
        self.table = _table(COLUMNS)
        self.table.setToolTip("Each trial of the search: its settings, its best accuracy on the validation "
                              "images and how it ended. Weak trials are stopped early to leave time for "
                              "others. Select a trial to see its curve.")
        self.curve = _table(CURVE_COLUMNS)
        self.curve.setToolTip("The selected trial's accuracy on the validation images at each validation.")
        self.curve.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.best = QLabel("", objectName="muted", wordWrap=True)
        side = QVBoxLayout()  # the selected trial's curve beside the table: the table needs the width
        side.addWidget(self.best)
        side.addWidget(self.curve, 1)
        row = QHBoxLayout()
        row.addWidget(self.table, 5)
        row.addLayout(side, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Search trials — select one to see its validation curve",
                                objectName="sectionTitle"))
        layout.addLayout(row, 1)
        self.table.itemSelectionChanged.connect(self._show_curve)

    def clear(self) -> None:
        self.trials = []
        self.table.setRowCount(0)
        self.curve.setRowCount(0)
        self.best.setText("")

    def load(self, run_dir) -> None:
        """Show the trials of ``run_dir`` (kept selection: the user may be reading a curve)."""
        selected = self.selected_number()
        self.trials = read_trials(run_dir)
        self.table.setRowCount(len(self.trials))
        for row, trial in enumerate(self.trials):
            for column, text in enumerate(row_texts(trial)):
                item = QTableWidgetItem(text)
                if column == COLUMNS.index("Best validation"):
                    item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                self.table.setItem(row, column, item)
        self.table.resizeColumnsToContents()
        self._mark_best()
        numbers = [t["number"] for t in self.trials]
        if selected in numbers:
            self.table.selectRow(numbers.index(selected))

    def _mark_best(self) -> None:
        scored = [t for t in self.trials if t["best_val_acc"] is not None]
        if not scored:
            self.best.setText("")
            return
        top = max(scored, key=lambda t: t["best_val_acc"])  # the first of equals, as the search keeps it
        row = self.trials.index(top)
        for column in range(self.table.columnCount()):
            font = self.table.item(row, column).font()
            font.setBold(True)
            self.table.item(row, column).setFont(font)
        self.best.setText(f"Best so far: trial {top['number']} with {acc_text(top['best_val_acc'])} "
                          "(in bold).")

    def selected_number(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        return self.trials[rows[0].row()]["number"] if rows and rows[0].row() < len(self.trials) else None

    @Slot()
    def _show_curve(self) -> None:
        number = self.selected_number()
        trial = next((t for t in self.trials if t["number"] == number), None)
        points = trial["curve"] if trial else []
        self.curve.setRowCount(len(points))
        for row, point in enumerate(points):
            epoch, step = point.get("epoch"), point.get("step")
            cells = (str(epoch) if isinstance(epoch, int) else "", str(step) if isinstance(step, int) else "",
                     acc_text(_number(point.get("val_acc"))))
            for column, text in enumerate(cells):
                self.curve.setItem(row, column, QTableWidgetItem(text))
