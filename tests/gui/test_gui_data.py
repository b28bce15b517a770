"""Data tab: loading a folder (flat, split, separate train/val), class counts and imbalance warning,
skipped files, previews and augmentation, bad folders; Results tab: confusion, per class,
misclassified gallery, predictions."""

from __future__ import annotations

from pathlib import Path

import pytest
from testkit.data import make_shapes_folder
from testkit.gui import CLASSES, load_data, make_document, train


def test_load_flat_folder_shows_counts_skipped_and_previews(qtbot, workspace, shapes, dialogs):
    ws = workspace()
    split = load_data(qtbot, ws, shapes, seed=3)
    assert split.classes == list(CLASSES) and len(split.train) + len(split.val) == 36
    doc = ws.context.doc
    assert doc.classes == list(CLASSES)
    assert doc.settings["data"]["root"] == str(shapes) and doc.settings["data"]["seed"] == 3
    chart = ws.data.chart
    assert sum(chart.counts["train"]) == len(split.train) and sum(chart.counts["val"]) == len(split.val)
    assert ws.data.skipped.count() == 2 and "bad_" in ws.data.skipped.item(0).text()
    # issue 22, item 10: a long path and its reason wrap, and the tooltip holds them whole
    assert ws.data.skipped.wordWrap() and ws.data.skipped.item(0).toolTip() == ws.data.skipped.item(0).text()
    assert f"{len(split.train)} training / {len(split.val)} validation" in ws.data.summary.text()
    qtbot.waitUntil(ws.data.plain_preview.has_picture, timeout=20_000)
    assert not ws.data.aug_preview.has_picture()  # no augmentation yet
    assert not dialogs.errors


def test_augmentation_is_saved_and_previewed(qtbot, workspace, shapes, dialogs):
    ws = workspace()
    load_data(qtbot, ws, shapes)
    aug = ws.data.augment
    aug.hflip.setChecked(True)
    aug.rotation.setValue(20)
    aug.zoom.setValue(10)
    aug.class_weights.setChecked(True)
    saved = ws.context.training_settings()
    assert saved["augment"]["hflip"] and saved["augment"]["rotation"] == 20
    assert saved["augment"]["scale"] == [0.9, 1.1] and saved["class_weights"] is True
    assert ws.context.options().augment.active
    qtbot.waitUntil(ws.data.aug_preview.has_picture, timeout=20_000)
    # The form mirrors the document: a change there (e.g. a project opened) shows here.
    ws.context.update_training(augment={"vflip": True})
    assert aug.vflip.isChecked() and not aug.hflip.isChecked() and aug.rotation.value() == 0


def test_imbalance_warning_and_red_bars(qtbot, workspace, tmp_path, dialogs):
    folder = make_shapes_folder(tmp_path / "imb", classes=CLASSES, per_class={"circle": 40, "square": 40,
                                                                             "triangle": 5})
    ws = workspace()
    load_data(qtbot, ws, folder)
    assert "imbalanced" in ws.data.warnings.text()
    brushes = ws.data.chart.bars["train"].opts["brushes"]
    assert brushes[2].color().name() != brushes[0].color().name()


def test_separate_train_and_val_folders(qtbot, workspace, tmp_path, dialogs):
    train_dir = make_shapes_folder(tmp_path / "tr", classes=CLASSES, per_class=8)
    val_dir = make_shapes_folder(tmp_path / "va", classes=CLASSES, per_class=3, seed=1)
    ws = workspace()
    ws.data.two_folders.setChecked(True)
    ws.data.val_edit.setText(str(val_dir))
    split = load_data(qtbot, ws, train_dir)
    assert len(split.train) == 24 and len(split.val) == 9
    assert all(Path(p).is_relative_to(val_dir) for p, _ in split.val)
    assert not any("no validation" in w for w in split.warnings)
    assert ws.context.doc.settings["data"]["val_root"] == str(val_dir)


