"""The Data tab: choose the images, split them, see the class counts, preview and augment.

Scanning (every file is checked) and the previews run in worker threads, so a
folder of 100,000 images never freezes the window. The folder and split settings
live in the document's ``settings["data"]``; the scanned split in the ``TrainingContext``.
"""

from __future__ import annotations

from types import SimpleNamespace

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from designer.app.jobs import preview_job, scan_job
from designer.data.folders import folders_deciding_split
from designer.model.ops import ReplaceClassifier
from widgets.base import feedback
from widgets.base import questions as training_dialogs
from widgets.base.context import DATA_KEYS
from widgets.base.panel_job import PanelJob
from widgets.base.pictures import PictureLabel
from widgets.data.audit import CheckMyData
from widgets.data.augment import AugmentForm
from widgets.data.charts import ClassCountChart

PREVIEW_DELAY_MS = 250
PREVIEW_COUNT = 16
TIPS = {
    "root": "A folder with one sub-folder of images per class (cats/, dogs/, …). A folder that holds "
            "train/ and val/ (or test/) sub-folders is used as it is split.",
    "val_root": "A second folder, laid out like the first, whose images are used only to measure accuracy.",
    "val_fraction": "The share of each class kept aside to measure accuracy on images the network never "
                    "trains on. 20 % is typical.",
    "seed": "Fixes which images go to validation, so the split is the same every time.",
}


