"""Export dialog: formats, weights and folder; exports run in a worker thread and each is checked
against the model (largest output difference shown); the training script is previewed, highlighted."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
)

from designer.app.jobs import export_job, script_job
from designer.app.shipping import best_run, chance_warning
from designer.base.errors import DesignerError
from designer.export.formats import FORMATS, SCRIPT_FILES
from widgets.base import questions as training_dialogs
from widgets.base.context import TrainingContext
from widgets.base.panel_job import PanelJob
from widgets.base.screen import resize_to_fit
from widgets.export.highlight import PythonHighlighter
from widgets.training.runs import MODE_NAMES, acc_text

DEFAULT_FORMATS = ("pt", "onnx", "script")
FORMAT_TIPS = {
    "pt": "The trained weights for PyTorch (a state dict). Load with model.load_state_dict(torch.load(...)).",
    "safetensors": "The same weights in the safetensors format: safe to share, loads fast, no code inside.",
    "onnx": "The whole network for ONNX Runtime, C++, C#, phones and many other tools outside PyTorch.",
    "pt2": "The network as a torch.export program: runs in PyTorch without this app or your model code.",
    "torchscript": "The network as TorchScript (older PyTorch deployment format; deprecated by PyTorch).",
    "script": "A readable Python script that rebuilds this network from torchvision plus your edits and "
              "trains it with your settings: python train.py (with model.py and data.py beside it), or "
              "torchrun for several GPUs; "
              "beside it train.sbatch runs it on a SLURM cluster (sbatch train.sbatch).",
}
CHECK_NOTE = "Each file is checked: it is read back and its outputs are compared with the network's."
COLUMNS = ("Format", "File", "Largest difference", "Check")


def _diff_text(diff: float) -> str:
    """The parity gap in words a non-programmer can read: exact, or its size."""
    return "0 (identical)" if diff == 0 else f"{diff:.1e}"


def _files_text(result) -> str:
    """The file written, and the files written with it (the script's train.sbatch and split.json)."""
    also = ", ".join(p.name for p in result.beside)
    return f"{result.path}  (with {also})" if also else str(result.path)


class ExportDialog(QDialog):
    def __init__(self, document, parent=None, context: TrainingContext | None = None):
        super().__init__(parent)
        self.setWindowTitle("Export")
        resize_to_fit(self, 980, 680)
        self.context = context or TrainingContext(document, self)
        self.runner = PanelJob(self, "export", on_item=self._on_item, on_progress=self._on_progress,
                               on_failed=self._on_failed, on_finished=self._on_finished)
        # a preview asked for while one is generated replaces it (PanelJob cancels, then runs the new one)
        self.script_runner = PanelJob(self, "script", on_done=self._show_script,
                                      on_failed=self._on_script_failed)
        self.results: dict[str, tuple] = {}  # fmt -> (ExportResult | None, message)
        self._build()
        self._connect()
        self._fill_weights()
        self.folder.setText(str(self._default_folder()))
        self._restore_choices()
        self._show_weights_note()
        self.refresh_script()

    # --- building ----------------------------------------------------------------------------------

    def _build(self) -> None:
        self.weights = QComboBox(toolTip="Which weights to export: a training run's best weights, or the "
                                         "network as it is now (pretrained backbone, untrained new head).")
        self.folder = QLineEdit(toolTip="Every file is written into this folder.")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._on_browse)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(browse)
        self.checks: dict[str, QCheckBox] = {}
        grid = QGridLayout()
        for k, (fmt, label) in enumerate(FORMATS.items()):
            check = QCheckBox(label, toolTip=FORMAT_TIPS.get(fmt, ""))
            check.setChecked(fmt in DEFAULT_FORMATS)
            self.checks[fmt] = check
            grid.addWidget(check, k // 2, k % 2)
        form = QFormLayout()
        form.addRow("Weights", self.weights)
        form.addRow("Formats", grid)
        form.addRow("Folder", folder_row)
        self.progress = QProgressBar(textVisible=False, maximumHeight=12)
        keep = self.progress.sizePolicy()
        keep.setRetainSizeWhenHidden(True)  # hidden, it still holds the row: Export/Close stay button-sized
        self.progress.setSizePolicy(keep)
        self.progress.hide()
        self.status = QLabel(CHECK_NOTE, wordWrap=True, objectName="muted")
        self.table = self._results_table()
        self.tabs = QTabWidget(documentMode=True)
        self.tabs.addTab(self.table, "Results")
        # the script's three files, each in its own tab: train.py imports model.py and data.py
        self.script_views = {name: self._code_view() for name in SCRIPT_FILES}
        for name, view in self.script_views.items():
            self.tabs.addTab(view, f"Script preview: {name}" if name == SCRIPT_FILES[0] else name)
        self.script = self.script_views[SCRIPT_FILES[0]]
        self.export_button = QPushButton("Export", objectName="primary")
        self.close_button = QPushButton("Close")
        buttons = QHBoxLayout()
        buttons.addWidget(self.progress, 1)
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(buttons)

    def _code_view(self) -> QPlainTextEdit:
        view = QPlainTextEdit(readOnly=True, lineWrapMode=QPlainTextEdit.NoWrap)
        view.setFont(QFontDatabase.systemFont(QFontDatabase.FixedFont))
        view.setPlaceholderText("Generating the script…")
        view.highlighter = PythonHighlighter(view.document())  # kept alive with its view
        return view

    def _results_table(self) -> QTableWidget:
        table = QTableWidget(0, len(COLUMNS))
        table.setHorizontalHeaderLabels(COLUMNS)
        table.verticalHeader().hide()
        table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        table.horizontalHeader().setSectionResizeMode(1, QHeaderView.Stretch)
        table.setToolTip("Largest difference: the biggest gap between the exported file's outputs and the "
                         "network's on the same input. Tiny numbers (below 0.0001) mean a faithful copy.")
        return table

    def _connect(self) -> None:
        self.export_button.clicked.connect(self.start_export)
        self.close_button.clicked.connect(self.reject)
        self.weights.currentIndexChanged.connect(self.refresh_script)
        self.weights.currentIndexChanged.connect(self._show_weights_note)

    def _fill_weights(self) -> None:
        """Every run with weights, newest first, with the best finished run chosen: the run
        that ships is the best one, not the last one trained (``app.shipping``)."""
        try:
            runs = [r for r in self.context.runs() if r.has_weights]  # not runs stopped before an epoch
        except DesignerError:
            runs = []
        self._runs = {str(run.best_weights): run for run in runs}
        best = best_run(runs)
        self.weights.blockSignals(True)  # one preview is generated when the dialog opens
        for run in reversed(runs):
            label = f"Best weights of {run.name} ({MODE_NAMES.get(run.mode, run.mode)}, " \
                    f"{acc_text(run.best_val_acc)}{', best finished run' if run is best else ''})"
            self.weights.addItem(label, str(run.best_weights))
        self.weights.addItem("The network as it is now (not trained here)", None)
        if best is not None:
            self.weights.setCurrentIndex(self.weights.findData(str(best.best_weights)))
        self.weights.blockSignals(False)

    def chance_warning(self) -> str:
        """The warning for the chosen weights when they are a run at chance, else ""."""
        run = self._runs.get(self.weights.currentData() or "")
        return chance_warning(run, len(self.context.doc.classes or [])) if run is not None else ""

    @Slot()
    def _show_weights_note(self, *_) -> None:
        """A run at chance is named as such as soon as it is chosen, not only when exporting."""
        warning = self.chance_warning()
        self._set_status(warning or CHECK_NOTE, warning=bool(warning))

    def _set_status(self, text: str, warning: bool = False) -> None:
        self.status.setText(text)
        if self.status.objectName() != ("warning" if warning else "muted"):
            self.status.setObjectName("warning" if warning else "muted")
            self.status.style().polish(self.status)  # the style sheet picks the colour by object name

    def _default_folder(self) -> Path:
        return self.context.runs_dir().parent / "export"

    # --- the choices, kept for the next time the dialog opens --------------------------------------

    def _weights_options(self) -> list:
        return [self.weights.itemData(i) for i in range(self.weights.count())]

    def _restore_choices(self) -> None:
        """The formats, folder and weights chosen last time (the weights only while no run was
        added since: a new run is what one exports next)."""
        choices = self.context.export_choices()
        if not choices:
            return
        for fmt, check in self.checks.items():
            check.setChecked(fmt in choices["formats"])
        self.folder.setText(choices["folder"])
        if choices["weights_options"] == self._weights_options():
            self.weights.blockSignals(True)
            self.weights.setCurrentIndex(self._weights_options().index(choices["weights"]))
            self.weights.blockSignals(False)

    def _remember_choices(self) -> None:
        self.context.remember_export_choices(formats=self.selected_formats(), folder=self.folder.text(),
                                             weights=self.weights.currentData(),
                                             weights_options=self._weights_options())

    @Slot()
    def _on_browse(self) -> None:
        path = training_dialogs.choose_folder(self, "Export to folder", self.folder.text())
        if path:
            self.folder.setText(path)

    # --- the script preview ---------------------------------------------------------------------------

    @Slot()
    def refresh_script(self, *_) -> None:
        """Preview what Export writes for the chosen weights (a run's script uses its own options
        and split)."""
        try:
            source = self.context.design_source()
        except DesignerError as exc:
            self._show_script(dict.fromkeys(SCRIPT_FILES, f"# {exc}"))
            return
        self.script_runner.start(script_job, source, self.context.training_settings() or None,
                                 self.context.doc.classes or None, self.weights.currentData(),
                                 self.context.split, data=self.context.data_settings())

    @Slot(object)
    def _on_script_failed(self, failure) -> None:
        text = f"# The script cannot be generated:\n# {failure.text}"
        self._show_script(dict.fromkeys(SCRIPT_FILES, text))

    @Slot(object)
    def _show_script(self, files: dict[str, str]) -> None:
        """Each file's text in its tab, in SCRIPT_FILES order (the training script first)."""
        for view, text in zip(self.script_views.values(), files.values(), strict=True):
            view.setPlainText(text)

    # --- exporting -------------------------------------------------------------------------------------

    def selected_formats(self) -> list[str]:
        return [fmt for fmt, check in self.checks.items() if check.isChecked()]

    @Slot()
    def start_export(self) -> bool:
        formats, folder = self.selected_formats(), self.folder.text().strip()
        if not formats or not folder:
            self.status.setText("Choose at least one format and a folder.")
            return False
        warning = self.chance_warning()
        if warning and not training_dialogs.ask_export_at_chance(self, warning):
            return False
        try:
            source = self.context.design_source()
        except DesignerError as exc:
            self.status.setText(str(exc))
            return False
        self.results = {}
        self.table.setRowCount(0)
        self.progress.setRange(0, len(formats))
        self.progress.setValue(0)
        self.progress.show()
        self.export_button.setEnabled(False)
        self._set_status("Exporting…")
        self.tabs.setCurrentWidget(self.table)
        self.runner.start(export_job, source, formats, folder, self.weights.currentData(),
                          self.context.training_settings() or None, self.context.doc.classes or None,
                          self.context.split, data=self.context.data_settings())
        return True

    @Slot(object)
    def _on_progress(self, progress) -> None:
        self.status.setText(f"{progress.text}…")

    @Slot(object)
    def _on_item(self, outcome) -> None:
        self.results[outcome.format] = (outcome.result, outcome.error)
        self._add_row(outcome.format, outcome.result, outcome.error)
        self.progress.setValue(len(self.results))

    def _add_row(self, fmt: str, result, message: str) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        ok = result is not None and result.ok
        unchecked = result is None or result.max_abs_diff is None
        diff = "not checked" if unchecked else _diff_text(result.max_abs_diff)
        cells = (FORMATS[fmt], _files_text(result) if result else message, diff if result else "–",
                 "✓ ok" if ok else "✗ failed")
        for col, text in enumerate(cells):
            item = QTableWidgetItem(text)
            note = result.note if result is not None and result.note else message or text
            item.setToolTip(text if col == 1 else note)  # the file cell: every file, uncut
            if col == 3:
                item.setForeground(Qt.darkGreen if ok else Qt.red)
            self.table.setItem(row, col, item)

    @Slot(object)
    def _on_failed(self, failure) -> None:
        self.status.setText(failure.text)

    @Slot()
    def _on_finished(self) -> None:
        self.progress.hide()
        self.export_button.setEnabled(True)
        if self.results:
            good = sum(1 for r, _ in self.results.values() if r is not None and r.ok)
            self.status.setText(f"{good} of {len(self.results)} exports written and checked in "
                                f"{self.folder.text()}.")

    # --- closing ---------------------------------------------------------------------------------------

    def done(self, result: int) -> None:
        self._remember_choices()
        self.runner.shutdown()
        self.script_runner.shutdown()
        super().done(result)

    def closeEvent(self, event) -> None:
        self._remember_choices()  # the jobs were cancelled and waited for on Close (PanelJob)
        super().closeEvent(event)
