"""The undo History: every edit of the design, the undone ones greyed.

Qt's ``QUndoView`` draws an undone edit like a done one, so after a few Undos nothing told the user
which edits the network still has. The delegate greys (and italicises) every row past the stack's
current index: those edits are not applied, and Redo would bring them back.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QStyledItemDelegate, QUndoView

UNDONE_COLOUR = "#9ca3af"


class _UndoneGrey(QStyledItemDelegate):
    def __init__(self, stack, parent=None):
        super().__init__(parent)
        self.stack = stack

    def initStyleOption(self, option, index) -> None:
        super().initStyleOption(option, index)
        if index.row() > self.stack.index():  # row 0 is the opened model; row k is the k-th edit
            option.palette.setColor(QPalette.Text, QColor(UNDONE_COLOUR))
            option.palette.setColor(QPalette.HighlightedText, QColor(UNDONE_COLOUR))
            option.font.setItalic(True)


class UndoHistory(QUndoView):
    """``QUndoView`` with the undone edits greyed, and a tooltip that says why."""

    def __init__(self, stack, parent=None):
        super().__init__(stack, parent)
        self.setEmptyLabel("Opened model")
        self.setItemDelegate(_UndoneGrey(stack, self))
        self.setToolTip("Every edit of the design, oldest first. Click a line to go back to it; greyed lines "
                        "are undone edits, which Redo brings back.")
        stack.indexChanged.connect(self.viewport().update)

    def is_undone(self, row: int) -> bool:
        """Whether row ``row`` is drawn greyed (an undone edit)."""
        return row > self.stack().index()
