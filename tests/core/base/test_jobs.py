"""The one job protocol: items, then exactly one of Done, Failure (with a log) or Cancelled."""

import threading
from pathlib import Path

import pytest

from designer.base.errors import DesignerError
from designer.base.jobs import (
    Cancelled,
    Done,
    Failure,
    JobCancelled,
    JobControl,
    Progress,
    is_cancelled,
    run_job,
    throttled,
)


def counting(control, n, fail_at=None):
    for k in range(n):
        control.check()
        if k == fail_at:
            raise DesignerError("Bad input.", hint="Fix it.")
        yield Progress(k + 1, n, "counting")
    return "done"


def test_a_generator_job_gives_its_items_then_done():
    out = list(run_job(counting, JobControl(), 3))
    assert [p.done for p in out[:-1]] == [1, 2, 3] and out[-1] == Done("done")
    assert out[0].fraction == 1 / 3


def test_a_plain_function_job_gives_its_value():
    assert list(run_job(lambda control, x: x * 2, JobControl(), 21)) == [Done(42)]


def test_a_designer_error_is_a_failure_in_the_users_words():
    out = list(run_job(counting, JobControl(), 5, fail_at=2))
    assert isinstance(out[-1], Failure) and out[-1].text == "Bad input. Fix it." and out[-1].log_path is None


def test_a_crash_is_one_line_and_a_log(tmp_path):
    def crash(control):
        return 1 / 0

    (failure,) = run_job(crash, JobControl(), log_dir=tmp_path)
    assert failure.message == "Unexpected problem: division by zero"  # issue 22: no exception class names
    assert "ZeroDivisionError" in Path(failure.log_path).read_text()


def test_cancel_stops_at_the_next_check_and_says_so():
    control = JobControl()
    seen = []
    for item in run_job(counting, control, 10):
        seen.append(item)
        if len(seen) == 2:
            control.cancel()
    assert isinstance(seen[-1], Cancelled) and len(seen) == 3


def test_a_job_that_returns_none_after_cancel_counts_as_cancelled():
    control = JobControl()
    control.cancel()
    assert list(run_job(lambda c: None, control)) == [Cancelled()]


def test_control_asks_cancelled_one_way_and_reports():
    reports = []
    control = JobControl(reports.append)
    assert not control.cancelled and not is_cancelled(control)
    control.report(Progress(1, 2))
    control.cancel()
    assert control.cancelled and is_cancelled(control) and reports == [Progress(1, 2)]
    with pytest.raises(JobCancelled):
        control.check()
    # the one way to ask: no Event or callable spellings left to drift apart
    assert not hasattr(control, "is_set") and not callable(control) and not hasattr(control, "set")


def test_is_cancelled_reads_the_flags_below_the_jobs():
    event = threading.Event()
    assert is_cancelled(event) is False and is_cancelled(lambda: True) and not is_cancelled(None)
    event.set()
    assert is_cancelled(event)


def test_throttled_progress_keeps_the_first_and_the_last():
    sent = []
    report = throttled(sent.append, interval_s=60)
    for k in range(1, 11):
        report(Progress(k, 10))
    assert [p.done for p in sent] == [1, 10]


def test_plain_reason_drops_the_exception_class_name():
    """Issue 22, item 10: messages named 'OSError', 'ZeroDivisionError' and the like."""
    from designer.base.errors import DesignerError, plain_reason

    assert plain_reason(ZeroDivisionError("division by zero")) == "division by zero"
    denied = PermissionError(13, "Permission denied", "/x/model.onnx")
    assert plain_reason(denied) == "Permission denied: /x/model.onnx"
    assert plain_reason(ValueError("first line\nsecond line")) == "first line"
    full = RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 15910464 vs 15910360")
    assert "the disk may be full" in plain_reason(full)  # what torch.save says when the disk is full
    assert plain_reason(RuntimeError()) == "no details were given"
    assert plain_reason(DesignerError("Bad.", hint="Fix it.")) == "Bad. Fix it."
