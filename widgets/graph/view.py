"""The zoomable, pannable view of the graph scene, its minimap and its legend."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QBoxLayout, QFrame, QGraphicsView, QHBoxLayout, QLabel, QWidget

from widgets.base import style
from widgets.graph.items import TEXT_LOD, _lock_path

MIN_SCALE, MAX_SCALE = 0.02, 3.0
WHEEL_STEP = 1.0015  # per wheel-delta unit: one notch (120) ~ 20 %


class GraphView(QGraphicsView):
    viewport_moved = Signal()

    def __init__(self, scene, parent=None):
        super().__init__(scene, parent)
        self.setRenderHints(QPainter.Antialiasing | QPainter.TextAntialiasing)
        self.setDragMode(QGraphicsView.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.SmartViewportUpdate)
        self.setOptimizationFlags(QGraphicsView.DontSavePainterState
                                  | QGraphicsView.DontAdjustForAntialiasing)
        self.setFrameShape(QFrame.NoFrame)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.StrongFocus)
        self.horizontalScrollBar().valueChanged.connect(self._moved)
        self.verticalScrollBar().valueChanged.connect(self._moved)

    def _moved(self, *_):
        self.viewport_moved.emit()

    def drawForeground(self, painter, rect) -> None:
        if self.scene().items():
            return
        painter.save()
        painter.resetTransform()
        painter.setPen(style.MUTED)
        painter.setFont(style.ui_font(12))
        painter.drawText(self.viewport().rect(), Qt.AlignCenter,
                         "No network open yet.\nPick one on the Start tab — or open EfficientNet-Lite0 there "
                         "in one click.")
        painter.restore()

    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def set_zoom(self, scale: float, anchor: QPointF | None = None) -> None:
        scale = max(MIN_SCALE, min(MAX_SCALE, scale))
        factor = scale / self.zoom
        if abs(factor - 1) < 1e-6:
            return
        if anchor is None:
            old = self.transformationAnchor()
            self.setTransformationAnchor(QGraphicsView.AnchorViewCenter)
            self.scale(factor, factor)
            self.setTransformationAnchor(old)
        else:
            self.scale(factor, factor)
        self.viewport_moved.emit()

    def zoom_by(self, factor: float) -> None:
        self.set_zoom(self.zoom * factor)

    def wheelEvent(self, event) -> None:
        delta = event.angleDelta().y()
        if not delta:
            return super().wheelEvent(event)
        self.set_zoom(self.zoom * (WHEEL_STEP ** delta), anchor=event.position())
        event.accept()

    def fit(self) -> bool:
        """Show the whole graph, but never so small that its labels vanish (below ``TEXT_LOD`` the
        nodes are drawn without text): a graph too big for that is shown from its input, at the
        smallest readable size. True when the whole graph is in view."""
        rect = self.scene().itemsBoundingRect()
        if rect.isEmpty():
            return True
        self.fitInView(rect.adjusted(-30, -30, 30, 30), Qt.KeepAspectRatio)
        if self.zoom > 1.0:
            self.set_zoom(1.0)
        whole = self.zoom >= TEXT_LOD
        if not whole:
            self.set_zoom(TEXT_LOD)
            self._show_top(rect)
        self.viewport_moved.emit()
        return whole

    def fit_width(self) -> None:
        """Readable overview of a tall graph: fit the width, start at the top."""
        rect = self.scene().itemsBoundingRect()
        if rect.isEmpty():
            return
        width = max(1, self.viewport().width() - 40)
        self.set_zoom(min(1.0, max(TEXT_LOD, width / max(rect.width(), 1))))
        self._show_top(rect)

    def _show_top(self, rect: QRectF) -> None:
        """Centre the graph's width and show it from the top (its input)."""
        self.centerOn(rect.center().x(), rect.top() + self.viewport().height() / (2 * self.zoom) - 20)

    def visible_scene_rect(self) -> QRectF:
        return self.mapToScene(self.viewport().rect()).boundingRect()


