"""Progress of the current run in words: a progress bar, epoch and step, time left, best so far."""

from __future__ import annotations

import time

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QGridLayout, QLabel, QProgressBar, QWidget

from widgets.training.runs import acc_text, time_text

BUDGET_TICKS = 1000


class TrainingProgress(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.bar = QProgressBar(textVisible=True)
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        # Wraps: "Stage 2 of 2 (fine-tuning): epoch 5 of 25 · step 5 of 10" beside "About 1 min 47 s
        # left" is wider than the side panel, which then cut both off behind a sideways scroll bar.
        self.stage = QLabel("Not started", wordWrap=True)
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
        self.unit = "epoch"  # "fit" for the linear probe
        self.stages = 1  # 2 for the recommended mode: the classifier is fitted first (epoch 0)
        self.started = time.monotonic()  # when the run started (the search's bar counts its budget)
        self.where = ""  # "in 2 processes on the CPU …" for a run in child processes, else ""

    def reset(self, text: str = "Starting…", where: str = "") -> None:
        self.where = where
        self.bar.setRange(0, 0)  # busy until the start event
        self.stage.setText(text)
        self.eta.setText("")
        self.best.setText("")
        self.speed.setText("")
        self.status.setText("")

    def _round(self, k: int) -> str:
        """'Epoch 3 of 25', 'Fit 1 of 3', or with two stages 'Stage 2 of 2 (fine-tuning): epoch 3 of 25'."""
        if self.unit == "trial":  # the search: its budget, not the count, usually ends it
            return f"Trial {k} (of up to {self.epochs} within the budget)"
        text = f"{self.unit.capitalize()} {k} of {self.epochs}"
        return f"Stage 2 of 2 (fine-tuning): {text.lower()}" if self.stages == 2 else text

    @Slot(object)
    def on_start(self, e) -> None:
        self.epochs, self.steps, self.started = max(1, e.epochs), max(1, e.steps_per_epoch), time.monotonic()
        self.unit, self.stages = getattr(e, "unit", "epoch") or "epoch", getattr(e, "stages", 1)
        self.bar.setRange(0, self.epochs * self.steps)
        self.bar.setValue((e.start_epoch - 1) * self.steps)
        self.stage.setText("Stage 1 of 2: fitting the classifier" if self.stages == 2 else
                           self._round(e.start_epoch))
        params = f"{e.trainable_params:,} trainable / {e.frozen_params:,} frozen weights"
        plan = f" {e.plan}" if getattr(e, "plan", "") else ""
        self.status.setText(f"Training on {e.device}: {e.num_train} training and {e.num_val} validation "
                            f"images, {params}.{plan}")

    @Slot(object)
    def on_batch(self, e) -> None:
        if e.epoch == 0:  # head-only / linear probe: computing the frozen layers' features first
            self.bar.setRange(0, max(1, e.steps_per_epoch))
            self.bar.setValue(e.step)
            first = "Stage 1 of 2: computing features" if self.stages == 2 else "Computing features"
            self.stage.setText(f"{first}: batch {e.step} of {e.steps_per_epoch}")
        elif self.unit == "trial":  # the search ends with its budget: the bar shows the time spent
            elapsed = time.monotonic() - self.started
            self.bar.setRange(0, BUDGET_TICKS)
            self.bar.setValue(round(BUDGET_TICKS * elapsed / max(1e-9, elapsed + e.eta_s)))
            self.stage.setText(f"{self._round(e.epoch)} · step {e.step} of {e.steps_per_epoch}")
        else:
            self.bar.setRange(0, self.epochs * max(1, e.steps_per_epoch))
            self.bar.setValue((e.epoch - 1) * e.steps_per_epoch + e.step)
            self.stage.setText(f"{self._round(e.epoch)} · step {e.step} of {e.steps_per_epoch}")
        self.eta.setText(f"About {time_text(e.eta_s)} left")
        self.speed.setText(f"{e.images_per_s:.0f} images/s")

    @Slot(object)
    def on_epoch(self, e) -> None:
        if self.unit != "trial":
            self.bar.setValue(e.epoch * self.steps)
        val = "" if e.val_acc is None else f", validation {acc_text(e.val_acc)}"
        if getattr(e, "stage", "") == "head":
            after = "Trials next…" if self.unit == "trial" else "Fine-tuning next…"
            self.stage.setText(f"Stage 1 done: classifier fitted{val}. {after}")
        else:
            self.stage.setText(f"{self._round(e.epoch)} done: training {acc_text(e.train_acc)}{val}")
        if e.best_val_acc is not None:
            self.best.setText(f"Best: {acc_text(e.best_val_acc)} ({self._where(e.best_epoch)})")

    def _where(self, epoch: int) -> str:
        return "stage 1" if self.stages == 2 and epoch == 0 else f"{self.unit} {epoch}"

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
                                                  f"({self._where(e.best_epoch)})."
        outcome = f" {e.outcome}" if getattr(e, "outcome", "") else ""
        resumable = e.kind == "stopped" and e.checkpoint
        resume = " Select the run and press Resume to continue it." if resumable else ""
        # the plan said where it trains; the end says it again
        best = f" Trained {self.where}.{best}" if self.where else best
        if e.kind == "finished":
            units = f"{e.epochs_done} {self.unit}{'s' if e.epochs_done != 1 else ''}"
            self.stage.setText(f"Finished {units} in {time_text(e.time_s)}")
            self.status.setText(f"Done.{best}{outcome} The best weights are in {e.run_dir}.")
        elif e.epoch == 0 and e.best_val_acc is not None:  # stage 1 done, stopped while fine-tuning
            self.stage.setText("Stopped while fine-tuning")
            self.status.setText(f"Stopped.{best} The classifier fitted in stage 1 is kept.{resume}")
        elif e.epoch == 0:
            self.stage.setText("Stopped before the first epoch ended")
            self.status.setText("Stopped before the first epoch ended: nothing was trained, so no weights "
                                f"were saved.{resume}")
        else:
            self.stage.setText(f"Stopped after {e.epoch} complete {self.unit}{'s' if e.epoch != 1 else ''}")
            self.status.setText(f"Stopped.{best}{outcome} The best weights are kept.{resume}")
        if e.skipped:
            self.status.setText(self.status.text() + f" {len(e.skipped)} images could not be read and "
                                                     "were skipped.")

    def on_error(self, message: str) -> None:
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.stage.setText("Could not start")
        self.status.setText(message)
