"""``python -m designer train --mode search --budget TIME``: the flags, and a short search end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from testkit.train import tiny_cli_project

from designer.cli.main import main

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return tiny_cli_project(tmp_path_factory.mktemp("cli-search"), per_class=8)


def test_a_search_from_the_cli_keeps_its_best_trial(project, capsys):
    root, data, path = project
    run = root / "search"
    code = main(["train", path, "--data", str(data), "--mode", "search", "--budget", "1m", "--trials", "2",
                 "--epochs", "2", "--batch-size", "8", "--device", "cpu", "-o", str(run)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "Search: up to 2 fine-tunes (trials) within 1 min" in out.replace("\n", " ")
    assert "trial 1/2" in out and "trial 2/2" in out and "best.pt" in out
    summary = json.loads((run / "summary.json").read_text())
    assert summary["mode"] == "search" and summary["status"] == "finished" and (run / "best.pt").is_file()
    trials = json.loads((run / "trials.json").read_text())
    assert trials["budget_s"] == 60.0 and [t["number"] for t in trials["trials"]] == [0, 1, 2]
    assert summary["best_val_acc"] == max(t["best_val_acc"] for t in trials["trials"])
    assert str(run) in Path(path).read_text()  # the project lists the run like any other


@pytest.mark.parametrize(("flags", "words"), [
    (["--mode", "search", "--budget", "5s"], "out of range"),
    (["--mode", "search", "--budget", "inf"], "is not a time"),
    (["--mode", "search", "--budget", "10 parsecs"], "is not a time"),
    (["--mode", "search", "--trials", "0"], "out of range"),
    (["--budget", "5m"], "--budget sets the search"),
])
def test_search_flags_are_checked_before_anything_runs(project, tmp_path, capsys, flags, words):
    _, data, path = project
    argv = ["train", path, "--data", str(data), "--device", "cpu", "-o", str(tmp_path / "r"), *flags]
    if "sets the search" in words:  # a DesignerError: printed, exit code 2
        assert main(argv) == 2
    else:  # argparse refuses the value itself
        with pytest.raises(SystemExit):
            main(argv)
    assert words in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
