"""Fixtures for the GUI tests (pytest-qt, offscreen): scripted dialogs, main windows on a private
data dir and settings file with a napari-style leak check, the Data & Training workspace, and a
small shapes folder. Plain helpers are in ``testkit.gui``."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent, QSettings
from PySide6.QtWidgets import QApplication, QMainWindow
from testkit.data import make_shapes_folder
from testkit.gui import (
    CLASSES,
    Dialogs,
    close_and_check,
    make_document,
    runners_idle,
    shared_cache,
    top_levels,
)

from designer.app.document import Document
from widgets.shell.main_window import MainWindow
from widgets.shell.training_workspace import TrainingWorkspace


@pytest.fixture
def dialogs(monkeypatch):
    return Dialogs(monkeypatch)


@pytest.fixture
def make_window(qtbot, tmp_path, dialogs):
    """Factory for main windows; each is closed and leak-checked after the test."""
    before = top_levels()
    windows = []

    def make(data_dir=None):
        doc = Document(cache=shared_cache(), data_dir=str(data_dir or tmp_path / "appdata"))
        settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
        window = MainWindow(doc=doc, settings=settings)
        window.show()
        windows.append(window)
        return window

    yield make
    for window in windows:
        close_and_check(window, dialogs)
    after = top_levels()
    leaked = sorted(after[key] for key in after.keys() - before.keys())
    assert not leaked, f"top-level widget(s) left after closing the window: {leaked}"


@pytest.fixture
def shapes(tmp_path):
    return make_shapes_folder(tmp_path / "shapes", classes=CLASSES, per_class=12, corrupt=2)


@pytest.fixture
def workspace(qtbot, tmp_path, dialogs):
    """Factory: ``workspace(doc)`` -> a TrainingWorkspace shown inside a QMainWindow."""
    made = []

    def make(doc=None):
        window = QMainWindow()
        ws = TrainingWorkspace(doc or make_document(tmp_path))
        window.setCentralWidget(ws)
        window.resize(1300, 850)
        window.show()
        made.append((window, ws))
        return ws

    yield make
    for window, ws in made:
        ws.shutdown()
        assert runners_idle(ws), "a worker thread is still running after shutdown"
        window.close()
        window.deleteLater()
    QApplication.sendPostedEvents(None, QEvent.DeferredDelete)
    QApplication.processEvents()
