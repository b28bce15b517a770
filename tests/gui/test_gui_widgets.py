"""Each designer widget follows the document (model -> widget) and edits it only
through the document (widget -> model)."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication
from testkit.gui import open_model, wait_idle

from designer.model.ops import Freeze, InsertAfter, SetLayerParams
from widgets.graph.scene import LAYER_MIME


def resnet_window(qtbot, make_window):
    window = make_window()
    open_model(qtbot, window, "resnet18", "none")
    return window


def test_layer_tree_follows_and_drives_selection(qtbot, make_window):
    window = resnet_window(qtbot, make_window)
    tree = window.design.tree
    assert {"conv1", "layer1", "layer1.0.conv1", "fc"} <= set(tree.items)
    window.qdoc.select(["layer2.1.bn2"])
    assert tree.selected_paths() == ["layer2.1.bn2"]
    tree.select_path("layer3")
    assert window.qdoc.doc.selection == ("layer3",)
    window.qdoc.edit([Freeze("layer3")])
    wait_idle(qtbot, window)
    assert tree.items["layer3"][3].text() == "frozen"
    assert tree.items["layer4"][3].text().startswith("LR")


def test_canvas_follows_and_drives_selection(qtbot, make_window):
    window = resnet_window(qtbot, make_window)
    canvas = window.design.canvas
    assert canvas.depth is None and "layer1.0.conv1" in canvas.scene.nodes  # small net: every layer
    window.qdoc.select(["layer1.0.conv1"])
    assert canvas.scene.selected_ids() == ["layer1.0.conv1"]
    canvas.scene.clearSelection()
    canvas.scene.nodes["fc"].setSelected(True)
    assert window.qdoc.doc.selection == ("fc",)
    window.qdoc.edit([Freeze("layer1")])
    wait_idle(qtbot, window)
    assert canvas.scene.nodes["layer1.0.conv1"].frozen and not canvas.scene.nodes["fc"].frozen
    assert canvas.scene.nodes["fc"].isSelected()  # selection survives the rebuild


def test_canvas_folding_search_and_zoom(qtbot, make_window):
    window = resnet_window(qtbot, make_window)
    canvas = window.design.canvas
    canvas.set_depth(1)
    assert "layer1" in canvas.scene.nodes and "layer1.0.conv1" not in canvas.scene.nodes
    assert canvas.scene.nodes["layer1"].is_block
    canvas.scene.node_double_clicked.emit("layer1")  # unfold one block
    assert "layer1.0" in canvas.scene.nodes and "layer2" in canvas.scene.nodes
    assert canvas.collapse_parent("layer1.0")
    assert "layer1" in canvas.scene.nodes
    found = canvas.find("layer3.1.conv2")  # hidden in a fold: opened, selected, centred
    assert found == "layer3.1.conv2" and canvas.scene.nodes[found].isSelected()
    assert window.qdoc.doc.selection == ("layer3.1.conv2",)
    assert canvas.view.visible_scene_rect().contains(canvas.scene.nodes[found].pos())
    assert canvas.find("no-such-layer") is None and canvas.match_label.text() == "No match"
    canvas.view.set_zoom(0.05)
    assert abs(canvas.view.zoom - 0.05) < 1e-6
    canvas.view.set_zoom(100)
    assert canvas.view.zoom == 3.0
    canvas.view.fit()
    assert canvas.view.zoom <= 1.0


def test_fit_never_shrinks_the_graph_past_readable_labels(qtbot, make_window):
    """Issue 13: Fit shrank a tall graph until no label was readable."""
    from widgets.graph.items import TEXT_LOD

    window = resnet_window(qtbot, make_window)
    window.resize(1400, 900)
    canvas = window.design.canvas
    qtbot.waitUntil(lambda: canvas.view.viewport().height() > 500, timeout=5_000)  # laid out at that size
    canvas.set_depth(None)  # every layer: far too tall for the window
    assert not canvas.fit()
    assert abs(canvas.view.zoom - TEXT_LOD) < 1e-6 and "Too big" in canvas.fit_note.text()
    shown = canvas.view.visible_scene_rect()
    assert shown.contains(canvas.scene.nodes["input"].sceneBoundingRect().center())  # from the input on
    canvas.view.zoom_by(1.25)
    assert canvas.fit_note.text() == ""  # the note goes once the user moves on
    canvas.set_depth(1)  # a few blocks: the whole graph fits, readably
    rect, viewport = canvas.scene.itemsBoundingRect(), canvas.view.viewport().size()
    assert (rect.height() + 60) * TEXT_LOD <= viewport.height(), (rect, viewport)  # it can fit
    assert canvas.fit() and TEXT_LOD <= canvas.view.zoom <= 1.0 and canvas.fit_note.text() == ""


def test_minimap_moves_the_view(qtbot, make_window):
    window = resnet_window(qtbot, make_window)
    canvas = window.design.canvas
    canvas.view.set_zoom(1.0)
    canvas.view.centerOn(canvas.scene.nodes["input"])
    minimap = canvas.minimap
    assert not minimap._image.isNull()
    before = canvas.view.visible_scene_rect().center()
    target = minimap._target
    qtbot.mouseClick(minimap, Qt.LeftButton, pos=QPoint(int(target.center().x()), int(target.bottom() - 3)))
    assert canvas.view.visible_scene_rect().center().y() > before.y() + 200


def drag_and_drop(view, mime: QMimeData, scene_pos: QPointF) -> bool:
    """Drag enter, move and drop on the view's viewport, as the OS would deliver them."""
    pos = view.mapFromScene(scene_pos)
    vp = view.viewport()
    args = (Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    enter = QDragEnterEvent(pos, *args)
    QApplication.sendEvent(vp, enter)
    move = QDragMoveEvent(pos, *args)
    QApplication.sendEvent(vp, move)
    drop = QDropEvent(QPointF(pos), *args)
    QApplication.sendEvent(vp, drop)
    return drop.isAccepted()


def test_dropping_a_library_layer_inserts_it(qtbot, make_window):
    window = resnet_window(qtbot, make_window)
    canvas = window.design.canvas
    item = canvas.scene.nodes["layer4.1.bn2"]
    canvas.view.set_zoom(1.0)
    canvas.view.centerOn(item)
    mime = QMimeData()
    mime.setData(LAYER_MIME, b"Dropout")
    assert drag_and_drop(canvas.view, mime, item.scenePos())
    wait_idle(qtbot, window)
    op = window.qdoc.recipe.ops[-1]
    assert isinstance(op, InsertAfter) and op.path == "layer4.1.bn2" and op.layer.type == "Dropout"
    before = window.qdoc.recipe
    canvas.view.centerOn(canvas.scene.nodes["fc"])
    empty = canvas.scene.nodes["fc"].scenePos() + QPointF(400, 0)  # beside the node: nothing there
    drag_and_drop(canvas.view, mime, empty)
    assert window.qdoc.recipe == before


def test_layer_library_buttons_follow_selection(qtbot, make_window):
    window = resnet_window(qtbot, make_window)
    library = window.design.library
    library.select_type("ReLU")
    assert not library.insert_button.isEnabled()
    window.qdoc.select(["layer1.0.bn1"])
    assert library.insert_button.isEnabled()
    library.insert_button.click()
    wait_idle(qtbot, window)
    op = window.qdoc.recipe.ops[-1]
    assert isinstance(op, InsertAfter) and op.path == "layer1.0.bn1" and op.layer.type == "ReLU"
    library.select_type("Identity")
    window.qdoc.select(["layer1.0.relu"])
    library.replace_button.click()
    wait_idle(qtbot, window)
    assert window.qdoc.recipe.ops[-1].describe().startswith("Replace layer1.0.relu")


def test_properties_follow_and_edit_the_layer(qtbot, make_window):
    window = resnet_window(qtbot, make_window)
    props = window.design.properties
    window.qdoc.select(["fc"])
    assert props.title.text() == "fc" and props.subtitle.text() == "Linear"
    assert props.editors["out_features"].value() == 1000
    assert props.frozen_box.checkState() == Qt.Unchecked
    props.editors["out_features"].setValue(12)
    props.apply_button.click()
    wait_idle(qtbot, window)
    assert window.qdoc.recipe.ops[-1] == SetLayerParams.of("fc", out_features=12)
    assert props.editors["out_features"].value() == 12  # re-read from the rebuilt model
    props.frozen_box.click()
    wait_idle(qtbot, window)
    assert window.qdoc.recipe.ops[-1] == Freeze("fc", True)
    assert props.frozen_box.checkState() == Qt.Checked
    window.qdoc.select(["layer1", "fc"])  # mixed: partly frozen
    assert props.frozen_box.checkState() == Qt.PartiallyChecked and props.title.text() == "2 layers selected"
    window.qdoc.select(["input"])
    assert props.input_box.isVisible() and props.in_h.value() == 224
    props.in_h.setValue(160)
    props.in_w.setValue(160)
    props.apply_input()
    wait_idle(qtbot, window)
    assert tuple(window.qdoc.state.design.input_shape) == (3, 160, 160)


def test_properties_reject_bad_text_without_editing(qtbot, make_window, dialogs):
    window = resnet_window(qtbot, make_window)
    props = window.design.properties
    window.qdoc.select(["conv1"])
    kernel = props.editors["kernel_size"]
    kernel.setText("seven")
    props.apply_button.click()
    assert dialogs.errors and dialogs.errors[0][0] == "Not a valid value"
    assert window.qdoc.undo_stack.count() == 0


def test_analyzer_totals_follow_the_report(qtbot, make_window):
    window = resnet_window(qtbot, make_window)
    panel = window.design.analyzer
    report = window.qdoc.state.report
    assert panel.values["total"].text() == f"{report.params_total:,}"
    assert panel.values["input"].text() == "3×224×224" and "Ready" in panel.status.text()
    window.qdoc.edit([Freeze("layer1")])
    wait_idle(qtbot, window)
    assert panel.values["frozen"].text() == f"{window.qdoc.state.report.params_frozen:,}" != "0"


def test_history_view_swaps_recipes(qtbot, make_window):
    window = resnet_window(qtbot, make_window)
    original = window.qdoc.recipe
    window.qdoc.edit([Freeze("layer1")])
    wait_idle(qtbot, window)
    window.qdoc.edit([Freeze("layer2")])
    wait_idle(qtbot, window)
    history = window.design.history
    assert history.model().rowCount() == 3  # "Opened model" + 2 edits
    history.setCurrentIndex(history.model().index(0, 0))  # click "Opened model"
    wait_idle(qtbot, window)
    assert window.qdoc.recipe == original and window.qdoc.undo_stack.index() == 0


def test_context_menu_lists_edits_for_the_selection(qtbot, make_window):
    window = resnet_window(qtbot, make_window)
    window.qdoc.select(["fc"])
    menu = window.design.actions.context_menu(window)
    texts = [a.text() for a in menu.actions()]
    assert texts[0] == "fc" and "Freeze" in texts and "Replace classifier…" in texts
    assert "Insert after" in texts and "Delete layer" in texts
    insert_menu = next(a.menu() for a in menu.actions() if a.text() == "Insert after")
    next(a for a in insert_menu.actions() if a.text() == "Dropout").trigger()
    wait_idle(qtbot, window)
    assert window.qdoc.recipe.ops[-1].layer.type == "Dropout"
    menu.deleteLater()
    window.qdoc.select(["layer3"])  # heat maps (issue 14): the graph chooses their layer
    menu = window.design.actions.context_menu(window)
    use = next(a for a in menu.actions() if a.text() == "Use for heat maps")
    assert not use.isChecked()
    use.trigger()
    assert window.qdoc.doc.settings["explain"] == {"layer": "layer3"}
    menu.deleteLater()
    menu = window.design.actions.context_menu(window)
    texts = [a.text() for a in menu.actions() if a.isCheckable() and a.isChecked()]
    assert texts == ["Use for heat maps"]
    next(a for a in menu.actions() if a.text().startswith("Heat maps: back to the default layer (now layer3)")).trigger()
    assert window.qdoc.doc.settings["explain"] == {}
    menu.deleteLater()


def test_a_typed_setting_that_is_refused_shows_a_message(qtbot, make_window, dialogs):
    from designer.model.ops import SetLayerParams

    window = make_window()
    open_model(qtbot, window, "resnet18", "none")
    before = window.qdoc.recipe
    assert not window.qdoc.edit_checked(lambda: [SetLayerParams.of("fc", out_features="__import__('os')")])
    assert window.qdoc.recipe == before and "cannot be applied" in dialogs.errors[-1][0]
