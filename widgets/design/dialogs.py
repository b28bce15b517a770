"""Small forms that turn into one edit op: input size, new classifier, LR preset.

Each ``ask_*`` function returns the op, or None when cancelled; callers use
module attribute access so tests can script the answers.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from designer.model.ops import LR_PRESETS, LRPreset, ReplaceClassifier, SetInput


class _Form(QDialog):
    def __init__(self, parent, title: str, intro: str):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.form = QFormLayout()
        self.form.setHorizontalSpacing(14)
        self.form.setVerticalSpacing(8)
        layout = QVBoxLayout(self)
        label = QLabel(intro)
        label.setWordWrap(True)
        label.setObjectName("muted")
        layout.addWidget(label)
        layout.addLayout(self.form)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.setMinimumWidth(420)


def _spin(low: int, high: int, value: int, suffix: str = "") -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setValue(value)
    spin.setSuffix(suffix)
    return spin


class InputDialog(_Form):
    def __init__(self, parent, channels: int, height: int, width: int, mode: str = "adapt"):
        super().__init__(parent, "Network input",
                         "Image size and colour channels the network takes. Grey images: adapt the first "
                         "convolution (smaller, faster) or repeat grey over 3 channels (exact).")
        self.channels = _spin(1, 64, channels)
        self.height = _spin(8, 4096, height, " px")
        self.width = _spin(8, 4096, width, " px")
        self.adapt = QRadioButton("Adapt the first convolution to the channels (keeps pretrained weights)")
        self.replicate = QRadioButton("Repeat grey images over 3 channels (network unchanged)")
        group = QButtonGroup(self)
        group.addButton(self.adapt)
        group.addButton(self.replicate)
        (self.replicate if mode == "replicate" else self.adapt).setChecked(True)
        self.form.addRow("Channels", self.channels)
        self.form.addRow("Height", self.height)
        self.form.addRow("Width", self.width)
        self.form.addRow("Grey images", self._column(self.adapt, self.replicate))
        self.channels.valueChanged.connect(self._update)
        self._update()

    @staticmethod
    def _column(*widgets) -> QWidget:
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        for w in widgets:
            layout.addWidget(w)
        return box

    def _update(self) -> None:
        grey = self.channels.value() == 1
        self.replicate.setEnabled(grey)
        if not grey:
            self.adapt.setChecked(True)

    def op(self) -> SetInput:
        mode = "replicate" if self.replicate.isChecked() and self.channels.value() == 1 else "adapt"
        return SetInput(self.height.value(), self.width.value(), self.channels.value(), mode)


class ClassifierDialog(_Form):
    def __init__(self, parent, num_classes: int):
        super().__init__(parent, "Replace classifier",
                         "A new final layer for your classes. Optionally add dropout, a hidden layer and "
                         "BatchNorm in front of it. The new head starts untrained.")
        self.classes = _spin(1, 100000, num_classes)
        self.dropout = QDoubleSpinBox()
        self.dropout.setRange(0.0, 0.95)
        self.dropout.setSingleStep(0.1)
        self.hidden = _spin(0, 65536, 0)
        self.hidden.setSpecialValueText("none")
        self.batchnorm = QCheckBox("BatchNorm after the hidden layer")
        self.form.addRow("Number of classes", self.classes)
        self.form.addRow("Dropout", self.dropout)
        self.form.addRow("Hidden units", self.hidden)
        self.form.addRow("", self.batchnorm)

    def op(self) -> ReplaceClassifier:
        return ReplaceClassifier(self.classes.value(), round(self.dropout.value(), 3), self.hidden.value(),
                                 self.batchnorm.isChecked())


PRESET_TEXT = {"head_x10_rest_x0.1": "New head learns fast, the rest slowly",
               "layer_decay": "Layer-wise decay: early layers learn slowest"}


class PresetDialog(_Form):
    def __init__(self, parent):
        super().__init__(parent, "Learning-rate preset", "Set LR factors for the whole network at once.")
        self.name = QComboBox()
        for name in LR_PRESETS:
            self.name.addItem(PRESET_TEXT.get(name, name), name)
        self.head = QDoubleSpinBox(decimals=3, maximum=1000.0, value=10.0)
        self.rest = QDoubleSpinBox(decimals=3, maximum=1000.0, value=0.1)
        self.decay = QDoubleSpinBox(decimals=3, minimum=0.01, maximum=1.0, value=0.7, singleStep=0.05)
        self.form.addRow("Preset", self.name)
        self.form.addRow("Head factor", self.head)
        self.form.addRow("Rest factor", self.rest)
        self.form.addRow("Decay per block", self.decay)
        self.name.currentIndexChanged.connect(self._update)
        self._update()

    def _update(self) -> None:
        decay = self.name.currentData() == "layer_decay"
        self.decay.setEnabled(decay)
        self.rest.setEnabled(not decay)

    def op(self) -> LRPreset:
        return LRPreset(self.name.currentData(), self.head.value(), self.rest.value(), self.decay.value())


def ask_input(parent, design) -> SetInput | None:
    c, h, w = design.input_shape
    grey_mode = "replicate" if getattr(design, "replicate_grey", False) else "adapt"
    dialog = InputDialog(parent, c, h, w, grey_mode)
    return dialog.op() if dialog.exec() == QDialog.Accepted else None


def ask_classifier(parent, design, suggested: int | None = None) -> ReplaceClassifier | None:
    dialog = ClassifierDialog(parent, int(suggested or getattr(design, "num_classes", 2) or 2))
    return dialog.op() if dialog.exec() == QDialog.Accepted else None


def ask_preset(parent) -> LRPreset | None:
    dialog = PresetDialog(parent)
    return dialog.op() if dialog.exec() == QDialog.Accepted else None
