"""The Layer Library: layers to insert after, or put in place of, the selected layer.

Drag an entry onto a node of the graph (inserts after it), or select a node and
click "Insert after" / "Replace". Sizes left out (a Linear's in_features) are
inferred from the shape flowing in when the design is built.
"""

from __future__ import annotations

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from designer.model.surgery import LAYER_LIBRARY
from widgets.graph.scene import LAYER_MIME

GROUPS = (
    ("Learnable", ("Linear", "Conv2d", "BatchNorm2d", "BatchNorm1d", "LayerNorm")),
    ("Activation", ("ReLU", "ReLU6", "LeakyReLU", "GELU", "SiLU", "Hardswish", "Sigmoid", "Tanh")),
    ("Pooling", ("MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d")),
    ("Regularisation", ("Dropout", "Dropout2d")),
    ("Shape", ("Flatten", "Identity")),
)
TYPE_ROLE = Qt.UserRole + 1


def library_types() -> list[str]:
    """Layer types the core can build, in display order (the core's list wins)."""
    known = [t for _, types in GROUPS for t in types if t in LAYER_LIBRARY]
    return known + sorted(t for t in LAYER_LIBRARY if t not in known)


def group_of(layer: str) -> str:
    return next((g for g, types in GROUPS if layer in types), "Other")


class _LayerList(QListWidget):
    def mimeData(self, items) -> QMimeData:
        mime = QMimeData()
        if items:
            mime.setData(LAYER_MIME, items[0].data(TYPE_ROLE).encode())
            mime.setText(items[0].data(TYPE_ROLE))
        return mime

    def mimeTypes(self) -> list[str]:
        return [LAYER_MIME]


class LayerLibrary(QWidget):
    insert_requested = Signal(str)  # layer type: insert after the selected layer
    replace_requested = Signal(str)  # layer type: replace the selected layer

    def __init__(self, qdoc, parent=None):
        super().__init__(parent)
        self.qdoc = qdoc
        self.list = _LayerList()
        self.list.setDragEnabled(True)
        self.list.setDragDropMode(QAbstractItemView.DragOnly)
        self.list.setSelectionMode(QAbstractItemView.SingleSelection)
        self._fill()
        self.insert_button = QPushButton("Insert after")
        self.insert_button.setToolTip("Insert the chosen layer after the selected layer in the graph")
        self.replace_button = QPushButton("Replace")
        self.replace_button.setToolTip("Put the chosen layer in place of the selected layer")
        self.insert_button.clicked.connect(self._insert)
        self.replace_button.clicked.connect(self._replace)
        self.list.itemDoubleClicked.connect(lambda item: self._insert())
        hint = QLabel("Drag a layer onto the graph, or select a layer there and click a button.")
        hint.setWordWrap(True)
        hint.setObjectName("muted")
        buttons = QHBoxLayout()
        buttons.addWidget(self.insert_button)
        buttons.addWidget(self.replace_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(hint)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        self.list.currentItemChanged.connect(self._update_buttons)
        qdoc.selection_changed.connect(self._update_buttons)
        self._update_buttons()

    def _fill(self) -> None:
        current = None
        for layer in library_types():
            group = group_of(layer)
            if group != current:
                header = QListWidgetItem(group.upper())
                header.setFlags(Qt.NoItemFlags)
                header.setData(Qt.UserRole, "header")
                self.list.addItem(header)
                current = group
            item = QListWidgetItem(f"  {layer}")
            item.setData(TYPE_ROLE, layer)
            item.setToolTip(f"torch.nn.{layer}")
            self.list.addItem(item)

    def current_type(self) -> str | None:
        item = self.list.currentItem()
        return item.data(TYPE_ROLE) if item is not None else None

    def select_type(self, layer: str) -> None:
        for row in range(self.list.count()):
            if self.list.item(row).data(TYPE_ROLE) == layer:
                self.list.setCurrentRow(row)
                return

    def _update_buttons(self, *_) -> None:
        ok = self.current_type() is not None and bool(self.qdoc.doc.selection)
        self.insert_button.setEnabled(ok)
        self.replace_button.setEnabled(ok)

    def _insert(self) -> None:
        if self.current_type():
            self.insert_requested.emit(self.current_type())

    def _replace(self) -> None:
        if self.current_type():
            self.replace_requested.emit(self.current_type())
