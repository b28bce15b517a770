"""The undo History: every edit in order, the ones undone greyed and in italics, so one sees at a
glance which steps the design holds now and which a Redo would bring back."""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QStyledItemDelegate, QUndoView

UNDONE_COLOUR = QColor("#9ca3af")


class UndoneDelegate(QStyledItemDelegate):
    """Draws the rows after the stack's current index (undone edits) grey and italic. Row 0 is the
    opened model; row k is the k-th edit, which the design holds while k <= ``stack.index()``."""

    def __init__(self, stack, parent=None):
        super().__init__(parent)
        self.stack = stack

    def is_undone(self, row: int) -> bool:
        return row > self.stack.index()

    def initStyleOption(self, option, index) -> None:
        super().initStyleOption(option, index)
        if self.is_undone(index.row()):
            for group in (QPalette.Active, QPalette.Inactive):
                option.palette.setColor(group, QPalette.Text, UNDONE_COLOUR)
            option.font.setItalic(True)


class HistoryView(QUndoView):
    def __init__(self, stack, parent=None):
        super().__init__(stack, parent)
        self.setEmptyLabel("Opened model")
        self.undone = UndoneDelegate(stack, self)
        self.setItemDelegate(self.undone)
        stack.indexChanged.connect(self._repaint)
        self.setToolTip("Every edit, oldest first. Greyed: undone (Redo brings it back). Click a row to go "
                        "back to that point.")

    @Slot(int)
    def _repaint(self, _index: int) -> None:
        self.viewport().update()  # rows that changed between done and undone are redrawn
