"""Fixtures for the GUI tests: a main window on a private data dir and settings file,
scripted dialogs, waiting for the worker, and a napari-style leak check at the end."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")
pytest.importorskip("designer.model.build")
pytest.importorskip("designer.app.project")

from PySide6.QtCore import QEvent, QSettings, QThread
from PySide6.QtWidgets import QApplication

_CACHE = []


def shared_cache():
    """One BaseCache for the whole session: each base model is built once."""
    if not _CACHE:
        from designer.model.build import BaseCache

        _CACHE.append(BaseCache())
    return _CACHE[0]


class Dialogs:
    """Scripted answers for every modal the app could show; anything unscripted fails the test."""

    def __init__(self, monkeypatch):
        from widgets.base import feedback
        from widgets.design import dialogs

        self.errors: list[tuple[str, str]] = []
        self.infos: list[tuple[str, str]] = []
        self.monkeypatch = monkeypatch
        for module in (feedback, dialogs):
            for name in dir(module):
                if name.startswith(("ask_", "open_", "save_", "weights_path", "builder_spec", "lr_factor")):
                    monkeypatch.setattr(module, name, self._unexpected(name))
        monkeypatch.setattr(feedback, "show_error", lambda parent, title, text: self.errors.append((title, text)))
        monkeypatch.setattr(feedback, "show_info", lambda parent, title, text: self.infos.append((title, text)))

    @staticmethod
    def _unexpected(name):
        def fail(*args, **kwargs):
            raise AssertionError(f"unexpected dialog {name}{args[1:]}")
        return fail

    def answer(self, name: str, value) -> list:
        """Make dialog ``name`` return ``value``; returns the list of calls' arguments."""
        from widgets.base import feedback
        from widgets.design import dialogs

        calls: list = []
        module = dialogs if name in ("ask_input", "ask_classifier", "ask_preset") else feedback

        def answer(*args, **kwargs):
            calls.append(args[1:])
            return value
        self.monkeypatch.setattr(module, name, answer)
        return calls


@pytest.fixture
def dialogs(monkeypatch):
    return Dialogs(monkeypatch)


def wait_idle(qtbot, window, timeout: int = 90_000) -> None:
    qtbot.waitUntil(lambda: not window.qdoc.busy, timeout=timeout)
    QApplication.processEvents()


def top_levels() -> dict[int, str]:
    return {id(w): type(w).__name__ for w in QApplication.topLevelWidgets()}


def close_and_check(window, dialogs) -> None:
    """Close like a user who discards changes; nothing may stay behind."""
    from widgets.base import feedback

    dialogs.monkeypatch.setattr(feedback, "ask_save_changes", lambda *a: "discard")
    threads = window.qdoc.findChildren(QThread)
    assert window.close(), "the window refused to close"
    assert all(not t.isRunning() for t in threads), "a worker thread is still running after close"
    window.deleteLater()
    QApplication.sendPostedEvents(None, QEvent.DeferredDelete)
    QApplication.processEvents()


@pytest.fixture
def make_window(qtbot, tmp_path, dialogs):
    """Factory for main windows; each is closed and leak-checked after the test."""
    from designer.app.document import Document
    from widgets.shell.main_window import MainWindow

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


def open_model(qtbot, window, name: str = "efficientnet_lite0", weights: str = "default"):
    window.open_model(name, weights)
    wait_idle(qtbot, window)
    assert window.qdoc.state is not None, "the model did not open"
    return window.qdoc.state
