"""What the Data, Training, Results and Export views share, around the document.

The document (``designer.app.document.Document``) stays the single source of truth:
data settings live in ``settings["data"]``, training options (including augmentation
and class weights) in ``settings["training"]``, the class names in ``"classes"``
and the run folders in ``"runs"``, so they are saved with the project and read by
the CLI. The only thing kept here is the scanned ``DatasetSplit``: computed from
``settings["data"]``, like the document's built design is computed from its recipe.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from designer.app.jobs import DesignSource
from designer.app.shipping import project_runs
from designer.base.errors import DesignerError
from designer.train.options import TrainOptions

DATA_KEYS = ("root", "val_root", "val_fraction", "seed")


def as_qdoc(document, parent=None):
    """A ``QtDocument`` for ``document`` (which may already be one)."""
    from widgets.base.qdocument import QtDocument

    return document if isinstance(document, QtDocument) else QtDocument(document, parent)


class TrainingContext(QObject):
    split_changed = Signal(object)  # DatasetSplit | None
    runs_changed = Signal()
    training_changed = Signal()  # settings["training"] changed
    message = Signal(str)  # status text for the user

    def __init__(self, document, parent=None):
        super().__init__(parent)
        self.qdoc = as_qdoc(document, self)
        self.split = None
        self._export_choices: dict = {}  # project path -> the Export dialog's last choices
        self.qdoc.settings_changed.connect(self._on_settings_changed)

    @property
    def doc(self):
        return self.qdoc.doc

    # --- settings ---------------------------------------------------------------------------

    def data_settings(self) -> dict:
        return dict(self.doc.settings.get("data") or {})

    def training_settings(self) -> dict:
        return dict(self.doc.settings.get("training") or {})

    def update_data(self, **values) -> None:
        self.doc.set_settings("data", {**self.data_settings(), **values})

    def update_training(self, **values) -> None:
        self.doc.set_settings("training", {**self.training_settings(), **values})

    def options(self, **overrides):
        """The ``TrainOptions`` the settings describe (DesignerError if one is invalid)."""
        return TrainOptions.from_dict({**self.training_settings(), **overrides})

    @Slot(str)
    def _on_settings_changed(self, section: str) -> None:
        if section == "training":
            self.training_changed.emit()
        elif section == "runs":
            self.runs_changed.emit()

    # --- data ----------------------------------------------------------------------------------

    def data_key(self) -> tuple:
        data = self.data_settings()
        return tuple(data.get(k) for k in DATA_KEYS)

    def set_split(self, split) -> None:
        """A finished scan: keep it and record its class names in the project."""
        self.split = split
        if split is not None and list(split.classes) != self.doc.classes:
            self.doc.set_settings("classes", list(split.classes))
        self.split_changed.emit(split)

    def require_split(self):
        if self.split is None:
            raise DesignerError("Load the training images first.",
                                hint="On the Data tab, choose an image folder and press Load.")
        return self.split

    # --- design -------------------------------------------------------------------------------

    def design_source(self) -> DesignSource:
        return DesignSource.of(self.doc.design)

    def class_mismatch(self) -> str:
        """A message when the network's outputs do not match the data's classes, else ""."""
        design, split = self.doc.design, self.split
        n = getattr(design, "num_classes", None)
        if design is None or split is None or n is None or n == len(split.classes):
            return ""
        return (f"The network has {n} outputs but the data has {len(split.classes)} classes. "
                f"Replace the classifier for {len(split.classes)} classes first.")

    # --- runs ----------------------------------------------------------------------------------

    def runs_dir(self) -> Path:
        """``runs/`` beside the project file, or in the app's data folder for an unsaved design."""
        if self.doc.path:
            return Path(self.doc.path).resolve().parent / "runs"
        return Path(self.doc.data_dir) / "runs"

    def add_run(self, run_dir) -> None:
        path = str(Path(run_dir).resolve())
        runs = list(self.doc.settings.get("runs") or [])
        if path not in runs:
            self.doc.set_settings("runs", runs + [path])
        else:
            self.runs_changed.emit()

    def runs(self) -> list:
        """Every run of this project: those listed in it and those in its runs folder, oldest first."""
        return project_runs(self.runs_dir(), self.doc.settings.get("runs") or [])

    def notify_runs(self) -> None:
        self.runs_changed.emit()

    # --- export ----------------------------------------------------------------------------------

    def export_choices(self) -> dict:
        """What the Export dialog was last set to for this project in this session ({} if never)."""
        return dict(self._export_choices.get(self.doc.path, {}))

    def remember_export_choices(self, **choices) -> None:
        self._export_choices[self.doc.path] = dict(choices)