class Minimap(QWidget):
    """Overview of the whole scene with the visible area outlined; click or drag to move."""

    SIZE = QSize(170, 210)

    def __init__(self, view: GraphView, parent=None):
        super().__init__(parent)
        self.view = view
        self.setFixedSize(self.SIZE)
        self.setCursor(Qt.PointingHandCursor)
        self.setToolTip("Overview: click or drag to move around the graph")
        self._image = QImage()
        self._target = QRectF()
        self._frame_pen = QPen(style.ACCENT, 1.5)
        self._border_pen = QPen(QColor("#cbd5e1"), 1)
        view.viewport_moved.connect(self.update)

    def refresh(self) -> None:
        """Re-render the scene (after it was rebuilt)."""
        scene = self.view.scene()
        source = scene.itemsBoundingRect()
        self._image = QImage(self.size() * self.devicePixelRatioF(), QImage.Format_ARGB32_Premultiplied)
        self._image.setDevicePixelRatio(self.devicePixelRatioF())
        self._image.fill(style.CANVAS_BG)
        self._target = QRectF()
        if not source.isEmpty():
            box = QRectF(4, 4, self.width() - 8, self.height() - 8)
            scale = min(box.width() / source.width(), box.height() / source.height())
            w, h = source.width() * scale, source.height() * scale
            self._target = QRectF(box.center().x() - w / 2, box.center().y() - h / 2, w, h)
            painter = QPainter(self._image)
            scene.render(painter, self._target, source)
            painter.end()
        self._source = source
        self.update()

    def _to_map(self, rect: QRectF) -> QRectF:
        s = self._target.width() / max(self._source.width(), 1e-6)
        return QRectF(self._target.left() + (rect.left() - self._source.left()) * s,
                      self._target.top() + (rect.top() - self._source.top()) * s,
                      rect.width() * s, rect.height() * s)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.drawImage(0, 0, self._image)
        painter.setPen(self._border_pen)
        painter.drawRect(self.rect().adjusted(0, 0, -1, -1))
        if not self._target.isEmpty():
            painter.setPen(self._frame_pen)
            painter.setBrush(QColor(37, 99, 235, 30))
            painter.drawRect(self._to_map(self.view.visible_scene_rect()).intersected(QRectF(self.rect())))
        painter.end()

    def _centre_at(self, pos) -> None:
        if self._target.isEmpty():
            return
        s = max(self._source.width(), 1e-6) / self._target.width()
        self.view.centerOn(self._source.left() + (pos.x() - self._target.left()) * s,
                           self._source.top() + (pos.y() - self._target.top()) * s)

    def mousePressEvent(self, event) -> None:
        self._centre_at(event.position())

    def mouseMoveEvent(self, event) -> None:
        if event.buttons() & Qt.LeftButton:
            self._centre_at(event.position())


class _Swatch(QWidget):
    def __init__(self, colour: QColor | None, frozen: bool = False, outline: QColor | None = None):
        super().__init__()
        self.colour, self.frozen, self.outline = colour, frozen, outline
        self.setFixedSize(26 if frozen else 14, 14)

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        r = QRectF(self.rect()).adjusted(1, 1, -1, -1)
        if self.frozen:
            r.setWidth(13)
            p.setPen(QPen(style.FROZEN_BAND))
            p.setBrush(style.FROZEN_FILL)
            p.drawRoundedRect(r, 3, 3)
            p.setBrush(Qt.BDiagPattern)
            p.drawRoundedRect(r, 3, 3)
            p.setPen(Qt.NoPen)
            p.setBrush(QColor("#4b5563"))
            p.drawPath(_lock_path(15, 1))
        elif self.outline is not None:
            p.setPen(QPen(self.outline, 2.5))
            p.setBrush(Qt.white)
            p.drawRoundedRect(r.adjusted(1, 1, -1, -1), 3, 3)
        else:
            p.setPen(Qt.NoPen)
            p.setBrush(self.colour)
            p.drawRoundedRect(r, 3, 3)
        p.end()


class Legend(QFrame):
    """What the colours mean: LR factor scale, frozen layers, analyzer outlines. One row, or two
    (the LR scale above the rest) where the view is too narrow for one: never cut off."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("legend")
        self.rows = QBoxLayout(QBoxLayout.LeftToRight, self)
        self.rows.setContentsMargins(10, 5, 10, 5)
        self.rows.setSpacing(8)
        lr, marks = QHBoxLayout(), QHBoxLayout()
        for row in (lr, marks):
            row.setSpacing(5)
            self.rows.addLayout(row)
        lr.addWidget(self._label("Learning rate"))
        for factor in style.LR_LEGEND:
            lr.addWidget(_Swatch(style.lr_colour(factor)))
            lr.addWidget(self._label(style.lr_text(factor), muted=True))
        marks.addWidget(_Swatch(None, frozen=True))
        marks.addWidget(self._label("frozen", muted=True))
        marks.addSpacing(8)
        marks.addWidget(_Swatch(None, outline=style.ERROR))
        marks.addWidget(self._label("error", muted=True))
        marks.addWidget(_Swatch(None, outline=style.WARNING))
        marks.addWidget(self._label("warning", muted=True))
        marks.addStretch(1)
        self.one_row_width = self.sizeHint().width()

    def fit_width(self, width: int) -> None:
        """Two rows when one would not fit in ``width`` pixels."""
        two = self.one_row_width > width
        self.rows.setDirection(QBoxLayout.TopToBottom if two else QBoxLayout.LeftToRight)
        self.adjustSize()

    @staticmethod
    def _label(text: str, muted: bool = False) -> QLabel:
        label = QLabel(text)
        label.setObjectName("legendMuted" if muted else "legendTitle")
        return label
