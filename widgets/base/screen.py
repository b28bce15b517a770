"""Window sizes that fit the screen they open on: a laptop at 1024×700 must see the whole window,
title bar and status bar included, never a window that runs off the screen's edge."""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize
from PySide6.QtGui import QGuiApplication

# Room the window manager's frame (title bar, borders) takes around the client area.
FRAME_ALLOWANCE = QSize(16, 40)


def available_geometry(widget=None) -> QRect:
    """The part of the widget's screen (else the primary one) that windows may use."""
    screen = widget.screen() if widget is not None else None
    screen = screen or QGuiApplication.primaryScreen()
    return screen.availableGeometry() if screen is not None else QRect(0, 0, 1024, 700)


def fitted_size(wanted: QSize, available: QRect) -> QSize:
    """``wanted``, shrunk where the available area (less the frame) is smaller."""
    room = available.size() - FRAME_ALLOWANCE
    return QSize(max(200, min(wanted.width(), room.width())), max(150, min(wanted.height(), room.height())))


def resize_to_fit(widget, width: int, height: int) -> QSize:
    """Resize a top-level ``widget`` to width×height or less, so it fits its screen; returns the size."""
    area = available_geometry(widget)
    size = fitted_size(QSize(width, height), area)
    widget.resize(size)
    if not area.contains(widget.frameGeometry()):  # off the edge: start at the area's corner
        widget.move(area.topLeft())
    return size
