"""The run history under the plot shows its runs in full (issue 22, item 10): the splitter gave it
what the plot left, and the second run was cut in half."""

from __future__ import annotations

from testkit.train import fake_run


def test_the_run_history_shows_its_first_runs_in_full(qtbot, workspace, dialogs):
    ws = workspace()  # 1300 x 850, the size the cut-off was seen at
    for k in range(3):
        fake_run(ws.context.runs_dir() / f"20261206-00000{k}-full", best_val_acc=0.5 + k / 10)
    ws.context.notify_runs()
    ws.tabs.setCurrentWidget(ws.training)
    qtbot.wait(100)
    table = ws.training.runs
    assert table.rowCount() == 3
    viewport = table.viewport().rect()
    for row in range(3):
        rect = table.visualRect(table.model().index(row, 1))
        assert viewport.contains(rect), f"run {row + 1} of 3 is cut off: {rect} outside {viewport}"


def test_a_run_trained_after_an_audit_says_so_in_the_list(qtbot, workspace, dialogs):
    from designer.base.fileio import write_json

    ws = workspace()
    run = fake_run(ws.context.runs_dir() / "20261206-000000-recommended", mode="recommended")
    write_json(run / "options.json", {"mode": "recommended", "audit": {
        "id": "audit-20261206-070000", "time": "2026-12-06T07:00:00", "relabelled": 2, "excluded": 151,
        "groups": 20}})
    fake_run(ws.context.runs_dir() / "20261206-000001-full")
    ws.context.notify_runs()
    table = ws.training.runs
    modes = sorted(table.item(row, 2).text() for row in range(table.rowCount()))
    cleaned = "recommended; cleaned data (audit-20261206-070000: 2 relabelled, 151 left out)"
    assert modes == ["fine-tune", cleaned]