def test_train_and_val_sub_folders_disable_the_split_controls(qtbot, workspace, tmp_path, dialogs):
    """Issue 22, item 7: with train/ and val/ sub-folders, "One folder, split here" and "Validation
    share 20 %" stayed offered though the folders decide the split."""
    split_dir = make_shapes_folder(tmp_path / "split", classes=CLASSES, per_class=6, layout="split")
    flat_dir = make_shapes_folder(tmp_path / "flat", classes=CLASSES, per_class=6)
    ws = workspace()
    data = ws.data
    split = load_data(qtbot, ws, split_dir)
    assert len(split.val) == 6  # from val/, whatever the share says
    assert not data.one_folder.isEnabled() and not data.val_fraction.isEnabled()
    assert not data.split_note.isHidden()
    assert "train/ and val/ sub-folders decide the split" in data.split_note.text()
    data.root_edit.setText(str(flat_dir))  # a flat folder: the controls are back, the line goes
    assert data.one_folder.isEnabled() and data.val_fraction.isEnabled() and data.split_note.isHidden()


def test_bad_folders_give_clear_messages(qtbot, workspace, tmp_path, dialogs):
    ws = workspace()
    ws.data.load_images()  # nothing chosen
    assert "Choose an image folder" in dialogs.errors[-1][1]
    empty = tmp_path / "empty"
    empty.mkdir()
    for folder, words in ((empty, "no sub-folders"), (tmp_path / "missing", "does not exist")):
        ws.data.root_edit.setText(str(folder))
        n = len(dialogs.errors)
        ws.data.load_images()
        qtbot.waitUntil(lambda n=n: len(dialogs.errors) > n, timeout=20_000)
        _title, text = dialogs.errors[-1]
        assert words in text and "Traceback" not in text
        assert ws.context.split is None


def test_opening_a_project_with_data_loads_it(qtbot, workspace, shapes, dialogs):
    ws = workspace()
    ws.context.doc.set_settings("data", {"root": str(shapes), "val_fraction": 0.25, "seed": 1})
    qtbot.waitUntil(lambda: ws.context.split is not None, timeout=30_000)
    assert ws.data.root_edit.text() == str(shapes) and ws.data.val_fraction.value() == 25
    assert ws.context.split.val_fraction == 0.25


def test_class_mismatch_offers_a_new_classifier(qtbot, workspace, tmp_path, shapes, dialogs):
    ws = workspace(make_document(tmp_path, classes=5))
    load_data(qtbot, ws, shapes)
    assert ws.data.fix_button.isVisible() and "5 outputs" in ws.data.mismatch_label.text()
    assert not ws.training.start() and "5 outputs" in dialogs.errors[-1][1]
    ws.data.fix_button.click()
    qtbot.waitUntil(lambda: ws.context.doc.design.num_classes == 3, timeout=60_000)
    qtbot.waitUntil(lambda: not ws.data.fix_button.isVisible(), timeout=5000)


# --- results -------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_results_confusion_per_class_misclassified_and_predict(qtbot, workspace, shapes, tmp_path, dialogs):
    ws = workspace()
    split = load_data(qtbot, ws, shapes)
    assert train(qtbot, ws, epochs=2, batch_size=8).kind == "finished"
    results = ws.results
    assert results.run_combo.count() == 1
    seen = []  # what the page shows while it evaluates (issue 13: a stale hint, no progress)
    results.runner.runner.progress.connect(
        lambda p: seen.append((results.accuracy.text(), results.progress.isVisible(),
                               results.progress.maximum(), results.status.text())))
    ws.tabs.setCurrentWidget(results)  # showing the tab evaluates the newest run
    qtbot.waitUntil(lambda: results.result is not None and not results.runner.running, timeout=60_000)
    assert seen and all(title.startswith("Evaluating") and visible for title, visible, _, _ in seen)
    assert any(maximum == len(split.val) and "Scored" in status for _, _, maximum, status in seen)
    assert not results.progress.isVisible()
    ev = results.result.evaluation
    counts = results.confusion.counts()
    assert sum(map(sum, counts)) == len(split.val) == ev.num_images
    assert results.per_class.rowCount() == 3
    assert results.gallery.count() == len(ev.misclassified)
    assert "Accuracy" in results.accuracy.text()
    # Predict: two good images and one unreadable file; top-2.
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not an image")
    images = [split.val[0][0], split.val[1][0], str(bad)]
    results.predict_box.topk.setValue(2)
    with qtbot.waitSignal(results.predict_box.predicted, timeout=60_000) as blocker:
        assert results.predict_box.predict(images)
    predictions = blocker.args[0]
    assert [len(p.top) for p, _ in predictions] == [2, 2, 0]
    assert predictions[2][0].error and results.predict_box.gallery.count() == 3
    assert {c for c, _ in predictions[0][0].top} <= set(CLASSES)
    assert not dialogs.errors
