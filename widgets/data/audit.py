""""Check my data": the audit's findings as thumbnails, one group per kind of issue, worst first, each
with its given and suggested label; the keyboard decides.

- R relabels the image to the suggested class, X leaves it out, K keeps it as it is (and undoes a
  decision); arrow keys move between images.
- Decisions go into the project's ``data["overrides"]`` (``designer.data.overrides``), which every scan
  and training run applies. Nothing on disk is moved or deleted.
- "Accept all suggestions" adds the audit's suggested fixes (``designer.audit.fixes``) to the
  decisions; "Retrain on the cleaned data" loads the images again with the decisions and starts the
  default Train; the run notes which audit it used (``designer.app.audit.run_record``).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, QSize, Qt, Signal, Slot
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from designer.app.audit import audit_job, audit_record, move_job, undo_move_job
from designer.audit.fixes import merge_decisions, suggested_fixes
from designer.data.images import load_image
from designer.data.split import key_for
from widgets.base.panel_job import PanelJob
from widgets.base.pictures import square_pixmap
from widgets.base.screen import resize_to_fit

THUMB = 72
MAX_ITEMS = 300  # per group: thumbnails are decoded on the GUI thread, so only the worst few hundred
PATH_ROLE = Qt.UserRole
SUGGESTED_ROLE = Qt.UserRole + 1
ACTION_KEYS = {Qt.Key_R: "relabel", Qt.Key_X: "exclude", Qt.Key_Delete: "exclude", Qt.Key_K: "keep"}


def _groups(report) -> list[tuple[str, list[tuple[str, str, str]]]]:
    """(title, [(path, caption, suggested label)]) per kind of issue, each sorted worst first."""
    issues = [(i.path, f"{i.given} → {i.suggested}?", i.suggested)
              for i in sorted(report.label_issues, key=lambda i: -i.score)]
    dups = [(p, ("leak: " if g.crosses_split else "") + f"copy {k + 1}/{len(g.paths)}", "")
            for g in report.duplicates for k, p in enumerate(g.paths)]
    outl = [(o.path, f"{o.given}, unlike its class", "") for o in report.outliers]
    odd = [(o.path, ", ".join(o.problems), "") for o in report.odd_images]
    return [("Possibly wrong labels", issues), ("Duplicates", dups), ("Unlike their class", outl),
            ("Odd images", odd)]


def _thumbnail(path: str) -> QIcon:
    try:
        img = load_image(path).convert("RGB")
        img.thumbnail((THUMB * 2, THUMB * 2))
        array = np.asarray(img)
    except Exception:  # noqa: BLE001 -- an unreadable file shows as a blank tile, it is listed anyway
        array = None
    return QIcon(square_pixmap(array, THUMB))


class AuditReview(QWidget):
    """Shows an ``AuditReport``; emits ``decisions_changed`` with the overrides list after each key."""

    decisions_changed = Signal(list)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.report = None
        self.decisions: dict[str, dict] = {}  # key (path relative to the data folder) -> override entry
        self.kind = QComboBox()
        self.summary = QLabel(wordWrap=True, objectName="muted")
        self.help = QLabel("R: relabel to the suggestion · X: leave out · K: keep · arrows: next image. "
                           "Nothing on disk is changed.", wordWrap=True, objectName="muted")
        self.view = QListWidget(viewMode=QListWidget.IconMode, resizeMode=QListWidget.Adjust,
                                movement=QListWidget.Static, iconSize=QSize(THUMB, THUMB), wordWrap=True)
        self.view.setGridSize(QSize(THUMB + 48, THUMB + 44))
        self.view.installEventFilter(self)
        layout = QVBoxLayout(self)
        for w in (self.summary, self.kind, self.view, self.help):
            layout.addWidget(w)
        self.kind.currentIndexChanged.connect(self._show_group)

    def set_report(self, report, overrides: list[dict] | None = None) -> None:
        self.report = report
        self.decisions = {o["path"]: dict(o) for o in overrides or []}
        self.summary.setText(" ".join(report.summary_lines()))
        self.kind.blockSignals(True)
        self.kind.clear()
        for title, items in _groups(report):
            self.kind.addItem(f"{title} ({len(items)})")
        self.kind.blockSignals(False)
        self._show_group(0)

    @Slot(int)
    def _show_group(self, index: int) -> None:
        self.view.clear()
        if self.report is None or index < 0:
            return
        for path, caption, suggested in _groups(self.report)[index][1][:MAX_ITEMS]:
            item = QListWidgetItem(_thumbnail(path), "")
            item.setData(PATH_ROLE, path)
            item.setData(SUGGESTED_ROLE, suggested)
            item.setToolTip(path)
            self._caption(item, caption)
            self.view.addItem(item)
        if self.view.count():
            self.view.setCurrentRow(0)

    def _caption(self, item: QListWidgetItem, caption: str | None = None) -> None:
        caption = caption if caption is not None else item.data(Qt.UserRole + 2)
        item.setData(Qt.UserRole + 2, caption)
        entry = self.decisions.get(key_for(item.data(PATH_ROLE), self.report.root))
        mark = "" if entry is None else (
            "\nleft out" if entry["action"] == "exclude" else f"\n→ {entry['label']}")
        item.setText(caption + mark)

    def accept_suggestions(self) -> int:
        """Add every suggested fix to the decisions (the ones already made stay); how many were new."""
        if self.report is None:
            return 0
        before = len(self.decisions)
        merged = merge_decisions(list(self.decisions.values()), suggested_fixes(self.report))
        self.decisions = {o["path"]: o for o in merged}
        for row in range(self.view.count()):
            self._caption(self.view.item(row))
        self.decisions_changed.emit(list(self.decisions.values()))
        return len(self.decisions) - before

    def eventFilter(self, obj, event) -> bool:
        if obj is self.view and event.type() == event.Type.KeyPress and event.key() in ACTION_KEYS:
            self.decide(ACTION_KEYS[event.key()])
            return True
        return super().eventFilter(obj, event)

    def decide(self, action: str) -> None:
        """Apply ``action`` (relabel / exclude / keep) to the current image, then move to the next."""
        item = self.view.currentItem()
        if item is None:
            return
        key = key_for(item.data(PATH_ROLE), self.report.root)
        suggested = item.data(SUGGESTED_ROLE)
        if action == "keep" or (action == "relabel" and not suggested):
            self.decisions.pop(key, None)  # a duplicate or outlier has no suggestion: R keeps it
        elif action == "relabel":
            self.decisions[key] = {"path": key, "action": "relabel", "label": suggested}
        else:
            self.decisions[key] = {"path": key, "action": "exclude"}
        self._caption(item)
        self.view.setCurrentRow(min(self.view.currentRow() + 1, self.view.count() - 1))
        self.decisions_changed.emit(list(self.decisions.values()))


class CheckMyData(QObject):
    """The Data tab's "Check my data" button: runs the audit in a worker thread on the loaded images and
    opens the review; decisions are saved in the project and the images are loaded again with them.
    ``retrain_requested``: the review's retrain button, once the images are loaded with the decisions."""

    retrain_requested = Signal()

    def __init__(self, context, rescan, parent: QWidget):
        super().__init__(parent)
        self.context, self.rescan, self.parent_widget = context, rescan, parent
        self.runner = PanelJob(self, "audit", on_progress=self._on_progress, on_done=self._on_result,
                               on_failed=self._on_failed, error_title="Cannot check the data")
        self.mover = PanelJob(self, "audit-move", on_progress=self._on_progress, on_done=self._on_moved,
                              on_failed=self._on_failed)  # moving left-out files, only when asked
        self._moving_verb = "Moved"
        self.button = QPushButton("Check my data", toolTip="Find images that may be mislabelled, copies "
                                  "that leak into validation, outliers and odd images. Nothing on disk is "
                                  "changed.")
        self.status = QLabel("", wordWrap=True, objectName="muted")
        self.dialog: QDialog | None = None
        self.review: AuditReview | None = None
        self._changed = False  # decisions made since the review opened: load the images again on close
        self._retrain_pending = False  # retrain once the images are loaded again with the decisions
        self.button.clicked.connect(self.start)
        context.split_changed.connect(self._on_split_changed)

    @Slot()
    def start(self) -> None:
        split, recipe = self.context.split, self.context.doc.recipe
        if split is None or recipe is None:
            self.status.setText("Open a network and load the images first.")
            return
        cache = self.context.runs_dir() / ".features"
        self.runner.start(audit_job, recipe, split, self.context.data_settings(),
                          self.context.training_settings(), cache)

    @Slot(object)
    def _on_progress(self, progress) -> None:
        self.status.setText(progress.text)

    @Slot(object)
    def _on_failed(self, failure) -> None:
        self.status.setText(failure.text)

    @Slot(object)
    def _on_result(self, report) -> None:
        if report is None:
            return
        self.status.setText(" ".join(report.summary_lines()[:2]))
        self.context.update_data(audit=audit_record(report))  # the runs trained on its decisions name it
        if self.dialog is None:
            self._make_dialog()
        self.review.set_report(report, self.context.data_settings().get("overrides", []))
        self.dialog.show()
        self._changed = False

    def _make_dialog(self) -> None:
        self.dialog = QDialog(self.parent_widget, windowTitle="Check my data")
        resize_to_fit(self.dialog, 900, 640)
        self.review = AuditReview(self.dialog)
        accept = QPushButton("Accept all suggestions", toolTip="Leave out every wrong-label suspect (R "
                             "relabels one you have looked at) and the validation copies of training images; "
                             "your own decisions stay.")
        retrain = QPushButton("Retrain on the cleaned data", toolTip="Load the images again with these "
                              "decisions and start Train; the run notes this audit.")
        move = QPushButton("Move left-out files…", toolTip="Move the images you left out into a folder "
                           "outside the data folder, with an undo log there. Not needed: leaving out is "
                           "enough.")
        undo = QPushButton("Put moved files back…", toolTip="Choose the netsurgeon-moves.json log of a move.")
        buttons = QHBoxLayout()
        for button in (accept, move, undo):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(retrain)
        move.clicked.connect(self.move_files)
        undo.clicked.connect(self.undo_move)
        layout = QVBoxLayout(self.dialog)
        layout.addWidget(self.review)
        layout.addLayout(buttons)
        accept.clicked.connect(self.review.accept_suggestions)
        retrain.clicked.connect(self.retrain)
        self.review.decisions_changed.connect(self._on_decisions)
        self.dialog.finished.connect(self._on_closed)

    @Slot()
    def move_files(self) -> None:
        """Ask for a folder, then move the left-out images there (``designer.audit.moves``)."""
        data = self.context.data_settings()
        excluded = [o for o in data.get("overrides", []) if o.get("action") == "exclude"]
        split = self.context.split
        root = split.root if split is not None else data.get("root", "")
        if not excluded or not root:
            self.status.setText("No image is left out, so there is nothing to move.")
            return
        dest = QFileDialog.getExistingDirectory(self.dialog, "Move the left-out images into (outside the "
                                                "data folder)")
        if dest:
            self._moving_verb = "Moved"
            self.mover.start(move_job, root, excluded, dest)

    @Slot()
    def undo_move(self) -> None:
        """Ask for a move's log, then put its images back."""
        log, _ = QFileDialog.getOpenFileName(self.dialog, "The log of the move to undo", "",
                                             "Move log (netsurgeon-moves.json)")
        if log:
            self._moving_verb = "Put back"
            self.mover.start(undo_move_job, log)

    @Slot(object)
    def _on_moved(self, result) -> None:
        self.status.setText(result.sentence(self._moving_verb))
        self.rescan()  # the folder changed: load the images again

    @Slot()
    def retrain(self) -> None:
        """Load the images again with the decisions; ``retrain_requested`` once they are loaded."""
        self._retrain_pending, self._changed = True, False
        if self.dialog is not None:
            self.dialog.hide()
        self.status.setText("Loading the images with your decisions, then training…")
        self.rescan()

    @Slot(object)
    def _on_split_changed(self, split) -> None:
        if self._retrain_pending and split is not None:
            self._retrain_pending = False
            self.retrain_requested.emit()

    @Slot(list)
    def _on_decisions(self, overrides: list) -> None:
        self.context.update_data(overrides=overrides)
        self._changed = True

    @Slot()
    def _on_closed(self) -> None:
        if self._changed:
            self.rescan()  # training uses the loaded split: load it again with the decisions
