"""The "Check my data" review: findings grouped by issue, worst first; R / X / K decide from the
keyboard, and the decisions become the project's overrides."""

from __future__ import annotations

import numpy as np
from PIL import Image
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QWidget

from designer.app.audit import audit_note, run_record
from designer.audit.report import AuditReport, DuplicateGroup, LabelIssue, OddImage, Outlier
from widgets.data.audit import AuditReview, CheckMyData


def _report(tmp_path) -> AuditReport:
    rng = np.random.default_rng(0)
    paths = []
    for k in range(5):
        p = tmp_path / "data" / "cat" / f"{k}.png"
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(p)
        paths.append(str(p))
    return AuditReport(
        ["cat", "dog"], str(tmp_path / "data"), 5,
        label_issues=[LabelIssue(paths[0], "cat", "dog", 0.6), LabelIssue(paths[1], "cat", "dog", 0.9)],
        duplicates=[DuplicateGroup(paths[2:4], "near", 0.99, True)],
        outliers=[Outlier(paths[4], "cat", 5.0)], odd_images=[OddImage(paths[4], ["tiny"], 20, 20)])


def test_review_groups_sorts_and_decides_by_keyboard(qtbot, tmp_path):
    review = AuditReview()
    qtbot.addWidget(review)
    review.set_report(_report(tmp_path))
    assert [review.kind.itemText(i) for i in range(4)] == [
        "Possibly wrong labels (2)", "Duplicates (2)", "Unlike their class (1)", "Odd images (1)"]
    view = review.view
    assert view.count() == 2 and view.item(0).data(Qt.UserRole).endswith("1.png")  # the worst first
    assert "cat → dog?" in view.item(0).text()

    with qtbot.waitSignal(review.decisions_changed) as relabelled:
        qtbot.keyClick(view, Qt.Key_R)
    assert relabelled.args[0] == [{"path": "cat/1.png", "action": "relabel", "label": "dog"}]
    assert view.currentRow() == 1 and "→ dog" in view.item(0).text()
    with qtbot.waitSignal(review.decisions_changed) as excluded:
        qtbot.keyClick(view, Qt.Key_X)
    assert {"path": "cat/0.png", "action": "exclude"} in excluded.args[0]
    assert "left out" in view.item(1).text()
    view.setCurrentRow(0)
    with qtbot.waitSignal(review.decisions_changed) as kept:
        qtbot.keyClick(view, Qt.Key_K)
    assert kept.args[0] == [{"path": "cat/0.png", "action": "exclude"}]

    review.kind.setCurrentIndex(1)
    assert view.count() == 2 and view.item(0).text().startswith("leak:")


def test_review_shows_earlier_decisions(qtbot, tmp_path):
    review = AuditReview()
    qtbot.addWidget(review)
    review.set_report(_report(tmp_path), [{"path": "cat/0.png", "action": "exclude"}])
    assert "left out" in review.view.item(1).text()


class _Context(QObject):
    """What ``CheckMyData`` uses of the window's context: the data settings and the loaded split."""

    split_changed = Signal(object)

    def __init__(self):
        super().__init__()
        self.data: dict = {}
        self.split = None

    def data_settings(self) -> dict:
        return dict(self.data)

    def update_data(self, **values) -> None:
        self.data.update(values)

    def set_split(self, split) -> None:
        self.split = split
        self.split_changed.emit(split)


def test_accept_all_then_retrain_loads_the_decisions_and_starts_train(qtbot, tmp_path):
    context, parent = _Context(), QWidget()
    qtbot.addWidget(parent)
    scans = []

    def rescan() -> None:  # the Data tab's scan: it applies the decisions saved by then
        scans.append(dict(context.data))
        context.set_split("loaded")
    check = CheckMyData(context, rescan, parent)
    report = _report(tmp_path)
    check._on_result(report)
    assert context.data["audit"]["id"].startswith("audit-") and context.data["audit"]["label_issues"] == 2
    added = check.review.accept_suggestions()
    assert added == 2  # the two suspects; the leaking copy is in training here (no split recorded)
    assert {o["path"] for o in context.data["overrides"]} == {"cat/0.png", "cat/1.png"}
    with qtbot.waitSignal(check.retrain_requested):
        check.retrain()
    assert scans and scans[0]["overrides"] == context.data["overrides"]  # loaded again WITH the decisions
    record = run_record(context.data)["audit"]
    assert record["id"] == context.data["audit"]["id"] and record["excluded"] == 2
    assert audit_note({"audit": record}).startswith("cleaned data (audit-") and "2 left out" in audit_note(
        {"audit": record})


def test_move_left_out_files_and_put_them_back(qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    report = _report(tmp_path)
    context, parent = _Context(), QWidget()
    qtbot.addWidget(parent)
    left_out = {"path": "cat/2.png", "action": "exclude", "label": ""}
    context.data = {"root": report.root, "overrides": [left_out]}
    scans = []
    check = CheckMyData(context, lambda: scans.append(1), parent)
    check._on_result(report)
    out = tmp_path / "moved"
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(out))
    check.move_files()
    qtbot.waitUntil(lambda: scans == [1], timeout=10_000)
    assert (out / "cat" / "2.png").is_file() and not (tmp_path / "data" / "cat" / "2.png").exists()
    assert "Moved 1 image." in check.status.text()
    log = str(out / "netsurgeon-moves.json")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (log, ""))
    check.undo_move()
    qtbot.waitUntil(lambda: scans == [1, 1], timeout=10_000)
    assert (tmp_path / "data" / "cat" / "2.png").is_file() and "Put back 1 image." in check.status.text()


def test_retrain_from_the_review_trains_on_the_decisions_and_names_the_audit(qtbot, workspace, shapes,
                                                                              dialogs):
    import json
    from pathlib import Path

    from testkit.gui import load_data

    ws = workspace()
    split = load_data(qtbot, ws, shapes)
    left_out = split.train[0][0]
    ws.context.update_training(epochs=1, batch_size=8, mode="full")
    key = Path(left_out).relative_to(shapes).as_posix()
    ws.context.update_data(overrides=[{"path": key, "action": "exclude", "label": ""}],
                           audit={"id": "audit-20261206-070000", "time": "2026-12-06T07:00:00"})
    ws.data.check.retrain()  # the review's button: load the images with the decisions, then Train
    qtbot.waitUntil(lambda: ws.training.training or ws.training.final_event is not None, timeout=30_000)
    assert ws.tabs.currentWidget() is ws.training
    qtbot.waitUntil(lambda: not ws.training.training, timeout=120_000)
    run = Path(ws.training.run_dir)
    assert json.loads((run / "options.json").read_text())["audit"] == {
        "id": "audit-20261206-070000", "time": "2026-12-06T07:00:00", "relabelled": 0, "excluded": 1,
        "groups": 0}
    trained_on = json.loads((run / "split.json").read_text())
    assert left_out not in [p for p, _ in trained_on["train"] + trained_on["val"]]
    assert not dialogs.errors
