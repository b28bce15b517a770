"""Class counts as a stacked bar chart (pyqtgraph ``BarGraphItem``): training, validation, test."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from designer.data.folders import IMBALANCE_WARN_RATIO
from widgets.base.plots import EmptyNote, legend_below, own_menus

COLOURS = {"train": "#2563eb", "val": "#ea580c", "test": "#9ca3af"}
SMALL = "#dc2626"  # training bars of classes far below the largest
MAX_TICKS = 24
EMPTY_TEXT = "The number of images per class appears here once a folder is loaded."


class ClassCountChart(pg.PlotWidget):
    def __init__(self, parent=None):
        super().__init__(parent, background="w")
        self.setTitle("Images per class", color="#374151", size="10pt")
        self.showGrid(y=True, alpha=0.25)
        self.setMenuEnabled(False)
        own_menus(self)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        self.setMinimumHeight(130)  # room for a few bars; more would push the window past a small screen
        self.legend = legend_below(self, columns=3)  # under the class names: it never covers a bar
        self.empty_note = EmptyNote(self, EMPTY_TEXT)
        self.bars: dict[str, pg.BarGraphItem] = {}
        self.counts: dict[str, list[int]] = {}
        self.setToolTip("How many images each class has for training (blue), validation (orange) and test "
                        "(grey). Red bars: classes with far fewer training images than the largest.")

    def set_split(self, split) -> None:
        """Draw ``split``'s counts (None clears the chart)."""
        for item in self.bars.values():
            self.removeItem(item)
        self.bars, self.counts = {}, {}
        self.empty_note.set_empty(split is None)
        if split is None:
            self.getAxis("bottom").setTicks(None)
            return
        x = np.arange(len(split.classes), dtype=float)
        bottom = np.zeros(len(x))
        for which in ("train", "val", "test"):
            counts = np.array(list(split.class_counts(which).values()), dtype=float)
            if not counts.any():
                continue
            self.counts[which] = [int(c) for c in counts]
            brushes = self._brushes(which, counts)
            label = {"train": "training", "val": "validation", "test": "test"}[which]
            # ``brush`` is what the legend swatch shows (``brushes`` colours the bars); a named item
            # joins the legend by itself when added.
            item = pg.BarGraphItem(x=x, height=counts, y0=bottom, width=0.7, brushes=brushes,
                                   brush=COLOURS[which], pen=pg.mkPen("w"), name=label)
            self.addItem(item)
            self.bars[which] = item
            bottom = bottom + counts
        self._ticks(split.classes)
        self.setXRange(-0.6, len(x) - 0.4, padding=0)
        self.setYRange(0, max(1.0, float(bottom.max(initial=1))) * 1.05, padding=0)

    @staticmethod
    def _brushes(which: str, counts: np.ndarray) -> list:
        if which != "train" or not counts.max():
            return [pg.mkBrush(COLOURS[which])] * len(counts)
        limit = counts.max() / IMBALANCE_WARN_RATIO
        return [pg.mkBrush(SMALL if c < limit else COLOURS[which]) for c in counts]

    def _ticks(self, classes: list[str]) -> None:
        step = max(1, int(np.ceil(len(classes) / MAX_TICKS)))
        ticks = [(i, name if len(name) <= 12 else name[:11] + "…") for i, name in enumerate(classes)
                 if i % step == 0]
        self.getAxis("bottom").setTicks([ticks, []])
