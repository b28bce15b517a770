"""The larger view of one image (double-click a thumbnail): the image, its caption and file, and
once they are computed its heat maps for the true and the predicted class side by side, with
their own opacity slider."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from designer.app.jobs import thumbnail
from designer.inspect.overlay import overlay
from widgets.base.pictures import ColourScale, PictureLabel

ENLARGED = 560  # the enlarged view's picture area, px
WITH_MAPS = 420  # each picture's side when the maps stand beside the image


class EnlargedView(QDialog):
    """``maps``: [(title, HxW map)] for the true and the predicted class (may be empty)."""

    def __init__(self, parent, path: str, caption: str, maps: list, opacity: float = 0.5):
        super().__init__(parent, windowTitle=Path(path).name)
        self.setAttribute(Qt.WA_DeleteOnClose)
        side = WITH_MAPS if maps else ENLARGED
        self.picture = thumbnail(path, side)  # None when the file is gone or damaged since
        self.maps = list(maps)
        self.view = PictureLabel("The image cannot be shown.")
        self.view.set_array(self.picture)
        self.map_views = [PictureLabel("No heat map.") for _ in self.maps]
        layout = QVBoxLayout(self)
        layout.addWidget(self._pictures() if self.maps else self.view, 1)
        layout.addWidget(QLabel(caption, wordWrap=True, alignment=Qt.AlignCenter))
        layout.addWidget(QLabel(path, objectName="muted", wordWrap=True))
        self.opacity = QSlider(Qt.Horizontal, minimum=0, maximum=100, value=round(100 * opacity),
                               toolTip="How strongly the heat maps are drawn over the image.")
        if self.maps:
            row = QHBoxLayout()
            row.addWidget(QLabel("Heat-map opacity"))
            row.addWidget(self.opacity, 1)
            row.addWidget(ColourScale())
            layout.addLayout(row)
        self.opacity.valueChanged.connect(self._draw_maps)
        self._draw_maps()
        self.resize(side * (1 + len(self.maps)) + 40, side + (110 if self.maps else 60))

    def _pictures(self) -> QWidget:
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        titles = ["Image"] + [title for title, _ in self.maps]
        for title, view in zip(titles, [self.view, *self.map_views], strict=True):  # one view per map
            column = QVBoxLayout()
            column.addWidget(QLabel(title, objectName="sectionTitle", alignment=Qt.AlignCenter))
            column.addWidget(view, 1)
            row.addLayout(column, 1)
        return box

    @Slot()
    def _draw_maps(self, *_) -> None:
        if self.picture is None:
            return
        strength = self.opacity.value() / 100
        for view, (_, heat) in zip(self.map_views, self.maps, strict=True):
            view.set_array(overlay(self.picture, heat, strength))
            view.setToolTip("" if np.asarray(heat).any() else
                            "This layer shows no evidence for this class: every region scores 0.")
