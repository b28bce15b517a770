"""The designer driven as a user would: open the default model, edit it step by step,
check canvas / properties / analyzer after each step, undo and redo it all, save and reopen."""

from __future__ import annotations

import pytest
from testkit.gui import open_model, wait_idle

from designer.model.ops import ReplaceClassifier, SetInput


def node_item(window, path):
    """The canvas node showing ``path`` (for a head container: its last layer)."""
    canvas = window.design.canvas
    from designer.inspect.fold import visible_nodes_for

    return canvas.scene.nodes[visible_nodes_for(canvas.view_graph, path)[-1]]


def click_node(qtbot, window, path):
    """Select ``path`` on the canvas as a click would (the scene's own selection)."""
    canvas = window.design.canvas
    canvas.scene.clearSelection()
    node_item(window, path).setSelected(True)
    assert window.qdoc.doc.selection == (node_item(window, path).path,)


def test_edit_undo_redo_save_reopen(qtbot, make_window, dialogs, tmp_path):
    window = make_window()
    state = open_model(qtbot, window)
    design = window.design
    original = state.recipe
    assert original.base.name == "efficientnet_lite0" and original.base.weights == "default"
    assert "efficientnet_lite0" in window.windowTitle() and not window.isWindowModified()
    assert window.tabs.currentWidget() is design
    classifier = state.design.classifier_path
    assert classifier == "_fc" and node_item(window, classifier).left == "1000"

    # 1. select the classifier (layer tree) and replace it for 5 classes (toolbar action + dialog)
    design.tree.select_path(classifier)
    assert window.qdoc.doc.selection == (classifier,)
    assert design.properties.title.text() == classifier
    assert design.canvas.scene.nodes[classifier].isSelected()
    dialogs.answer("ask_classifier", ReplaceClassifier(5, dropout=0.2))
    design.actions.replace_classifier.trigger()
    wait_idle(qtbot, window)
    state = window.qdoc.state
    assert state.report.output_shape[-1] == 5
    head = classifier
    classifier = state.design.classifier_path  # the new head's final Linear
    assert design.analyzer.values["output"].text() == "5"
    assert "Output</td><td>5" in design.properties.info.text().replace("&nbsp;", "")
    assert window.isWindowModified() and window.qdoc.undo_stack.count() == 1

    # 2. double-click the input node and change it to 1x64x64
    calls = dialogs.answer("ask_input", SetInput(64, 64, 1, "adapt"))
    design.canvas.scene.node_double_clicked.emit("input")
    wait_idle(qtbot, window)
    assert len(calls) == 1
    assert tuple(window.qdoc.state.design.input_shape) == (1, 64, 64)
    assert node_item(window, "input").title.endswith("1×64×64")
    assert design.analyzer.values["input"].text() == "1×64×64"

    # 3. select a block on the canvas and freeze everything up to it
    click_node(qtbot, window, "_blocks.10")
    design.actions.freeze_until.trigger()
    wait_idle(qtbot, window)
    state = window.qdoc.state
    assert node_item(window, "_blocks.3").frozen and node_item(window, "_blocks.10").frozen
    assert not node_item(window, "_blocks.12").frozen and not node_item(window, classifier).frozen
    assert state.report.params_frozen > 0
    assert design.properties.frozen_box.isChecked()
    assert design.analyzer.values["frozen"].text() == f"{state.report.params_frozen:,}"

    # 4. LR factor x10 on the classifier head, from the properties pane
    design.tree.select_path(classifier)
    assert node_item(window, classifier).isSelected()
    design.properties.lr_spin.setValue(10.0)
    design.properties.lr_button.click()
    wait_idle(qtbot, window)
    assert node_item(window, classifier).lr_factor == 10.0 and node_item(window, classifier).badge == "×10"
    assert design.tree.items[classifier][3].text() == "LR ×10"
    assert design.properties.lr_spin.value() == 10.0
    final = window.qdoc.recipe
    assert len(final.ops) == 4 and window.qdoc.undo_stack.count() == 4

    # undo everything, then redo everything
    for _ in range(4):
        design.actions.undo.trigger()
        wait_idle(qtbot, window)
    assert window.qdoc.recipe == original
    assert node_item(window, head).left == "1000" and not window.isWindowModified()
    assert tuple(window.qdoc.state.design.input_shape) == (3, 224, 224)
    for _ in range(4):
        design.actions.redo.trigger()
        wait_idle(qtbot, window)
    assert window.qdoc.recipe == final
    assert node_item(window, "_blocks.3").frozen and window.qdoc.state.report.output_shape[-1] == 5

    # save, reopen in a fresh window, compare
    path = str(tmp_path / "lite0-5classes.nsd.json")
    dialogs.answer("save_project_path", path)
    window.save_action.trigger()
    assert not window.isWindowModified() and "lite0-5classes" in window.windowTitle()
    other = make_window()
    other.open_project(path)
    wait_idle(qtbot, other)
    assert other.qdoc.recipe == final
    assert other.qdoc.doc.path == path and not other.isWindowModified()
    assert tuple(other.qdoc.state.design.input_shape) == (1, 64, 64)
    assert other.qdoc.undo_stack.count() == 0
    assert dialogs.errors == []


