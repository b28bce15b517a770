"""Augmentation and class-weight options, stored in ``settings["training"]`` (``augment``,
``class_weights``) where the training engine and the CLI read them."""

from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QCheckBox, QFormLayout, QSpinBox, QWidget

from designer.base.errors import DesignerError
from designer.data.transforms import Augment

TIPS = {
    "hflip": "Randomly mirror images left to right while training. Use it when a mirrored image still "
             "shows the same class (cats, leaves), not when direction matters (letters, arrows).",
    "vflip": "Randomly flip images upside down. Only for pictures with no 'up', such as microscope or "
             "satellite images.",
    "rotation": "Randomly turn images by up to this many degrees either way.",
    "translate": "Randomly shift images by up to this share of their width and height.",
    "zoom": "Randomly zoom in or out by up to this much.",
    "color": "Randomly vary brightness, contrast and saturation by up to this much (and the hue a little).",
    "class_weights": "Count mistakes on rare classes more heavily, so a class with few images is not "
                     "ignored. Turn on when the chart shows very uneven classes.",
}


def _spin(lo: int, hi: int, suffix: str, tip: str) -> QSpinBox:
    box = QSpinBox(suffix=suffix, toolTip=tip)
    box.setRange(lo, hi)
    box.setKeyboardTracking(False)
    return box


class AugmentForm(QWidget):
    """Edits ``Augment`` in plain units (degrees, percent)."""

    edited = Signal()

    def __init__(self, context, parent=None):
        super().__init__(parent)
        self.context = context
        self._loading = False
        self.hflip = QCheckBox("Mirror left–right", toolTip=TIPS["hflip"])
        self.vflip = QCheckBox("Flip upside down", toolTip=TIPS["vflip"])
        self.rotation = _spin(0, 180, "°", TIPS["rotation"])
        self.translate = _spin(0, 50, " %", TIPS["translate"])
        self.zoom = _spin(0, 50, " %", TIPS["zoom"])
        self.color = _spin(0, 100, " %", TIPS["color"])
        self.class_weights = QCheckBox("Weight classes against imbalance", toolTip=TIPS["class_weights"])
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow(self.hflip)
        form.addRow(self.vflip)
        form.addRow("Rotate up to ±", self.rotation)
        form.addRow("Shift up to ±", self.translate)
        form.addRow("Zoom up to ±", self.zoom)
        form.addRow("Colour change up to ±", self.color)
        form.addRow(self.class_weights)
        for check in (self.hflip, self.vflip, self.class_weights):
            check.toggled.connect(self._on_edit)
        for box in (self.rotation, self.translate, self.zoom, self.color):
            box.valueChanged.connect(self._on_edit)
        self.load()
        context.training_changed.connect(self.load)

    def augment(self) -> Augment:
        z = self.zoom.value() / 100
        return Augment(hflip=self.hflip.isChecked(), vflip=self.vflip.isChecked(),
                       rotation=float(self.rotation.value()), translate=self.translate.value() / 100,
                       scale=(round(1 - z, 4), round(1 + z, 4)), color=self.color.value() / 100)

    @Slot()
    def load(self) -> None:
        settings = self.context.training_settings()
        try:
            aug = Augment.from_dict(settings.get("augment"))
        except (DesignerError, TypeError, ValueError):
            aug = Augment()
        self._loading = True
        try:
            self.hflip.setChecked(aug.hflip)
            self.vflip.setChecked(aug.vflip)
            self.rotation.setValue(round(aug.rotation))
            self.translate.setValue(round(aug.translate * 100))
            self.zoom.setValue(round(max(1 - aug.scale[0], aug.scale[1] - 1) * 100))
            self.color.setValue(round(aug.color * 100))
            self.class_weights.setChecked(bool(settings.get("class_weights")))
        finally:
            self._loading = False

    @Slot()
    def _on_edit(self, *_) -> None:
        if self._loading:
            return
        before = self.context.training_settings().get("augment")
        self.context.update_training(augment=self.augment().to_dict(),
                                     class_weights=self.class_weights.isChecked())
        if before != self.augment().to_dict():
            self.edited.emit()
