"""Heat maps in the Results tab: a bar to choose what the thumbnails show (the image, or its map
for the true or the predicted class), the method and the opacity; and the controller that
computes the maps the galleries lack in a worker (``designer.app.explain.explain_job``) and
hands each to its thumbnail as it arrives.

Maps are computed only while they are shown, and again when the method, the run or the
layer (chosen in the graph: right-click a layer, *Use for heat maps*) changes.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from designer.app.explain import ExplainRequest, explain_job
from designer.base.errors import DesignerError
from designer.inspect.cam import METHODS
from widgets.base.panel_job import PanelJob
from widgets.base.pictures import ColourScale

ROLES = (("off", "Image only"), ("predicted", "Heat map: predicted class"), ("true", "Heat map: true class"))
DEFAULT_LAYER = "the last layer with a map of at least 7x7"
HOW_TO_CHOOSE = ("To map another layer, right-click it in the Design tab's graph and choose "
                 "\u201cUse for heat maps\u201d.")


class HeatMapBar(QWidget):
    """What the thumbnails show; ``changed`` when the role or the method changes."""

    changed = Signal()
    opacity_changed = Signal(float)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.show_combo = QComboBox(toolTip="Draw each image's heat map: where the network looked to "
                                            "decide on the class. Blue: no evidence; red: the strongest.")
        for value, label in ROLES:
            self.show_combo.addItem(label, value)
        self.method_combo = QComboBox(toolTip=(
            "Grad-CAM weighs the layer's channels by their gradients (fast). Feature ablation blanks each "
            "region of the layer in turn and measures the drop in the class score (gradient-free, slower)."))
        for value, label in METHODS.items():
            self.method_combo.addItem(label, value)
        self.opacity = QSlider(Qt.Horizontal, minimum=0, maximum=100, value=50, maximumWidth=160,
                               toolTip="How strongly the heat maps are drawn over the images.")
        self.layer_label = QLabel("", objectName="muted", wordWrap=True)  # which layer, how to pick another
        self.scale = ColourScale()
        self.progress = QProgressBar(maximumWidth=160, maximumHeight=14, textVisible=False)
        self.stop_button = QPushButton("Stop", toolTip="Stop computing heat maps.")
        row = QHBoxLayout()
        for widget in (self.show_combo, self.method_combo, QLabel("Opacity"), self.opacity, self.scale,
                       self.progress, self.stop_button):
            row.addWidget(widget)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.layer_label)
        self.set_busy(False)
        self._show_when_on()
        self.show_combo.currentIndexChanged.connect(self._on_changed)
        self.method_combo.currentIndexChanged.connect(self._on_changed)
        self.opacity.valueChanged.connect(self._on_opacity)

    def role(self) -> str:
        return self.show_combo.currentData()

    def method(self) -> str:
        return self.method_combo.currentData()

    def strength(self) -> float:
        return self.opacity.value() / 100

    def set_busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.stop_button.setVisible(busy)

    def _show_when_on(self) -> None:
        """The colour scale and the layer's line only while maps are drawn."""
        on = self.role() != "off"
        self.method_combo.setEnabled(on)
        self.scale.setVisible(on)
        self.layer_label.setVisible(on)

    @Slot()
    def _on_changed(self, *_) -> None:
        self._show_when_on()
        self.changed.emit()

    @Slot(int)
    def _on_opacity(self, value: int) -> None:
        self.opacity_changed.emit(value / 100)


