"""Hostile files and folders through the CLI (issue 23): planted links, named pipes, devices,
PostScript dressed as PNG, giant shapes, odd values in every reader, paths out of the data, and
messages that name what is really there. Every case is refused in one line (exit 2) or handled
safely; none is an internal error, none hangs, none changes a file outside its own output. The
cases are in ``testkit.hostile_fs``, one function per class of attack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

import pytest
from testkit import REPO


def judge(result) -> str:
    """What is wrong with one case's result ('' if nothing)."""
    err = result["stderr"]
    lines = err.strip().splitlines()
    if result["hung"]:
        return "hung"
    if result["outside_writes"]:
        return f"wrote outside its output: {result['outside_writes'][:3]}"
    if "Traceback" in err or "Unexpected problem" in err:
        return f"an internal error: {lines[-1:]}"
    expect = result["expect"] if result["expect"] is not None else (result["code"] if result["code"] in (0, 2)
                                                                      else 2)
    if result["code"] != expect:
        return f"exit {result['code']}, expected {expect}: {lines[-1:]}"
    if expect == 2 and len(lines) != 1:
        return f"{len(lines)} lines instead of one: {lines[:3]}"
    if result["must_not_say"] and result["must_not_say"] in err:
        return f"says '{result['must_not_say']}': {lines[-1:]}"
    return ""


def tally(results) -> Counter:
    """tried, refused, safe, internal errors, hangs, outside writes (the issue's counts)."""
    counts = Counter(tried=len(results))
    for r in results:
        problem = judge(r)
        if r["hung"]:
            counts["hangs"] += 1
        elif r["outside_writes"]:
            counts["outside writes"] += 1
        elif problem.startswith("an internal error"):
            counts["internal errors"] += 1
        elif problem:
            counts["other problems"] += 1
        else:
            counts["refused" if r["code"] != 0 else "safe"] += 1
    return counts


def run_driver(tmp_path):
    root, out = tmp_path / "hostile", tmp_path / "results.jsonl"
    (tmp_path / "tmp").mkdir()
    # this checkout's designer, not whichever copy the environment installed
    env = {**os.environ, "PYTHONPATH": os.pathsep.join((str(REPO / "tests"), str(REPO))), "NETSURGEON_OFFLINE": "1",
           "OMP_NUM_THREADS": "1", "TMPDIR": str(tmp_path / "tmp"), "NETSURGEON_STATE_DIR": str(tmp_path / "state")}
    proc = subprocess.run([sys.executable, "-m", "testkit.hostile_fs", str(root), str(out)], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=1500, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [json.loads(line) for line in out.read_text().splitlines()]


@pytest.mark.slow
def test_hostile_files_are_refused_or_handled_and_never_hang_or_write_outside(tmp_path):
    results = run_driver(tmp_path)
    counts = tally(results)
    print(f"\n{dict(counts)}; slowest {max(r['seconds'] for r in results):.1f} s")
    assert len(results) >= 150
    assert {r["klass"] for r in results} == {1, 2, 3, 4, 5, 6}
    problems = [f"[{r['klass']}] {r['name']}: {judge(r)}" for r in results if judge(r)]
    assert not problems, "\n".join(problems)
    assert not list((tmp_path / "tmp").glob("netsurgeon-logs*")), "a log went to the shared temp folder"
