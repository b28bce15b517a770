"""PanelJob, the one helper that wires a job to a panel: start, progress, done, error, cancel, and a
second start that replaces the first."""

from __future__ import annotations

import time

from PySide6.QtWidgets import QWidget

from designer.base.errors import DesignerError
from designer.base.jobs import Progress
from widgets.base.panel_job import PanelJob


def counting(control, n, label="job", delay=0.0):
    """Reports ``n`` steps, checking the flag between them; returns ``label``."""
    for k in range(n):
        control.check()
        time.sleep(delay)
        yield Progress(k + 1, n, f"{label} {k + 1}")
    return label


def waiting_for_cancel(control, started: list):
    """Runs until it is cancelled (at most 20 s, so a broken cancel fails instead of hanging)."""
    started.append(True)
    deadline = time.monotonic() + 20
    while not control.cancelled and time.monotonic() < deadline:
        time.sleep(0.005)
    control.check()
    return "not cancelled"


def refusing(control):
    raise DesignerError("The folder is empty.", hint="Choose a folder with images.")


def crashing(control):
    return 1 / 0


class Recorder:
    """Every handler a panel can give, recording what it heard in order."""

    def __init__(self):
        self.heard: list[tuple] = []

    def handlers(self) -> dict:
        return {f"on_{kind}": self._record(kind)
                for kind in ("done", "progress", "item", "failed", "cancelled", "finished")}

    def _record(self, kind):
        return lambda *args: self.heard.append((kind, *args))

    def kinds(self) -> list[str]:
        return [entry[0] for entry in self.heard]


def make_job(qtbot, recorder, **options):
    panel = QWidget()
    qtbot.addWidget(panel)
    return panel, PanelJob(panel, "test", **recorder.handlers(), **options)


def test_start_reports_progress_then_the_result_then_finished(qtbot, dialogs):
    recorder = Recorder()
    _, job = make_job(qtbot, recorder)
    job.start(counting, 3, label="counted")
    assert job.running
    qtbot.waitUntil(lambda: "finished" in recorder.kinds(), timeout=10_000)
    steps = [("progress", Progress(k, 3, f"counted {k}")) for k in (1, 2, 3)]
    assert recorder.heard == [*steps, ("done", "counted"), ("finished",)]
    assert not job.running and not dialogs.errors


def test_other_items_reach_on_item(qtbot, dialogs):
    recorder = Recorder()
    _, job = make_job(qtbot, recorder)

    def events(control):
        yield {"kind": "epoch", "epoch": 1}

    job.start(events)
    qtbot.waitUntil(lambda: "finished" in recorder.kinds(), timeout=10_000)
    assert recorder.heard[0] == ("item", {"kind": "epoch", "epoch": 1})


def test_a_failure_is_the_users_words_in_the_handler_and_a_message_box(qtbot, dialogs):
    recorder = Recorder()
    _panel, job = make_job(qtbot, recorder, error_title="Cannot load the images")
    job.start(refusing)
    qtbot.waitUntil(lambda: "finished" in recorder.kinds(), timeout=10_000)
    assert recorder.kinds() == ["failed", "finished"]
    failure = recorder.heard[0][1]
    assert failure.text == "The folder is empty. Choose a folder with images."
    assert dialogs.errors == [("Cannot load the images", "The folder is empty. Choose a folder with images.")]


def test_a_crash_is_one_line_never_a_traceback(qtbot, dialogs):
    recorder = Recorder()
    _, job = make_job(qtbot, recorder, error_title="Cannot evaluate")
    job.start(crashing)
    qtbot.waitUntil(lambda: "finished" in recorder.kinds(), timeout=10_000)
    (title, text), = dialogs.errors
    assert title == "Cannot evaluate" and text.startswith("Unexpected problem: division by zero")
    assert "Traceback" not in text and "\n" not in text


def test_without_an_error_title_no_message_box_opens(qtbot, dialogs):
    recorder = Recorder()
    _, job = make_job(qtbot, recorder)
    job.start(refusing)
    qtbot.waitUntil(lambda: "finished" in recorder.kinds(), timeout=10_000)
    assert recorder.kinds() == ["failed", "finished"] and not dialogs.errors


def test_cancel_stops_the_job_and_says_so(qtbot, dialogs):
    recorder, started = Recorder(), []
    _, job = make_job(qtbot, recorder)
    job.start(waiting_for_cancel, started)
    qtbot.waitUntil(lambda: bool(started), timeout=10_000)
    job.cancel()
    assert job.cancel_requested
    qtbot.waitUntil(lambda: "finished" in recorder.kinds(), timeout=10_000)
    assert recorder.kinds() == ["cancelled", "finished"] and not dialogs.errors


def test_a_second_start_cancels_the_first_and_only_the_second_is_heard(qtbot, dialogs):
    recorder, started = Recorder(), []
    _, job = make_job(qtbot, recorder)
    job.start(waiting_for_cancel, started)
    qtbot.waitUntil(lambda: bool(started), timeout=10_000)
    first = job.runner._control
    job.start(counting, 2, label="second")
    assert first.cancelled  # the first job was asked to stop at once
    qtbot.waitUntil(lambda: "finished" in recorder.kinds(), timeout=10_000)
    # nothing from the first (no "cancelled"), one "finished" for the pair
    assert recorder.kinds() == ["progress", "progress", "done", "finished"]
    assert recorder.heard[2] == ("done", "second") and not job.running


def test_only_the_latest_of_several_starts_runs_after_the_first(qtbot, dialogs):
    recorder, started = Recorder(), []
    _, job = make_job(qtbot, recorder)
    job.start(waiting_for_cancel, started)
    qtbot.waitUntil(lambda: bool(started), timeout=10_000)
    job.start(counting, 1, label="stale")
    job.start(counting, 1, label="latest")
    qtbot.waitUntil(lambda: "finished" in recorder.kinds(), timeout=10_000)
    assert [entry for entry in recorder.heard if entry[0] == "done"] == [("done", "latest")]


def test_cancel_also_drops_a_job_waiting_behind_the_running_one(qtbot, dialogs):
    recorder, started = Recorder(), []
    _, job = make_job(qtbot, recorder)
    job.start(waiting_for_cancel, started)
    qtbot.waitUntil(lambda: bool(started), timeout=10_000)
    job.start(counting, 1, label="queued")
    job.cancel()
    qtbot.waitUntil(lambda: "finished" in recorder.kinds(), timeout=10_000)
    assert "done" not in recorder.kinds() and not job.running


def test_closing_the_owner_cancels_and_waits(qtbot, dialogs):
    recorder, started = Recorder(), []
    panel, job = make_job(qtbot, recorder)
    panel.show()
    job.start(waiting_for_cancel, started)
    qtbot.waitUntil(lambda: bool(started), timeout=10_000)
    panel.close()
    assert not job.running  # waited for: no thread outlives the panel
    assert recorder.kinds() == ["cancelled", "finished"]


def test_shutdown_with_nothing_running_is_harmless(qtbot, dialogs):
    recorder = Recorder()
    _, job = make_job(qtbot, recorder)
    job.shutdown()
    assert not job.running and job.wait(100) and recorder.heard == []
