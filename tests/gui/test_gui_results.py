"""The Results tab's image lists (issue 13): captions of non-square images are shown whole, and a
thumbnail opens large."""

from __future__ import annotations

import numpy as np
from PIL import Image

CAPTION = "triangle: 91 %\ncircle: 7 %\nsquare: 2 %"


def _images(folder, sizes):
    paths = []
    for k, (w, h) in enumerate(sizes):
        path = folder / f"image{k}.png"
        Image.fromarray(np.random.default_rng(k).integers(0, 255, (h, w, 3), dtype=np.uint8)).save(path)
        paths.append(str(path))
    return paths


def test_captions_of_non_square_images_are_not_cut(qtbot, tmp_path):
    from designer.app.jobs import thumbnail
    from widgets.results.views import THUMB, Gallery

    gallery = Gallery()
    qtbot.addWidget(gallery)
    gallery.resize(760, 320)
    gallery.show()
    for path in _images(tmp_path, [(200, 60), (60, 200), (100, 100), (300, 120)]):  # a wide one first
        gallery.add(thumbnail(path), CAPTION, path, path)
    rects = [gallery.visualItemRect(gallery.item(k)) for k in range(gallery.count())]
    lines = gallery.fontMetrics().lineSpacing()
    assert all(r.height() >= THUMB + 3 * lines for r in rects), [r.height() for r in rects]
    assert {gallery.item(k).icon().availableSizes()[0].toTuple() for k in range(4)} == {(THUMB, THUMB)}


def test_a_thumbnail_opens_large(qtbot, tmp_path):
    from designer.app.jobs import thumbnail
    from widgets.results.enlarged import ENLARGED
    from widgets.results.views import Gallery

    gallery = Gallery()
    qtbot.addWidget(gallery)
    gallery.show()
    path = _images(tmp_path, [(400, 300)])[0]
    item = gallery.add(thumbnail(path), CAPTION, path, path)
    assert "Double-click to enlarge" in item.toolTip()
    dialog = gallery.enlarge(item)
    qtbot.waitExposed(dialog)
    assert dialog.isVisible() and dialog.windowTitle() == "image0.png"
    picture = dialog.findChild(type(dialog.layout().itemAt(0).widget()))
    assert picture.has_picture() and picture.pixmap().width() > 2 * 96
    assert "triangle: 91 %" in dialog.layout().itemAt(1).widget().text()
    assert ENLARGED >= 400
    dialog.close()
    gone = tmp_path / "gone.png"
    missing = gallery.enlarge(gallery.add(None, "x", "y", str(gone)))  # a file gone since: no crash
    assert missing is not None and not missing.findChild(type(picture)).has_picture()
    missing.close()
    assert gallery.enlarge(gallery.add(None, "x", "y")) is None  # nothing to enlarge without a file


def test_classified_new_images_show_their_file_names(qtbot, workspace, tmp_path, dialogs):
    """Issue 22, item 10: the new images' captions gave the classes only, so one could not tell
    which file each was; the name is the first line, with room for it (four lines, none cut)."""
    from designer.app.jobs import thumbnail
    from designer.train.evaluate import Prediction
    from widgets.results.views import THUMB

    ws = workspace()
    box = ws.results.predict_box
    box.gallery.resize(760, 320)
    paths = _images(tmp_path, [(80, 80), (60, 90)])
    long_name = tmp_path / ("a_rather_long_file_name_from_a_camera_" * 3 + ".png")
    Image.open(paths[0]).save(long_name)
    top = [("triangle", 0.91), ("circle", 0.07), ("square", 0.02)]
    box._on_result([(Prediction(p, top), thumbnail(p)) for p in (*paths, str(long_name))]
                   + [(Prediction(str(tmp_path / "gone.png"), [], error="the file is missing"), None)])
    captions = [box.gallery.item(k).text().split("\n") for k in range(box.gallery.count())]
    assert captions[0] == ["image0.png", "triangle: 91\u00a0%", "circle: 7\u00a0%", "square: 2\u00a0%"]
    assert captions[2][0].startswith("a_rather") and captions[2][0].endswith(".png") and "…" in captions[2][0]
    assert captions[3][0] == "gone.png"
    lines = box.gallery.fontMetrics().lineSpacing()
    assert box.gallery.gridSize().height() >= THUMB + 4 * lines
