"""Live accuracy and loss curves (pyqtgraph), redrawn at a steady ~10 Hz.

Training events arrive through slots (``add_batch``, ``add_epoch``) and only go
into buffers; a ``QTimer`` flushes the buffers into the curves every 100 ms, so a
fast run never costs one redraw per batch. The x axis shows iterations
(optimizer steps) or epochs. Finished runs can be overlaid, dashed, for comparison
(fine-tune vs from scratch on the same split).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from widgets.base.plots import EmptyNote, own_menus

REDRAW_MS = 100
LEGEND_MARKS = {"thin": "&#x2500;&#x2500;", "dots": "&#x25CF;", "star": "&#x2605;",
                "line": "&#x2501;&#x25CF;&#x2501;", "dash": "&#x254D;&#x254D;", "dot": "&#x2508;&#x2508;",
                "dashdots": "&#x254D;&#x25CF;&#x254D;"}
EMPTY_TEXT = {"Accuracy": "Accuracy is drawn here once a run starts (or tick runs below to compare them).",
              "Loss": "Loss is drawn here once a run starts."}
TRAIN = "#2563eb"
VAL = "#ea580c"
STAGE1 = "#16a34a"
OVERLAY_COLOURS = ("#16a34a", "#7c3aed", "#db2777", "#0891b2", "#854d0e", "#475569")
SERIES = {  # name -> (plot, label, colour, style)
    "train_batch_acc": ("acc", "training (running)", TRAIN, "thin"),
    "train_batch_loss": ("loss", "training (running)", TRAIN, "thin"),
    "train_acc": ("acc", "training (epoch)", TRAIN, "dots"),
    "train_loss": ("loss", "training (epoch)", TRAIN, "dots"),
    "val_acc": ("acc", "validation", VAL, "line"),
    "val_loss": ("loss", "validation", VAL, "line"),
    # the recommended mode's stage 1 (epoch 0): the classifier fitted on cached features
    "head_acc": ("acc", "stage 1: classifier fitted (validation)", STAGE1, "star"),
    "head_loss": ("loss", "stage 1: classifier fitted (validation)", STAGE1, "star"),
}


@dataclass
class _Series:
    """Buffered points of one curve: x in iterations and in epochs, and y."""

    x_iter: list = field(default_factory=list)
    x_epoch: list = field(default_factory=list)
    y: list = field(default_factory=list)
    dirty: bool = False

    def add(self, x_iter: float, x_epoch: float, y: float) -> None:
        self.x_iter.append(x_iter)
        self.x_epoch.append(x_epoch)
        self.y.append(y)
        self.dirty = True

    def clear(self) -> None:
        self.x_iter.clear(), self.x_epoch.clear(), self.y.clear()
        self.dirty = True


def _pen(colour: str, style: str):
    if style == "thin":
        return pg.mkPen(colour, width=1.2)
    if style == "dash":
        return pg.mkPen(colour, width=1.6, style=Qt.DashLine)
    if style == "dot":
        return pg.mkPen(colour, width=1.4, style=Qt.DotLine)
    return pg.mkPen(colour, width=2.2)


class MetricsPlot(QWidget):
    """Two plots side by side: accuracy and loss, training and validation."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.x_mode = "iterations"
        self.series = {name: _Series() for name in SERIES}
        self.overlays: list[dict] = []
        self.planned = (0, 0)  # (iterations, epochs) of the run being drawn
        self._overlay_items: list = []
        self._build()
        self.timer = QTimer(self, interval=REDRAW_MS)
        self.timer.timeout.connect(self.flush)
        self.timer.start()
        self.redraws = 0  # flushes that changed a curve (the bench and the tests read it)

    def _build(self) -> None:
        self.x_combo = QComboBox()
        self.x_combo.addItems(["Iterations", "Epochs"])
        self.x_combo.setToolTip("Show the curves against optimizer steps (iterations) or passes over the "
                                "data (epochs).")
        self.x_combo.currentIndexChanged.connect(self._on_x_mode)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Accuracy and loss", objectName="sectionTitle"))
        bar.addStretch(1)
        bar.addWidget(QLabel("x axis:"))
        bar.addWidget(self.x_combo)
        self.acc_plot = self._plot("Accuracy", (0, 1.02))
        # in per cent, as the progress text and the run table say it
        ticks = [(v, f"{v * 100:.0f} %") for v in (0.0, 0.25, 0.5, 0.75, 1.0)]
        self.acc_plot.getAxis("left").setTicks([ticks, []])
        self.loss_plot = self._plot("Loss", None)
        plots = QHBoxLayout()
        plots.addWidget(self.acc_plot)
        plots.addWidget(self.loss_plot)
        # One legend for both plots, under them: inside a plot it hid the early epochs of the very
        # curves it named.
        self.legend = QLabel(wordWrap=True, textFormat=Qt.RichText, objectName="plotLegend")
        self.legend.setContentsMargins(8, 2, 8, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addLayout(plots, 1)
        layout.addWidget(self.legend)
        self.curves = {}
        for name, (which, label, colour, style) in SERIES.items():
            plot = self.acc_plot if which == "acc" else self.loss_plot
            if style in ("dots", "star"):
                item = plot.plot([], [], pen=None, symbol="o" if style == "dots" else "star",
                                 symbolSize=7 if style == "dots" else 16, symbolBrush=colour,
                                 symbolPen=pg.mkPen("w"), name=label)
            else:
                item = plot.plot([], [], pen=_pen(colour, style), name=label,
                                 symbol="o" if style == "line" else None, symbolSize=6, symbolBrush=colour)
            self.curves[name] = item
        self._update_legend()

    def _plot(self, title: str, y_range) -> pg.PlotWidget:
        plot = pg.PlotWidget(background="w")
        plot.setTitle(title, color="#374151", size="10pt")
        plot.setLabel("bottom", "iteration")
        plot.setMinimumHeight(200)
        # Ranges are set by hand (see _fit_ranges): an axis whose range changes is re-rendered, and
        # pyqtgraph's grid costs more than all the rest of a frame, so a few fixed guide lines stand in.
        plot.enableAutoRange(x=False, y=False)
        plot.setYRange(*(y_range or (0, 1)), padding=0)
        if y_range is not None:
            for y in (0.25, 0.5, 0.75, 1.0):
                plot.addItem(pg.InfiniteLine(pos=y, angle=0, pen=pg.mkPen("#e5e7eb", width=1)))
        plot.getPlotItem().setClipToView(True)
        plot.empty_note = EmptyNote(plot, EMPTY_TEXT[title])
        return own_menus(plot)

    # --- data in (slots; cheap: buffers only) ------------------------------------------------

    def clear(self) -> None:
        for s in self.series.values():
            s.clear()
        self.planned = (0, 0)
        self._show_empty()

    def set_planned(self, iterations: int, epochs: int) -> None:
        """The run's length, known at its start: the x axis spans it (and stays put while it runs)."""
        if (max(0, iterations), max(0, epochs)) == self.planned:
            return  # set already when the run was started: re-rendering the axes would only stall
        self.planned = (max(0, iterations), max(0, epochs))
        self._show_empty()
        self._fit_ranges(force=True)

    @Slot(object)
    def add_batch(self, event) -> None:
        """A training ``batch`` event (running loss/acc over the epoch so far)."""
        frac = (event.epoch - 1) + event.step / max(1, event.steps_per_epoch)
        self.series["train_batch_acc"].add(event.global_step, frac, event.acc)
        self.series["train_batch_loss"].add(event.global_step, frac, event.loss)

    def add_epoch(self, event, steps_per_epoch: int) -> None:
        """An ``epoch`` event (or a history.json record) plotted at the epoch's end."""
        e = event if isinstance(event, dict) else vars(event)
        x = e["epoch"] * max(1, steps_per_epoch)
        if e.get("stage") == "head" or e["epoch"] == 0:  # stage 1: a star at 0, where validation starts
            for key in ("acc", "loss"):
                if e.get(f"val_{key}") is not None:
                    self.series[f"head_{key}"].add(0, 0, e[f"val_{key}"])
                    self.series[f"val_{key}"].add(0, 0, e[f"val_{key}"])
            return
        for key in ("train_acc", "train_loss", "val_acc", "val_loss"):
            if e.get(key) is not None:
                self.series[key].add(x, e["epoch"], e[key])

    def set_overlays(self, runs: list[dict]) -> None:
        """Dashed curves of finished runs: ``{"name", "steps_per_epoch", "epochs": [...], CURVES...}``."""
        self.overlays = list(runs)
        self._show_empty()
        self._draw_overlays()

    # --- drawing -----------------------------------------------------------------------------

    @property
    def empty(self) -> bool:
        """Nothing planned, drawn or overlaid: the axes would have nothing to measure."""
        return not (any(self.planned) or self.overlays or any(s.y for s in self.series.values()))

    def _show_empty(self) -> None:
        for plot in (self.acc_plot, self.loss_plot):
            plot.empty_note.set_empty(self.empty)

    @Slot()
    def flush(self) -> None:
        """Copy buffered points into the curves (called by the 10 Hz timer)."""
        changed = False
        if self.series["head_acc"].dirty:
            self._update_legend()
        for name, s in self.series.items():
            if s.dirty:
                x = s.x_iter if self.x_mode == "iterations" else s.x_epoch
                self.curves[name].setData(np.asarray(x, dtype=float), np.asarray(s.y, dtype=float))
                s.dirty = False
                changed = True
        if changed:
            self._fit_ranges()
            self.redraws += 1

    def _x_extent(self) -> float:
        """The largest x of the plan, the buffered points and the overlays (in the current unit)."""
        iterations = self.x_mode == "iterations"
        extent = float(self.planned[0 if iterations else 1])
        for s in self.series.values():
            xs = s.x_iter if iterations else s.x_epoch
            extent = max(extent, xs[-1] if xs else 0.0)
        for run in self.overlays:
            # a saved run may lack a loss list (or have a shorter one): zip stops at the shorter
            epoch_losses = zip(run.get("epochs", []), run.get("train_loss", []), strict=False)
            last = float(max((e for e, v in epoch_losses if v is not None),
                             default=len(run.get("epochs", []))))
            extent = max(extent, last * (run.get("steps_per_epoch") or 1) if iterations else last)
        return extent or 1.0

    def _fit_ranges(self, force: bool = False) -> None:
        """Widen the axes only when the data outgrows them (a steady axis is not re-rendered)."""
        extent = self._x_extent()
        for plot in (self.acc_plot, self.loss_plot):
            (_x0, x1), _ = plot.viewRange()
            if force or extent > x1 or extent < 0.5 * x1:
                plot.setXRange(0, extent, padding=0.02)
        losses = [v for k in ("train_batch_loss", "train_loss", "val_loss", "head_loss")
                  for v in self.series[k].y]
        losses += [v for run in self.overlays for k in ("train_loss", "val_loss") for v in run.get(k, [])
                   if v is not None]
        top = max((v for v in losses if np.isfinite(v)), default=1.0)
        _, (_y0, y1) = self.loss_plot.viewRange()
        if force or top > y1 or top < 0.4 * y1:
            self.loss_plot.setYRange(0, top * 1.15 or 1.0, padding=0)

    def _draw_overlays(self) -> None:
        for plot, item in self._overlay_items:
            plot.removeItem(item)
            legend = plot.getPlotItem().legend
            if legend is not None:
                legend.removeItem(item)
        self._overlay_items = []
        for k, run in enumerate(self.overlays):
            self._draw_overlay(run, OVERLAY_COLOURS[k % len(OVERLAY_COLOURS)])
        self._update_legend()
        self._fit_ranges(force=True)

    def _draw_overlay(self, run: dict, colour: str) -> None:
        """One compared run on its OWN x axis (its steps per epoch), each measured point marked: a
        recommended run validates rarely, and a line through lone points between gaps drew nothing."""
        per_epoch = 1 if self.x_mode == "epochs" else max(1, run.get("steps_per_epoch") or 1)
        stage1 = run.get("stage1") or {}
        for key, plot in (("val_acc", self.acc_plot), ("val_loss", self.loss_plot),
                          ("train_acc", self.acc_plot), ("train_loss", self.loss_plot)):
            # a saved run may lack this curve (or have a shorter one): zip stops at the shorter
            points = [(epoch * per_epoch, v)
                      for epoch, v in zip(run["epochs"], run.get(key, []), strict=False) if v is not None]
            validation = key.startswith("val")
            if validation and stage1.get(key) is not None:  # validation starts at stage 1's fitted head
                points.insert(0, (0, stage1[key]))
            if not points:
                continue
            x, y = (np.asarray(v, dtype=float) for v in zip(*points, strict=True))  # (x, y) pairs
            label = f"{run['name']} ({'val' if validation else 'train'})"
            item = plot.plot(x, y, pen=_pen(colour, "dash" if validation else "dot"), name=label,
                             symbol="o" if validation else "t", symbolSize=6 if validation else 5,
                             symbolBrush=colour if validation else "w", symbolPen=pg.mkPen(colour))
            self._overlay_items.append((plot, item))
            if validation and stage1.get(key) is not None:
                star = plot.plot([0.0], [stage1[key]], pen=None, symbol="star", symbolSize=14,
                                 symbolBrush=colour, symbolPen=pg.mkPen("w"), name=f"{run['name']} (stage 1)")
                self._overlay_items.append((plot, star))

    def _update_legend(self) -> None:
        """The names of the curves, each after a sample of its line in its colour."""
        entries = {label: (colour, style) for name, (_, label, colour, style) in SERIES.items()
                   if not name.startswith("head_") or self.series[name].y}  # stage 1 only once it is there
        for k, run in enumerate(self.overlays):
            colour = OVERLAY_COLOURS[k % len(OVERLAY_COLOURS)]
            if (run.get("stage1") or {}).get("val_acc") is not None:
                entries[f"{run['name']} (stage 1)"] = (colour, "star")
            entries[f"{run['name']} (validation)"] = (colour, "dashdots")
            entries[f"{run['name']} (training)"] = (colour, "dot")
        self.legend.setText("&nbsp;&nbsp;&nbsp; ".join(
            f'<span style="color:{colour}; font-weight:bold">{LEGEND_MARKS[style]}</span>'
            f'&nbsp;{escape(label)}'
            for label, (colour, style) in entries.items()))

    @Slot(int)
    def _on_x_mode(self, index: int) -> None:
        self.x_mode = "iterations" if index == 0 else "epochs"
        for plot in (self.acc_plot, self.loss_plot):
            plot.setLabel("bottom", "iteration" if index == 0 else "epoch")
        for s in self.series.values():
            s.dirty = True
        self.flush()
        self._draw_overlays()

    # --- for tests and status ----------------------------------------------------------------

    def point_count(self, name: str) -> int:
        """Points drawn (not just buffered) in curve ``name``."""
        x, _ = self.curves[name].getData()
        return 0 if x is None else len(x)

    def overlay_names(self) -> list[str]:
        return [item.name() for _, item in self._overlay_items]
