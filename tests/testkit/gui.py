"""Helpers for the GUI tests: scripted dialogs, waiting for workers, a window's leak check, a
document with a tiny network, and driving the Data and Training tabs. Fixtures that use them
are in ``tests/gui/conftest.py``."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QThread
from PySide6.QtWidgets import QApplication

from designer.app.document import DesignState, Document
from designer.model.build import BaseCache
from designer.model.ops import ReplaceClassifier, SetInput
from designer.model.recipe import Recipe
from testkit.train import FakeDesign, tiny_cnn
from widgets.base import feedback, questions
from widgets.base.worker import JobRunner
from widgets.design import dialogs as design_dialogs

CLASSES = ("circle", "square", "triangle")
_CACHE: list[BaseCache] = []
# Modules whose ask_/choose_/open_/save_ functions are modal dialogs; tests script them all.
DIALOG_MODULES = (feedback, design_dialogs, questions)
DIALOG_PREFIXES = ("ask_", "open_", "save_", "choose_", "weights_path", "builder_spec", "lr_factor")


def shared_cache() -> BaseCache:
    """One BaseCache for the whole session: each base model is built once."""
    if not _CACHE:
        _CACHE.append(BaseCache())
    return _CACHE[0]


class Dialogs:
    """Scripted answers for every modal the app could show: errors and infos are recorded, and
    an unscripted question fails the test."""

    def __init__(self, monkeypatch):
        self.errors: list[tuple[str, str]] = []
        self.infos: list[tuple[str, str]] = []
        self.monkeypatch = monkeypatch
        for module in DIALOG_MODULES:
            for name in dir(module):
                if name.startswith(DIALOG_PREFIXES) and callable(getattr(module, name)):
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
        module = next(m for m in DIALOG_MODULES if hasattr(m, name))
        calls: list = []

        def answer(*args, **kwargs):
            calls.append(args[1:])
            return value
        self.monkeypatch.setattr(module, name, answer)
        return calls


def wait_idle(qtbot, window, timeout: int = 90_000) -> None:
    qtbot.waitUntil(lambda: not window.qdoc.busy, timeout=timeout)
    QApplication.processEvents()


def top_levels() -> dict[int, str]:
    return {id(w): type(w).__name__ for w in QApplication.topLevelWidgets()}


def close_and_check(window, dialogs: Dialogs) -> None:
    """Close like a user who discards changes; nothing may stay behind."""
    dialogs.monkeypatch.setattr(feedback, "ask_save_changes", lambda *a: "discard")
    threads = window.qdoc.findChildren(QThread)
    assert window.close(), "the window refused to close"
    assert all(not t.isRunning() for t in threads), "a worker thread is still running after close"
    window.deleteLater()
    QApplication.sendPostedEvents(None, QEvent.DeferredDelete)
    QApplication.processEvents()


def open_model(qtbot, window, name: str = "efficientnet_lite0", weights: str = "default"):
    window.open_model(name, weights)
    wait_idle(qtbot, window)
    assert window.qdoc.state is not None, "the model did not open"
    return window.qdoc.state


def tiny_recipe(classes: int = 3) -> Recipe:
    return Recipe.for_model("resnet18", weights="none").with_ops(SetInput(32, 32, 3), ReplaceClassifier(classes))


def make_document(tmp_path, classes: int = 3, real: bool = True) -> Document:
    """A Document showing a small network for ``classes`` classes: resnet18 (random weights,
    32x32), or with ``real=False`` a tiny CNN duck-typed as a ``Design`` (no recipe)."""
    doc = Document(data_dir=str(tmp_path / "appdata"))
    if real:
        doc.open_recipe(tiny_recipe(classes))
        return doc
    design = FakeDesign(tiny_cnn(3, classes), input_shape=(3, 32, 32), mean=(0.5,) * 3, std=(0.5,) * 3,
                        num_classes=classes)
    doc.apply(DesignState(None, design, None, None))
    return doc


def runners_idle(widget) -> bool:
    return all(not r.running for r in widget.findChildren(JobRunner))


def load_data(qtbot, ws, folder, **settings):
    """Load ``folder`` on the Data tab and wait for the scan."""
    ws.data.root_edit.setText(str(folder))
    for key, value in settings.items():
        getattr(ws.data, key).setValue(value)
    ws.data.load_images()
    qtbot.waitUntil(lambda: ws.context.split is not None and not ws.data.scan_runner.running, timeout=30_000)
    return ws.context.split


def train(qtbot, ws, timeout: int = 120_000, **options):
    """Start a run with ``options`` written to the training settings; wait for its end."""
    ws.context.update_training(**options)
    assert ws.training.start(), "training did not start"
    qtbot.waitUntil(lambda: not ws.training.training, timeout=timeout)
    return ws.training.final_event
