"""The main window: Start and Design workspaces in tabs (more via ``add_workspace``),
menus, status bar with a busy indicator, and the project lifecycle."""

from __future__ import annotations

import os

from PySide6.QtCore import QSettings, Qt, Signal, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLabel, QMainWindow, QProgressBar, QPushButton, QTabWidget

from designer.app.document import Document
from designer.base.errors import DesignerError
from designer.model.recipe import Recipe
from designer.zoo import builders
from designer.zoo.sources import GALLERY_SOURCES, model_info
from widgets.base import feedback, style
from widgets.base.qdocument import QtDocument
from widgets.base.screen import resize_to_fit
from widgets.design.workspace import DesignWorkspace
from widgets.shell.help import ABOUT, UserGuide
from widgets.shell.project_files import ProjectFiles
from widgets.shell.start_page import StartPage

APP_NAME = "NetSurgeon"


class MainWindow(QMainWindow):
    export_requested = Signal()

    def __init__(self, doc: Document | None = None, settings: QSettings | None = None, parent=None):
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.qdoc = QtDocument(doc or Document(), self)
        self.qdoc.confirm_builder = self._confirm_builder
        self.files = ProjectFiles(self.qdoc, self, settings)
        self.tabs = QTabWidget(documentMode=True)
        self.start = StartPage(start_folder=lambda: feedback.folder_for(self.qdoc.doc))
        self.design = DesignWorkspace(self.qdoc)
        self.tabs.addTab(self.start, "Start")
        self.tabs.addTab(self.design, "Design")
        self.setCentralWidget(self.tabs)
        self._export_handler = None
        self._compress_handler, self._compress_available = None, None
        self.guide: UserGuide | None = None
        self._status_bar()
        self._menus()
        self._connect()
        self.start.set_recent(self.files.recent())
        self._update_title()
        resize_to_fit(self, 1500, 920)  # or less: the whole window on a small screen

    # --- public API for other workspaces --------------------------------------------------------------

    def add_workspace(self, widget, title: str) -> int:
        """Add a tab (e.g. "Data & Training"); returns its index."""
        return self.tabs.addTab(widget, title)

    def set_export_handler(self, handler) -> None:
        """``handler()`` runs when the user picks File > Export…"""
        self._export_handler = handler
        self._update_actions()

    def set_compress_handler(self, handler, available) -> None:
        """``handler()`` runs on File > Compress for a device…; ``available()`` says whether the saved
        project has a finished run to compress (call ``update_actions`` when that changes)."""
        self._compress_handler, self._compress_available = handler, available
        self._update_actions()

    # --- building ---------------------------------------------------------------------------------

    def _status_bar(self) -> None:
        bar = self.statusBar()
        self.busy_label = QLabel("")
        self.busy_bar = QProgressBar(maximumWidth=140, maximumHeight=14, textVisible=False)
        self.busy_bar.setRange(0, 0)
        self.summary = QLabel("", objectName="muted")
        self.cancel_button = QPushButton("Cancel",
                                         toolTip="Stop opening this network; the design stays as it was")
        self.cancel_button.clicked.connect(self.qdoc.cancel_open)
        bar.addPermanentWidget(self.busy_label)
        bar.addPermanentWidget(self.busy_bar)
        bar.addPermanentWidget(self.cancel_button)
        bar.addPermanentWidget(self.summary)
        self.busy_bar.hide()
        self.cancel_button.hide()

    def _action(self, text, slot, shortcut=None, tip="") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setStatusTip(tip)
        action.triggered.connect(slot)
        return action

    def _menus(self) -> None:
        self.new_action = self._action("New from gallery…", self.show_start, QKeySequence.New,
                                       "Pick a network from the gallery")
        self.open_action = self._action("Open project…", self.open_project, QKeySequence.Open)
        self.save_action = self._action("Save", self.files.save, QKeySequence.Save)
        self.save_as_action = self._action("Save as…", self.files.save_as, QKeySequence("Ctrl+Shift+S"))
        self.export_action = self._action("Export…", self._on_export, QKeySequence("Ctrl+E"),
                                          "Weights, ONNX and a standalone training script")
        self.compress_action = self._action("Compress for a device…", self._on_compress, None,
                                            "Prune and quantize a trained run to a speed or size goal; "
                                            "needs a saved project with a finished run")
        quit_action = self._action("Quit", self.close, QKeySequence.Quit)
        file_menu = self.menuBar().addMenu("&File")
        for a in (self.new_action, self.open_action, None, self.save_action, self.save_as_action, None,
                  self.export_action, self.compress_action, None, quit_action):
            file_menu.addSeparator() if a is None else file_menu.addAction(a)
        edit_menu = self.menuBar().addMenu("&Edit")
        a = self.design.actions
        for item in (a.undo, a.redo, None, a.change_input, a.replace_classifier, None, a.freeze, a.unfreeze,
                     a.freeze_until, a.set_lr, a.lr_preset, None, a.delete):
            edit_menu.addSeparator() if item is None else edit_menu.addAction(item)
        view_menu = self.menuBar().addMenu("&View")
        canvas = self.design.canvas
        view_menu.addAction(self._action("Fit graph", canvas.fit, QKeySequence("Ctrl+0")))
        view_menu.addAction(self._action("Zoom in", self._zoom_in, QKeySequence.ZoomIn))
        view_menu.addAction(self._action("Zoom out", self._zoom_out, QKeySequence.ZoomOut))
        view_menu.addSeparator()
        for action in self.design.view_actions():
            view_menu.addAction(action)
        help_menu = self.menuBar().addMenu("&Help")
        self.guide_action = self._action("User guide", self.show_guide, QKeySequence("F1"),
                                         "Open, edit, data, train, results and export, step by step")
        help_menu.addAction(self.guide_action)
        help_menu.addSeparator()
        help_menu.addAction(self._action("About NetSurgeon", self._about))

    def _connect(self) -> None:
        q = self.qdoc
        q.recipe_changed.connect(self._on_state)
        q.dirty_changed.connect(self._update_title)
        q.path_changed.connect(self._update_title)
        q.busy_changed.connect(self._on_busy)
        q.failed.connect(self._on_failed)
        q.open_failed.connect(self._on_open_failed)
        q.opened.connect(self._on_opened)
        q.notice.connect(self._status)
        self.start.open_model.connect(self.open_model)
        self.start.open_project.connect(self.open_project)
        self.files.recent_changed.connect(self.start.set_recent)
        self.files.message.connect(self._status)
        self._update_actions()

    # --- slots ------------------------------------------------------------------------------------

    @Slot()
    def show_start(self) -> None:
        self.tabs.setCurrentWidget(self.start)

    @Slot(str, str)
    def open_model(self, name: str, weights: str = "default") -> None:
        if not self.files.maybe_save("opening another network"):
            return
        try:
            recipe = Recipe.for_model(name, weights)
        except DesignerError as exc:
            feedback.show_error(self, "Could not open the model", str(exc))
            return
        if recipe.base.source == "builder":
            builders.trust(name)  # the user typed this builder themselves
        if _needs_download(recipe):  # it may take minutes, or wait on a network that is not there
            self.qdoc.open_recipe(recipe, f"Downloading the pretrained weights of {name} (needs internet)…",
                                  cancellable=True)
        else:
            self.qdoc.open_recipe(recipe)

    def _confirm_builder(self, spec: str) -> bool:
        return feedback.ask_trust_builder(self, spec)

    @Slot(str)
    def open_project(self, path: str = "") -> None:
        self.files.open_project(path if isinstance(path, str) else "")

    @Slot(object, str)
    def _on_open_failed(self, recipe: Recipe, message: str) -> None:
        base = recipe.base
        if base.weights != "default" or base.source not in GALLERY_SOURCES or _weights_local(recipe):
            feedback.show_error(self, "Could not open the model", message)
            return
        answer = feedback.ask_missing_weights(self, message)
        if answer == "random":
            self.qdoc.open_recipe(Recipe.for_model(recipe.base.name, "none"))
        elif answer == "file":
            path = feedback.weights_path(self, feedback.folder_for(self.qdoc.doc))
            if path:
                self.qdoc.open_recipe(Recipe.for_model(recipe.base.name, path))

    @Slot(str, str)
    def _on_failed(self, title: str, message: str) -> None:
        if title == "Please wait":
            self._status(message)
            return
        feedback.show_error(self, title, message)

    @Slot()
    def _on_opened(self) -> None:
        self.tabs.setCurrentWidget(self.design)
        self._update_actions()
        self._update_title()

    @Slot(object)
    def _on_state(self, state) -> None:
        report = state.report
        self.summary.setText(f"{state.recipe.base.name}  ·  {style.human_count(report.params_total)} params"
                             "  ·  "
                             f"{style.human_count(report.params_trainable)} trainable  ·  "
                             f"{report.flops / 1e9:.2f} G multiply-adds")
        self._update_actions()

    @Slot(bool, str)
    def _on_busy(self, busy: bool, what: str) -> None:
        self.busy_bar.setVisible(busy)
        self.busy_label.setText(what if busy else "")
        self.cancel_button.setVisible(busy and self.qdoc.can_cancel)
        self.setCursor(Qt.BusyCursor if busy else Qt.ArrowCursor)

    @Slot()
    def _update_title(self, *_) -> None:
        doc = self.qdoc.doc
        name = os.path.basename(doc.path) if doc.path else (doc.recipe.base.name if doc.recipe else "")
        self.setWindowTitle(f"{name}[*] — {APP_NAME}" if name else APP_NAME)
        self.setWindowModified(doc.dirty)

    def _update_actions(self) -> None:
        has = self.qdoc.state is not None
        for action in (self.save_action, self.save_as_action, self.export_action):
            action.setEnabled(has)
        available = self._compress_available
        self.compress_action.setEnabled(bool(has and self.qdoc.doc.path and available is not None
                                             and available()))

    def update_actions(self) -> None:
        self._update_actions()

    def _status(self, text: str) -> None:
        self.statusBar().showMessage(text, 5000)

    @Slot()
    def _zoom_in(self) -> None:
        self.design.canvas.view.zoom_by(1.25)

    @Slot()
    def _zoom_out(self) -> None:
        self.design.canvas.view.zoom_by(0.8)

    @Slot()
    def _on_export(self) -> None:
        if self._export_handler is not None:
            self._export_handler()
        else:
            self.export_requested.emit()
            feedback.show_info(self, "Export", "Export is not available in this build yet.")

    @Slot()
    def _on_compress(self) -> None:
        if self._compress_handler is not None and self.compress_action.isEnabled():
            self._compress_handler()

    @Slot()
    def show_guide(self) -> UserGuide:
        """Open the user guide beside the window (one at a time; it stays until closed)."""
        if self.guide is None:
            self.guide = UserGuide(self)
        self.guide.show()
        self.guide.raise_()
        return self.guide

    @Slot()
    def _about(self) -> None:
        feedback.show_info(self, "About NetSurgeon", ABOUT)

    # --- closing ----------------------------------------------------------------------------------

    def closeEvent(self, event) -> None:
        if not self.files.maybe_save("closing"):
            event.ignore()
            return
        self.qdoc.shutdown()
        self.files.shutdown()
        event.accept()


def _needs_download(recipe: Recipe) -> bool:
    """A gallery network's default weights that are not on this computer yet."""
    base = recipe.base
    return base.weights == "default" and base.source in GALLERY_SOURCES and not _weights_local(recipe)


def _weights_local(recipe: Recipe) -> bool:
    try:
        return model_info(recipe.base.name).weights_available
    except Exception:  # noqa: BLE001 - unknown name: let the original message speak
        return True
