"""One editor widget per hyperparameter value, and reading it back with the same type."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QLineEdit, QSpinBox, QWidget

INT_RANGE = (-1, 1_000_000)


def editor_for(value) -> QWidget:
    if isinstance(value, bool):
        box = QCheckBox()
        box.setChecked(value)
        return box
    if isinstance(value, int):
        spin = QSpinBox()
        spin.setRange(*INT_RANGE)
        spin.setValue(value)
        return spin
    if isinstance(value, float):
        spin = QDoubleSpinBox()
        spin.setDecimals(6)
        spin.setRange(-1e6, 1e6)
        spin.setSingleStep(0.1 if abs(value) >= 0.1 else 0.001)
        spin.setValue(value)
        return spin
    edit = QLineEdit(format_value(value))
    edit.setPlaceholderText("none")
    return edit


def format_value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (tuple, list)):
        return ", ".join(str(v) for v in value)
    return str(value)


def _number(text: str):
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        return float(text)


def read_editor(editor: QWidget, original):
    """The edited value, typed like ``original``; ValueError with a readable reason."""
    if isinstance(editor, QCheckBox):
        return editor.isChecked()
    if isinstance(editor, (QSpinBox, QDoubleSpinBox)):
        return editor.value()
    text = editor.text().strip()
    if isinstance(original, (tuple, list)):
        try:
            return tuple(_number(part) for part in text.split(",") if part.strip())
        except ValueError:
            raise ValueError(f"'{text}' is not a list of numbers such as 3, 3") from None
    if original is None:
        if not text or text.lower() == "none":
            return None
        try:
            return _number(text)
        except ValueError:
            return text
    return text
