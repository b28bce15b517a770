"""Regenerate the designer screenshots in docs/screenshots/ from a real window.

Run under a display (or Xvfb):
    xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python -m tools.screenshots.design
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

from PySide6.QtCore import Qt

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "docs", "screenshots")
GUIDE = os.path.join(ROOT, "resources", "guide")  # smaller copies the user guide shows (package data)
GUIDE_SHOTS = ("start-page.png", "designer-lite0-edited.png", "data.png", "training-mid-run.png", "results.png",
               "results-heatmaps.png", "export.png")
GUIDE_WIDTH = 960
SIZE = (1600, 1000)


def wait_idle(app, window, extra: float = 0.3) -> None:
    while window.qdoc.busy:
        app.processEvents()
        time.sleep(0.01)
    end = time.time() + extra
    while time.time() < end:
        app.processEvents()
        time.sleep(0.01)


def save_window(app, window, name: str) -> str:
    wait_idle(app, window)
    return save_grab(window, name)


def save_grab(widget, name: str) -> str:
    """Grab ``widget`` as the screen shows it (falling back to Qt's own rendering) into docs/."""
    path = os.path.join(OUT, name)
    screen = widget.screen()
    image = screen.grabWindow(widget.winId()) if screen is not None else widget.grab()
    if image.isNull() or image.width() < 100:
        image = widget.grab()
    image.save(path)
    print("wrote", path, flush=True)
    if name in GUIDE_SHOTS:
        small = image.scaledToWidth(min(GUIDE_WIDTH, image.width()), Qt.SmoothTransformation)
        small.save(os.path.join(GUIDE, name))
        print("wrote", os.path.join(GUIDE, name), flush=True)
    return path


def _edit_lite0(app, window) -> None:
    from designer.model.ops import FreezeUntil, ReplaceClassifier, SetLRFactor

    q = window.qdoc
    head = ReplaceClassifier(5, dropout=0.2, hidden=256, batchnorm=True)
    for op in (head, FreezeUntil("_blocks.10"), SetLRFactor("_blocks.14", 0.1), SetLRFactor("_blocks.15", 0.1)):
        q.edit([op])
        wait_idle(app, window, 0.05)
    classifier = q.state.design.classifier_path
    q.edit([SetLRFactor(classifier.rpartition(".")[0] or classifier, 10.0)])
    wait_idle(app, window, 0.05)


def _centre_on(window, node: str, zoom: float, dy: float = 0.0) -> None:
    canvas = window.design.canvas
    canvas.view.set_zoom(zoom)
    item = canvas.scene.nodes[node]
    canvas.view.centerOn(item.pos().x(), item.pos().y() + dy)


def open_window(settings_path: str):
    """The app and a main window as ``main.py`` builds them, at the screenshot size, shown.
    Imports run here, after the caller has set NETSURGEON_DATA_DIR."""
    from PySide6.QtCore import QSettings

    from widgets.shell import launcher
    from widgets.shell.main_window import MainWindow

    app = launcher.make_app()
    window = MainWindow(settings=QSettings(settings_path, QSettings.IniFormat))
    launcher.install_workspaces(window)
    window.resize(*SIZE)
    window.move(0, 0)
    window.show()
    return app, window


def main() -> int:
    os.makedirs(OUT, exist_ok=True)
    os.environ.setdefault("NETSURGEON_DATA_DIR", tempfile.mkdtemp(prefix="ns-shots-"))
    app, window = open_window(os.path.join(os.environ["NETSURGEON_DATA_DIR"], "s.ini"))
    window.start.select_name("efficientnet_lite0")
    save_window(app, window, "start-page.png")
    window.open_model("efficientnet_lite0", "default")
    wait_idle(app, window)
    _edit_lite0(app, window)
    window.design.canvas.reveal("_blocks.10")  # frozen up to here: Properties shows it frozen
    _centre_on(window, "_blocks.11", 0.8)
    save_window(app, window, "designer-lite0-edited.png")
    window.design.canvas.reveal(window.qdoc.state.design.classifier_path)
    _centre_on(window, "_fc.1", 0.8, dy=40)
    save_window(app, window, "designer-lite0-head.png")
    window.design.canvas.set_depth(None)
    window.design.canvas.find("_blocks.15._project_conv")
    window.design.canvas.view.set_zoom(0.12)
    save_window(app, window, "designer-lite0-zoomed-out.png")
    window.qdoc.doc.mark_saved()
    window.open_model("alexnet", "none")
    wait_idle(app, window)
    from designer.model.ops import SetInput

    window.qdoc.edit([SetInput(32, 32, 3)])
    wait_idle(app, window)
    report = window.qdoc.state.report
    if report.errors:
        window.design.focus_node(report.errors[0].node)
    save_window(app, window, "designer-analyzer-error.png")
    guide = window.show_guide()
    guide.move(40, 40)
    guide.browser.scrollToAnchor("3-add-your-images-data--training--data")
    wait_idle(app, window, 0.6)
    save_grab(guide, "help-guide.png")
    guide.close()
    window.qdoc.doc.mark_saved()
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
