"""The undo History greys the edits that are undone (issue 22, item 10): Qt's view drew them like
the applied ones, so after a few Undos nothing said which edits the network still has."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QStyleOptionViewItem
from testkit.gui import open_model, wait_idle


def _text_colour(view, row: int) -> QColor:
    option = QStyleOptionViewItem()
    view.itemDelegate().initStyleOption(option, view.model().index(row, 0))
    return option.palette.color(QPalette.Text)


def test_undone_edits_are_greyed(qtbot, make_window, dialogs):
    window = make_window()
    open_model(qtbot, window, "resnet18", "none")
    for layers, factor in ((["layer1"], 0.1), (["layer2"], 0.5)):
        window.qdoc.select(layers)
        dialogs.answer("lr_factor", factor)
        window.design.actions.set_lr.trigger()
        wait_idle(qtbot, window)
    history = window.design.history
    normal = _text_colour(history, 2)
    window.design.actions.undo.trigger()
    wait_idle(qtbot, window)
    assert window.qdoc.undo_stack.index() == 1
    assert _text_colour(history, 0) == _text_colour(history, 1) == normal  # the opened model, the edit kept
    greyed = _text_colour(history, 2)
    assert greyed != normal and greyed.lightness() > normal.lightness()  # the undone edit
    window.design.actions.redo.trigger()
    wait_idle(qtbot, window)
    assert _text_colour(history, 2) == normal
