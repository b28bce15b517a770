"""pyqtgraph helpers: plots that die with their window, legends that cover nothing, and what an
empty plot says.

pyqtgraph builds each plot's context menus (``ViewBoxMenu``, "Plot Options") as
parentless QMenus that only Python references keep alive; their embedded axis
widgets are top-level windows of their own. Closing our window would leave them
behind until Python's cycle collector runs. Parenting them to the plot widget
hands their lifetime to Qt.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import QLabel, QSizePolicy


def own_menus(plot: pg.PlotWidget) -> pg.PlotWidget:
    item = plot.getPlotItem()
    for menu in (item.getViewBox().menu, item.ctrlMenu):
        if menu is not None and menu.parent() is None:
            menu.setParent(plot, menu.windowFlags())  # keep its popup flags
    return plot


LEGEND_TEXT = "#374151"


def legend_below(plot: pg.PlotWidget, columns: int = 3) -> pg.LegendItem:
    """A legend in its own row under the x axis, so it never covers a curve or a bar (inside the
    plot it hid the early epochs of compared runs, and the tallest bars in a small window). Named
    items added to the plot later join it, as with ``addLegend``."""
    item = plot.getPlotItem()
    legend = pg.LegendItem(colCount=columns, labelTextColor=LEGEND_TEXT, verSpacing=-4, horSpacing=18)
    item.layout.addItem(legend, 4, 1)  # the row under the bottom axis, in the view's column
    legend.setSizePolicy(QSizePolicy.Maximum, QSizePolicy.Fixed)  # as wide as its names, not the plot
    item.layout.setAlignment(legend, Qt.AlignLeft | Qt.AlignTop)
    item.legend = legend
    return legend


class EmptyNote(QLabel):
    """A sentence centred on a plot while it has nothing to show, whose axes then carry no numbers:
    an empty chart otherwise shows a meaningless 0.1 ... 0.9 scale."""

    def __init__(self, plot: pg.PlotWidget, text: str):
        super().__init__(text, plot)
        self.plot = plot
        self.setObjectName("muted")
        self.setAlignment(Qt.AlignCenter)
        self.setWordWrap(True)
        self.setAttribute(Qt.WA_TransparentForMouseEvents)
        plot.installEventFilter(self)
        self.set_empty(True)

    def set_empty(self, empty: bool, text: str | None = None) -> None:
        if text is not None:
            self.setText(text)
        for name in ("left", "bottom"):
            self.plot.getAxis(name).setStyle(showValues=not empty)
        self.setVisible(empty)
        self._place()

    def eventFilter(self, watched, event) -> bool:
        if watched is self.plot and event.type() == QEvent.Resize:
            self._place()
        return False

    def _place(self) -> None:
        self.setGeometry(self.plot.rect().adjusted(40, 40, -40, -40))
