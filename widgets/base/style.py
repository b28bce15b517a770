"""Colours, fonts and number formats shared by the canvas, legend and panels."""

from __future__ import annotations

import itertools
import math

from PySide6.QtGui import QColor, QFont, QIcon, QPixmap

import resources

ACCENT = QColor("#2563eb")  # selection, primary buttons
ERROR = QColor("#dc2626")
WARNING = QColor("#d97706")
INFO = QColor("#0284c7")
TEXT = QColor("#1f2937")
MUTED = QColor("#6b7280")
NODE_FILL = QColor("#ffffff")
FROZEN_FILL = QColor("#e5e7eb")
FROZEN_BAND = QColor("#9ca3af")
FAR_FROZEN = QColor("#6b7280")  # frozen nodes when zoomed far out
NO_PARAMS_BAND = QColor("#d1d5db")
IO_FILL = QColor("#1e293b")
EDGE = QColor("#94a3b8")
CANVAS_BG = QColor("#f6f7f9")
GRID = QColor("#eceef2")

# LR factor -> colour, on log10(factor): slow layers blue/violet, x1 green, fast orange/red.
LR_STOPS = ((-2.0, QColor("#7c3aed")), (-1.0, QColor("#2563eb")), (0.0, QColor("#16a34a")),
            (1.0, QColor("#ea580c")), (2.0, QColor("#b91c1c")))
LR_LEGEND = (0.01, 0.1, 1.0, 10.0)

LEVEL_COLOURS = {"error": ERROR, "warning": WARNING, "info": INFO}


def lr_colour(factor: float | None) -> QColor:
    if factor is None:
        return NO_PARAMS_BAND
    x = math.log10(max(factor, 1e-6))
    if x <= LR_STOPS[0][0]:
        return QColor(LR_STOPS[0][1])
    for (x0, c0), (x1, c1) in itertools.pairwise(LR_STOPS):
        if x <= x1:
            t = (x - x0) / (x1 - x0)
            return QColor.fromRgbF(c0.redF() + t * (c1.redF() - c0.redF()),
                                   c0.greenF() + t * (c1.greenF() - c0.greenF()),
                                   c0.blueF() + t * (c1.blueF() - c0.blueF()))
    return QColor(LR_STOPS[-1][1])


def ui_font(point_size: float = 9.5, bold: bool = False) -> QFont:
    font = QFont()
    font.setFamilies(["Inter", "Segoe UI", "SF Pro Text", "Cantarell", "Noto Sans", "DejaVu Sans"])
    font.setPointSizeF(point_size)
    font.setBold(bold)
    return font


def human_count(n: float | None) -> str:
    """4652008 -> "4.65 M"."""
    if n is None:
        return "–"
    n = float(n)
    for div, unit in ((1e9, " G"), (1e6, " M"), (1e3, " k")):
        if abs(n) >= div:
            return f"{n / div:.3g}{unit}"
    return f"{int(n)}"


def human_bytes(n: int | None) -> str:
    if n is None:
        return "–"
    for div, unit in ((1 << 30, "GB"), (1 << 20, "MB"), (1 << 10, "kB")):
        if n >= div:
            return f"{n / div:.1f} {unit}"
    return f"{n} B"


def shape_text(shape) -> str:
    """(1, 64, 56, 56) -> "64×56×56" (the batch dimension dropped)."""
    if shape is None:
        return ""
    dims = list(shape[1:]) if len(shape) > 1 else list(shape)
    return "×".join(str(d) for d in dims) if dims else "scalar"


def lr_text(factor: float | None) -> str:
    """Two significant digits: layer-wise decay gives factors such as 0.096889, which no badge fits."""
    if factor is None:
        return ""
    return f"×{factor:.2g}" if factor < 100 else f"×{factor:.0f}"


def stylesheet() -> str:
    """The app's Qt style sheet, shipped in ``resources/``."""
    return resources.read_text("style.qss")


def app_icon() -> QIcon:
    """The application icon at every packaged size (the window, the task bar, the dock)."""
    icon = QIcon()
    for size in resources.ICON_SIZES:
        pixmap = QPixmap()
        pixmap.loadFromData(resources.read_bytes(f"icons/netsurgeon-{size}.png"))
        icon.addPixmap(pixmap)
    return icon
