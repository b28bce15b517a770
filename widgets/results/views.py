"""Views of an evaluation: confusion-matrix heatmap, per-class accuracy, misclassified gallery (with
heat maps of why the network said what it did)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import QSize, Qt, Slot
from PySide6.QtGui import QBrush, QColor, QIcon, QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHeaderView,
    QListView,
    QListWidget,
    QListWidgetItem,
    QTableWidget,
    QTableWidgetItem,
)

from designer.inspect.overlay import overlay
from widgets.base.pictures import square_pixmap
from widgets.results.enlarged import EnlargedView
from widgets.training.runs import acc_text

RIGHT = QColor("#2563eb")
PATH_ROLE = Qt.UserRole + 1
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
        return [[int(self.item(i, j).text()) for j in range(self.columnCount())]
                for i in range(self.rowCount())]


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


@dataclass
class Entry:
    """What a gallery item shows: its picture, its true class when known, and once computed its
    heat maps (a ``designer.app.explain.Explanation``)."""

    path: str | None
    thumb: np.ndarray | None
    true: str | None = None
    explanation: Any = None

    def heat(self, role: str):
        """(class name, map) for ``role`` ("true" or "predicted"), or None when there is none."""
        expl = self.explanation
        if expl is None or expl.error or role not in ("true", "predicted"):
            return None
        name = expl.true if role == "true" else expl.predicted
        return (name, expl.maps[name]) if name in expl.maps else None

    def titled_maps(self) -> list[tuple[str, np.ndarray]]:
        """(title, map) for the true and the predicted class; one map when they are the same class."""
        true, predicted = self.heat("true"), self.heat("predicted")
        if true is not None and predicted is not None and true[0] == predicted[0]:
            return [(f"True and predicted class: {true[0]}", true[1])]
        return ([(f"True class: {true[0]}", true[1])] if true else []) + \
            ([(f"Predicted: {predicted[0]}", predicted[1])] if predicted else [])


class Gallery(QListWidget):
    """Thumbnails with a caption: the misclassified images, or predictions. Each can show its
    heat map for the true or the predicted class (``show_heat``)."""

    def __init__(self, empty_text: str = "", parent=None, extra_lines: int = 0):
        super().__init__(parent)
        self.setViewMode(QListView.IconMode)
        self.setIconSize(QSize(THUMB, THUMB))
        # ``extra_lines``: captions longer than the usual three lines get the room, not a cut
        self.setGridSize(QSize(THUMB + 64, THUMB + 52 + extra_lines * self.fontMetrics().lineSpacing()))
        self.setResizeMode(QListView.Adjust)
        self.setMovement(QListView.Static)
        self.setWordWrap(True)
        self.setUniformItemSizes(True)  # every icon is THUMB x THUMB (square_pixmap)
        self.empty_text = empty_text
        self.entries: list[Entry] = []  # one per item, in row order
        self.heat_role, self.opacity = "off", 0.5
        self.itemActivated.connect(self._on_activated)

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        if self.count() == 0 and self.empty_text:  # say why the area is blank
            painter = QPainter(self.viewport())
            painter.setPen(QColor("#6b7280"))
            painter.drawText(self.viewport().rect().adjusted(16, 16, -16, -16),
                             Qt.AlignCenter | Qt.TextWordWrap, self.empty_text)
            painter.end()

    def clear(self) -> None:
        super().clear()
        self.entries = []

    def caption_line(self, text: str) -> str:
        """``text`` shortened in the middle to fit one caption line (a long file name keeps its
        start and its extension)."""
        return self.fontMetrics().elidedText(text, Qt.ElideMiddle, self.gridSize().width() - 8)

    def add(self, thumb, caption: str, tip: str, path: str | None = None,
            true: str | None = None) -> QListWidgetItem:
        """A thumbnail (any shape; drawn in a square) with its caption; with ``path``, double-click
        (or Enter) shows the image large. ``true``: the image's true class, when known."""
        item = QListWidgetItem(caption)
        item.setToolTip(f"{tip}\n(Double-click to enlarge)" if path else tip)
        item.setTextAlignment(Qt.AlignHCenter | Qt.AlignTop)
        item.setData(PATH_ROLE, path)
        self.entries.append(Entry(path, thumb, true))
        self.addItem(item)
        self._render(self.count() - 1)
        return item

    # --- heat maps ---------------------------------------------------------------------------------

    def show_heat(self, role: str, opacity: float) -> None:
        """Draw every thumbnail with its ``role`` map ("true", "predicted" or "off")."""
        if (role, opacity) == (self.heat_role, self.opacity):
            return
        self.heat_role, self.opacity = role, opacity
        for row in range(self.count()):
            self._render(row)

    def set_explanation(self, explanation) -> bool:
        """Attach an image's maps to the items showing that image; True if any does."""
        rows = [k for k, e in enumerate(self.entries) if e.path == explanation.path]
        for row in rows:
            self.entries[row].explanation = explanation
            self._render(row)
        return bool(rows)

    def clear_explanations(self) -> None:
        for row, entry in enumerate(self.entries):
            if entry.explanation is not None:
                entry.explanation = None
                self._render(row)

    def missing_explanations(self) -> list[Entry]:
        """Entries with an image file but no maps yet."""
        return [e for e in self.entries if e.path and e.explanation is None]

    def _render(self, row: int) -> None:
        entry, item = self.entries[row], self.item(row)
        heat = entry.heat(self.heat_role)
        picture = entry.thumb
        if heat is not None and picture is not None:
            picture = overlay(picture, heat[1], self.opacity)
        item.setIcon(QIcon(square_pixmap(picture, THUMB)) if picture is not None else QIcon())

    @Slot(QListWidgetItem)
    def _on_activated(self, item: QListWidgetItem) -> None:
        self.enlarge(item)

    def enlarge(self, item: QListWidgetItem) -> QDialog | None:
        """Show the item's image at a size one can judge it by, beside its caption, and its heat
        maps for the true and the predicted class once they are computed."""
        path = item.data(PATH_ROLE)
        if not path:
            return None
        maps = self.entries[self.row(item)].titled_maps()
        dialog = EnlargedView(self, path, item.text().replace("\n", " · "), maps, self.opacity)
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
                                              f"is '{m.predicted}', but it is '{m.true}'.", m.path, m.true)
