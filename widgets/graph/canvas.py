"""The Design workspace's centre: the layer graph with its fold/zoom/search bar,
minimap and legend. It mirrors the document (state and selection) and reports
what the user asks for; edits go through the main window's actions."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QToolButton, QVBoxLayout, QWidget

from designer.inspect import fold as gm
from widgets.base.keys import is_redo
from widgets.graph.items import node_path
from widgets.graph.scene import GraphScene
from widgets.graph.view import GraphView, Legend, Minimap

LEVEL_RANK = {"error": 2, "warning": 1}


class GraphCanvas(QWidget):
    node_activated = Signal(str)  # double-click on a layer (not a block): node id
    context_menu = Signal(str, object)  # node id, screen QPoint
    layer_dropped = Signal(str, str)  # layer type, module path

    def __init__(self, qdoc, parent=None):
        super().__init__(parent)
        self.qdoc = qdoc
        self.depth_mode: int | str | None = "auto"  # "auto" | None (all layers) | int
        self.expanded: set[str] = set()
        self.view_graph = None
        self._syncing = False
        self._matches: list[str] = []
        self._match_index = -1
        self.scene = GraphScene(self)
        self.view = GraphView(self.scene)
        self.minimap = Minimap(self.view, self.view)
        self.legend = Legend(self.view)
        self._build_ui()
        self.view.installEventFilter(self)
        self.scene.selectionChanged.connect(self._on_scene_selection)
        self.scene.node_double_clicked.connect(self._on_double_click)
        self.scene.context_requested.connect(self.context_menu)
        self.scene.layer_dropped.connect(self._on_drop)
        qdoc.recipe_changed.connect(self._on_state)
        qdoc.selection_changed.connect(self._on_selection)
        qdoc.opened.connect(self._on_opened)

    def _build_ui(self) -> None:
        bar = QHBoxLayout()
        bar.setContentsMargins(8, 6, 8, 6)
        bar.setSpacing(6)
        self.depth_box = QComboBox()
        self.depth_box.setToolTip("How much detail: fold blocks to a depth, or show every layer")
        self.depth_box.activated.connect(self._on_depth_chosen)
        # Short enough to show whole in the box's least width; the tooltip tells the rest.
        self.search = QLineEdit(placeholderText="Find layer (Ctrl+F)",
                                toolTip="Type part of a layer's name; Enter jumps to the next match")
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(140)
        self.search.returnPressed.connect(self.find_next)
        self.search.textChanged.connect(self._reset_matches)
        self.match_label = QLabel("")
        self.match_label.setObjectName("muted")
        self.fit_note = QLabel("", objectName="muted", wordWrap=True)  # wraps, never widens the window
        self.view.viewport_moved.connect(self._clear_fit_note)
        bar.addWidget(QLabel("Detail"))
        bar.addWidget(self.depth_box)
        for text, tip, slot in (("−", "Zoom out", lambda: self.view.zoom_by(1 / 1.25)),
                                ("+", "Zoom in", lambda: self.view.zoom_by(1.25)),
                                ("Fit", "Fit the whole graph in view, as far as its labels stay readable",
                                 self.fit),
                                ("1:1", "Actual size", lambda: self.view.set_zoom(1.0))):
            button = QToolButton(text=text, toolTip=tip, autoRaise=True)
            button.clicked.connect(slot)
            bar.addWidget(button)
        bar.addWidget(self.fit_note)
        bar.addStretch(1)
        bar.addWidget(self.match_label)
        bar.addWidget(self.search, 1)  # shares the spare room with the stretch before it
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        top = QWidget(objectName="canvasBar")
        top.setLayout(bar)
        layout.addWidget(top)
        layout.addWidget(self.view, 1)
        QShortcut(QKeySequence.Find, self, activated=self._focus_search)
        self.search.installEventFilter(self)

    def fit(self) -> bool:
        """Fit the graph in view as far as it stays readable; say so when it does not all fit."""
        whole = self.view.fit()  # its own viewport_moved signals come first, then the note is set
        self.fit_note.setText("" if whole else "Too big to fit readably: showing the input end. "
                              "Fold blocks (Detail) or use the minimap.")
        return whole

    def _clear_fit_note(self) -> None:
        self.fit_note.setText("")

    def _focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    # --- overlays ---------------------------------------------------------------------------

    def eventFilter(self, obj, event) -> bool:
        if obj is self.view and event.type() == QEvent.Resize:
            self._place_overlays()
        elif obj is self.search and event.type() == QEvent.KeyPress:
            return self._undo_key_in_search(event)
        return False

    def _undo_key_in_search(self, event) -> bool:
        """Undo and Redo typed in the Find box act on the design, like everywhere else in the
        window: the box holds a throw-away search word, the design the user's work."""
        if event.matches(QKeySequence.Undo):
            self.qdoc.undo_stack.undo()
            return True
        if is_redo(event):
            self.qdoc.undo_stack.redo()
            return True
        return False

    def _place_overlays(self) -> None:
        vp = self.view.viewport().geometry()
        self.minimap.move(vp.right() - self.minimap.width() - 12, vp.bottom() - self.minimap.height() - 12)
        self.legend.fit_width(vp.width() - 24)
        self.legend.move(vp.left() + 12, vp.bottom() - self.legend.height() - 12)
        self.minimap.setVisible(self.scene.nodes.__len__() > 30)

    # --- folding ------------------------------------------------------------------------------

    @property
    def depth(self) -> int | None:
        if self.depth_mode == "auto":
            graph = self.qdoc.state.graph if self.qdoc.state else None
            return gm.auto_depth(graph) if graph is not None else None
        return self.depth_mode

    def set_depth(self, depth) -> None:
        """"auto", None (every layer) or a fold depth; also closes opened blocks."""
        self.depth_mode = depth
        self.expanded.clear()
        self.rebuild(fit=True)

    def _on_depth_chosen(self, index: int) -> None:
        self.set_depth(self.depth_box.itemData(index))

    def _fill_depth_box(self) -> None:
        graph = self.qdoc.state.graph
        self.depth_box.blockSignals(True)
        self.depth_box.clear()
        self.depth_box.addItem("Auto", "auto")
        self.depth_box.addItem("Every layer", None)
        for depth in range(1, gm.max_depth(graph)):
            self.depth_box.addItem(f"Blocks, level {depth}", depth)
        index = self.depth_box.findData(self.depth_mode)
        self.depth_box.setCurrentIndex(max(0, index))
        self.depth_box.blockSignals(False)

    def toggle_block(self, path: str) -> None:
        if path in self.expanded:
            self.expanded = {p for p in self.expanded if p != path and not p.startswith(path + ".")}
        else:
            self.expanded.add(path)
        self.rebuild()

    def collapse_parent_possible(self, path: str) -> bool:
        return any(path.startswith(p + ".") for p in self.expanded)

    def collapse_parent(self, path: str) -> bool:
        """Fold the opened block that holds ``path``; False when none does."""
        parents = [p for p in self.expanded if path.startswith(p + ".")]
        if not parents:
            return False
        self.toggle_block(max(parents, key=len))
        return True

    # --- document -> canvas ----------------------------------------------------------------------

    def _on_opened(self) -> None:
        self.depth_mode = "auto"
        self.expanded.clear()
        self.search.clear()
        self.rebuild(fit=True)

    def _on_state(self, state) -> None:
        self.rebuild()

    def rebuild(self, fit: bool = False) -> None:
        state = self.qdoc.state
        if state is None:
            return
        centre, zoom = self.view.visible_scene_rect().center(), self.view.zoom
        self.view_graph = gm.fold(state.graph, self.depth, self.expanded)
        self._describe_input(state.design)
        self._syncing = True
        try:
            self.scene.build(self.view_graph, gm.positions(self.view_graph))
            self.scene.set_levels(self._levels(state.report))
            self.scene.select_ids(self._visible(self.qdoc.doc.selection))
        finally:
            self._syncing = False
        self._fill_depth_box()
        if fit or not self.scene.nodes:
            self.view.fit_width()
        else:
            self.view.set_zoom(zoom)
            self.view.centerOn(centre)
        self.minimap.refresh()
        self._place_overlays()

    def _describe_input(self, design) -> None:
        """The input node shows what the data is (grey repeated to RGB reads 1×H×W)."""
        if "input" not in self.view_graph:
            return
        data = self.view_graph.nodes["input"]
        data["display_shape"] = (1, *design.input_shape)
        if getattr(design, "replicate_grey", False):
            data["note"] = "grey, repeated to 3 channels"

    def _levels(self, report) -> dict[str, str]:
        levels: dict[str, str] = {}
        for msg in getattr(report, "messages", []) or []:
            node = gm.visible_node_for(self.view_graph, msg.node) if msg.node else None
            if node and LEVEL_RANK.get(msg.level, 0) > LEVEL_RANK.get(levels.get(node, ""), 0):
                levels[node] = msg.level
        return levels

    def _visible(self, paths) -> list[str]:
        if self.view_graph is None:
            return []
        return list(dict.fromkeys(n for p in paths for n in gm.visible_nodes_for(self.view_graph, p)))

    def _on_selection(self, paths) -> None:
        if self._syncing or self.view_graph is None:
            return
        self._syncing = True
        try:
            ids = self._visible(paths)
            self.scene.select_ids(ids)
        finally:
            self._syncing = False
        if ids:
            self.view.ensureVisible(self.scene.nodes[ids[0]], 60, 60)

    # --- canvas -> document -------------------------------------------------------------------------

    def _on_scene_selection(self) -> None:
        if self._syncing:
            return
        self.qdoc.select([self.scene.nodes[n].path for n in self.scene.selected_ids()])

    def _on_double_click(self, node: str) -> None:
        item = self.scene.nodes[node]
        if item.is_block:
            self.toggle_block(item.path)
        else:
            self.node_activated.emit(node)

    def _on_drop(self, layer: str, node: str) -> None:
        self.layer_dropped.emit(layer, self.scene.nodes[node].path)

    # --- search -----------------------------------------------------------------------------------------

    def _reset_matches(self) -> None:
        self._matches, self._match_index = [], -1
        self.match_label.setText("")

    def find(self, text: str) -> str | None:
        """Select and centre the first layer matching ``text``; returns its node id."""
        self.search.setText(text)
        return self.find_next()

    def find_next(self) -> str | None:
        state = self.qdoc.state
        if state is None:
            return None
        if not self._matches:
            self._matches = gm.find_nodes(state.graph, self.search.text())
            self._match_index = -1
        if not self._matches:
            self.match_label.setText("No match")
            return None
        self._match_index = (self._match_index + 1) % len(self._matches)
        target = self._matches[self._match_index]
        self.match_label.setText(f"{self._match_index + 1} of {len(self._matches)}")
        self.reveal(target)
        return target

    def reveal(self, node: str) -> None:
        """Open the blocks hiding ``node`` (a graph node id, or a container's module path),
        select it and centre on it."""
        graph = self.qdoc.state.graph
        if node in self.view_graph:  # drawn as it is (a layer, or a folded block)
            self.qdoc.select([node_path(node, self.view_graph.nodes[node])])
            self.view.set_zoom(max(self.view.zoom, 0.8))
            self.view.centerOn(self.scene.nodes[node])
            return
        if node in graph:
            target, path = node, node_path(node, graph.nodes[node])
        else:  # a container drawn as its layers, e.g. a Sequential head
            inside = sorted((n for n, d in graph.nodes(data=True)
                             if str(d.get("path", "")).startswith(node + ".")),
                            key=lambda n: graph.nodes[n]["order"])
            if not inside:
                self.qdoc.select([node])
                return
            target, path = inside[-1], node
        if gm.visible_node_for(self.view_graph, target) != target:
            self.expanded.update(gm.blocks_to_open(graph, graph.nodes[target]["path"], self.depth))
            self.rebuild()
        self.qdoc.select([path])
        item = self.scene.nodes.get(gm.visible_node_for(self.view_graph, target) or "")
        if item is not None:
            self.view.set_zoom(max(self.view.zoom, 0.8))
            self.view.centerOn(item)
