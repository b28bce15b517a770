"""The training options form, in plain words for people who do not code.

Every field mirrors ``settings["training"]`` of the document (through the
``TrainingContext``): a change is written there at once, and a change there (a
project opened, undo) is shown here. Each field's tooltip says what it does and
what a safe value is.
"""

from __future__ import annotations

import torch
from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QPushButton,
    QSpinBox,
    QWidget,
)

from designer.base.errors import DesignerError
from designer.launch.placement import saved_placement
from designer.train import options as core
from designer.train.options import TrainOptions, default_lr
from designer.train.recommended import plan as recommended_plan
from widgets.base.elided import ElidedComboBox
from widgets.training.where import TIP as WHERE_TIP
from widgets.training.where import WhereToTrain

# Labels and tooltips for the core's choices (designer.train.options), in display order. The
# values come from the core: a choice it adds shows up here under its own name until labelled.
MODE_LABELS = {
    "recommended": ("Recommended: fit the classifier, then fine-tune",
                    ("First fit the new classifier on what the pretrained network sees in each image "
                     "(seconds), then fine-tune the layers that are not frozen from there, keeping "
                     "whichever is better on the validation images. Plans its own length, batch, warm-up "
                     "and schedule from your data (shown in the form, marked Automatic), stops early when "
                     "validation stops improving and by the time cap. The best choice for most data.")),
    "full": ("Fine-tune only (train as designed)",
             ("Start from the pretrained weights and a new, random classifier, and train the layers that are "
             "not frozen, each at its own learning-rate factor, with the schedule below.")),
    "cached-head": ("Head only, on cached features (fast)",
                    ("Compute what the rest of the network makes of each image once, then train only the "
                    "classifier on that. Very fast; everything before the classifier stays as it is for "
                    "this run (the design is not changed) and augmentation is not used.")),
    "linear-probe": ("Linear probe (very few images)",
                     ("Fit a simple linear classifier (logistic regression) on the pretrained features. "
                     "Good for a few dozen images per class; no augmentation.")),
    "search": ("Search (best of several trials)",
               ("For the last point of accuracy: fit the classifier first (the baseline), then try several "
                "fine-tunes with different learning rates, lengths, augmentation and frozen early layers, "
                "within the search budget. Weak trials are stopped early to leave time for others; the best "
                "trial becomes the run. The trials run one after another here, on this computer.")),
    "scratch": ("From scratch (random weights, for comparison)",
                ("Forget the pretrained weights and train every layer from random values. Needs much more "
                "data and time; useful as a baseline to see how much pretraining helps.")),
}
PLANNED_MODES = ("recommended", "search")  # they plan the length, batch, warm-up and schedule from the data
OPTIMIZER_LABELS = {"sgd": "SGD with momentum", "adam": "Adam", "adamw": "AdamW"}
SCHEDULE_LABELS = {"cosine": "Cosine (slowly down to zero)",
                   "step": "Step (drop ×0.1 every third of the run)",
                   "constant": "Constant"}
DEVICE_LABELS = {"auto": "Automatic (GPU if there is one)", "cpu": "CPU", "cuda": "NVIDIA GPU (CUDA)",
                 "mps": "Apple GPU (MPS)"}


def choices(values: tuple[str, ...], labels: dict) -> tuple[tuple, ...]:
    """(value, label[, tooltip]) for each of the core's ``values``, labelled ones first, in order."""
    ordered = [v for v in labels if v in values] + [v for v in values if v not in labels]
    return tuple((v, *labels[v]) if isinstance(labels.get(v), tuple) else (v, labels.get(v, v))
                 for v in ordered)


MODES = choices(core.MODES, MODE_LABELS)
OPTIMIZERS = choices(core.OPTIMIZERS, OPTIMIZER_LABELS)
SCHEDULES = choices(core.SCHEDULES, SCHEDULE_LABELS)
DEVICES = choices(core.DEVICES, DEVICE_LABELS)

