"""The Data / Training / Results workspace the main window adds as a tab.

``TrainingWorkspace(document)`` takes the ``Document`` or the main window's
``QtDocument``. It watches its window's close: while a run trains it asks
whether to stop; if so, the close waits (the window stays responsive) until the
engine has finished the batch, saved ``last.pt`` and handed back the best
weights, then closes again. No worker thread outlives the workspace.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Slot
from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from widgets.base import questions as training_dialogs
from widgets.base.context import TrainingContext
from widgets.data.panel import DataPanel
from widgets.results.panel import ResultsPanel
from widgets.training.panel import TrainingPanel


class TrainingWorkspace(QWidget):
    def __init__(self, document, parent=None):
        super().__init__(parent)
        self.setObjectName("trainingWorkspace")
        self.context = TrainingContext(document, self)
        self.data = DataPanel(self.context)
        self.training = TrainingPanel(self.context)
        self.results = ResultsPanel(self.context)
        self.tabs = QTabWidget(documentMode=True)
        self.tabs.addTab(self.data, "Data")
        self.tabs.addTab(self.training, "Training")
        self.tabs.addTab(self.results, "Results")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs)
        self.training.run_ended.connect(self._on_run_ended)
        self.data.check.retrain_requested.connect(self._retrain_cleaned)
        self._watched: QObject | None = None
        self._close_when_stopped = False

    @property
    def qdoc(self):
        return self.context.qdoc

    @property
    def busy(self) -> bool:
        return self.training.training

    # --- closing the window while training ----------------------------------------------------------

    def showEvent(self, event) -> None:
        super().showEvent(event)
        window = self.window()
        if window is not self and window is not self._watched:
            if self._watched is not None:
                self._watched.removeEventFilter(self)
            window.installEventFilter(self)
            self._watched = window

    def eventFilter(self, watched, event) -> bool:
        if watched is not self._watched or event.type() != QEvent.Close:
            return super().eventFilter(watched, event)
        if not self.busy:
            self.shutdown()  # short jobs (scan, preview, evaluation) are cancelled and waited for
            return False
        event.ignore()
        if self._close_when_stopped or training_dialogs.ask_stop_training(self):
            self._close_when_stopped = True
            self.training.stop()
        return True  # the window closes once the run has stopped (see _on_run_ended)

    @Slot()
    def _retrain_cleaned(self) -> None:
        """"Check my data"'s retrain button: the default Train on the data with the decisions."""
        if self.training.start():
            self.tabs.setCurrentWidget(self.training)

    @Slot(str, str)
    def _on_run_ended(self, run_dir: str, kind: str) -> None:
        if run_dir:
            self.results.select_run(run_dir)
        if self._close_when_stopped:
            self._close_when_stopped = False
            if self._watched is not None:
                self._watched.close()

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop every job and wait for its thread (training keeps its best weights)."""
        self.training.shutdown()
        self.data.shutdown()
        self.results.shutdown()