def test_multi_selection_is_one_undo_step(qtbot, make_window, dialogs):
    window = make_window()
    open_model(qtbot, window, "resnet18", "none")
    window.qdoc.select(["layer1", "layer2", "fc"])
    dialogs.answer("lr_factor", 0.1)
    window.design.actions.set_lr.trigger()
    wait_idle(qtbot, window)
    stack = window.qdoc.undo_stack
    assert stack.count() == 1 and "3 layers" in stack.text(0)
    states = window.qdoc.state.layer_state
    assert states["layer1"][1] == states["layer2"][1] == states["fc"][1] == 0.1
    assert states["layer3"][1] == 1.0
    window.design.actions.undo.trigger()
    wait_idle(qtbot, window)
    assert window.qdoc.state.layer_state["fc"][1] == 1.0


def test_failing_edit_is_not_pushed_and_design_unchanged(qtbot, make_window, dialogs):
    window = make_window()
    state = open_model(qtbot, window, "resnet18", "none")
    window.qdoc.select(["not.a.layer"])
    from designer.model.ops import DeleteLayer

    assert window.qdoc.edit([DeleteLayer("not.a.layer")])
    wait_idle(qtbot, window)
    assert len(dialogs.errors) == 1 and dialogs.errors[0][0] == "This change cannot be applied"
    assert window.qdoc.state is state and window.qdoc.undo_stack.count() == 0
    assert not window.isWindowModified()


@pytest.mark.parametrize("weights", ["none"])
def test_analyzer_fix_applies_and_undoes(qtbot, make_window, dialogs, weights):
    window = make_window()
    open_model(qtbot, window, "alexnet", weights)
    window.qdoc.edit([SetInput(32, 32, 3)])
    wait_idle(qtbot, window)
    report = window.qdoc.state.report
    assert report.errors, "alexnet at 32x32 should not fit"
    import networkx as nx

    view = window.design.canvas.view_graph  # layers after the failure stay connected, drawn below it
    assert nx.has_path(view, "input", "output")
    assert node_item(window, "output").pos().y() > node_item(window, report.errors[0].node).pos().y()
    panel = window.design.analyzer
    rows = [r for r in panel.message_rows() if r.message.level == "error"]
    node = rows[0].message.node
    panel.messages.itemClicked.emit(panel.messages.item(0))
    assert window.qdoc.doc.selection and node_item(window, node).isSelected()
    assert node_item(window, node).level == "error"
    rows[0].fix_button.click()
    wait_idle(qtbot, window)
    assert not window.qdoc.state.report.errors
    assert window.qdoc.undo_stack.count() == 2
    window.design.actions.undo.trigger()
    wait_idle(qtbot, window)
    assert window.qdoc.state.report.errors


def test_undone_history_entries_are_greyed(qtbot):
    """Issue 22, item 10: the History showed undone edits like done ones."""
    from PySide6.QtGui import QPalette, QUndoCommand, QUndoStack
    from PySide6.QtWidgets import QStyleOptionViewItem

    from widgets.design.history import UNDONE_COLOUR, HistoryView

    stack = QUndoStack()
    view = HistoryView(stack)
    qtbot.addWidget(view)
    for text in ("Freeze layer1", "Replace classifier", "Input 1x64x64"):
        stack.push(QUndoCommand(text))
    stack.undo()
    stack.undo()  # the design holds the first edit only

    def colour_and_italic(row: int):
        option = QStyleOptionViewItem()
        view.undone.initStyleOption(option, view.model().index(row, 0))
        return option.palette.color(QPalette.Active, QPalette.Text), option.font.italic()

    assert view.model().rowCount() == 4  # the opened model, then the three edits
    assert [colour_and_italic(row) == (UNDONE_COLOUR, True) for row in range(4)] == [False, False, True, True]
    stack.redo()
    assert [colour_and_italic(row)[1] for row in range(4)] == [False, False, False, True]