TIPS = {
    "mode": "What to train. " + " ".join(f"{label}: {tip}" for label, tip in MODE_LABELS.values()),
    "optimizer": "The method that updates the weights. SGD with momentum is the classic, dependable choice "
                 "for fine-tuning; Adam and AdamW adapt the step size per weight and need a smaller "
                 "learning rate.",
    "lr": "Learning rate: how big each learning step is. For fine-tuning a pretrained network, smaller is "
          "safer: too large a step wipes out what the network already knows. Leave it on Automatic "
          "unless the loss does not go down (try smaller) or learning is very slow (try larger).",
    "auto_lr": "Use a good default for the chosen optimizer and mode: the usual from-scratch rate (0.01 for "
               "SGD) for the recommended mode, head-only and from scratch; 10 times smaller for 'Fine-tune "
               "only'.",
    "find_lr": "Run a short learning-rate range test on your images and pick a rate from its curve.",
    "schedule": "How the learning rate changes during training. Cosine starts at the full rate and "
                "lowers it smoothly to zero by the last epoch, which usually gives the best final "
                "accuracy.",
    "warmup": "Epochs at the start during which the learning rate grows from almost zero to its full "
              "value. A little warmup (0.5–1) steadies the first steps; 0 is fine for fine-tuning.",
    "epochs": "How many times the network sees every training image. Fine-tuning often needs only "
              "5–20; more epochs take longer and can over-fit small datasets. The recommended mode plans "
              "this from your data (about 2,000 images seen, 5 to 25 epochs) unless you untick Automatic, "
              "and may stop earlier once validation stops improving.",
    "mode_sets": "Planned by the recommended mode from your data (the value shown is what it will use). "
                 "Untick Automatic to set it yourself.",
    "auto_plan": "Let the recommended mode plan the epochs, batch size, warm-up and schedule from your data; "
                 "the fields show what it will use. Untick to set them yourself: the run then uses exactly "
                 "those values.",
    "max_minutes": "The recommended mode trains while validation still improves, but ends by about this "
                   "time: once the first epoch shows what an epoch costs, a longer plan is shortened to fit. "
                   "0 means no cap.",
    "budget": "How long the search may take in all. No new trial starts once it is spent, and the last one "
              "is cut to it. Several minutes let it try several settings; on a GPU it tries more.",
    "batch_size": "How many images the network looks at before each learning step. Larger batches are "
                  "faster per image but need more memory; lower it if you run out of memory.",
    "weight_decay": "A gentle pull of every weight towards zero that keeps the network from "
                    "memorising the training images. 0.0001 is a safe default; 0 turns it off.",
    "device": "Where the computation runs. Automatic uses a GPU when one is available, otherwise the "
              "CPU.",
    "amp": "Mixed precision: compute in 16-bit numbers on an NVIDIA GPU, which is faster and uses less "
           "memory with almost no loss of accuracy. Has no effect on the CPU.",
    "seed": "A number that fixes the random choices (shuffling, augmentation, initial weights), so the "
            "same settings give the same result again.",
    "where": WHERE_TIP,
    "workers": "Extra processes that load images in the background. 0 loads them in the training "
               "thread (simplest); 2–4 can speed up training on large images.",
}


def device_available(name: str) -> bool:
    if name == "cuda":
        return torch.cuda.is_available()
    if name == "mps":
        mps = getattr(torch.backends, "mps", None)
        return bool(mps and mps.is_available())
    return True


def _combo(items, tip: str) -> QComboBox:
    combo = ElidedComboBox(tip=tip)  # a label longer than the box ends in "…", whole in the tooltip
    for value, label, *rest in items:
        combo.addItem(label, value)
        if rest:
            combo.setItemData(combo.count() - 1, rest[0], 3)  # Qt.ToolTipRole
    # Long labels ("NVIDIA GPU (CUDA) — not available on this computer") must not widen the form past
    # its side panel (which then clips the buttons and the progress text): the box takes the width it
    # is given, and its drop-down list stays wide enough to read every label in full.
    combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(12)
    combo.view().setMinimumWidth(combo.view().sizeHintForColumn(0) + 24)
    combo.set_tip(tip)  # the first item's label, added after construction, heads the tooltip
    return combo


def _spin(lo, hi, tip: str, decimals: int | None = None, step=None):
    box = QSpinBox(toolTip=tip) if decimals is None else QDoubleSpinBox(toolTip=tip, decimals=decimals)
    box.setRange(lo, hi)
    if step is not None:
        box.setSingleStep(step)
    if decimals is not None and decimals > 3:
        box.setStepType(QAbstractSpinBox.AdaptiveDecimalStepType)
    box.setKeyboardTracking(False)
    return box


