"""Keyboard shortcuts: every one is bound once in the whole window (menus, toolbars, workspaces), Redo
answers Ctrl+Y and Ctrl+Shift+Z, and Undo typed in the Find box undoes the design edit.

Qt's standard keys differ per platform: offscreen (these tests) maps QKeySequence.Redo to Ctrl+Y,
X11 to Ctrl+Shift+Z, which is where Redo was bound twice. Run this file under Xvfb with
QT_QPA_PLATFORM=xcb to see the X11 bindings; the Redo action spells its keys out, so both agree."""

from __future__ import annotations

from collections import defaultdict

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QShortcut
from PySide6.QtTest import QTest
from testkit.gui import open_model, wait_idle

from designer.model.ops import Freeze
from widgets.shell import launcher as main


def bound_keys(window) -> dict[str, list[str]]:
    """Key sequence (portable text) -> what it triggers, for every action and shortcut in ``window``.
    An action added to a menu and a toolbar is one object, so it counts once."""
    keys: dict[str, list[str]] = defaultdict(list)
    for action in set(window.findChildren(QAction)):
        for sequence in action.shortcuts():
            if not sequence.isEmpty():
                keys[sequence.toString()].append(action.text().replace("&", ""))
    for shortcut in window.findChildren(QShortcut):
        for sequence in shortcut.keys():  # noqa: SIM118 -- QShortcut.keys(), not a dict
            keys[sequence.toString()].append(f"{type(shortcut.parent()).__name__} shortcut")
    return dict(keys)


def test_no_key_is_bound_twice(qtbot, make_window):
    window = make_window()
    main.install_workspaces(window)
    keys = bound_keys(window)
    clashes = {key: names for key, names in keys.items() if len(names) > 1}
    assert not clashes, f"keys bound more than once: {clashes}"
    assert keys["Ctrl+Y"] == ["Redo"] and keys["Ctrl+Shift+Z"] == ["Redo"] and keys["Ctrl+Z"] == ["Undo"]
    # spelled out, not QKeySequence.Redo, whose keys depend on the platform
    assert [k.toString() for k in window.design.actions.redo.shortcuts()] == ["Ctrl+Y", "Ctrl+Shift+Z"]
    assert keys["F1"] == ["User guide"]
    assert len(keys) >= 15  # file, edit, view and help keys are all there


def _edited(qtbot, window):
    """An open design with one edit undone: Redo has something to do."""
    open_model(qtbot, window, "resnet18", "none")
    window.activateWindow()
    qtbot.waitUntil(lambda: window.isActiveWindow(), timeout=5_000)
    assert window.qdoc.edit([Freeze("layer1")])
    wait_idle(qtbot, window)
    window.qdoc.undo_stack.undo()
    wait_idle(qtbot, window)
    assert window.qdoc.undo_stack.index() == 0 and window.qdoc.undo_stack.canRedo()


def test_redo_answers_ctrl_y_and_ctrl_shift_z(qtbot, make_window):
    window = make_window()
    _edited(qtbot, window)
    stack, view = window.qdoc.undo_stack, window.design.canvas.view
    view.setFocus()
    for key, modifiers in ((Qt.Key_Y, Qt.ControlModifier), (Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)):
        QTest.keyClick(view, key, modifiers)
        wait_idle(qtbot, window)
        assert stack.index() == 1, f"{key} did not redo"
        QTest.keyClick(view, Qt.Key_Z, Qt.ControlModifier)
        wait_idle(qtbot, window)
        assert stack.index() == 0, "Ctrl+Z did not undo"


def test_undo_in_the_find_box_undoes_the_design_not_the_search_word(qtbot, make_window):
    window = make_window()
    _edited(qtbot, window)
    stack, search = window.qdoc.undo_stack, window.design.canvas.search
    stack.redo()
    wait_idle(qtbot, window)
    search.setFocus()
    QTest.keyClicks(search, "layer")
    QTest.keyClick(search, Qt.Key_Z, Qt.ControlModifier)
    wait_idle(qtbot, window)
    assert stack.index() == 0 and search.text() == "layer"
    QTest.keyClick(search, Qt.Key_Y, Qt.ControlModifier)
    wait_idle(qtbot, window)
    assert stack.index() == 1 and search.text() == "layer"
