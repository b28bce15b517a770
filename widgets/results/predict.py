"""Classify new images: drop files here or pick them; shows each image with its top-k classes."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget

from designer.app.jobs import predict_job
from designer.base.errors import DesignerError
from widgets.base import feedback
from widgets.base import questions as training_dialogs
from widgets.base.panel_job import PanelJob
from widgets.results.views import Gallery


class PredictBox(QWidget):
    """``run_path()`` (a callable) names the run whose best weights classify the images."""

    predicted = Signal(list)  # [(Prediction, thumbnail)]

    def __init__(self, context, run_path, parent=None):
        super().__init__(parent)
        self.context, self.run_path = context, run_path
        self.runner = PanelJob(self, "predict", on_done=self._on_result, on_failed=self._on_failed,
                               on_finished=self._on_finished, error_title="Cannot classify images")
        self.setAcceptDrops(True)
        self.pick_button = QPushButton("Choose images…")
        self.topk = QSpinBox(prefix="top ", toolTip="How many of the most likely classes to show per image.")
        self.topk.setRange(1, 20)
        self.topk.setValue(3)
        self.status = QLabel("Drop image files here, or choose them, to see what the trained network says.",
                             wordWrap=True, objectName="muted")
        self.gallery = Gallery(extra_lines=1)  # the file name above the classes
        self.gallery.setAcceptDrops(False)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Try it on new images", objectName="sectionTitle"))
        bar.addStretch(1)
        bar.addWidget(self.topk)
        bar.addWidget(self.pick_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.status)
        layout.addWidget(self.gallery, 1)
        self.pick_button.clicked.connect(self._on_pick)

    # --- input ---------------------------------------------------------------------------------

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.predict(paths)

    @Slot()
    def _on_pick(self) -> None:
        data = self.context.data_settings().get("root") or ""
        paths = training_dialogs.choose_images(self, feedback.folder_for(self.context.doc, data))
        if paths:
            self.predict(paths)

    def predict(self, paths: list[str]) -> bool:
        """Classify ``paths`` (folders are expanded to the images directly inside them)."""
        files = []
        for p in paths:
            path = Path(p)
            files += sorted(str(f) for f in path.iterdir() if f.is_file()) if path.is_dir() else [str(path)]
        if not files or self.runner.running:
            return False
        try:
            source = self.context.design_source()
        except DesignerError as exc:
            feedback.show_error(self, "Cannot classify images", str(exc))
            return False
        self.status.setText(f"Classifying {len(files)} image(s)…")
        self.pick_button.setEnabled(False)
        self.runner.start(predict_job, source, self.run_path(), files[:500], self.topk.value(),
                          list(self.context.doc.classes))
        return True

    # --- results ---------------------------------------------------------------------------------

    @Slot(object)
    def _on_result(self, results) -> None:
        self.gallery.clear()
        errors = 0
        for prediction, thumb in results:
            name = Path(prediction.path).name
            if prediction.error:
                errors += 1
                self.gallery.add(None, f"{self.gallery.caption_line(name)}\n{prediction.error[:40]}",
                                 f"{prediction.path}\n{prediction.error}")
                continue
            lines = [f"{c}: {100 * p:.0f}\u00a0%" for c, p in prediction.top]
            caption = "\n".join([self.gallery.caption_line(name), *lines[:3]])  # which image: its file name
            self.gallery.add(thumb, caption, f"{prediction.path}\n" + "\n".join(lines), prediction.path)
        run = self.run_path()
        weights = f"the best weights of {Path(run).name}" if run else "the network's current weights"
        extra = f"; {errors} could not be read" if errors else ""
        self.status.setText(f"{len(results)} image(s) classified with {weights}{extra}.")
        self.predicted.emit(list(results))

    @Slot(object)
    def _on_failed(self, failure) -> None:
        self.status.setText(failure.text)

    @Slot()
    def _on_finished(self) -> None:
        self.pick_button.setEnabled(True)

    def shutdown(self) -> None:
        self.runner.shutdown()