class TrainingOptionsForm(QWidget):
    """Fields for ``TrainOptions`` (except augmentation and class weights: the Data tab has those)."""

    edited = Signal()

    def __init__(self, context, parent=None):
        super().__init__(parent)
        self.context = context
        self._loading = False
        self._build()
        self.load()
        context.training_changed.connect(self.load)
        context.split_changed.connect(self.load)  # the plan's values depend on the data

    def _build(self) -> None:
        self.mode = _combo(MODES, TIPS["mode"])
        self.optimizer = _combo(OPTIMIZERS, TIPS["optimizer"])
        self.lr = _spin(1e-6, 10.0, TIPS["lr"], decimals=6, step=1e-4)
        self.auto_lr = QCheckBox("Automatic", toolTip=TIPS["auto_lr"])
        self.find_lr = QPushButton("Find…", toolTip=TIPS["find_lr"])
        self.schedule = _combo(SCHEDULES, TIPS["schedule"])
        self.warmup = _spin(0.0, 100.0, TIPS["warmup"], decimals=1, step=0.5)
        self.epochs = _spin(1, 10000, TIPS["epochs"])
        self.auto_plan = QCheckBox("Automatic", toolTip=TIPS["auto_plan"])
        self.max_minutes = _spin(0.0, 100000.0, TIPS["max_minutes"], decimals=0, step=5)
        self.max_minutes.setSuffix(" min")
        self.max_minutes.setSpecialValueText("no cap")
        self.batch_size = _spin(1, 4096, TIPS["batch_size"])
        self.budget = _spin(core.MIN_BUDGET_S / 60.0, core.MAX_BUDGET_S / 60.0, TIPS["budget"], decimals=1,
                            step=1)
        self.budget.setSuffix(" min")
        self.weight_decay = _spin(0.0, 1.0, TIPS["weight_decay"], decimals=6, step=1e-4)
        self.device = _combo(self._device_items(), TIPS["device"])
        self.amp = QCheckBox("Mixed precision (GPU)", toolTip=TIPS["amp"])
        self.seed = _spin(0, 2**31 - 1, TIPS["seed"])
        self.workers = _spin(0, 64, TIPS["workers"])
        self.where = WhereToTrain()
        lr_row = QHBoxLayout()
        lr_row.setContentsMargins(0, 0, 0, 0)
        lr_row.addWidget(self.lr, 1)
        lr_row.addWidget(self.auto_lr)
        lr_row.addWidget(self.find_lr)
        epochs_row = QHBoxLayout()
        epochs_row.setContentsMargins(0, 0, 0, 0)
        epochs_row.addWidget(self.epochs, 1)
        epochs_row.addWidget(self.auto_plan)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        for label, field in (("What to train", self.mode), ("Optimizer", self.optimizer),
                             ("Learning rate", lr_row), ("LR schedule", self.schedule),
                             ("Warmup epochs", self.warmup), ("Epochs", epochs_row),
                             ("Batch size", self.batch_size), ("Up to about", self.max_minutes),
                             ("Search budget", self.budget),
                             ("Weight decay", self.weight_decay),
                             ("Device", self.device), ("Where to train", self.where), ("", self.amp),
                             ("Random seed", self.seed),
                             ("Loader processes", self.workers)):
            form.addRow(label, field)
            widget = form.labelForField(field)
            if widget is not None and label:
                widget.setToolTip(TIPS.get(self._key_of(label), ""))
        for combo in (self.mode, self.optimizer, self.schedule, self.device):
            combo.currentIndexChanged.connect(self._on_edit)
        self.rows = form
        for box in (self.lr, self.warmup, self.epochs, self.batch_size, self.weight_decay, self.seed,
                    self.workers, self.max_minutes, self.budget):
            box.valueChanged.connect(self._on_edit)
        for check in (self.auto_lr, self.amp, self.auto_plan):
            check.toggled.connect(self._on_edit)
        self.where.edited.connect(self._on_edit)

    @staticmethod
    def _key_of(label: str) -> str:
        return {"What to train": "mode", "Optimizer": "optimizer", "Learning rate": "lr",
                "LR schedule": "schedule", "Warmup epochs": "warmup", "Epochs": "epochs",
                "Batch size": "batch_size", "Up to about": "max_minutes", "Search budget": "budget",
                "Weight decay": "weight_decay", "Device": "device", "Where to train": "where",
                "Random seed": "seed", "Loader processes": "workers"}.get(label, "")

    @staticmethod
    def _device_items():
        return [(v, label if device_available(v) else f"{label} — not available on this computer")
                for v, label in DEVICES]

    # --- settings -> fields --------------------------------------------------------------------

    @Slot()
    def load(self) -> None:
        """Show the document's training settings (defaults where none are saved)."""
        data = {**TrainOptions().to_dict(), **self.context.training_settings()}
        self._loading = True
        try:
            for combo, key in ((self.mode, "mode"), (self.optimizer, "optimizer"),
                               (self.schedule, "schedule"), (self.device, "device")):
                index = combo.findData(data.get(key))
                combo.setCurrentIndex(max(0, index))
            auto = data.get("lr") is None
            self.auto_lr.setChecked(auto)
            self.lr.setEnabled(not auto)
            self.lr.setValue(default_lr(data["optimizer"], data["mode"]) if auto else float(data["lr"]))
            self.warmup.setValue(float(data.get("warmup_epochs") or 0.0))
            for box, key in ((self.epochs, "epochs"), (self.batch_size, "batch_size"), (self.seed, "seed"),
                             (self.workers, "workers")):
                box.setValue(int(data.get(key) or 0))
            self.weight_decay.setValue(float(data.get("weight_decay") or 0.0))
            self.max_minutes.setValue(float(data.get("max_minutes") or 0.0))
            self.budget.setValue(float(data.get("budget_s") or core.DEFAULT_BUDGET_S) / 60.0)
            self.amp.setChecked(bool(data.get("amp")))
            self.auto_plan.setChecked(not data.get("fixed"))
            self.where.show_placement(saved_placement(data))
            self._show_mode(data.get("mode"))
        finally:
            self._loading = False

    def _planned(self) -> bool:
        """Does the recommended mode plan the length, batch, warm-up and schedule now?"""
        return self.mode.currentData() in PLANNED_MODES and self.auto_plan.isChecked()

    def _show_mode(self, mode) -> None:
        """The recommended mode plans epochs, batch, warm-up and schedule unless Automatic is unticked:
        planned fields show the values the run will use (for the loaded data) and rest."""
        planned = mode in PLANNED_MODES and self.auto_plan.isChecked()
        self.auto_plan.setEnabled(mode in PLANNED_MODES)
        self.max_minutes.setEnabled(mode == "recommended")
        self.rows.setRowVisible(self.budget, mode == "search")  # the search's own time; hidden elsewhere
        for box, key in ((self.schedule, "schedule"), (self.warmup, "warmup"), (self.epochs, "epochs"),
                         (self.batch_size, "batch_size")):
            box.setEnabled(not planned)
            tip = TIPS["mode_sets"] if planned else TIPS[key]
            box.set_tip(tip) if isinstance(box, ElidedComboBox) else box.setToolTip(tip)
        if planned:
            self._show_plan()
        self.where.set_mode(mode)

    def _show_plan(self) -> None:
        """The plan's own values in the planned fields (the saved ones stay as they are)."""
        split = getattr(self.context, "split", None)
        if split is None or not len(split.train):
            return
        data = {**self.context.training_settings(), "mode": "recommended", "fixed": []}
        try:
            stage2 = recommended_plan(TrainOptions.from_dict(data), len(split.train)).options
        except DesignerError:
            return
        loading, self._loading = self._loading, True
        try:
            self.epochs.setValue(stage2.epochs)
            self.batch_size.setValue(stage2.batch_size)
            self.warmup.setValue(stage2.warmup_epochs)
            self.schedule.setCurrentIndex(max(0, self.schedule.findData(stage2.schedule)))
        finally:
            self._loading = loading

    # --- fields -> settings --------------------------------------------------------------------

    def values(self) -> dict:
        optimizer, mode = self.optimizer.currentData(), self.mode.currentData()
        out = {
            "mode": mode, "optimizer": optimizer, "lr": None if self.auto_lr.isChecked() else self.lr.value(),
            "schedule": self.schedule.currentData(), "warmup_epochs": self.warmup.value(),
            "epochs": self.epochs.value(), "batch_size": self.batch_size.value(),
            "weight_decay": self.weight_decay.value(), "device": self.device.currentData(),
            "amp": self.amp.isChecked(), "seed": self.seed.value(), "workers": self.workers.value(),
            "max_minutes": self.max_minutes.value(), "budget_s": self.budget.value() * 60.0,
            "fixed": [] if self.auto_plan.isChecked() else list(core.PLAN_FIELDS),
            "placement": self.where.placement().to_dict(),  # not a TrainOptions field: from_dict skips it
        }
        if self._planned():  # the fields show the plan's values: the saved settings stay as they were
            saved = {**TrainOptions().to_dict(), **self.context.training_settings()}
            out.update({k: saved[k] for k in core.PLAN_FIELDS})
        return out

    @Slot()
    def _on_edit(self, *_) -> None:
        if self._loading:
            return
        values = self.values()
        if values["lr"] is None:
            self.lr.setEnabled(False)
        self._show_mode(values["mode"])
        self.context.update_training(**values)
        self.edited.emit()

    def set_mode(self, mode: str) -> None:
        self.mode.setCurrentIndex(max(0, self.mode.findData(mode)))
