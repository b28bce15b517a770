"""pyqtgraph plots that die with their window.

pyqtgraph builds each plot's context menus (``ViewBoxMenu``, "Plot Options") as
parentless QMenus that only Python references keep alive; their embedded axis
widgets are top-level windows of their own. Closing our window would leave them
behind until Python's cycle collector runs. Parenting them to the plot widget
hands their lifetime to Qt.
"""

from __future__ import annotations

import pyqtgraph as pg


def own_menus(plot: pg.PlotWidget) -> pg.PlotWidget:
    item = plot.getPlotItem()
    for menu in (item.getViewBox().menu, item.ctrlMenu):
        if menu is not None and menu.parent() is None:
            menu.setParent(plot, menu.windowFlags())  # keep its popup flags
    return plot
