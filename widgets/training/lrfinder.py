"""The learning-rate finder: run the LR range test, see the loss against the LR, use the suggestion.

The test itself is ``designer.train.lr_find`` (run as ``app.jobs.lr_find_job`` in a worker
thread); this dialog only starts it, draws its curve as the points come (each progress report
carries them), and writes the chosen LR into the training settings. Stop keeps the curve drawn
so far, with a suggestion when the loss had already fallen far enough to make one.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout

from designer.app.jobs import lr_find_job
from designer.base.errors import DesignerError
from designer.train.lr_find import END_LR, START_LR
from widgets.base.panel_job import PanelJob
from widgets.base.plots import own_menus

INTRO = ("Trains a copy of the network for up to 100 small steps while the learning rate grows from "
         "0.0000001 to 10, and draws how the loss answers. A good rate is where the loss still falls "
         "steeply, well before it shoots up. The network itself is not changed.")
CAVEAT = ("On small data sets the suggestion is often lower than what trains best: with 100 images of digits "
          "it suggested 0.0016 where 0.01 gave 90 % against 77 %. The recommended mode uses 0.01 (SGD) when "
          "the learning rate is on Automatic.")


class LRFinderDialog(QDialog):
    """Modeless: run the test, look at the curve, press "Use this LR"."""

    lr_chosen = Signal(float)

    def __init__(self, context, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Find a learning rate")
        self.setObjectName("lrFinder")
        self.context = context
        self.finding = None
        self.runner = PanelJob(self, "lr-find", on_progress=self._on_progress, on_done=self._on_result,
                               on_failed=self._on_failed, on_cancelled=self._on_stopped,
                               on_finished=self._update_buttons)  # Close cancels and waits (PanelJob)
        self._build()
        self._update_buttons()

    def _build(self) -> None:
        intro = QLabel(INTRO, wordWrap=True)
        self.plot = own_menus(pg.PlotWidget(background="w"))
        self.plot.setLogMode(x=True, y=False)
        self.plot.setLabel("bottom", "learning rate")
        self.plot.getAxis("bottom").enableAutoSIPrefix(False)  # "0.1 (x0.001)" read as 0.1, not 0.0001
        self.plot.setLabel("left", "training loss (smoothed)")
        self.plot.setMinimumSize(520, 280)
        self.curve = self.plot.plot([], [], pen=pg.mkPen("#2563eb", width=2))
        self.marker = pg.InfiniteLine(angle=90, pen=pg.mkPen("#ea580c", width=2, style=Qt.DashLine))
        self.marker.hide()
        self.plot.addItem(self.marker)
        self.bar = QProgressBar(textVisible=True)
        self.bar.setRange(0, 100)
        self.bar.setValue(0)
        self.result = QLabel("", wordWrap=True, textInteractionFlags=Qt.TextSelectableByMouse)
        caveat = QLabel(CAVEAT, wordWrap=True, objectName="muted")
        self.run_button = QPushButton("Run the test", objectName="primary")
        self.stop_button = QPushButton("Stop")
        self.use_button = QPushButton("Use this LR")
        self.use_button.setToolTip("Set the learning rate in the training options to the suggested value "
                                   "(Automatic is turned off).")
        close = QPushButton("Close")
        buttons = QHBoxLayout()
        for b in (self.run_button, self.stop_button, self.use_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        for w in (intro, self.plot, self.bar, self.result, caveat):
            layout.addWidget(w)
        layout.addLayout(buttons)
        self.run_button.clicked.connect(self.run_test)
        self.stop_button.clicked.connect(self.runner.cancel)
        self.use_button.clicked.connect(self.use_suggestion)
        close.clicked.connect(self.close)

    @Slot()
    def run_test(self) -> bool:
        """Start the test on the Data tab's images with the current options; False if it cannot."""
        try:
            split = self.context.require_split()
            options = self.context.options()
            source = self.context.design_source()
        except DesignerError as exc:
            self.result.setText(str(exc))
            return False
        self.finding = None
        self.curve.setData([], [])
        self.plot.setXRange(math.log10(START_LR), math.log10(END_LR), padding=0.02)  # the curve grows into it
        self.marker.hide()
        self.bar.setValue(0)
        self.result.setText("Running…")
        self.runner.start(lr_find_job, source, split, options)
        self._update_buttons()
        return True

    @Slot(object)
    def _on_progress(self, progress) -> None:
        if progress.total:
            self.bar.setValue(round(100 * progress.done / progress.total))
        self.bar.setFormat(progress.text or "%p %")
        if getattr(progress, "lrs", None):  # the curve so far: drawn as the test runs
            self._draw(progress.lrs, progress.losses)

    def _draw(self, lrs, losses) -> None:
        points = [(lr, loss) for lr, loss in zip(lrs, losses, strict=False) if math.isfinite(loss)]
        if not points:
            return
        lrs, losses = (np.asarray(v, dtype=float) for v in zip(*points, strict=True))
        self.curve.setData(lrs, losses)
        top = float(np.percentile(losses, 95)) * 1.1
        self.plot.setYRange(0, top or 1.0, padding=0)

    @Slot(object)
    def _on_result(self, finding) -> None:
        self.finding = finding if finding.suggestion is not None else None
        self._draw(finding.lrs, finding.losses)
        if finding.suggestion is None:
            self.marker.hide()
            self._done(f"Stopped after {len(finding.lrs)} steps, before the loss had fallen enough to "
                       "suggest a learning rate. The curve shows what was measured; run the test to its end "
                       "for a suggestion.")
            return
        self.marker.setValue(math.log10(finding.suggestion))
        self.marker.show()
        stopped = (f"Stopped after {len(finding.lrs)} steps. From what was measured, the s" if finding.stopped
                   else "S")
        self._done(f"{stopped}uggested learning rate is {finding.suggestion:.2g} (dashed line; the loss "
                   f"falls fastest at {finding.steepest:.2g} and is lowest at {finding.lowest:.2g}).")

    @Slot(object)
    def _on_failed(self, failure) -> None:
        self._done(failure.text)

    @Slot()
    def _on_stopped(self) -> None:
        self._done("Stopped.")

    def _done(self, text: str) -> None:
        if self.finding is not None and not self.finding.stopped:
            self.bar.setValue(100)
        elif not self.measured():  # a stopped test's bar stays where it stopped, under its curve
            self.bar.setValue(0)
        self.bar.setFormat("%p %")
        self.result.setText(text)
        self._update_buttons()

    def measured(self) -> int:
        """Points drawn on the curve."""
        x, _ = self.curve.getData()
        return 0 if x is None else len(x)

    @Slot()
    def use_suggestion(self) -> None:
        if self.finding is None:
            return
        lr = float(f"{self.finding.suggestion:.2g}")
        self.context.update_training(lr=lr)
        self.lr_chosen.emit(lr)
        self.result.setText(f"The learning rate is now {lr:g}. Set it back to Automatic in the training "
                            "options to use the mode's own rate.")

    @Slot()
    def _update_buttons(self, *_) -> None:
        busy = self.runner.running
        self.run_button.setEnabled(not busy)
        self.stop_button.setEnabled(busy)
        self.use_button.setEnabled(not busy and self.finding is not None)
