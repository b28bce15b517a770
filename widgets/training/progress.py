"""Progress of the current run in words: a progress bar, epoch and step, time left, best so far."""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QGridLayout, QLabel, QProgressBar, QWidget

from widgets.training.runs import acc_text, time_text


class TrainingProgress(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.bar = QProgressBar(textVisible=True)
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.stage = QLabel("Not started")
        self.eta = QLabel("")
        self.best = QLabel("")
        self.best.setObjectName("totalValue")
        self.speed = QLabel("", objectName="muted")
        self.status = QLabel("", wordWrap=True)
        self.eta.setToolTip("Estimated time until the last epoch ends, from the speed so far.")
        self.best.setToolTip("The best accuracy on the validation images so far. Its weights are saved as "
                             "best.pt in the run folder and kept when you stop.")
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(self.bar, 0, 0, 1, 2)
        grid.addWidget(self.stage, 1, 0)
        grid.addWidget(self.eta, 1, 1)
        grid.addWidget(self.best, 2, 0)
        grid.addWidget(self.speed, 2, 1)
        grid.addWidget(self.status, 3, 0, 1, 2)
        self.epochs = 1
        self.steps = 1

    def reset(self, text: str = "Starting…") -> None:
        self.bar.setRange(0, 0)  # busy until the start event
        self.stage.setText(text)
        self.eta.setText("")
        self.best.setText("")
        self.speed.setText("")
        self.status.setText("")

    @Slot(object)
    def on_start(self, e) -> None:
        self.epochs, self.steps = max(1, e.epochs), max(1, e.steps_per_epoch)
        self.bar.setRange(0, self.epochs * self.steps)
        self.bar.setValue((e.start_epoch - 1) * self.steps)
        self.stage.setText(f"Epoch {e.start_epoch} of {e.epochs}")
        params = f"{e.trainable_params:,} trainable / {e.frozen_params:,} frozen weights"
        self.status.setText(f"Training on {e.device}: {e.num_train} training and {e.num_val} validation "
                            f"images, {params}.")

    @Slot(object)
    def on_batch(self, e) -> None:
        if e.epoch == 0:  # head-only / linear probe: computing the frozen layers' features first
            self.bar.setRange(0, max(1, e.steps_per_epoch))
            self.bar.setValue(e.step)
            self.stage.setText(f"Computing features: batch {e.step} of {e.steps_per_epoch}")
        else:
            self.bar.setRange(0, self.epochs * max(1, e.steps_per_epoch))
            self.bar.setValue((e.epoch - 1) * e.steps_per_epoch + e.step)
            self.stage.setText(f"Epoch {e.epoch} of {self.epochs} · step {e.step} of {e.steps_per_epoch}")
        self.eta.setText(f"About {time_text(e.eta_s)} left")
        self.speed.setText(f"{e.images_per_s:.0f} images/s")

    @Slot(object)
    def on_epoch(self, e) -> None:
        self.bar.setValue(e.epoch * self.steps)
        val = "" if e.val_acc is None else f", validation {acc_text(e.val_acc)}"
        self.stage.setText(f"Epoch {e.epoch} of {self.epochs} done: training {acc_text(e.train_acc)}{val}")
        if e.best_val_acc is not None:
            self.best.setText(f"Best: {acc_text(e.best_val_acc)} (epoch {e.best_epoch})")

    def on_final(self, e) -> None:
        self.eta.setText("")
        if e.kind == "failed":
            self.bar.setRange(0, 1)
            self.stage.setText("Training failed")
            self.status.setText(f"{e.message} {e.hint}".strip())
            return
        self.bar.setRange(0, 1)
        self.bar.setValue(1 if e.kind == "finished" else 0)
        best = "" if e.best_val_acc is None else f" Best validation accuracy {acc_text(e.best_val_acc)} " \
                                                  f"(epoch {e.best_epoch})."
        resume = " Select the run and press Resume to continue it." if e.kind == "stopped" and e.checkpoint else ""
        if e.kind == "finished":
            self.stage.setText(f"Finished {e.epochs_done} epochs in {time_text(e.time_s)}")
            self.status.setText(f"Done.{best} The best weights are in {e.run_dir}.")
        elif e.epoch == 0:
            self.stage.setText("Stopped before the first epoch ended")
            self.status.setText("Stopped before the first epoch ended: nothing was trained, so no weights were "
                                f"saved.{resume}")
        else:
            self.stage.setText(f"Stopped after {e.epoch} complete epoch{'s' if e.epoch != 1 else ''}")
            self.status.setText(f"Stopped.{best} The best weights are kept.{resume}")
        if e.skipped:
            self.status.setText(self.status.text() + f" {len(e.skipped)} images could not be read and "
                                                     "were skipped.")

    def on_error(self, message: str) -> None:
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.stage.setText("Could not start")
        self.status.setText(message)
