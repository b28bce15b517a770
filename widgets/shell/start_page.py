"""Start page: the built-in default in one click, the network gallery, other sources, recent projects."""

from __future__ import annotations

import os

from PySide6.QtCore import QAbstractTableModel, QSortFilterProxyModel, Qt, Signal, Slot
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from designer.zoo.families import DEFAULT_MODEL
from designer.zoo.sources import CATEGORIES, GALLERY_SOURCES, list_models
from widgets.base import feedback

COLUMNS = ("Network", "Source", "Family", "Category", "Parameters", "GFLOPs", "ImageNet top-1", "Input",
           "Weights")
NUMBERS = range(4, 8)  # right-aligned columns
WEIGHTS = 8
ELIDED = (0, 2)  # Network and Family: timm's longest names do not fit their column
WEIGHT_TEXTS = {True: "✓ on this computer", False: "download on first use"}
SORT_ROLE = Qt.UserRole + 1
CATEGORY_FILTERS = ("All categories", *CATEGORIES)
SOURCE_FILTERS = ("All libraries", *GALLERY_SOURCES)
# Widths that fit the longest values: measuring 1,500+ rows to size the columns would cost seconds.
# A column is never narrower than its title (measured, with room for the sort arrow).
COLUMN_WIDTHS = (300, 90, 110, 110, 90, 70, 110, 50)


def gallery() -> list:
    return list_models()


class GalleryModel(QAbstractTableModel):
    def __init__(self, infos, parent=None):
        super().__init__(parent)
        self.infos = list(infos)

    def rowCount(self, parent=None) -> int:
        return 0 if parent is not None and parent.isValid() else len(self.infos)

    def columnCount(self, parent=None) -> int:
        return len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.DisplayRole):
        if orientation == Qt.Horizontal and role == Qt.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index, role=Qt.DisplayRole):
        info = self.infos[index.row()]
        col = index.column()
        if role == Qt.DisplayRole:
            return self._text(info, col)
        if role == SORT_ROLE:
            return self._key(info, col)
        if role == Qt.TextAlignmentRole and col in NUMBERS:
            return int(Qt.AlignRight | Qt.AlignVCenter)
        if role == Qt.ToolTipRole and col in ELIDED:  # long names end in "…" in their column
            return self._text(info, col)
        if role == Qt.ToolTipRole and col == WEIGHTS:
            return ("Pretrained weights are on this computer" if info.weights_available
                    else "Pretrained weights are downloaded on first use (needs internet)")
        if role == Qt.ForegroundRole and col == WEIGHTS:
            return QColor("#15803d") if info.weights_available else QColor("#6b7280")
        if role == Qt.UserRole:
            return info
        return None

    @staticmethod
    def _text(info, col: int) -> str:
        return (info.name, info.source, info.family, info.category,
                f"{info.params / 1e6:.1f} M" if info.params else "–",
                "–" if info.gflops is None else f"{info.gflops:.2f}",
                "–" if info.top1 is None else f"{info.top1:.1f} %", f"{info.input_size}",
                WEIGHT_TEXTS[info.weights_available])[col]

    @staticmethod
    def _key(info, col: int):
        """The value a column sorts by; None where it is unknown ("–"), which sorts last."""
        return (info.name, info.source, info.family, info.category, info.params or None, info.gflops,
                info.top1, info.input_size, int(info.weights_available))[col]