class DataPanel(QWidget):
    def __init__(self, context, parent=None):
        super().__init__(parent)
        self.context = context
        self.scan_runner = PanelJob(self, "scan", on_progress=self._on_scan_progress,
                                    on_done=self._on_scanned, on_failed=self._on_scan_failed,
                                    on_cancelled=self._on_scan_cancelled, on_finished=self._update_enabled,
                                    error_title="Cannot load the images")
        self.preview_runner = PanelJob(self, "preview", on_done=self._on_preview)
        self.check = CheckMyData(context, lambda: self.scan(force=True), self)
        self.preview_timer = QTimer(self, singleShot=True, interval=PREVIEW_DELAY_MS)
        self.preview_seed = 0
        self._requested = None  # data key of the last scan started
        self._build()
        self._connect()
        self.load_settings()
        self._show_split(context.split)

    # --- building -------------------------------------------------------------------------------

    def _build(self) -> None:
        left = QVBoxLayout()
        left.addWidget(self._source_box())
        aug_box = QGroupBox("Augmentation (training only)")
        self.augment = AugmentForm(self.context)
        self.shuffle_button = QPushButton("Show other images")
        self.shuffle_button.setToolTip("Preview a different random set of images.")
        box_layout = QVBoxLayout(aug_box)
        box_layout.addWidget(self.augment)
        box_layout.addWidget(self.shuffle_button)
        left.addWidget(aug_box)
        left.addStretch(1)
        side = QWidget()
        side.setLayout(left)
        scroll = QScrollArea(widgetResizable=True)
        scroll.setWidget(side)
        scroll.setMinimumWidth(360)
        scroll.setMaximumWidth(460)
        layout = QHBoxLayout(self)
        layout.addWidget(scroll)
        layout.addWidget(self._right_side(), 1)

    def _source_box(self) -> QGroupBox:
        box = QGroupBox("Images")
        self.one_folder = QRadioButton("One folder, split here")
        self.two_folders = QRadioButton("Separate training and validation folders")
        self.layout_group = QButtonGroup(self)
        self.layout_group.addButton(self.one_folder)
        self.layout_group.addButton(self.two_folders)
        self.root_edit, root_row = self._folder_row("Choose the image folder", TIPS["root"])
        self.val_edit, val_row = self._folder_row("Choose the validation folder", TIPS["val_root"])
        self.val_fraction = QDoubleSpinBox(suffix=" %", decimals=0, toolTip=TIPS["val_fraction"])
        self.val_fraction.setRange(0, 90)
        self.seed = QSpinBox(toolTip=TIPS["seed"])
        self.seed.setRange(0, 2**31 - 1)
        self.load_button = QPushButton("Load images", objectName="primary")
        self.cancel_button = QPushButton("Cancel")
        self.scan_status = QLabel("", wordWrap=True, objectName="muted")
        self.split_note = QLabel("", wordWrap=True, objectName="muted")  # why the split controls are off
        self.split_note.hide()
        form = QFormLayout(box)
        form.addRow(self.one_folder)
        form.addRow(self.two_folders)
        form.addRow("Folder", root_row)
        form.addRow(self.split_note)
        form.addRow("Validation folder", val_row)
        form.addRow("Validation share", self.val_fraction)
        form.addRow("Split seed", self.seed)
        buttons = QHBoxLayout()
        buttons.addWidget(self.load_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.check.button)
        form.addRow(buttons)
        form.addRow(self.scan_status)
        form.addRow(self.check.status)
        return box

    def _folder_row(self, title: str, tip: str):
        edit = QLineEdit(toolTip=tip, placeholderText="Choose a folder…")
        browse = QPushButton("Browse…")
        browse.setProperty("title", title)
        browse.setProperty("edit", edit)
        browse.clicked.connect(self._on_browse)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(edit, 1)
        row.addWidget(browse)
        return edit, row

    def _right_side(self) -> QWidget:
        self.summary = QLabel("No images loaded yet.", objectName="pageTitle", wordWrap=True)
        self.warnings = QLabel("", wordWrap=True)
        self.warnings.setStyleSheet("color: #b45309;")
        self.mismatch_label = QLabel("", wordWrap=True)
        self.mismatch_label.setStyleSheet("color: #b91c1c;")
        self.fix_button = QPushButton("", objectName="fix")
        self.chart = ClassCountChart()
        self.plain_preview = PictureLabel("Images as the network sees them")
        self.aug_preview = PictureLabel("Augmented images appear here when augmentation is on")
        for picture in (self.plain_preview, self.aug_preview):
            picture.setMinimumSize(140, 110)  # the window must fit a 700-pixel-high screen
        previews = QSplitter(Qt.Horizontal)
        for title, picture in (("As the network sees them", self.plain_preview),
                               ("With augmentation (training)", self.aug_preview)):
            w = QWidget()
            wl = QVBoxLayout(w)
            wl.setContentsMargins(0, 0, 0, 0)
            wl.addWidget(QLabel(title, objectName="sectionTitle"))
            wl.addWidget(picture, 1)
            previews.addWidget(w)
        self.skipped = QListWidget()
        self.skipped.setToolTip("Files that are not readable images. They are left out of training.")
        self.skipped.setWordWrap(True)  # the reason was cut off behind a sideways scroll bar
        self.skipped_title = QLabel("Skipped files", objectName="sectionTitle")
        bottom = QSplitter(Qt.Vertical)
        top = QWidget()
        tl = QVBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        for w in (self.summary, self.warnings, self.mismatch_label, self.fix_button):
            tl.addWidget(w)
        tl.addWidget(self.chart, 1)
        skipped = QWidget()
        sl = QVBoxLayout(skipped)
        sl.setContentsMargins(0, 0, 0, 0)
        sl.addWidget(self.skipped_title)
        sl.addWidget(self.skipped)
        for w, stretch in ((top, 3), (previews, 4), (skipped, 1)):
            bottom.addWidget(w)
            bottom.setStretchFactor(bottom.count() - 1, stretch)
        return bottom

    def _connect(self) -> None:
        self.load_button.clicked.connect(self.load_images)
        self.cancel_button.clicked.connect(self.scan_runner.cancel)
        self.two_folders.toggled.connect(self._update_enabled)
        self.root_edit.textChanged.connect(self._update_enabled)
        self.preview_timer.timeout.connect(self._start_preview)
        self.augment.edited.connect(self.schedule_preview)
        self.shuffle_button.clicked.connect(self._on_shuffle)
        self.fix_button.clicked.connect(self._fix_classifier)
        self.context.split_changed.connect(self._show_split)
        self.context.qdoc.settings_changed.connect(self._on_settings_changed)
        self.context.qdoc.recipe_changed.connect(self._on_recipe_changed)

    # --- settings <-> fields ----------------------------------------------------------------------

    def load_settings(self) -> None:
        data = self.context.data_settings()
        self.root_edit.setText(data.get("root") or "")
        self.val_edit.setText(data.get("val_root") or "")
        (self.two_folders if data.get("val_root") else self.one_folder).setChecked(True)
        self.val_fraction.setValue(round(100 * float(data.get("val_fraction", 0.2))))
        self.seed.setValue(int(data.get("seed", 0)))
        self._update_enabled()

    def _fields(self) -> dict:
        return {"root": self.root_edit.text().strip(),
                "val_root": self.val_edit.text().strip() if self._two_folders_used() else "",
                "val_fraction": self.val_fraction.value() / 100, "seed": self.seed.value()}

    def _two_folders_used(self) -> bool:
        """A second folder counts only where the first is not split into train/ and val/ already."""
        return self.two_folders.isChecked() and not folders_deciding_split(self.root_edit.text())

    @Slot()
    def _update_enabled(self, *_) -> None:
        two = self.two_folders.isChecked()
        decided = folders_deciding_split(self.root_edit.text())
        # A folder with train/ and val/ inside is split already: the split controls would do nothing.
        self.one_folder.setEnabled(not decided)
        self.two_folders.setEnabled(not decided)
        self.val_edit.setEnabled(two and not decided)
        self.val_fraction.setEnabled(not two and not decided)
        self.split_note.setVisible(bool(decided))
        if decided:
            self.split_note.setText(f"The folder's {decided[0]}/ and {decided[1]}/ sub-folders decide the "
                                    "split, so it is not split here.")
        scanning = self.scan_runner.running
        self.load_button.setEnabled(not scanning)
        self.cancel_button.setVisible(scanning)

    @Slot(str)
    def _on_settings_changed(self, section: str) -> None:
        if section != "data":
            return
        self.load_settings()
        data = self.context.data_settings()
        if data.get("root") and self.context.data_key() != self._requested:
            self.scan()  # a project was opened: load its images

    # --- scanning --------------------------------------------------------------------------------------

    @Slot()
    def load_images(self) -> None:
        """Store the folder and split settings, then scan (the Load button)."""
        fields = self._fields()
        if not fields["root"]:
            feedback.show_error(self, "No folder chosen", "Choose an image folder first: one sub-folder "
                                                          "of images per class.")
            return
        self._requested = tuple(fields.get(k) for k in DATA_KEYS)  # the settings echo must not scan again
        self.context.update_data(**fields)
        self.scan(force=True)

    def scan(self, force: bool = False) -> None:
        key, data = self.context.data_key(), self.context.data_settings()
        if not force and key == self._requested:
            return
        self._requested = key
        self.scan_status.setText("Checking the image files…")  # a scan still running is cancelled first
        self.scan_runner.start(scan_job, data)
        self._update_enabled()

    @Slot(object)
    def _on_scan_progress(self, progress) -> None:
        self.scan_status.setText(progress.text)

    @Slot()
    def _on_scan_cancelled(self) -> None:
        self.scan_status.setText("Loading cancelled.")

    @Slot(object)
    def _on_scanned(self, split) -> None:
        self.scan_status.setText(f"Loaded from {split.root}.")
        self.context.set_split(split)

    @Slot(object)
    def _on_scan_failed(self, failure) -> None:
        self.scan_status.setText(failure.text)
        self.context.set_split(None)
        self.summary.setText("The images could not be loaded.")

    @Slot()
    def _on_browse(self) -> None:
        button = self.sender()
        edit = button.property("edit")
        start = feedback.folder_for(self.context.doc, edit.text() or self.root_edit.text())
        path = training_dialogs.choose_folder(self, button.property("title"), start)
        if path:
            edit.setText(path)

    # --- showing the split ----------------------------------------------------------------------------

    @Slot(object)
    def _show_split(self, split) -> None:
        self.chart.set_split(split)
        self.skipped.clear()
        if split is None:
            self.warnings.setText("")
            self.plain_preview.set_array(None)
            self.aug_preview.set_array(None)
            self._update_mismatch()
            return
        test = f" / {len(split.test):,} test" if split.test else ""
        self.summary.setText(f"{len(split.classes)} classes · {len(split.train):,} training / "
                             f"{len(split.val):,} validation{test} images")
        self.warnings.setText("\n".join(f"⚠ {w}" for w in split.warnings))
        for path, reason in split.skipped:  # long paths wrap (word wrap), the tooltip repeats it whole
            item = QListWidgetItem(f"{path} — {reason}")
            item.setToolTip(item.text())
            self.skipped.addItem(item)
        self.skipped_title.setText(f"Skipped files ({len(split.skipped)})")
        self._update_mismatch()
        self.schedule_preview()

    def _update_mismatch(self) -> None:
        text = self.context.class_mismatch()
        self.mismatch_label.setText(text)
        n = len(self.context.split.classes) if self.context.split is not None else 0
        self.fix_button.setText(f"Replace the classifier for {n} classes")
        self.fix_button.setVisible(bool(text) and self.context.doc.recipe is not None)

    @Slot()
    def _fix_classifier(self) -> None:
        if self.context.split is not None:
            self.context.qdoc.edit(ReplaceClassifier(len(self.context.split.classes)))

    @Slot(object)
    def _on_recipe_changed(self, _state) -> None:
        self._update_mismatch()
        self.schedule_preview()

    # --- previews ----------------------------------------------------------------------------------------

    @Slot()
    def schedule_preview(self) -> None:
        self.preview_timer.start()

    @Slot()
    def _on_shuffle(self) -> None:
        self.preview_seed += 1
        self.schedule_preview()

    def _shape(self):
        design = self.context.doc.design
        if design is None:
            return SimpleNamespace(input_shape=(3, 128, 128), mean=(0.5,) * 3, std=(0.5,) * 3,
                                   replicate_grey=False)
        return SimpleNamespace(input_shape=tuple(design.input_shape), mean=tuple(design.mean),
                               std=tuple(design.std),
                               replicate_grey=bool(getattr(design, "replicate_grey", 0)))

    @Slot()
    def _start_preview(self) -> None:
        split = self.context.split
        if split is None or not split.train:
            return
        self.preview_runner.start(preview_job, list(split.train), self._shape(), self.augment.augment(),
                                  PREVIEW_COUNT, self.preview_seed)

    @Slot(object)
    def _on_preview(self, grids) -> None:
        plain, augmented = grids
        self.plain_preview.set_array(plain)
        self.aug_preview.set_array(augmented)

    def shutdown(self) -> None:
        self.preview_timer.stop()
        self.scan_runner.shutdown()
        self.preview_runner.shutdown()
