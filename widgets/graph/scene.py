"""The scene: builds node items and edge bundles from a folded graph and reports
what the user does on it (select, double-click, context menu, drop a layer)."""

from __future__ import annotations

from collections import defaultdict

from PySide6.QtCore import QPointF, QRectF, Signal
from PySide6.QtGui import QPainterPath
from PySide6.QtWidgets import QGraphicsScene

from widgets.base import style
from widgets.graph.items import EDGE_BAND_ROWS, GAP_X, GAP_Y, NODE_H, NODE_W, EdgeBundle, NodeItem, edge_path

LAYER_MIME = "application/x-netsurgeon-layer"
MARGIN = 120.0


class GraphScene(QGraphicsScene):
    node_double_clicked = Signal(str)  # node id
    context_requested = Signal(str, object)  # node id under the mouse, screen QPoint
    layer_dropped = Signal(str, str)  # layer type, node id

    def __init__(self, parent=None):
        super().__init__(parent)
        self.nodes: dict[str, NodeItem] = {}
        self._edges: list[EdgeBundle] = []
        self._fonts = (style.ui_font(10, bold=True), style.ui_font(8.5), style.ui_font(8.5, bold=True))
        self.setBackgroundBrush(style.CANVAS_BG)
        self.setItemIndexMethod(QGraphicsScene.BspTreeIndex)

    def build(self, view, positions: dict[str, tuple[float, float]]) -> None:
        """Replace everything with the nodes and edges of ``view`` (a folded DiGraph)."""
        self.clear()
        self.nodes.clear()
        self._edges.clear()
        sx, sy = NODE_W + GAP_X, NODE_H + GAP_Y
        points = {n: QPointF(x * sx, y * sy) for n, (x, y) in positions.items()}
        for node, d in view.nodes(data=True):
            item = NodeItem(node, d, self._fonts)
            item.setPos(points[node])
            self.addItem(item)
            self.nodes[node] = item
        self._add_edges(view, points, positions)
        rect = self.itemsBoundingRect() if self.nodes else QRectF(0, 0, 1, 1)
        self.setSceneRect(rect.adjusted(-MARGIN, -MARGIN, MARGIN, MARGIN))

    def _add_edges(self, view, points, positions) -> None:
        bands: dict[int, QPainterPath] = defaultdict(QPainterPath)
        for u, v in view.edges:
            if u in points and v in points:
                edge_path(points[u], points[v], bands[int(positions[u][1]) // EDGE_BAND_ROWS])
        for path in bands.values():
            bundle = EdgeBundle(path)
            self.addItem(bundle)
            self._edges.append(bundle)

    # --- selection and markers -----------------------------------------------------------------

    def selected_ids(self) -> list[str]:
        items = [i for i in self.selectedItems() if isinstance(i, NodeItem)]
        items.sort(key=lambda i: (i.pos().y(), i.pos().x()))
        return [i.node_id for i in items]

    def select_ids(self, ids) -> None:
        wanted = set(ids)
        for node, item in self.nodes.items():
            if item.isSelected() != (node in wanted):
                item.setSelected(node in wanted)

    def set_levels(self, levels: dict[str, str]) -> None:
        for node, item in self.nodes.items():
            item.set_level(levels.get(node, ""))

    def node_at(self, pos: QPointF) -> NodeItem | None:
        for item in self.items(pos):
            if isinstance(item, NodeItem):
                return item
        return None

    # --- user events ------------------------------------------------------------------------

    def mouseDoubleClickEvent(self, event) -> None:
        item = self.node_at(event.scenePos())
        if item is not None:
            self.node_double_clicked.emit(item.node_id)
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    def contextMenuEvent(self, event) -> None:
        item = self.node_at(event.scenePos())
        if item is None:
            return
        if not item.isSelected():
            self.clearSelection()
            item.setSelected(True)
        self.context_requested.emit(item.node_id, event.screenPos())
        event.accept()

    def dragEnterEvent(self, event) -> None:
        event.setAccepted(event.mimeData().hasFormat(LAYER_MIME))

    def dragMoveEvent(self, event) -> None:
        event.setAccepted(event.mimeData().hasFormat(LAYER_MIME)
                          and self.node_at(event.scenePos()) is not None)

    def dropEvent(self, event) -> None:
        item = self.node_at(event.scenePos())
        if item is None or not event.mimeData().hasFormat(LAYER_MIME):
            event.ignore()
            return
        layer = bytes(event.mimeData().data(LAYER_MIME)).decode()
        event.acceptProposedAction()
        self.layer_dropped.emit(layer, item.node_id)
