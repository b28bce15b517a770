"""The Design tab: graph canvas in the middle, Layer Library and layer tree on the
left, Properties and Analyzer on the right, undo History below, edit toolbar on top."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDockWidget, QMainWindow, QToolBar

from widgets.design.analyzer_panel import AnalyzerPanel
from widgets.design.edit_actions import EditActions
from widgets.design.history import HistoryView
from widgets.design.layer_library import LayerLibrary
from widgets.design.layer_tree import LayerTree
from widgets.design.properties import Properties
from widgets.graph.canvas import GraphCanvas


class DesignWorkspace(QMainWindow):
    def __init__(self, qdoc, parent=None):
        super().__init__(parent)
        self.setWindowFlags(Qt.Widget)
        self.setDockOptions(QMainWindow.AnimatedDocks | QMainWindow.AllowTabbedDocks)
        self.qdoc = qdoc
        self.actions = EditActions(qdoc, self)
        self.canvas = GraphCanvas(qdoc)
        self.setCentralWidget(self.canvas)
        self.library = LayerLibrary(qdoc)
        self.tree = LayerTree(qdoc)
        self.properties = Properties(qdoc)
        self.analyzer = AnalyzerPanel(qdoc)
        self.history = HistoryView(qdoc.undo_stack)
        self.docks = {}
        self._dock("library", "Layer Library", self.library, Qt.LeftDockWidgetArea)
        self._dock("tree", "Layer tree", self.tree, Qt.LeftDockWidgetArea)
        self._dock("properties", "Properties", self.properties, Qt.RightDockWidgetArea)
        self._dock("analyzer", "Analyzer", self.analyzer, Qt.RightDockWidgetArea)
        self._dock("history", "History", self.history, Qt.LeftDockWidgetArea)
        self.tabifyDockWidget(self.docks["library"], self.docks["tree"])
        self.docks["library"].raise_()
        self._sized = False
        self.toolbar = self._toolbar()
        self._connect()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._sized:  # dock sizes only stick once the window has its real size
            self._sized = True
            self.resizeDocks([self.docks["library"], self.docks["properties"]], [250, 380], Qt.Horizontal)
            self.resizeDocks([self.docks["properties"], self.docks["analyzer"]], [360, 420], Qt.Vertical)
            self.resizeDocks([self.docks["library"], self.docks["history"]], [560, 200], Qt.Vertical)

    def _dock(self, key: str, title: str, widget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{key}")
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable
                         | QDockWidget.DockWidgetClosable)
        self.addDockWidget(area, dock)
        self.docks[key] = dock
        return dock

    def _toolbar(self) -> QToolBar:
        bar = QToolBar("Edit")
        bar.setObjectName("editToolbar")
        bar.setIconSize(QSize(16, 16))
        bar.setToolButtonStyle(Qt.ToolButtonTextOnly)
        bar.setMovable(False)
        a = self.actions
        for item in (a.undo, a.redo, None, a.change_input, a.replace_classifier, None, a.freeze, a.unfreeze,
                     a.freeze_until, a.set_lr, a.lr_preset, None, a.delete):
            bar.addSeparator() if item is None else bar.addAction(item)
        self.addToolBar(Qt.TopToolBarArea, bar)
        return bar

    def view_actions(self) -> list[QAction]:
        return [dock.toggleViewAction() for dock in self.docks.values()]

    def _connect(self) -> None:
        self.canvas.node_activated.connect(self._on_node_activated)
        self.canvas.context_menu.connect(self._on_canvas_menu)
        self.canvas.layer_dropped.connect(self._on_layer_dropped)
        self.tree.context_menu.connect(self._on_tree_menu)
        self.library.insert_requested.connect(self.actions.insert_layer)
        self.library.replace_requested.connect(self.actions.replace_layer)
        self.analyzer.node_clicked.connect(self.focus_node)
        self.analyzer.fix_requested.connect(self.actions.apply_fix)

    # --- slots ---------------------------------------------------------------------------------------

    @Slot(str)
    def _on_node_activated(self, node: str) -> None:
        if node == "input":
            self.actions.ask_change_input()
            return
        design = self.qdoc.state.design if self.qdoc.state else None
        if design is not None and node == design.classifier_path:
            self.actions.ask_replace_classifier()
            return
        self.docks["properties"].raise_()

    @Slot(str, object)
    def _on_canvas_menu(self, node: str, pos) -> None:
        extra = []
        path = self.canvas.scene.nodes[node].path if node in self.canvas.scene.nodes else node
        if self.canvas.collapse_parent_possible(path):
            fold = QAction("Fold the block around this layer", self)
            fold.triggered.connect(self._fold_current)
            extra.append(fold)
        if node == "input":
            extra.append(self.actions.change_input)
        self._menu = self.actions.context_menu(self, extra)
        self._menu_node = path
        self._menu.popup(pos)

    @Slot()
    def _fold_current(self) -> None:
        self.canvas.collapse_parent(self._menu_node)

    @Slot(object)
    def _on_tree_menu(self, pos) -> None:
        self._menu = self.actions.context_menu(self)
        self._menu.popup(pos)

    @Slot(str, str)
    def _on_layer_dropped(self, layer: str, path: str) -> None:
        self.actions.insert_layer(layer, path)

    @Slot(str)
    def focus_node(self, node: str) -> None:
        """Select ``node`` and centre the canvas on it (analyzer message clicked)."""
        state = self.qdoc.state
        if state is not None and node in state.graph:
            self.canvas.reveal(node)
        else:
            self.qdoc.select([node])
