"""The module tree of the current design, selection-synced with the canvas."""

from __future__ import annotations

from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt, Signal
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTreeView

from widgets.base import style

PATH_ROLE = Qt.UserRole + 1
COLUMNS = ("Layer", "Type", "Params", "Training")


def state_text(frozen, lr) -> str:
    if frozen is None:
        return ""
    return "frozen" if frozen else f"LR {style.lr_text(lr)}"


class LayerTree(QTreeView):
    context_menu = Signal(object)  # screen QPoint, for the selected layers

    def __init__(self, qdoc, parent=None):
        super().__init__(parent)
        self.qdoc = qdoc
        self.items: dict[str, list[QStandardItem]] = {}
        self._model_obj = None
        self._syncing = False
        self.model_ = QStandardItemModel(self)
        self.model_.setHorizontalHeaderLabels(list(COLUMNS))
        self.setModel(self.model_)
        self.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.setUniformRowHeights(True)
        self.setAlternatingRowColors(True)
        self.setContextMenuPolicy(Qt.CustomContextMenu)
        self.customContextMenuRequested.connect(self._on_context)
        header = self.header()
        header.setSectionResizeMode(0, QHeaderView.Stretch)
        for col in (1, 2, 3):
            header.setSectionResizeMode(col, QHeaderView.ResizeToContents)
        self.selectionModel().selectionChanged.connect(self._on_tree_selection)
        qdoc.recipe_changed.connect(self._on_state)
        qdoc.selection_changed.connect(self._on_selection)

    # --- document -> tree ---------------------------------------------------------------------

    def _on_state(self, state) -> None:
        if state.design.model is not self._model_obj:
            self._rebuild(state)
        else:
            self._update_states(state.layer_state)
        self._on_selection(self.qdoc.doc.selection)

    def _rebuild(self, state) -> None:
        self._syncing = True
        self.model_.removeRows(0, self.model_.rowCount())
        self.items.clear()
        self._model_obj = state.design.model
        parents = {"": self.model_.invisibleRootItem()}
        for path, module in state.design.model.named_modules():
            if not path:
                continue
            parent_path = path.rpartition(".")[0]
            params = sum(p.numel() for p in module.parameters())
            frozen, lr = state.layer_state.get(path, (None, 1.0))
            row = [QStandardItem(path.rpartition(".")[2]), QStandardItem(type(module).__name__),
                   QStandardItem(style.human_count(params) if params else ""),
                   QStandardItem(state_text(frozen, lr))]
            row[0].setData(path, PATH_ROLE)
            row[0].setToolTip(path)
            parents.get(parent_path, parents[""]).appendRow(row)
            parents[path] = row[0]
            self.items[path] = row
        self._syncing = False

    def _update_states(self, layer_state: dict) -> None:
        for path, row in self.items.items():
            frozen, lr = layer_state.get(path, (None, 1.0))
            text = state_text(frozen, lr)
            if row[3].text() != text:
                row[3].setText(text)

    def _on_selection(self, paths) -> None:
        if self._syncing:
            return
        self._syncing = True
        try:
            selection = QItemSelection()
            for path in paths:
                row = self.items.get(path)
                if row is None:
                    continue
                index = row[0].index()
                selection.select(index, index.siblingAtColumn(len(COLUMNS) - 1))
                self._expand_to(index)
            self.selectionModel().select(selection, QItemSelectionModel.ClearAndSelect)
            if not selection.isEmpty():
                self.scrollTo(selection.indexes()[0])
        finally:
            self._syncing = False

    def _expand_to(self, index) -> None:
        parent = index.parent()
        while parent.isValid():
            self.setExpanded(parent, True)
            parent = parent.parent()

    # --- tree -> document -------------------------------------------------------------------------

    def selected_paths(self) -> list[str]:
        rows = self.selectionModel().selectedRows(0)
        return [i.data(PATH_ROLE) for i in rows if i.data(PATH_ROLE)]

    def _on_tree_selection(self, *_) -> None:
        if not self._syncing:
            self._syncing = True
            try:
                self.qdoc.select(self.selected_paths())
            finally:
                self._syncing = False

    def _on_context(self, pos) -> None:
        if self.selected_paths():
            self.context_menu.emit(self.viewport().mapToGlobal(pos))

    def select_path(self, path: str) -> None:
        """As if the user clicked the row of ``path``."""
        row = self.items[path]
        self.selectionModel().select(row[0].index(),
                                     QItemSelectionModel.ClearAndSelect | QItemSelectionModel.Rows)
