"""Canvas items: one rounded node per layer or folded block, and edge bundles.

Items are cached per device (``DeviceCoordinateCache``) and paint with a level
of detail: far out only coloured boxes, closer in the text. Everything a paint
needs (pens, brushes, strings, rects) is made once in ``__init__`` so a frame
allocates nothing.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFontMetricsF, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem

from widgets.base import style

NODE_W, NODE_H = 210.0, 60.0
GAP_X, GAP_Y = 40.0, 30.0
BAND_W = 7.0
BADGE_W = 60.0  # fits "×0.0097" in the small bold font
RADIUS = 7.0
TEXT_LOD = 0.45  # below this zoom, boxes only
DETAIL_LOD = 0.2  # below this, plain rectangles
EDGE_BAND_ROWS = 12  # edges grouped by source row, so culling skips off-screen bundles


def _lock_path(x: float, y: float) -> QPainterPath:
    """A small padlock glyph at (x, y), 10x12."""
    path = QPainterPath()
    path.addRoundedRect(QRectF(x, y + 5, 10, 7), 1.5, 1.5)
    path.moveTo(x + 2.2, y + 5)
    path.arcTo(QRectF(x + 2.2, y, 5.6, 9), 180, -180)
    return path


def node_path(node_id: str, data: dict) -> str:
    """What selecting a node selects: a module path for layers and blocks, else the node id."""
    if data.get("kind") in ("module", "block") and data.get("module"):
        return data["module"]
    return node_id


class NodeItem(QGraphicsItem):
    """One layer (or folded block) of the graph."""

    def __init__(self, node_id: str, data: dict, fonts: tuple):
        super().__init__()
        self.node_id = node_id
        self.kind = data.get("kind", "module")
        self.path = node_path(node_id, data)
        self.is_block = self.kind == "block"
        self.frozen = bool(data.get("frozen"))
        self.partly_frozen = bool(data.get("partly_frozen")) and not self.frozen
        self.lr_factor = data.get("lr_factor")
        self.level = ""  # "error" | "warning" from the analyzer
        self._rect = QRectF(-NODE_W / 2, -NODE_H / 2, NODE_W, NODE_H)
        self._fonts = fonts
        self._texts(data)
        self._paints()
        self.setFlags(QGraphicsItem.ItemIsSelectable)
        self.setCacheMode(QGraphicsItem.DeviceCoordinateCache)
        self.setAcceptHoverEvents(False)
        self.setToolTip(self._tooltip(data))

    # --- prepared once ---------------------------------------------------------------------

    def _texts(self, data: dict) -> None:
        shape = style.shape_text(data.get("out_shape"))
        badge = style.lr_text(self.lr_factor) if self.lr_factor not in (None, 1.0) else ""
        self.badge = badge
        if self.kind == "input":
            shape = style.shape_text(data.get("display_shape") or data.get("out_shape"))
            self.title, self.subtitle = f"Input  {shape}", data.get("note", "double-click to change")
            self.left, self.right = "", ""
        elif self.kind == "output":
            self.title, self.subtitle = f"Output  {shape}", ""
            self.left, self.right = "", ""
        else:
            metrics = QFontMetricsF(self._fonts[0])
            room = NODE_W - BAND_W - 40 - (BADGE_W - 16 if badge else 0)  # the name stops short of the badge
            self.title = metrics.elidedText(self.node_id, Qt.ElideLeft, room)
            self.subtitle = str(data.get("op_type", ""))
            self.left = shape
            params = data.get("params") or 0
            self.right = f"{style.human_count(params)} params" if params else ""
        if self.is_block:
            self.subtitle += f"  ·  {data.get('children', 0)} layers"

    def _paints(self) -> None:
        io = self.kind in ("input", "output")
        band = style.FROZEN_BAND if self.frozen else style.lr_colour(self.lr_factor)
        fill = style.IO_FILL if io else (style.FROZEN_FILL if self.frozen else style.NODE_FILL)
        self._fill = QBrush(fill)
        self._far = QBrush(style.FAR_FROZEN if self.frozen else fill if io else band)
        self._band = QBrush(band)
        self._hatch = QBrush(QColor(156, 163, 175, 110), Qt.BDiagPattern) if self.frozen else None
        border = QColor(band).darker(115) if not io else style.IO_FILL
        self._border = QPen(border, 1.2)
        self._block_pen = QPen(border, 1.2)
        self._selected_pen = QPen(style.ACCENT, 2.5)
        self._level_pens = {k: QPen(c, 3.5) for k, c in style.LEVEL_COLOURS.items()}
        self._text_pen = QPen(QColor("#ffffff") if io else style.TEXT)
        self._muted_pen = QPen(QColor("#cbd5e1") if io else style.MUTED)
        self._lock = _lock_path(self._rect.right() - 17, self._rect.top() + 6)
        self._lock_brush = QBrush(QColor("#4b5563"))
        r = self._rect
        self._band_rect = QRectF(r.left(), r.top(), BAND_W, r.height())
        self._title_rect = QRectF(r.left() + BAND_W + 7, r.top() + 3, r.width() - BAND_W - 30, 20)
        self._sub_rect = QRectF(r.left() + BAND_W + 7, r.top() + 21, r.width() - BAND_W - 14, 17)
        self._foot_rect = QRectF(r.left() + BAND_W + 7, r.top() + 39, r.width() - BAND_W - 14, 17)
        self._badge_rect = QRectF(r.right() - BADGE_W - 6, r.top() + 4, BADGE_W, 18)
        self._stack_rect = r.translated(4, 4)

    def _tooltip(self, data: dict) -> str:
        lines = [f"<b>{self.node_id}</b> — {data.get('op_type', '')}"]
        if data.get("out_shape") is not None:
            lines.append(f"Output: {style.shape_text(data['out_shape'])}")
        if data.get("params"):
            lines.append(f"Parameters: {data['params']:,} ({data.get('trainable', 0):,} trainable)")
        if data.get("frozen") is not None:
            lines.append("Frozen" if data["frozen"]
                         else f"Trainable, LR factor {style.lr_text(self.lr_factor)}")
        if self.is_block:
            lines.append(f"Block of {data.get('children', 0)} layers — double-click to open")
        return "<br>".join(lines)

    # --- QGraphicsItem ---------------------------------------------------------------------------

    def boundingRect(self) -> QRectF:
        return self._rect.adjusted(-6, -6, 8, 8)

    def set_level(self, level: str) -> None:
        if level != self.level:
            self.level = level
            self.update()

    def paint(self, painter, option, widget=None) -> None:
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        if lod < DETAIL_LOD:
            painter.fillRect(self._rect, self._far)
            pen = self._outline_pen()
            if pen is not None:
                painter.setPen(pen)
                painter.drawRect(self._rect)
            return
        self._paint_box(painter)
        if lod >= TEXT_LOD:
            self._paint_text(painter)

    def _outline_pen(self):
        if self.isSelected():
            return self._selected_pen
        return self._level_pens.get(self.level)

    def _paint_outlines(self, painter) -> None:
        """Analyzer level (red/orange) outside, selection (blue) inside: both stay visible."""
        painter.setBrush(Qt.NoBrush)
        level = self._level_pens.get(self.level)
        if level is not None:
            painter.setPen(level)
            painter.drawRoundedRect(self._rect.adjusted(-2.5, -2.5, 2.5, 2.5), RADIUS + 2, RADIUS + 2)
        if self.isSelected():
            painter.setPen(self._selected_pen)
            inset = 1.5 if level is None else 2.0
            painter.drawRoundedRect(self._rect.adjusted(inset, inset, -inset, -inset), RADIUS - 1, RADIUS - 1)

    def _paint_box(self, painter) -> None:
        painter.setRenderHint(painter.RenderHint.Antialiasing, True)
        if self.is_block:
            painter.setPen(self._block_pen)
            painter.setBrush(self._fill)
            painter.drawRoundedRect(self._stack_rect, RADIUS, RADIUS)
        painter.setPen(self._border)
        painter.setBrush(self._fill)
        painter.drawRoundedRect(self._rect, RADIUS, RADIUS)
        if self._hatch is not None:
            painter.setBrush(self._hatch)
            painter.drawRoundedRect(self._rect, RADIUS, RADIUS)
        if self.kind not in ("input", "output"):
            painter.setPen(Qt.NoPen)
            painter.setBrush(self._band)
            painter.drawRoundedRect(self._band_rect, 3, 3)
        self._paint_outlines(painter)

    def _paint_text(self, painter) -> None:
        title_font, small_font, bold_small = self._fonts
        painter.setFont(title_font)
        painter.setPen(self._text_pen)
        painter.drawText(self._title_rect, Qt.AlignLeft | Qt.AlignVCenter, self.title)
        painter.setFont(small_font)
        painter.setPen(self._muted_pen)
        painter.drawText(self._sub_rect, Qt.AlignLeft | Qt.AlignVCenter, self.subtitle)
        painter.setPen(self._text_pen)
        painter.drawText(self._foot_rect, Qt.AlignLeft | Qt.AlignVCenter, self.left)
        painter.setPen(self._muted_pen)
        painter.drawText(self._foot_rect, Qt.AlignRight | Qt.AlignVCenter, self.right)
        if self.frozen or self.partly_frozen:
            painter.setPen(Qt.NoPen)
            painter.setBrush(self._lock_brush if self.frozen else QBrush(QColor("#9ca3af")))
            painter.drawPath(self._lock)
        elif self.badge:
            painter.setFont(bold_small)
            painter.setPen(QPen(self._band.color().darker(120)))
            painter.drawText(self._badge_rect, Qt.AlignRight | Qt.AlignVCenter, self.badge)


def edge_path(src: QPointF, dst: QPointF, path: QPainterPath) -> None:
    """Append a smooth edge from the bottom of one node to the top of another."""
    start = QPointF(src.x(), src.y() + NODE_H / 2)
    end = QPointF(dst.x(), dst.y() - NODE_H / 2)
    path.moveTo(start)
    if abs(start.x() - end.x()) < 1:
        path.lineTo(end)
        return
    bend = min(60.0, max(20.0, (end.y() - start.y()) / 2))
    path.cubicTo(QPointF(start.x(), start.y() + bend), QPointF(end.x(), end.y() - bend), end)
    # a small arrow head
    path.moveTo(end.x() - 4, end.y() - 6)
    path.lineTo(end)
    path.lineTo(end.x() + 4, end.y() - 6)


class EdgeBundle(QGraphicsPathItem):
    """Many edges in one path item; a cosmetic pen keeps them visible when zoomed out."""

    def __init__(self, path: QPainterPath):
        super().__init__(path)
        pen = QPen(style.EDGE, 1.3)
        pen.setCosmetic(True)
        self.setPen(pen)
        self.setZValue(-1)
        self.setAcceptedMouseButtons(Qt.NoButton)

    def paint(self, painter, option, widget=None) -> None:
        # far out, antialiased curves cost most of a frame and show nothing more
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        painter.setRenderHint(QPainter.Antialiasing, lod >= TEXT_LOD)
        painter.setPen(self.pen())
        painter.setBrush(Qt.NoBrush)
        painter.drawPath(self.path())
