"""Fixtures for the Data/Training/Results/Export GUI tests: a document with a tiny network, a
shapes folder, the workspace in a window, scripted dialogs, and a check that no worker thread
is left running afterwards.

The network is resnet18 (random weights, 32x32, 3 classes) when ``designer.model.build`` and
``designer.model.policy`` exist, else a tiny CNN duck-typed as a ``Design`` (no recipe).
"""

from __future__ import annotations

import importlib.util

import pytest

pytest.importorskip("pytestqt")

from helpers_data import make_shapes_folder
from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QApplication, QMainWindow

HAS_BUILD = all(importlib.util.find_spec(m) is not None for m in ("designer.model.build", "designer.model.policy"))
needs_build = pytest.mark.skipif(not HAS_BUILD, reason="designer.model.build / designer.model.policy not there yet")
CLASSES = ("circle", "square", "triangle")


def tiny_recipe(classes: int = 3):
    from designer.model.ops import ReplaceClassifier, SetInput
    from designer.model.recipe import Recipe

    return Recipe.for_model("resnet18", weights="none").with_ops(SetInput(32, 32, 3), ReplaceClassifier(classes))


def make_document(tmp_path, classes: int = 3, real: bool | None = None):
    """A Document showing a small network for ``classes`` classes."""
    from designer.app.document import DesignState, Document

    doc = Document(data_dir=str(tmp_path / "appdata"))
    if HAS_BUILD if real is None else real:
        doc.open_recipe(tiny_recipe(classes))
        return doc
    from helpers_train import FakeDesign, tiny_cnn

    design = FakeDesign(tiny_cnn(3, classes), input_shape=(3, 32, 32), mean=(0.5,) * 3, std=(0.5,) * 3,
                        num_classes=classes)
    doc.apply(DesignState(None, design, None, None))
    return doc


class Dialogs:
    """Scripted dialogs: errors are recorded; an unscripted question fails the test."""

    def __init__(self, monkeypatch):
        from widgets.base import feedback
        from widgets.base import questions as training_dialogs

        self.errors: list[tuple[str, str]] = []
        self.monkeypatch = monkeypatch
        monkeypatch.setattr(feedback, "show_error", self._error)
        monkeypatch.setattr(feedback, "show_info", lambda *a: None)
        for name in ("ask_stop_training", "choose_folder", "choose_images"):
            monkeypatch.setattr(training_dialogs, name, self._unexpected(name))

    def _error(self, parent, title, text):
        self.errors.append((title, text))

    @staticmethod
    def _unexpected(name):
        def fail(*args, **kwargs):
            raise AssertionError(f"unexpected dialog {name}")
        return fail

    def answer(self, name: str, value) -> list:
        from widgets.base import questions as training_dialogs

        calls = []

        def answer(*args, **kwargs):
            calls.append(args[1:])
            return value
        self.monkeypatch.setattr(training_dialogs, name, answer)
        return calls


@pytest.fixture
def dialogs(monkeypatch):
    return Dialogs(monkeypatch)


@pytest.fixture
def shapes(tmp_path):
    return make_shapes_folder(tmp_path / "shapes", classes=CLASSES, per_class=12, corrupt=2)


def runners_idle(widget) -> bool:
    from widgets.base.worker import JobRunner

    return all(not r.running for r in widget.findChildren(JobRunner))


@pytest.fixture
def workspace(qtbot, tmp_path, dialogs):
    """Factory: ``workspace(doc)`` -> a TrainingWorkspace shown inside a QMainWindow."""
    from widgets.shell.training_workspace import TrainingWorkspace

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