class GalleryFilter(QSortFilterProxyModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.text, self.category, self.source, self.local_only = "", "", "", False
        self.setSortRole(SORT_ROLE)

    def set_filter(self, text: str, category: str, local_only: bool, source: str = "") -> None:
        if hasattr(self, "beginFilterChange"):  # Qt >= 6.10; invalidateFilter is deprecated there
            self.beginFilterChange()
            self._set(text, category, local_only, source)
            self.endFilterChange()
        else:
            self._set(text, category, local_only, source)
            self.invalidateFilter()

    def _set(self, text: str, category: str, local_only: bool, source: str) -> None:
        self.text, self.category = text.strip().lower(), category
        self.local_only, self.source = local_only, source

    def lessThan(self, left, right) -> bool:
        """Unknown values ("–") go last whichever way the column is sorted: a network without a
        published top-1 is not the worst one, nor the best."""
        a, b = left.data(SORT_ROLE), right.data(SORT_ROLE)
        if a is None or b is None:
            if (a is None) == (b is None):
                return False
            # a descending sort reverses the order lessThan gives, so unknowns must then compare lowest
            return (b is None) if self.sortOrder() == Qt.AscendingOrder else (a is None)
        return a < b

    def filterAcceptsRow(self, row: int, parent) -> bool:
        info = self.sourceModel().infos[row]
        return ((not self.text or self.text in info.name.lower() or self.text in info.family.lower())
                and (not self.category or info.category == self.category)
                and (not self.source or info.source == self.source)
                and (not self.local_only or info.weights_available))


class GalleryTable(QTableView):
    """The gallery's table; when the filter leaves no row, it says so where the rows would be."""

    empty_text = ""

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        if self.model() is not None and self.model().rowCount() == 0 and self.empty_text:
            painter = QPainter(self.viewport())
            painter.setPen(QColor("#6b7280"))
            painter.drawText(self.viewport().rect().adjusted(16, 16, -16, -16),
                             Qt.AlignCenter | Qt.TextWordWrap, self.empty_text)
            painter.end()


class StartPage(QWidget):
    open_model = Signal(str, str)  # gallery name or builder spec, weights ("default" | "none" | path)
    open_project = Signal(str)  # path ("" = ask)

    def __init__(self, parent=None, start_folder=None):
        super().__init__(parent)
        self.setObjectName("startPage")
        self.start_folder = start_folder or (lambda: "")  # where the weights-file dialog starts
        self.model = GalleryModel(gallery(), self)
        self.proxy = GalleryFilter(self)
        self.proxy.setSourceModel(self.model)
        row = QHBoxLayout(self)
        row.setContentsMargins(28, 24, 28, 24)
        row.setSpacing(28)
        row.addWidget(self._side(), 0)
        row.addWidget(self._gallery(), 1)

    # --- left column --------------------------------------------------------------------------

    def _side(self) -> QWidget:
        side = QFrame(objectName="startSide")
        side.setFixedWidth(330)
        col = QVBoxLayout(side)
        col.setSpacing(10)
        col.addWidget(QLabel("NetSurgeon", objectName="appTitle"))
        intro = QLabel("Open a pretrained network, adapt it to your images, train it and export it — "
                       "without writing code.", objectName="muted")
        intro.setWordWrap(True)
        col.addWidget(intro)
        col.addSpacing(8)
        self.default_button = QPushButton("Open EfficientNet-Lite0\npretrained · works offline",
                                          objectName="hero")
        self.default_button.setToolTip("A small, fast ImageNet network whose weights ship with NetSurgeon")
        self.default_button.clicked.connect(self._open_default)
        col.addWidget(self.default_button)
        col.addSpacing(10)
        col.addWidget(QLabel("Other ways to start", objectName="sectionTitle"))
        for text, tip, slot in (
            ("Open a project…", "A design saved from NetSurgeon (.nsd.json)", self._open_project_clicked),
            ("Gallery network + weights file…",
             "The selected gallery network with weights from a .pth/.pt/.safetensors file",
             self._open_weights_file),
            ("Python builder…", "A function that returns a network, e.g. torchvision.models:resnet18",
             self._open_builder),
        ):
            button = QPushButton(text, objectName="sideButton", toolTip=tip)
            button.clicked.connect(slot)
            col.addWidget(button)
        col.addSpacing(10)
        col.addWidget(QLabel("Recent projects", objectName="sectionTitle"))
        self.recent = QListWidget(objectName="recent")
        self.recent.itemActivated.connect(self._on_recent)
        col.addWidget(self.recent, 1)
        return side

    def set_recent(self, paths: list[str]) -> None:
        self.recent.clear()
        for path in paths:
            item = QListWidgetItem(f"{os.path.basename(path)}\n{os.path.dirname(path)}")
            item.setData(Qt.UserRole, path)
            item.setToolTip(path)
            self.recent.addItem(item)
        if not paths:
            item = QListWidgetItem("No recent projects yet")
            item.setFlags(Qt.NoItemFlags)
            self.recent.addItem(item)

    # --- gallery ------------------------------------------------------------------------------------

    def _gallery(self) -> QWidget:
        box = QWidget()
        col = QVBoxLayout(box)
        col.setContentsMargins(0, 0, 0, 0)
        col.addWidget(QLabel("Network gallery", objectName="pageTitle"))
        filters = QHBoxLayout()
        self.search = QLineEdit(placeholderText="Filter by name or family…", clearButtonEnabled=True)
        self.source = QComboBox(toolTip="The library the network comes from")
        self.source.addItems(SOURCE_FILTERS)
        self.category = QComboBox()
        self.category.addItems(CATEGORY_FILTERS)
        self.local_only = QCheckBox("Only weights on this computer")
        for signal in (self.search.textChanged, self.source.currentIndexChanged,
                       self.category.currentIndexChanged, self.local_only.toggled):
            signal.connect(self._apply_filter)
        filters.addWidget(self.search, 1)
        filters.addWidget(self.source)
        filters.addWidget(self.category)
        filters.addWidget(self.local_only)
        col.addLayout(filters)
        self.table = GalleryTable()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.Interactive)
        metrics = header.fontMetrics()
        for column, width in enumerate(COLUMN_WIDTHS):
            header.resizeSection(column, max(width, metrics.horizontalAdvance(COLUMNS[column]) + 28))
        # The last column stretches over spare room, but never below its longest value ("download
        # on first use" was cut to "download on first u" in a narrow window).
        longest = max(self.table.fontMetrics().horizontalAdvance(text) for text in WEIGHT_TEXTS.values())
        header.resizeSection(WEIGHTS, longest + 28)
        header.setStretchLastSection(True)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.Fixed)  # no per-row measuring either
        self.table.doubleClicked.connect(self._open_selected)
        col.addWidget(self.table, 1)
        bottom = QHBoxLayout()
        self.pretrained = QCheckBox("Pretrained weights", checked=True)
        self.pretrained.setToolTip("Off: random weights (train from scratch)")
        self.open_button = QPushButton("Open selected network", objectName="primary")
        self.open_button.clicked.connect(self._open_selected)
        self.count_label = QLabel(objectName="muted", wordWrap=True)  # wraps on a small screen, not widens
        self._show_count()
        bottom.addWidget(self.count_label, 1)
        bottom.addWidget(self.pretrained)
        bottom.addWidget(self.open_button)
        col.addLayout(bottom)
        return box

    @Slot()
    def _apply_filter(self, *_) -> None:
        category = self.category.currentText() if self.category.currentIndex() > 0 else ""
        source = self.source.currentText() if self.source.currentIndex() > 0 else ""
        self.proxy.set_filter(self.search.text(), category, self.local_only.isChecked(), source)
        self._show_count()

    def _show_count(self) -> None:
        """How many networks the table shows: all of them, or how many of all pass the filter."""
        total, shown = len(self.model.infos), self.proxy.rowCount()
        self.table.empty_text = "" if shown or not total else \
            "No network matches this filter. Change the search, the library or the category, or clear them."
        self.table.viewport().update()
        if not shown and total:
            self.count_label.setText(f"No network matches this filter (0 of {total} shown)")
            return
        count = f"{total} networks" if shown == total else f"{shown} of {total} networks shown"
        self.count_label.setText(f"{count} · click a column to sort · double-click to open")

    def selected_name(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        return self.proxy.data(rows[0], Qt.UserRole).name if rows else None

    def select_name(self, name: str) -> None:
        for row in range(self.proxy.rowCount()):
            if self.proxy.data(self.proxy.index(row, 0), Qt.UserRole).name == name:
                self.table.selectRow(row)
                return

    # --- actions ------------------------------------------------------------------------------------

    @Slot()
    def _open_default(self) -> None:
        self.open_model.emit(DEFAULT_MODEL, "default")

    @Slot()
    def _open_selected(self, *_) -> None:
        name = self.selected_name()
        if name is None:
            feedback.show_error(self.window(), "Choose a network", "Select a network in the gallery first.")
            return
        self.open_model.emit(name, "default" if self.pretrained.isChecked() else "none")

    @Slot()
    def _open_weights_file(self) -> None:
        name = self.selected_name()
        if name is None:
            feedback.show_error(self.window(), "Choose the architecture",
                                "Select the network the weights file belongs to in the gallery, then try "
                                "again.")
            return
        path = feedback.weights_path(self.window(), self.start_folder())
        if path:
            self.open_model.emit(name, path)

    @Slot()
    def _open_builder(self) -> None:
        spec = feedback.builder_spec(self.window())
        if spec:
            self.open_model.emit(spec, "default")

    @Slot()
    def _open_project_clicked(self) -> None:
        self.open_project.emit("")

    @Slot(QListWidgetItem)
    def _on_recent(self, item: QListWidgetItem) -> None:
        path = item.data(Qt.UserRole)
        if path:
            self.open_project.emit(path)
