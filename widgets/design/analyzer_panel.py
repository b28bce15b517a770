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
          ("flops", "Multiply-adds"), ("memory", "Activations (1 image)"),
          ("train_memory", "Training memory"), ("input", "Input"), ("output", "Output"))


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


class TotalsGrid(QWidget):
    """The totals as name/value pairs, two pairs a row, or one pair a row where the dock is too
    narrow for two: the panel must not make the window wider than a small screen."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setHorizontalSpacing(14)
        self.grid.setVerticalSpacing(3)
        self.values: dict[str, QLabel] = {}
        self.pairs = []
        for key, title in TOTALS:
            name = QLabel(title, objectName="muted")
            value = QLabel("–", objectName="totalValue")
            value.setTextInteractionFlags(Qt.TextSelectableByMouse)
            self.values[key] = value
            self.pairs.append((name, value))
        self.columns = 0
        self._place(2)

    def _pair_width(self) -> int:
        return (max(n.sizeHint().width() for n, _ in self.pairs) + self.grid.horizontalSpacing()
                + max(v.sizeHint().width() for _, v in self.pairs))

    def _place(self, columns: int) -> None:
        if columns == self.columns:
            return
        self.columns = columns
        for name, value in self.pairs:
            self.grid.removeWidget(name)
            self.grid.removeWidget(value)
        for i, (name, value) in enumerate(self.pairs):
            self.grid.addWidget(name, i // columns, (i % columns) * 2)
            self.grid.addWidget(value, i // columns, (i % columns) * 2 + 1)
        for column in range(4):
            self.grid.setColumnStretch(column, int(column % 2 == 1 and column < columns * 2))
        self.setMinimumWidth(self._pair_width())  # one pair a row is the narrowest it gets

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._reflow()

    def _reflow(self) -> None:
        two = 2 * self._pair_width() + self.grid.horizontalSpacing()
        self._place(2 if self.width() >= two else 1)

    def refresh_layout(self) -> None:
        """Values changed width: place the pairs again for the current width."""
        self.setMinimumWidth(self._pair_width())
        self._reflow()


class AnalyzerPanel(QWidget):
    node_clicked = Signal(str)  # graph node id of the clicked message
    fix_requested = Signal(object)  # analysis Message

    def __init__(self, qdoc, parent=None):
        super().__init__(parent)
        self.qdoc = qdoc
        self.status = QLabel("", objectName="analyzerStatus", wordWrap=True)
        self.totals = TotalsGrid()
        self.values = self.totals.values
        self.messages = QListWidget()
        self.messages.setSelectionMode(QListWidget.SingleSelection)
        self.messages.itemClicked.connect(self._on_item_clicked)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.status)
        layout.addWidget(self.totals)
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
        self.totals.refresh_layout()
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
