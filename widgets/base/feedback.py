"""Every modal question and message the app asks, in one place.

Callers use ``feedback.show_error(...)`` (module attribute access), so tests
replace these functions with scripted answers instead of clicking dialogs.
"""

from __future__ import annotations

import os

from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox

PROJECT_FILTER = "NetSurgeon projects (*.nsd.json);;JSON files (*.json);;All files (*)"
WEIGHTS_FILTER = "Weights (*.pth *.pt *.bin *.safetensors);;All files (*)"


def show_error(parent, title: str, text: str) -> None:
    box = QMessageBox(QMessageBox.Warning, title, text, QMessageBox.Ok, parent)
    box.exec()


def show_info(parent, title: str, text: str) -> None:
    QMessageBox.information(parent, title, text)


def ask_save_changes(parent, what: str) -> str:
    """"save" | "discard" | "cancel"."""
    box = QMessageBox(QMessageBox.Question, "Unsaved changes",
                      f"The design has changes that are not saved.\nSave them before {what}?",
                      QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel, parent)
    box.setDefaultButton(QMessageBox.Save)
    answer = box.exec()
    return {QMessageBox.Save: "save", QMessageBox.Discard: "discard"}.get(answer, "cancel")


def ask_trust_builder(parent, spec: str) -> bool:
    """A project names a Python builder: run that code? (No, unless the user says so.)"""
    box = QMessageBox(QMessageBox.Warning, "This project runs Python code",
                      f"This project builds its network by running Python code from\n\n    {spec}\n\n"
                      "Opening it runs that code on this computer with your permissions. Open it only if you "
                      "trust where the project came from.\n\nRun this code and open the project?",
                      QMessageBox.Yes | QMessageBox.No, parent)
    box.setDefaultButton(QMessageBox.No)
    return box.exec() == QMessageBox.Yes


def ask_recover(parent, when: str) -> bool:
    answer = QMessageBox.question(
        parent, "Recover unsaved work?",
        f"NetSurgeon did not close normally{when}. An autosaved copy of your design was found.\n\n"
        "Recover it?", QMessageBox.Yes | QMessageBox.No, QMessageBox.Yes)
    return answer == QMessageBox.Yes


def ask_missing_weights(parent, message: str) -> str:
    """"random" | "file" | "cancel": what to do when pretrained weights are not available."""
    box = QMessageBox(QMessageBox.Warning, "Pretrained weights not available", message,
                      QMessageBox.NoButton, parent)
    random = box.addButton("Continue with random weights", QMessageBox.AcceptRole)
    pick = box.addButton("Choose a weights file…", QMessageBox.ActionRole)
    box.addButton(QMessageBox.Cancel)
    box.setDefaultButton(random)
    box.exec()
    clicked = box.clickedButton()
    return "random" if clicked is random else "file" if clicked is pick else "cancel"


def folder_for(doc, current: str = "") -> str:
    """Where a file dialog starts: at ``current`` (what the field already holds) if it exists,
    else in the project's folder, else in the home folder."""
    current = os.path.expanduser(current.strip()) if current else ""
    if current and os.path.exists(current):
        return current
    if doc is not None and doc.path:
        return os.path.dirname(os.path.abspath(doc.path))
    return os.path.expanduser("~")


def open_project_path(parent, folder: str = "") -> str:
    path, _ = QFileDialog.getOpenFileName(parent, "Open project", folder, PROJECT_FILTER)
    return path


def save_project_path(parent, suggestion: str = "") -> str:
    path, _ = QFileDialog.getSaveFileName(parent, "Save project", suggestion, PROJECT_FILTER)
    return path


def weights_path(parent, folder: str = "") -> str:
    path, _ = QFileDialog.getOpenFileName(parent, "Choose a weights file", folder, WEIGHTS_FILTER)
    return path


def builder_spec(parent, current: str = "") -> str:
    text, ok = QInputDialog.getText(
        parent, "Open from a Python builder",
        "A function that returns a PyTorch network, written as package.module:function\n"
        "(for example torchvision.models:resnet18):", text=current)
    return text.strip() if ok else ""


def lr_factor(parent, current: float = 1.0) -> float | None:
    value, ok = QInputDialog.getDouble(
        parent, "Learning-rate factor",
        "Multiply the learning rate of the selected layers by\n"
        "(0 = do not learn, 0.1 = slower, 10 = faster):",
        current, 0.0, 1000.0, 4)
    return value if ok else None
