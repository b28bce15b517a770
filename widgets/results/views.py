"""Views of an evaluation: confusion-matrix heatmap, per-class accuracy, misclassified gallery."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, Slot
from PySide6.QtGui import QBrush, QColor, QIcon, QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHeaderView,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from designer.app.jobs import thumbnail
from widgets.base.pictures import PictureLabel, square_pixmap
from widgets.training.runs import acc_text

RIGHT = QColor("#2563eb")
PATH_ROLE = Qt.UserRole + 1
ENLARGED = 560  # the enlarged view's picture area, px
WRONG = QColor("#dc2626")
THUMB = 96


def _mix(colour: QColor, t: float) -> QColor:
    """White blended towards ``colour`` by ``t`` (0..1)."""
    t = max(0.0, min(1.0, t))
    return QColor(round(255 + t * (colour.red() - 255)), round(255 + t * (colour.green() - 255)),
                  round(255 + t * (colour.blue() - 255)))


def _short(name: str, n: int = 14) -> str:
    return name if len(name) <= n else name[: n - 1] + "…"


class _Table(QTableWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.NoSelection)

    def _item(self, text: str, tip: str = "", align=Qt.AlignCenter) -> QTableWidgetItem:
        item = QTableWidgetItem(text)
        item.setTextAlignment(align)
        if tip:
            item.setToolTip(tip)
        return item


class ConfusionTable(_Table):
    """Rows: true class; columns: predicted class; each cell the image count, shaded by row share."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setToolTip("Rows are the true classes, columns what the network predicted. The diagonal "
                        "(blue) is right; red cells are mistakes: the darker, the more common.")
        self.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.verticalHeader().setSectionResizeMode(QHeaderView.Stretch)

    def set_evaluation(self, ev) -> None:
        classes, matrix = list(ev.classes), np.asarray(ev.confusion)
        n = len(classes)
        self.clear()
        self.setRowCount(n)
        self.setColumnCount(n)
        self.setHorizontalHeaderLabels([f"→ {_short(c)}" for c in classes])
        self.setVerticalHeaderLabels([_short(c) for c in classes])
        totals = matrix.sum(1)
        for i in range(n):
            for j in range(n):
                count = int(matrix[i, j])
                share = count / totals[i] if totals[i] else 0.0
                tip = f"{count} image(s) of '{classes[i]}' predicted as '{classes[j]}' ({100 * share:.0f} %)"
                item = self._item(str(count), tip)
                colour = _mix(RIGHT if i == j else WRONG, 0.85 * share if count else 0.0)
                item.setBackground(QBrush(colour))
                if share > 0.55:
                    item.setForeground(QBrush(QColor("white")))
                self.setItem(i, j, item)

    def counts(self) -> list[list[int]]:
        return [[int(self.item(i, j).text()) for j in range(self.columnCount())] for i in range(self.rowCount())]


class PerClassTable(_Table):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setColumnCount(3)
        self.setHorizontalHeaderLabels(["Class", "Images", "Accuracy"])
        self.verticalHeader().hide()
        self.horizontalHeader().setSectionResizeMode(0, QHeaderView.Stretch)
        self.setToolTip("The share of each class's images that the network got right.")

    def set_evaluation(self, ev) -> None:
        self.setRowCount(len(ev.classes))
        for row, name in enumerate(ev.classes):
            acc = ev.per_class.get(name)
            self.setItem(row, 0, self._item(name, align=Qt.AlignLeft | Qt.AlignVCenter))
            self.setItem(row, 1, self._item(str(ev.counts.get(name, 0))))
            item = self._item(acc_text(acc))
            if acc is not None:
                item.setBackground(QBrush(_mix(RIGHT if acc >= 0.5 else WRONG, 0.25 + 0.3 * abs(acc - 0.5))))
            self.setItem(row, 2, item)


class Gallery(QListWidget):
    """Thumbnails with a caption: the misclassified images, or predictions."""

    def __init__(self, empty_text: str = "", parent=None):
        super().__init__(parent)
        self.setViewMode(QListView.IconMode)
        self.setIconSize(QSize(THUMB, THUMB))
        self.setGridSize(QSize(THUMB + 64, THUMB + 52))
        self.setResizeMode(QListView.Adjust)
        self.setMovement(QListView.Static)
        self.setWordWrap(True)
        self.setUniformItemSizes(True)  # every icon is THUMB x THUMB (square_pixmap)
        self.empty_text = empty_text
        self.itemActivated.connect(self._on_activated)

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        if self.count() == 0 and self.empty_text:  # say why the area is blank
            painter = QPainter(self.viewport())
            painter.setPen(QColor("#6b7280"))
            painter.drawText(self.viewport().rect().adjusted(16, 16, -16, -16),
                             Qt.AlignCenter | Qt.TextWordWrap, self.empty_text)
            painter.end()

    def add(self, thumb, caption: str, tip: str, path: str | None = None) -> QListWidgetItem:
        """A thumbnail (any shape; drawn in a square) with its caption; with ``path``, double-click
        (or Enter) shows the image large."""
        item = QListWidgetItem(caption)
        if thumb is not None:
            item.setIcon(QIcon(square_pixmap(thumb, THUMB)))
        item.setToolTip(f"{tip}\n(Double-click to enlarge)" if path else tip)
        item.setTextAlignment(Qt.AlignHCenter | Qt.AlignTop)
        item.setData(PATH_ROLE, path)
        self.addItem(item)
        return item

    @Slot(QListWidgetItem)
    def _on_activated(self, item: QListWidgetItem) -> None:
        self.enlarge(item)

    def enlarge(self, item: QListWidgetItem) -> QDialog | None:
        """Show the item's image at a size one can judge it by, beside its caption."""
        path = item.data(PATH_ROLE)
        if not path:
            return None
        picture = thumbnail(path, ENLARGED)  # None when the file is gone or damaged since
        dialog = QDialog(self, windowTitle=Path(path).name)
        dialog.setAttribute(Qt.WA_DeleteOnClose)
        view = PictureLabel("The image cannot be shown.")
        view.set_array(picture)
        caption = QLabel(item.text().replace("\n", " · "), wordWrap=True, alignment=Qt.AlignCenter)
        layout = QVBoxLayout(dialog)
        layout.addWidget(view, 1)
        layout.addWidget(caption)
        layout.addWidget(QLabel(path, objectName="muted", wordWrap=True))
        dialog.resize(ENLARGED, ENLARGED + 60)
        dialog.show()
        return dialog

    def set_misclassified(self, ev, thumbs: dict) -> None:
        self.clear()
        self.empty_text = (f"No mistakes: all {ev.num_images} images were classified correctly."
                           if not ev.misclassified else "")
        self.viewport().update()
        for m in ev.misclassified:
            if m.path not in thumbs:
                break
            caption = f"true: {m.true}\npredicted: {m.predicted} ({100 * m.confidence:.0f}\u00a0%)"
            self.add(thumbs[m.path], caption, f"{m.path}\nThe network was {100 * m.confidence:.0f} % sure it "
                                              f"is '{m.predicted}', but it is '{m.true}'.", m.path)
