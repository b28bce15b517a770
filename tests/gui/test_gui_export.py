"""Export dialog: a trained run exported as a script and ONNX (files written, parity checked), the
script preview highlighted, a bad folder reported; the highlighter on its own."""

from __future__ import annotations

from pathlib import Path

import pytest
from testkit.gui import load_data, runners_idle, train


def _dialog(qtbot, ws):
    from widgets.export.dialog import ExportDialog

    dialog = ExportDialog(ws.context.qdoc, ws, context=ws.context)  # as main.install_workspaces does
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


@pytest.mark.slow
def test_export_script_and_onnx_of_a_trained_run(qtbot, workspace, shapes, tmp_path, dialogs):
    ws = workspace()
    load_data(qtbot, ws, shapes)
    final = train(qtbot, ws, epochs=1, batch_size=8)
    dialog = _dialog(qtbot, ws)
    assert Path(dialog.weights.currentData()) == Path(final.run_dir) / "best.pt"  # newest run first
    qtbot.waitUntil(lambda: "import torch" in dialog.script.toPlainText(), timeout=60_000)
    for fmt, check in dialog.checks.items():
        check.setChecked(fmt in ("script", "onnx"))
    out = tmp_path / "exported"
    dialog.folder.setText(str(out))
    dialogs.answer("ask_export_at_chance", True)  # one epoch from random weights may be at chance
    assert dialog.start_export()
    qtbot.waitUntil(lambda: not dialog.runner.running, timeout=300_000)
    assert set(dialog.results) == {"script", "onnx"}
    for fmt, (result, message) in dialog.results.items():
        assert result is not None and result.ok, (fmt, message)
        assert result.path.is_file() and result.path.parent == out
    assert dialog.results["onnx"][0].max_abs_diff < 1e-3
    assert dialog.table.rowCount() == 2
    assert all(dialog.table.item(r, 3).text() == "✓ ok" for r in range(2))
    files = [dialog.table.item(r, 1).text() for r in range(2)]  # the script's row names its launch file
    assert sum("train.sbatch" in text for text in files) == 1 and (out / "train.sbatch").is_file()
    assert "2 of 2" in dialog.status.text()
    dialog.close()
    assert runners_idle(dialog)


def test_export_to_a_file_instead_of_a_folder_says_so(qtbot, workspace, tmp_path, dialogs):
    ws = workspace()
    dialog = _dialog(qtbot, ws)
    not_a_folder = tmp_path / "file.txt"
    not_a_folder.write_text("x")
    for fmt, check in dialog.checks.items():
        check.setChecked(fmt == "pt")
    dialog.folder.setText(str(not_a_folder))
    assert dialog.start_export()
    qtbot.waitUntil(lambda: not dialog.runner.running, timeout=60_000)
    assert "Traceback" not in dialog.status.text() and dialog.status.text()
    assert dialog.export_button.isEnabled()
    dialog.reject()
    assert runners_idle(dialog)


def test_the_dialog_keeps_its_choices_until_next_time(qtbot, workspace, tmp_path, dialogs):
    """Issue 13: every time it opened, the Export dialog had forgotten the formats, folder and
    weights chosen before. A run added since makes the newest run the weights again."""
    from testkit.train import fake_run

    ws = workspace()
    runs = ws.context.runs_dir()
    fake_run(runs / "20261201-100000-full")
    fake_run(runs / "20261201-110000-scratch", mode="scratch")
    dialog = _dialog(qtbot, ws)
    assert dialog.weights.currentIndex() == 0 and dialog.weights.count() == 3  # the newest run first
    for fmt, check in dialog.checks.items():
        check.setChecked(fmt in ("safetensors", "script"))
    dialog.folder.setText(str(tmp_path / "mine"))
    dialog.weights.setCurrentIndex(1)  # the older run
    dialog.reject()
    again = _dialog(qtbot, ws)
    assert again.selected_formats() == ["safetensors", "script"]
    assert again.folder.text() == str(tmp_path / "mine")
    assert Path(again.weights.currentData()).parent.name == "20261201-100000-full"
    again.reject()
    fake_run(runs / "20261201-120000-full")
    third = _dialog(qtbot, ws)
    assert Path(third.weights.currentData()).parent.name == "20261201-120000-full"
    assert third.selected_formats() == ["safetensors", "script"]
    third.reject()
    assert runners_idle(third)


def test_the_best_finished_run_is_chosen_and_a_run_at_chance_is_warned_about(qtbot, workspace, dialogs):
    """Issue 22, item 3: Export opened on the newest run (from scratch, at chance) while the 84 %
    run sat one line below. The best finished run is chosen; a run at chance is named as such,
    and exporting it asks first."""
    from testkit.train import fake_run

    ws = workspace()
    runs, classes = ws.context.runs_dir(), [f"c{k}" for k in range(10)]
    fake_run(runs / "20261201-100000-recommended", mode="recommended", best_val_acc=0.84, classes=classes)
    fake_run(runs / "20261201-103000-full", best_val_acc=0.9, classes=classes, status="stopped")
    fake_run(runs / "20261201-110000-scratch", mode="scratch", best_val_acc=0.1, classes=classes)
    dialog = _dialog(qtbot, ws)
    assert Path(dialog.weights.currentData()).parent.name == "20261201-100000-recommended"
    assert "best finished run" in dialog.weights.currentText()
    assert dialog.status.objectName() == "muted" and not dialog.chance_warning()
    dialog.weights.setCurrentIndex(0)  # the newest: from scratch, 10 % on 10 classes
    assert "guessing among 10 classes" in dialog.status.text() and dialog.status.objectName() == "warning"
    asked = dialogs.answer("ask_export_at_chance", False)
    assert not dialog.start_export() and len(asked) == 1 and "10.0 %" in asked[0][0]
    assert not dialog.runner.running
    dialog.reject()
    assert runners_idle(dialog)


def test_python_highlighter_colours_keywords_strings_and_comments(qtbot):
    from PySide6.QtWidgets import QPlainTextEdit

    from widgets.export.highlight import STYLES, PythonHighlighter

    edit = QPlainTextEdit()
    qtbot.addWidget(edit)
    highlighter = PythonHighlighter(edit.document())
    edit.setPlainText('def main():\n    x = "# not a comment"  # a comment\n    """doc\n    string"""\n    return 1\n')
    highlighter.rehighlight()

    def colour_at(line: int, col: int):
        block = edit.document().findBlockByNumber(line)
        for r in block.layout().formats():
            if r.start <= col < r.start + r.length:
                return r.format.foreground().color().name()
        return None

    assert colour_at(0, 0) == STYLES["keyword"].foreground().color().name()
    assert colour_at(0, 5) == STYLES["defname"].foreground().color().name()
    assert colour_at(1, 10) == STYLES["string"].foreground().color().name()
    assert colour_at(1, 30) == STYLES["comment"].foreground().color().name()
    assert colour_at(3, 6) == STYLES["string"].foreground().color().name()  # inside the docstring
    assert colour_at(4, 4) == STYLES["keyword"].foreground().color().name()
