"""The canvas on a big network: automatic folding, every layer on demand, painting
at every level of detail, the legend and node markings."""

from __future__ import annotations

from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QGraphicsItem
from testkit.gui import open_model, wait_idle

from designer.model.ops import Freeze, SetLRFactor
from widgets.base import style
from widgets.graph.items import NodeItem


def render(view) -> QImage:
    image = QImage(view.viewport().size(), QImage.Format_ARGB32)
    image.fill(0)
    painter = QPainter(image)
    view.render(painter)
    painter.end()
    return image


def test_densenet_folds_automatically_and_unfolds(qtbot, make_window):
    window = make_window()
    state = open_model(qtbot, window, "densenet201", "none")
    canvas = window.design.canvas
    assert state.graph.number_of_nodes() > 700
    assert canvas.depth is not None and 10 < len(canvas.scene.nodes) < 100
    assert canvas.minimap.isHidden() or len(canvas.scene.nodes) > 30
    canvas.set_depth(None)
    assert len(canvas.scene.nodes) > 700
    assert all(i.cacheMode() == QGraphicsItem.DeviceCoordinateCache for i in canvas.scene.nodes.values())
    for zoom in (0.03, 0.15, 0.6, 1.5):  # boxes only, boxes, text, close up
        canvas.view.set_zoom(zoom)
        image = render(canvas.view)
        assert not image.isNull()
    assert canvas.depth_box.findData(2) >= 0 and canvas.depth_box.currentData() is None


def test_frozen_and_lr_marks_follow_the_policy(qtbot, make_window):
    window = make_window()
    open_model(qtbot, window, "resnet18", "none")
    window.qdoc.edit([Freeze("layer1"), SetLRFactor("fc", 10.0)])
    wait_idle(qtbot, window)
    nodes = window.design.canvas.scene.nodes
    frozen, head, plain = nodes["layer1.0.conv1"], nodes["fc"], nodes["layer2.0.conv1"]
    assert frozen.frozen and frozen._hatch is not None and frozen._band.color() == style.FROZEN_BAND
    assert not head.frozen and head._band.color() == style.lr_colour(10.0) and head.badge == "×10"
    assert plain._band.color() == style.lr_colour(1.0) and plain.badge == ""
    assert style.lr_colour(0.01) != style.lr_colour(0.1) != style.lr_colour(1.0)
    assert isinstance(frozen, NodeItem) and "Frozen" in frozen.toolTip()


def test_legend_explains_the_colours(qtbot, make_window):
    window = make_window()
    open_model(qtbot, window, "resnet18", "none")
    legend = window.design.canvas.legend
    texts = [w.text() for w in legend.findChildren(type(window.design.canvas.match_label))]
    assert "Learning rate" in texts and "frozen" in texts and "error" in texts
    assert {"×0.1", "×1", "×10"} <= set(texts)
    assert legend.isVisible()
