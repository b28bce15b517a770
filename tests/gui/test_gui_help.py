"""Help (issue 13): a user guide shipped with the app, offline, opened from the Help menu (F1); it
walks through open, edit, data, train, results and export with the screenshots."""

from __future__ import annotations

from importlib import resources as importlib_resources

from PySide6.QtCore import QUrl
from PySide6.QtGui import QImage, QTextDocument

STEPS = ("Open a network", "Adapt the network", "Add your images", "Train", "Check the results", "Take it away")


def test_the_guide_and_its_pictures_are_package_data():
    from widgets.shell.help import guide_images, guide_text

    text = guide_text()
    assert [s for s in STEPS if f". {s}" not in text] == []  # the six steps, in order below
    assert [text.index(f". {s}") for s in STEPS] == sorted(text.index(f". {s}") for s in STEPS)
    names = guide_images(text)
    assert len(names) == 7  # one per step, and the heat maps in step 5
    folder = importlib_resources.files("resources") / "guide"
    for name in names:
        image = QImage.fromData((folder / name).read_bytes())
        assert not image.isNull() and 600 <= image.width() <= 1000, name
    total = sum((folder / n).stat().st_size if hasattr(folder / n, "stat") else 0 for n in names)
    assert total < 2_000_000  # small copies, not the 1600 px originals


def test_help_menu_opens_the_guide_with_its_screenshots(qtbot, make_window):
    window = make_window()
    help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    guide_action = next(a for a in help_menu.actions() if a.text() == "User guide")
    assert guide_action.shortcut().toString() == "F1"
    guide_action.trigger()
    guide = window.guide
    qtbot.waitExposed(guide)
    text = guide.browser.toPlainText()
    assert all(step in text for step in STEPS) and "Ctrl+Y" in text
    document = guide.browser.document()
    from widgets.shell.help import guide_images, guide_text

    for name in guide_images(guide_text()):  # the pictures are found by name (package data)
        assert not document.resource(QTextDocument.ImageResource, QUrl(name)).isNull(), name
    assert window.show_guide() is guide  # one guide window, raised again
    guide.close()
