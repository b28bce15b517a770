"""Analyzer: totals for the current design and its errors/warnings, each linked to its
node, with the suggested fix one click away (an undoable edit like any other)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from widgets.base import style

MESSAGE_ROLE = Qt.UserRole + 1
ICONS = {"error": "✖", "warning": "⚠", "info": "ℹ"}
TOTALS = (("total", "Parameters"), ("trainable", "Trainable"), ("frozen", "Frozen"),
          ("flops", "Multiply-adds"), ("memory", "Activations (1 image)"), ("train_memory", "Training memory"),
          ("input", "Input"), ("output", "Output"))


def totals(report, design) -> dict[str, str]:
    c, h, w = design.input_shape
    return {
        "total": f"{report.params_total:,}",
        "trainable": f"{report.params_trainable:,}",
        "frozen": f"{report.params_frozen:,}",
        "flops": f"{report.flops / 1e9:.3g} G" if report.flops >= 1e8 else style.human_count(report.flops),
        "memory": style.human_bytes(report.activation_bytes),
        "train_memory": f"≈ {style.human_bytes(getattr(report, 'train_memory_bytes', 0))} at batch 32",
        "input": f"{c}×{h}×{w}",
        "output": style.shape_text(report.output_shape) or "–",
    }


class MessageRow(QWidget):
    """One analyzer message: icon, text, and a Fix button when the core suggests one."""

    fix_clicked = Signal(object)

    def __init__(self, message, parent=None):
        super().__init__(parent)
        self.message = message
        row = QHBoxLayout(self)
        row.setContentsMargins(6, 4, 6, 4)
        icon = QLabel(ICONS.get(message.level, "•"))
        icon.setStyleSheet(f"color: {style.LEVEL_COLOURS.get(message.level, style.MUTED).name()};"
                           "font-size: 13pt;")
        icon.setAlignment(Qt.AlignTop)
        text = QLabel(message.text)
        text.setWordWrap(True)
        text.setTextInteractionFlags(Qt.NoTextInteraction)
        row.addWidget(icon)
        row.addWidget(text, 1)
        self.fix_button = None
        if message.fix is not None:
            self.fix_button = QPushButton(message.fix_label or "Fix", objectName="fix")
            self.fix_button.setToolTip(f"Apply: {message.fix.describe()} (undoable)")
            self.fix_button.clicked.connect(self._on_fix)
            row.addWidget(self.fix_button, 0, Qt.AlignTop)

    @Slot()
    def _on_fix(self) -> None:
        self.fix_clicked.emit(self.message)


class AnalyzerPanel(QWidget):
    node_clicked = Signal(str)  # graph node id of the clicked message
    fix_requested = Signal(object)  # analysis Message

    def __init__(self, qdoc, parent=None):
        super().__init__(parent)
        self.qdoc = qdoc
        self.values: dict[str, QLabel] = {}
        self.status = QLabel("", objectName="analyzerStatus")
        grid = QGridLayout()
        grid.setHorizontalSpacing(14)
        grid.setVerticalSpacing(3)
        for i, (key, title) in enumerate(TOTALS):
            name = QLabel(title, objectName="muted")
            value = QLabel("–", objectName="totalValue")
            value.setTextInteractionFlags(Qt.TextSelectableByMouse)
            grid.addWidget(name, i // 2, (i % 2) * 2)
            grid.addWidget(value, i // 2, (i % 2) * 2 + 1)
            self.values[key] = value
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)
        self.messages = QListWidget()
        self.messages.setSelectionMode(QListWidget.SingleSelection)
        self.messages.itemClicked.connect(self._on_item_clicked)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.status)
        layout.addLayout(grid)
        layout.addWidget(self.messages, 1)
        qdoc.recipe_changed.connect(self.refresh)
        self.refresh()

    @Slot()
    def refresh(self, *_) -> None:
        state = self.qdoc.state
        self.messages.clear()
        if state is None:
            self.status.setText("Open a model to analyze it.")
            return
        report = state.report
        for key, text in totals(report, state.design).items():
            self.values[key].setText(text)
        n_err, n_warn = len(report.errors), len(report.warnings)
        if n_err:
            self.status.setText(f"<span style='color:{style.ERROR.name()}'>✖ {n_err} error(s) — fix before "
                                "training</span>")
        elif n_warn:
            self.status.setText(f"<span style='color:{style.WARNING.name()}'>⚠ {n_warn} warning(s)</span>")
        else:
            self.status.setText("<span style='color:#15803d'>✔ Ready to train</span>")
        for message in report.messages:
            self._add(message)

    def _add(self, message) -> None:
        item = QListWidgetItem()
        item.setData(MESSAGE_ROLE, message)
        row = MessageRow(message)
        row.fix_clicked.connect(self.fix_requested)
        item.setSizeHint(row.sizeHint())
        self.messages.addItem(item)
        self.messages.setItemWidget(item, row)

    def message_rows(self) -> list[MessageRow]:
        return [self.messages.itemWidget(self.messages.item(i)) for i in range(self.messages.count())]

    @Slot(QListWidgetItem)
    def _on_item_clicked(self, item: QListWidgetItem) -> None:
        message = item.data(MESSAGE_ROLE)
        if message is not None and message.node:
            self.node_clicked.emit(message.node)
