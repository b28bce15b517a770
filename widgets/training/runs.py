"""The run history: one row per training run of the project; tick rows to overlay their curves."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal, Slot
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from designer.app.audit import audit_note
from designer.base.errors import DesignerError
from designer.launch.placement import Placement
from designer.train.runs import compare_runs

COLUMNS = ("Compare", "Run", "Mode", "Status", "Best val. acc.", "Epochs", "Time")
MODE_NAMES = {"recommended": "recommended", "full": "fine-tune", "cached-head": "head only (cached)",
              "linear-probe": "linear probe", "scratch": "from scratch", "search": "search"}
PATH_ROLE = Qt.UserRole + 1
ROWS_SHOWN = 3  # runs the table shows in full however small the window (more scroll)


def acc_text(value) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def time_text(seconds) -> str:
    if seconds is None:
        return "–"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def where_text(placement: Placement) -> str:
    """Where a run trained, in a few words for the Mode column ("" in this process)."""
    if placement.where == "gpus":
        return "all GPUs"
    if placement.where == "processes":
        return f"{placement.processes} process{'es' if placement.processes > 1 else ''}"
    return ""


def run_where(run) -> str:
    """``where_text`` of where a run last trained: history.json is rewritten by each leg (a resumed
    run may train elsewhere than it started; only the launcher notes a placement), options.json
    says where it started. Runs trained in this process have none."""
    records = run.history if run.history else run.options
    data = records.get("placement") if isinstance(records, dict) else None
    try:
        return where_text(Placement.from_dict(data)) if data else ""
    except (DesignerError, TypeError, ValueError):
        return ""  # a run folder comes from outside: an odd record is not worth a word


def mode_text(mode: str, where: str = "") -> str:
    name = MODE_NAMES.get(mode, mode)
    return f"{name}, {where}" if where else name


def status_text(run) -> str:
    """The run's status, and its first finish when it was trained further after it (its result and
    time then are part of its story, not overwritten by the later leg)."""
    finishes = run.finishes
    if not finishes or (run.status == "finished" and len(finishes) == 1):
        return run.status
    first = finishes[0]
    epochs = f"{first['epochs']} epoch{'s' if first['epochs'] != 1 else ''}"
    return (f"{run.status}; first finished at {epochs}, {acc_text(first['best_val_acc'])} in "
            f"{time_text(first['time_s'])}")


def steps_per_epoch(run) -> int:
    return run.steps_per_epoch


def overlay_curves(runs) -> list[dict]:
    """``compare_runs`` curves of ``runs``, each with its steps per epoch (for an iteration axis)."""
    if not runs:
        return []
    data = compare_runs(runs)
    out = []
    for run, curves in zip(runs, data["runs"], strict=False):
        out.append({**curves, "name": f"{run.name}", "epochs": data["epochs"],
                    "steps_per_epoch": steps_per_epoch(run)})
    return out


class RunTable(QTableWidget):
    """Runs, newest last. ``overlay_changed`` carries the ticked runs' folders."""

    overlay_changed = Signal(list)

    def __init__(self, context, parent=None):
        super().__init__(0, len(COLUMNS), parent)
        self.context = context
        self._filling = False
        self.setHorizontalHeaderLabels(COLUMNS)
        self.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.setSelectionMode(QAbstractItemView.SingleSelection)
        self.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.verticalHeader().hide()
        self.setAlternatingRowColors(True)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.Stretch)
        self.setToolTip("Every training run of this project. Tick runs to draw their curves (dashed) on the "
                        "plot, e.g. fine-tuning against training from scratch on the same data.")
        self.itemChanged.connect(self._on_item_changed)
        self.setTextElideMode(Qt.ElideMiddle)  # a squeezed run name keeps its mode: "2026…scratch"
        context.runs_changed.connect(self.refresh)
        self.refresh()

    @Slot()
    def refresh(self) -> None:
        """Re-read the runs from disk, keeping the ticks and the selection."""
        ticked, selected = set(self.checked_paths()), self.selected_path()
        try:
            runs = self.context.runs()
        except DesignerError:
            runs = []
        self._filling = True
        try:
            self.setRowCount(len(runs))
            for row, run in enumerate(runs):
                self._fill_row(row, run, str(run.path) in ticked)
        finally:
            self._filling = False
        self.select_path(selected)
        self.updateGeometry()  # its minimum height follows its rows
        if ticked != set(self.checked_paths()):
            self.overlay_changed.emit(self.checked_paths())

    def _fill_row(self, row: int, run, ticked: bool) -> None:
        check = QTableWidgetItem()
        check.setFlags(Qt.ItemIsUserCheckable | Qt.ItemIsEnabled | Qt.ItemIsSelectable)
        check.setCheckState(Qt.Checked if ticked else Qt.Unchecked)
        check.setData(PATH_ROLE, str(run.path))
        check.setToolTip("Overlay this run's curves on the plot")
        cleaned = audit_note(run.options)  # the audit whose decisions it trained on
        mode = mode_text(run.mode, run_where(run)) + (f"; {cleaned}" if cleaned else "")
        cells = (run.name, mode, status_text(run), acc_text(run.best_val_acc),
                 str(run.trained_epochs), time_text(run.time_s))
        self.setItem(row, 0, check)
        why = "\n\n".join(filter(None, (run.outcome, run.plan)))  # the recommended mode's two stages
        for col, text in enumerate(cells, 1):
            item = QTableWidgetItem(text)
            item.setData(PATH_ROLE, str(run.path))
            tip = "\n\n".join(filter(None, (text if col == 1 else "", why)))  # the name whole, then why
            if tip:
                item.setToolTip(tip)
            if col >= 4:
                item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
            self.setItem(row, col, item)

    def show_running(self, path: str, mode: str, where: str = "") -> None:
        """List a run the moment it starts (or resumes) as running, without re-reading every run
        from disk just as training starts; the row is re-read when the run ends."""
        path = str(path)
        row = next((r for r in range(self.rowCount()) if self.item(r, 0).data(PATH_ROLE) == path), None)
        self._filling = True
        try:
            if row is None:
                row = self.rowCount()
                self.insertRow(row)
                check = QTableWidgetItem()
                check.setFlags(Qt.ItemIsUserCheckable | Qt.ItemIsEnabled | Qt.ItemIsSelectable)
                check.setCheckState(Qt.Unchecked)
                check.setData(PATH_ROLE, path)
                self.setItem(row, 0, check)
                for col, text in enumerate((Path(path).name, mode_text(mode, where), "", "–", "0", "–"), 1):
                    item = QTableWidgetItem(text)
                    item.setData(PATH_ROLE, path)
                    self.setItem(row, col, item)
                self.updateGeometry()
            self.item(row, 3).setText("running")
        finally:
            self._filling = False

    def minimumSizeHint(self) -> QSize:
        """Tall enough for its first ``ROWS_SHOWN`` runs in full: under the plot, the splitter gave the
        table what was left, and the second run was cut in half."""
        hint = super().minimumSizeHint()
        rows = min(max(1, self.rowCount()), ROWS_SHOWN)
        row_height = self.verticalHeader().defaultSectionSize()
        scroll = self.horizontalScrollBar().sizeHint().height()  # a narrow window scrolls sideways
        header = self.horizontalHeader().sizeHint().height()
        height = header + rows * row_height + 2 * self.frameWidth() + scroll
        return QSize(hint.width(), height)

    def checked_paths(self) -> list[str]:
        return [self.item(r, 0).data(PATH_ROLE) for r in range(self.rowCount())
                if self.item(r, 0) is not None and self.item(r, 0).checkState() == Qt.Checked]

    def set_checked(self, path: str, checked: bool = True) -> None:
        for r in range(self.rowCount()):
            if self.item(r, 0).data(PATH_ROLE) == str(path):
                self.item(r, 0).setCheckState(Qt.Checked if checked else Qt.Unchecked)

    def selected_path(self) -> str | None:
        rows = self.selectionModel().selectedRows() if self.selectionModel() else []
        return self.item(rows[0].row(), 0).data(PATH_ROLE) if rows else None

    def select_path(self, path: str | None) -> None:
        for r in range(self.rowCount()):
            if path is not None and self.item(r, 0).data(PATH_ROLE) == path:
                self.selectRow(r)
                return

    def paths(self) -> list[str]:
        return [self.item(r, 0).data(PATH_ROLE) for r in range(self.rowCount())]

    @Slot(QTableWidgetItem)
    def _on_item_changed(self, item: QTableWidgetItem) -> None:
        if not self._filling and item.column() == 0:
            self.overlay_changed.emit(self.checked_paths())
