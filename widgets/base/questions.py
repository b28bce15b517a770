"""The questions the Data/Training/Results/Export views ask, in one place.

Callers use module attribute access (``training_dialogs.ask_stop_training(...)``), so
tests replace these functions with scripted answers instead of clicking dialogs.
"""

from __future__ import annotations

from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox

from designer.data.images import IMAGE_EXTENSIONS

IMAGE_FILTER = f"Images ({' '.join('*' + e for e in sorted(IMAGE_EXTENSIONS))});;All files (*)"


def ask_stop_training(parent) -> bool:
    """Closing while training runs: stop it (best weights kept) and close?"""
    answer = QMessageBox.question(
        parent, "Training is running",
        "A training run is still in progress.\n\nStop it and close? The best weights of the epochs it has "
        "finished are kept, and you can resume the run later.",
        QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
    return answer == QMessageBox.Yes


def ask_export_at_chance(parent, warning: str) -> bool:
    """Exporting a run that learned (almost) nothing: export it anyway?"""
    answer = QMessageBox.warning(
        parent, "This run is at chance", f"{warning}\n\nExport it anyway? A run with a higher validation "
        "accuracy can be chosen under Weights.", QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
    return answer == QMessageBox.Yes


def choose_folder(parent, title: str, start: str = "") -> str:
    return QFileDialog.getExistingDirectory(parent, title, start)


def choose_images(parent, start: str = "") -> list[str]:
    paths, _ = QFileDialog.getOpenFileNames(parent, "Choose images to classify", start, IMAGE_FILTER)
    return list(paths)


def ask_total_epochs(parent, run_name: str, done: int, suggested: int) -> int | None:
    """Resuming a finished run: how many epochs should it have in all? None when cancelled."""
    value, ok = QInputDialog.getInt(
        parent, "Train a finished run further",
        f"The run {run_name} has finished its {done} epochs.\n\n"
        "Train it further, up to how many epochs in all? "
        "Its first finish and its time stay in the run history.", suggested, done + 1, 100_000)
    return value if ok else None
