"""Help: the user guide (Markdown and screenshots shipped in ``resources/guide``, read with
``importlib.resources``, so it works offline and from an installed wheel) and the About box."""

from __future__ import annotations

import re

from PySide6.QtCore import QUrl
from PySide6.QtGui import QImage, QTextDocument
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout

import resources
from designer import __version__
from widgets.base.screen import resize_to_fit

GUIDE = "guide/guide.md"
_IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")


def guide_text() -> str:
    return resources.read_text(GUIDE)


def guide_images(text: str) -> list[str]:
    """The picture files the guide shows, in order (names beside guide.md)."""
    return _IMAGE.findall(text)


class GuideBrowser(QTextBrowser):
    """Serves the guide's pictures from the package data by name: no file path is needed, so it
    works from a wheel or a zip as well as from a checkout."""

    def __init__(self, parent=None):
        super().__init__(parent, openExternalLinks=True)
        self.pictures: dict[str, QImage] = {}

    def loadResource(self, kind: int, url: QUrl):
        name = url.toString()
        if kind == QTextDocument.ImageResource and name in self.pictures:
            return self.pictures[name]
        return super().loadResource(kind, url)


class UserGuide(QDialog):
    """The guide in a browser window that stays open beside the main window."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("NetSurgeon user guide")
        resize_to_fit(self, 1060, 820)
        self.browser = GuideBrowser()
        text = guide_text()
        self.browser.pictures = {name: QImage.fromData(resources.read_bytes(f"guide/{name}"))
                                 for name in guide_images(text)}
        self.browser.setMarkdown(text)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser, 1)
        layout.addWidget(buttons)


ABOUT = f"""<h3>NetSurgeon {__version__}</h3>
<p>Point-and-click transfer learning for PyTorch: open a pretrained network, adapt it to your
images, train it, check the results and export it, without writing code.</p>
<p>Help › User guide (F1) walks through a whole project. Everything the window does can also be
done from a terminal: <code>python -m designer --help</code>.</p>
<p>Licensed under the Apache License 2.0.</p>"""
