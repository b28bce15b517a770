"""Heat maps in the Results tab (issue 14): thumbnails show the map of the true or the predicted
class, an opacity slider redraws them, the enlarged view shows both maps, and the layer chosen in
the graph is the one the maps look at."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QMainWindow
from testkit.data import make_shapes_folder


def _icon_pixels(gallery, row: int) -> np.ndarray:
    from PySide6.QtGui import QImage

    image = gallery.item(row).icon().pixmap(96, 96).toImage().convertToFormat(QImage.Format_RGB32)
    return np.array(image.constBits(), dtype=np.uint8).copy()


def _explanation(path, true="circle", predicted="square"):
    from designer.app.explain import Explanation

    left, right = np.zeros((32, 32), np.float32), np.zeros((32, 32), np.float32)
    left[:, :16], right[:, 16:] = 1.0, 1.0
    return Explanation(path, true, predicted, 0.8, {true: left, predicted: right})


def test_a_thumbnail_shows_the_map_of_the_true_or_the_predicted_class(qtbot, tmp_path):
    from designer.app.jobs import thumbnail
    from widgets.results.enlarged import EnlargedView
    from widgets.results.views import Gallery

    folder = make_shapes_folder(tmp_path / "shapes", per_class=1, size=32)
    path = str(next((folder / "circle").iterdir()))
    gallery = Gallery()
    qtbot.addWidget(gallery)
    gallery.add(thumbnail(path), "true: circle\npredicted: square", path, path, "circle")
    plain = _icon_pixels(gallery, 0)
    assert gallery.missing_explanations()[0].true == "circle"
    assert gallery.set_explanation(_explanation(path)) and not gallery.missing_explanations()
    assert np.array_equal(_icon_pixels(gallery, 0), plain)  # nothing drawn while "off"
    gallery.show_heat("true", 0.6)
    true_map = _icon_pixels(gallery, 0)
    gallery.show_heat("predicted", 0.6)
    predicted_map = _icon_pixels(gallery, 0)
    gallery.show_heat("predicted", 0.2)
    fainter = _icon_pixels(gallery, 0)
    assert len({plain.tobytes(), true_map.tobytes(), predicted_map.tobytes(), fainter.tobytes()}) == 4
    assert np.abs(fainter.astype(int) - plain).sum() < np.abs(predicted_map.astype(int) - plain).sum()

    dialog = gallery.enlarge(gallery.item(0))
    qtbot.waitExposed(dialog)
    assert isinstance(dialog, EnlargedView) and len(dialog.map_views) == 2
    from widgets.base.pictures import ColourScale

    assert dialog.findChild(ColourScale) is not None  # the maps' colours explained beside them
    assert all(view.has_picture() for view in (dialog.view, *dialog.map_views))
    before = dialog.map_views[0].pixmap().toImage()
    dialog.opacity.setValue(100)
    assert dialog.map_views[0].pixmap().toImage() != before
    dialog.close()
    gallery.clear_explanations()
    assert gallery.missing_explanations() and np.array_equal(_icon_pixels(gallery, 0), plain)


def test_the_results_tab_computes_maps_and_follows_the_layer_chosen_in_the_graph(qtbot, workspace, dialogs,
                                                                                  tmp_path):
    from widgets.design.edit_actions import EditActions

    ws = workspace()
    results = ws.results
    folder = make_shapes_folder(tmp_path / "new", per_class=1, size=32)
    images = sorted(str(p) for p in folder.rglob("*.png"))
    with qtbot.waitSignal(results.predict_box.predicted, timeout=60_000):
        assert results.predict_box.predict(images)
    gallery, bar, maps = results.predict_box.gallery, results.heat_bar, results.heat_maps
    assert bar.progress.isHidden() and not maps.runner.running  # nothing computed while off
    assert bar.scale.isHidden() and bar.layer_label.isHidden()
    plain = _icon_pixels(gallery, 0)

    bar.show_combo.setCurrentIndex(bar.show_combo.findData("predicted"))
    assert maps.runner.running and not bar.stop_button.isHidden()
    qtbot.waitUntil(lambda: not maps.runner.running, timeout=60_000)
    assert not gallery.missing_explanations() and bar.stop_button.isHidden()
    # Issue 22, item 9: resnet18 at 32x32 maps layer1 (8x8), not a 1x1 layer4 or a 2x2 layer3; the line
    # names it and says how to choose another; a colour scale stands beside the maps
    assert "at layer layer1 (64x8x8), the default" in bar.layer_label.text()
    assert "right-click it in the Design tab's graph" in bar.layer_label.text()
    assert not bar.layer_label.isHidden() and not bar.scale.isHidden() and not bar.scale.strip.pixmap().isNull()
    explanation = gallery.entries[0].explanation
    assert explanation.predicted in explanation.maps and explanation.maps[explanation.predicted].shape == (32, 32)
    assert not np.array_equal(_icon_pixels(gallery, 0), plain)
    shown = _icon_pixels(gallery, 0)
    bar.opacity.setValue(10)
    assert not np.array_equal(_icon_pixels(gallery, 0), shown)
    assert "Grad-CAM heat maps of 3 image(s)" in results.status.text()

    window = QMainWindow()
    qtbot.addWidget(window)
    actions = EditActions(ws.context.qdoc, window)
    assert not actions.use_for_heat_maps("fc")  # the head gives no map: refused, nothing changes
    assert dialogs.errors and "not a map over the image" in dialogs.errors[-1][1]
    assert actions.use_for_heat_maps("layer2")
    assert ws.context.doc.settings["explain"] == {"layer": "layer2"} and ws.context.doc.dirty
    qtbot.waitUntil(lambda: not maps.runner.running and not gallery.missing_explanations(), timeout=60_000)
    assert "at layer layer2 (128x4x4), chosen in the graph" in bar.layer_label.text()

    bar.method_combo.setCurrentIndex(bar.method_combo.findData("ablation"))
    qtbot.waitUntil(lambda: not maps.runner.running and not gallery.missing_explanations(), timeout=60_000)
    assert "Feature ablation" in results.status.text()
    actions.default_heat_layer()
    assert ws.context.doc.settings["explain"] == {}
