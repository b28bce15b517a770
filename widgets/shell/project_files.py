"""Project files for the window: save / open, the unsaved-changes prompt, recent
projects (QSettings), autosave to a recovery file and recovery after a crash."""

from __future__ import annotations

import os

from PySide6.QtCore import QObject, QSettings, QTimer, Signal, Slot

from designer.app.document import PROJECT_SUFFIX
from designer.base.errors import DesignerError
from widgets.base import feedback
from widgets.base.qdocument import error_text

AUTOSAVE_MS = 60_000
MAX_RECENT = 8


class ProjectFiles(QObject):
    recent_changed = Signal(list)
    message = Signal(str)  # status-bar text

    def __init__(self, qdoc, window, settings: QSettings | None = None):
        super().__init__(window)
        self.qdoc, self.window = qdoc, window
        self.settings = settings or QSettings()
        self.autosave_timer = QTimer(self, interval=AUTOSAVE_MS)
        self.autosave_timer.timeout.connect(self.autosave)
        self.autosave_timer.start()
        qdoc.opened.connect(self._on_opened)

    @property
    def doc(self):
        return self.qdoc.doc

    # --- recent projects ---------------------------------------------------------------------------

    def recent(self) -> list[str]:
        value = self.settings.value("recent_projects", [])
        paths = [value] if isinstance(value, str) else list(value or [])
        return [p for p in paths if isinstance(p, str) and os.path.isfile(p)]

    def add_recent(self, path: str) -> None:
        path = os.path.abspath(path)
        paths = [path] + [p for p in self.recent() if p != path]
        self.settings.setValue("recent_projects", paths[:MAX_RECENT])
        self.recent_changed.emit(paths[:MAX_RECENT])

    @Slot()
    def _on_opened(self) -> None:
        if self.doc.path and os.path.abspath(self.doc.path) != os.path.abspath(self.doc.autosave_path):
            self.add_recent(self.doc.path)

    # --- save --------------------------------------------------------------------------------------------

    def save(self) -> bool:
        if self.doc.state is None:
            return False
        if not self.doc.path:
            return self.save_as()
        return self._save_to(self.doc.path)

    def save_as(self) -> bool:
        if self.doc.state is None:
            return False
        suggestion = self.doc.path or os.path.join(
            feedback.folder_for(self.doc), self.doc.recipe.base.name.replace(":", "_") + PROJECT_SUFFIX)
        path = feedback.save_project_path(self.window, suggestion)
        return bool(path) and self._save_to(path)

    def _save_to(self, path: str) -> bool:
        try:
            saved = self.doc.save(path)
        except (DesignerError, OSError) as exc:
            feedback.show_error(self.window, "Could not save the project", error_text(exc))
            return False
        self.doc.clear_autosave()
        self.add_recent(saved)
        self.message.emit(f"Saved {saved}")
        return True

    # --- losing changes ------------------------------------------------------------------------------------

    def maybe_save(self, what: str) -> bool:
        """True when it is fine to go on (saved, discarded, or nothing to lose)."""
        if not self.doc.dirty:
            return True
        answer = feedback.ask_save_changes(self.window, what)
        if answer == "save":
            return self.save()
        return answer == "discard"

    def open_project(self, path: str = "") -> None:
        if not self.maybe_save("opening another project"):
            return
        if not path:
            path = feedback.open_project_path(self.window, feedback.folder_for(self.doc))
        if path:
            self.qdoc.open_project(path)

    # --- autosave and recovery ----------------------------------------------------------------------------

    @Slot()
    def autosave(self) -> None:
        try:
            if self.doc.write_autosave() is None:
                self.doc.clear_autosave()
        except (DesignerError, OSError) as exc:
            self.message.emit(f"Autosave failed: {error_text(exc)}")

    def offer_recovery(self) -> bool:
        """Ask to recover an autosaved design left by a crash; True when recovery started."""
        if not self.doc.recovery_available():
            return False
        original = self.doc.recovery_origin()
        when = f" while editing {os.path.basename(original)}" if original else ""
        if not feedback.ask_recover(self.window, when):
            self.doc.clear_autosave()
            return False
        self.qdoc.recover()
        return True

    def shutdown(self) -> None:
        """Clean exit: the recovery file is no longer needed."""
        self.autosave_timer.stop()
        self.doc.clear_autosave()