class HeatMaps(QObject):
    """Keeps ``galleries`` supplied with maps from ``run_path()``'s best weights (see the module
    docstring). ``message`` carries status text."""

    message = Signal(str)

    def __init__(self, context, bar: HeatMapBar, galleries: list, run_path, parent=None):
        super().__init__(parent)
        self.context, self.bar, self.galleries, self.run_path = context, bar, list(galleries), run_path
        self.runner = PanelJob(self, "explain", on_progress=self._on_progress, on_item=self._on_item,
                               on_done=self._on_result, on_failed=self._on_failed,
                               on_finished=self._on_finished)
        self._job_key = None  # (run, method, layer) of the maps being computed
        self._shown_key = None  # ... of the maps the galleries hold
        self._again = False  # a refresh was asked for while a job ran
        bar.changed.connect(self.refresh)
        bar.opacity_changed.connect(self._on_opacity)
        bar.stop_button.clicked.connect(self.runner.cancel)
        context.qdoc.settings_changed.connect(self._on_settings)
        self._show_layer(None)

    def layer(self) -> str | None:
        return (self.context.doc.settings.get("explain") or {}).get("layer") or None

    def key(self) -> tuple:
        return (self.run_path(), self.bar.method(), self.layer())

    @Slot()
    def refresh(self) -> bool:
        """Show the chosen maps; start computing those missing. True when a job started."""
        role = self.bar.role()
        for gallery in self.galleries:
            gallery.show_heat(role, self.bar.strength())
        if role == "off":
            return False
        if self.key() != self._shown_key:
            for gallery in self.galleries:
                gallery.clear_explanations()
            self._shown_key = self.key()
        if self.runner.running:  # look again when it ends: new images, or maps for another key
            self._again = True
            if self._job_key != self.key():
                self.runner.cancel()
            return False
        return self._start()

    def _start(self) -> bool:
        requests = self._requests()
        if not requests:
            return False
        try:
            source = self.context.design_source()
        except DesignerError as exc:
            self.message.emit(str(exc))
            return False
        run, method, layer = self._job_key = self.key()
        self.bar.progress.setRange(0, len(requests))
        self.bar.progress.setValue(0)
        self.bar.set_busy(True)
        self.runner.start(explain_job, source, run, requests, list(self.context.doc.classes), layer, method)
        return True

    def _requests(self) -> list[ExplainRequest]:
        """One request per image the galleries lack maps for, with its true class when one knows it."""
        requests: dict[str, ExplainRequest] = {}
        for gallery in self.galleries:
            for entry in gallery.missing_explanations():
                if entry.path not in requests or (entry.true and not requests[entry.path].true):
                    requests[entry.path] = ExplainRequest(entry.path, entry.true)
        return list(requests.values())

    def images_changed(self) -> None:
        """A gallery was refilled: compute maps for its new images if they are shown."""
        self.refresh()

    # --- job output (GUI thread) -------------------------------------------------------------------

    @Slot(object)
    def _on_progress(self, progress) -> None:
        if progress.total:
            self.bar.progress.setRange(0, int(progress.total))
            self.bar.progress.setValue(int(progress.done))

    @Slot(object)
    def _on_item(self, explanation) -> None:
        if self._job_key != self.key():
            return  # a map of the previous method or layer, arriving after the change
        for gallery in self.galleries:
            gallery.set_explanation(explanation)

    @Slot(object)
    def _on_result(self, summary) -> None:
        self._show_layer(summary.target)
        failed = f"; {summary.failed} image(s) could not be read" if summary.failed else ""
        self.message.emit(f"{METHODS[summary.method]} heat maps of {summary.images} image(s) at "
                          f"{summary.target.describe()}{failed}.")

    @Slot(object)
    def _on_failed(self, failure) -> None:
        self.bar.layer_label.setText("No heat maps: " + failure.message)
        self.bar.layer_label.setToolTip(failure.text)
        self.message.emit(failure.text)

    @Slot()
    def _on_finished(self) -> None:
        self.bar.set_busy(False)
        if self._again:
            self._again = False
            self.refresh()

    @Slot(float)
    def _on_opacity(self, strength: float) -> None:
        for gallery in self.galleries:
            gallery.show_heat(self.bar.role(), strength)

    @Slot(str)
    def _on_settings(self, section: str) -> None:
        if section == "explain":
            self._show_layer(None)
            self.refresh()

    def _show_layer(self, target) -> None:
        """One line naming the layer the maps come from and how to choose another."""
        chosen = self.layer()
        where = target.describe() if target is not None else (f"layer {chosen}" if chosen else DEFAULT_LAYER)
        if chosen:
            where += ", chosen in the graph"
        elif target is not None:
            where += f", the default: {DEFAULT_LAYER}"
        self.bar.layer_label.setText(f"Heat maps at {where}. {HOW_TO_CHOOSE}")
        self.bar.layer_label.setToolTip(HOW_TO_CHOOSE)

    def shutdown(self) -> None:
        self.runner.shutdown()
