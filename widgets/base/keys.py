"""Keyboard shortcuts that several views share, defined once."""

from __future__ import annotations

from PySide6.QtGui import QKeySequence

# Both common Redo keys, each once. Qt's QKeySequence.Redo is Ctrl+Shift+Z on Linux and macOS:
# registering it beside an explicit Ctrl+Shift+Z made that key ambiguous, so it did nothing.
REDO_KEYS = (QKeySequence("Ctrl+Y"), QKeySequence("Ctrl+Shift+Z"))


def is_redo(event) -> bool:
    """True if the key event ``event`` is one of ``REDO_KEYS``."""
    return QKeySequence(event.keyCombination()) in REDO_KEYS
