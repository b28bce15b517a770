"""A timm design in the window, offline with random weights: train it on the Training tab, then
export every format from the Export dialog, each checked against the app's model."""

from __future__ import annotations

import pytest
from testkit.gui import load_data, runners_idle, shared_cache, train

from designer.app.document import Document
from designer.model.ops import LRPreset, ReplaceClassifier, SetInput
from designer.model.recipe import Recipe

RECIPE = Recipe.for_model("mobilenetv3_small_050.lamb_in1k", weights="none").with_ops(
    SetInput(32, 32, 1), ReplaceClassifier(3), LRPreset("layer_decay"))


@pytest.mark.slow
def test_timm_design_trains_and_exports_from_the_window(qtbot, workspace, shapes, tmp_path, dialogs):
    from widgets.export.dialog import ExportDialog

    doc = Document(cache=shared_cache(), data_dir=str(tmp_path / "appdata"))
    doc.open_recipe(RECIPE)
    ws = workspace(doc)
    load_data(qtbot, ws, shapes)
    run = train(qtbot, ws, epochs=1, batch_size=8, mode="full")
    assert run.kind == "finished", run

    dialog = ExportDialog(ws.context.qdoc, ws, context=ws.context)
    qtbot.addWidget(dialog)
    dialog.show()
    for check in dialog.checks.values():
        check.setChecked(True)
    dialog.folder.setText(str(tmp_path / "export"))
    qtbot.waitUntil(lambda: "timm.create_model" in dialog.script_views["model.py"].toPlainText(), timeout=60_000)
    dialogs.answer("ask_export_at_chance", True)  # one epoch may leave it at chance: export all the same
    assert dialog.start_export()
    qtbot.waitUntil(lambda: not dialog.runner.running, timeout=300_000)
    assert set(dialog.results) == set(dialog.checks)
    for fmt, (result, message) in dialog.results.items():
        assert result is not None and result.ok and result.max_abs_diff <= 1e-4, (fmt, message)
    dialog.close()
    assert runners_idle(dialog) and not dialogs.errors
