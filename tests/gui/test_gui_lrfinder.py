"""The LR finder draws its curve while it runs, and Stop keeps it (issue 22, item 6)."""

from __future__ import annotations

from testkit.gui import load_data


def test_lr_finder_draws_as_it_runs_and_stop_keeps_the_curve(qtbot, workspace, shapes, dialogs):
    ws = workspace()
    load_data(qtbot, ws, shapes)
    ws.context.update_training(batch_size=4)
    dialog = ws.training.show_lr_finder()
    assert dialog.run_test()
    qtbot.waitUntil(lambda: dialog.measured() >= 12, timeout=60_000)  # drawn before the test ends
    assert dialog.runner.running
    dialog.stop_button.click()
    qtbot.waitUntil(lambda: not dialog.runner.running, timeout=60_000)
    assert dialog.measured() >= 12, "Stop threw the curve away"
    text = dialog.result.text()
    assert text.startswith("Stopped after"), text
    if dialog.finding is not None:  # a suggestion from what was measured, usable like any other
        assert dialog.finding.stopped and dialog.marker.isVisible() and dialog.use_button.isEnabled()
    else:
        assert "run the test to its end" in text and not dialog.use_button.isEnabled()
    dialog.close()
    assert not dialogs.errors
