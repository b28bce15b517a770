"""A combo box that shortens a long choice with "…" where it is too narrow, and tells it in full
in its tooltip: a clipped label ("Recommended: fit the classifier, then fine") reads as a bug."""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QComboBox, QStyle, QStyleOptionComboBox, QStylePainter


class ElidedComboBox(QComboBox):
    """``QComboBox`` whose closed box shows the current label elided to its width; the tooltip
    starts with the full label, then the box's own tip (``set_tip``)."""

    def __init__(self, parent=None, tip: str = ""):
        super().__init__(parent)
        self.tip = tip
        self.currentIndexChanged.connect(self._update_tooltip)
        self._update_tooltip()

    def set_tip(self, tip: str) -> None:
        self.tip = tip
        self._update_tooltip()

    def _options(self) -> QStyleOptionComboBox:
        option = QStyleOptionComboBox()
        self.initStyleOption(option)
        return option

    def displayed_text(self) -> str:
        """The label as the closed box draws it: whole, or shortened with "…" to fit."""
        option = self._options()
        field = self.style().subControlRect(QStyle.CC_ComboBox, option, QStyle.SC_ComboBoxEditField, self)
        return self.fontMetrics().elidedText(self.currentText(), Qt.ElideRight, max(0, field.width()))

    def paintEvent(self, event) -> None:
        painter = QStylePainter(self)
        option = self._options()
        painter.drawComplexControl(QStyle.CC_ComboBox, option)
        option.currentText = self.displayed_text()
        painter.drawControl(QStyle.CE_ComboBoxLabel, option)

    @Slot()
    def _update_tooltip(self, *_) -> None:
        label = self.currentText()
        self.setToolTip(f"{label}\n\n{self.tip}" if label and self.tip else label or self.tip)
