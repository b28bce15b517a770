"""Where to train: in this process, on every GPU of this machine, or in separate processes.

The choice is a ``designer.launch.placement.Placement``, kept in the project's training settings
under ``"placement"`` (it is not a training hyperparameter, so ``TrainOptions`` ignores it) and
read back through ``designer.launch.placement.saved_placement`` (the CLI's default too), which
turns anything malformed into "this process".
"""

from __future__ import annotations

import torch
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QSpinBox, QWidget

from designer.launch.placement import CHILD_MODES, MAX_PROCESSES, Placement

HERE_TIP = ("Train inside the app, as always. Simplest; the window may respond more slowly while a large "
            "network trains.")
GPUS_TIP = ("One training process per GPU of this machine, each taking a share of every batch "
            "(PyTorch's DistributedDataParallel).")
NO_GPU_TIP = "PyTorch sees no GPU on this computer, so there are none to train on."
PROCESSES_TIP = ("Train in processes of their own, started by the app. One separate process keeps the "
                 "window smoother while it trains; several split each batch between them, on the GPUs when "
                 "there are enough (one each), else on the CPU.")
COUNT_TIP = (f"How many separate processes (1 to {MAX_PROCESSES}). One keeps the window smoother; several "
             "split each batch between them, on the GPUs when there are enough, else on the CPU.")
CACHED_TIP = ("Head-only and linear-probe runs train on cached features in this process, in seconds: "
              "where to train applies to the other modes.")
TIP = ("Where the training runs. " + HERE_TIP + " All GPUs: " + GPUS_TIP
       + " Separate processes: " + PROCESSES_TIP
       + " Curves, Stop and Resume work the same everywhere; a run trained elsewhere also keeps the script "
         "that trained it and what it printed (train.log) in its folder.")


def gpu_count() -> int:
    return torch.cuda.device_count()


class WhereToTrain(QWidget):
    """A choice of place (combo) and, for separate processes, how many (spin box)."""

    edited = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self._loading = False
        self._movable = True  # False for the modes that always train in this process
        self.gpus = gpu_count()
        self.choice = QComboBox()
        self.count = QSpinBox(toolTip=COUNT_TIP)
        self.count.setRange(1, MAX_PROCESSES)
        self.count.setKeyboardTracking(False)
        self._fill()
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.choice, 1)
        row.addWidget(self.count)
        self.choice.currentIndexChanged.connect(self._on_edit)
        self.count.valueChanged.connect(self._on_edit)
        self.show_placement(Placement())

    def _fill(self) -> None:
        gpus = f"All GPUs of this machine ({self.gpus if self.gpus else 'none found'})"
        for value, label, tip in (("here", "This process", HERE_TIP),
                                  ("gpus", gpus, GPUS_TIP if self.gpus else f"{NO_GPU_TIP} {GPUS_TIP}"),
                                  ("processes", "Separate processes", PROCESSES_TIP)):
            self.choice.addItem(label, value)
            self.choice.setItemData(self.choice.count() - 1, tip, Qt.ToolTipRole)
        if not self.gpus:  # shown, so that people know it exists, but not choosable
            self.choice.model().item(1).setEnabled(False)
            self.choice.setItemData(1, QColor("#9ca3af"), Qt.ForegroundRole)  # the popup does not grey it
        # Fit the side panel: take the width given, the drop-down still shows each label in full.
        self.choice.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.choice.setMinimumContentsLength(10)
        self.choice.view().setMinimumWidth(self.choice.view().sizeHintForColumn(0) + 24)

    # --- placement <-> fields ----------------------------------------------------------------------

    def placement(self) -> Placement:
        where = self.choice.currentData()
        return Placement(where, self.count.value()) if where == "processes" else Placement(where)

    def show_placement(self, placement: Placement) -> None:
        self._loading = True
        try:
            self.choice.setCurrentIndex(max(0, self.choice.findData(placement.where)))
            self.count.setValue(placement.processes)
            self._update()
        finally:
            self._loading = False

    def set_mode(self, mode) -> None:
        """Disabled (with the reason) for the modes that always train in this process."""
        self._movable = mode in CHILD_MODES
        self.setEnabled(self._movable)
        self._update()

    # --- showing ---------------------------------------------------------------------------------

    def _update(self) -> None:
        if not self._movable:
            self.choice.setToolTip(CACHED_TIP)
            self.count.setToolTip(CACHED_TIP)
            return
        self.choice.setToolTip(TIP if self.gpus else f"{TIP} ({NO_GPU_TIP})")
        self.count.setToolTip(COUNT_TIP)
        # Only "Separate processes" has a number: elsewhere the box would be a greyed-out puzzle.
        self.count.setVisible(self.choice.currentData() == "processes")

    @Slot()
    def _on_edit(self, *_) -> None:
        self._update()
        if not self._loading:
            self.edited.emit()
