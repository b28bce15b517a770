"""``python -m designer train --where``: the same run trained here and in 2 gloo processes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from testkit.data import make_shapes_folder

from designer.cli.main import main
from designer.train.runs import load_run
from designer.zoo import builders

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("where")
    data = make_shapes_folder(root / "data", per_class=24, size=24)
    path = str(root / "p.json")
    assert main(["new", "testkit.train:tiny_rgb_cnn", "-o", path, "--trust-builder"]) == 0
    assert main(["edit", path, "--input", "3x24x24", "--classes", "3", "--trust-builder"]) == 0
    builders.trust("testkit.train:tiny_rgb_cnn")
    return root, data, path


def _train(path, data, run: Path, *extra) -> tuple[int, list[dict]]:
    code = main(["train", path, "--data", str(data), "--mode", "full", "--epochs", "3", "--batch-size", "16",
                 "--lr", "0.05", "--device", "cpu", "--json", "-o", str(run), *extra])
    return code, run


def test_two_processes_from_the_cli_train_like_this_process(project, capsys, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    root, data, path = project
    code, here = _train(path, data, root / "here")
    assert code == 0
    capsys.readouterr()
    code, two = _train(path, data, root / "two", "--where", "2")
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert code == 0, events[-1]
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "finished" and "batch" in kinds and kinds.count("epoch") == 3
    assert events[0]["device"] == "2 x cpu"
    a, b = load_run(here), load_run(two)
    assert b.status == "finished" and b.trained_epochs == 3 and (two / "best.pt").is_file()
    losses = [(x["train_loss"], y["train_loss"]) for x, y in zip(a.epochs, b.epochs, strict=True)]
    assert max(abs(x - y) for x, y in losses) <= 0.15, losses
    assert json.loads((two / "options.json").read_text())["placement"]["processes"] == 2
    # The run is any run: evaluate its weights like the others.
    assert main(["evaluate", path, "--weights", str(two), "--data", str(data), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["num_images"] == 72


def test_a_bad_place_is_refused_before_anything_runs(project, tmp_path, capsys):
    _, data, path = project
    for bad in ("moon", "0", "100"):
        code, run = _train(path, data, tmp_path / bad, "--where", bad)
        assert code == 2 and not run.exists()
        err = capsys.readouterr().err
        assert "not a place to train" in err or "number of processes must be" in err, err


def test_without_where_the_projects_saved_choice_is_used(project, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    _, data, path = project
    saved = json.loads(Path(path).read_text())
    for placement, device in (({"where": "processes", "processes": 1}, "1 x cpu"), ({"where": "moon"}, "cpu")):
        copy = tmp_path / f"{device[0]}.json"
        saved["training"] = {**saved.get("training", {}), "placement": placement}
        copy.write_text(json.dumps(saved))
        code, _ = _train(str(copy), data, tmp_path / f"run-{device[0]}", "--epochs", "1")
        events = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
        assert code == 0 and events[0]["device"] == device, events[0]  # a malformed choice trains here
