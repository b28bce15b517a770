"""Pictures from NumPy arrays: a label that scales its image to fit, array -> QPixmap, and the
heat maps' colour scale."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPainter, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QWidget

from designer.inspect.overlay import colourise


def array_to_image(array: np.ndarray) -> QImage:
    """uint8 HxW or HxWx3 -> a QImage that owns its pixels."""
    a = np.ascontiguousarray(array)
    if a.ndim == 2:
        a = np.ascontiguousarray(np.repeat(a[:, :, None], 3, axis=2))
    a = np.ascontiguousarray(a[:, :, :3])
    h, w = a.shape[:2]
    return QImage(a.data, w, h, 3 * w, QImage.Format_RGB888).copy()


def array_to_pixmap(array: np.ndarray | None) -> QPixmap:
    return QPixmap() if array is None else QPixmap.fromImage(array_to_image(array))


def square_pixmap(array: np.ndarray | None, size: int) -> QPixmap:
    """The picture scaled to fit a ``size`` x ``size`` square and centred on a transparent one, so
    that a list of thumbnails of any shape has one icon size (a wide first image no longer sets a
    short item height that cuts the captions under tall ones)."""
    square = QPixmap(size, size)
    square.fill(Qt.transparent)
    picture = array_to_pixmap(array)
    if picture.isNull():
        return square
    picture = picture.scaled(size, size, Qt.KeepAspectRatio, Qt.SmoothTransformation)
    painter = QPainter(square)
    painter.drawPixmap((size - picture.width()) // 2, (size - picture.height()) // 2, picture)
    painter.end()
    return square


class PictureLabel(QLabel):
    """Shows one picture as large as fits, keeping its proportions (small tiles scaled up crisply)."""

    def __init__(self, placeholder: str = "", parent=None):
        super().__init__(placeholder, parent)
        self.placeholder = placeholder
        self._pixmap = QPixmap()
        self.setAlignment(Qt.AlignCenter)
        self.setWordWrap(True)  # a long placeholder wraps in a narrow picture, never cut at both ends
        self.setMargin(6)
        self.setMinimumSize(160, 160)
        self.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Ignored)  # no resize loop with the pixmap
        self.setStyleSheet("QLabel { background: #f8fafc; border: 1px solid #e5e7eb; border-radius: 6px;"
                           " color: #6b7280; }")

    def set_array(self, array: np.ndarray | None) -> None:
        self._pixmap = array_to_pixmap(array)
        self._rescale()

    def has_picture(self) -> bool:
        return not self._pixmap.isNull()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._rescale()

    def _rescale(self) -> None:
        if self._pixmap.isNull():
            self.setPixmap(QPixmap())
            self.setText(self.placeholder)
            return
        size = self.contentsRect().size()
        upscale = size.width() > 2 * self._pixmap.width()
        mode = Qt.FastTransformation if upscale else Qt.SmoothTransformation
        self.setPixmap(self._pixmap.scaled(size, Qt.KeepAspectRatio, mode))


SCALE_SIZE = (120, 12)  # the colour scale's strip, px


class ColourScale(QWidget):
    """The heat maps' colour scale, drawn by the same ``colourise`` as the maps: dark blue (no
    evidence) to red (the strongest)."""

    def __init__(self, parent=None):
        super().__init__(parent, toolTip="The colours of the heat maps: dark blue where the layer finds no "
                                         "evidence for the class, red where it finds the strongest.")
        width, height = SCALE_SIZE
        self.values = np.linspace(0.0, 1.0, width, dtype=np.float32)
        self.strip = QLabel()
        self.strip.setPixmap(array_to_pixmap(np.ascontiguousarray(
            np.repeat(colourise(self.values)[None], height, axis=0))))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("no evidence", objectName="muted"))
        layout.addWidget(self.strip)
        layout.addWidget(QLabel("strongest", objectName="muted"))
