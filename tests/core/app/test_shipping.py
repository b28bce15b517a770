"""Issue 22, item 3: the best run ships. Export takes the project's best finished run by
validation accuracy (not the newest), a run at chance is warned about, and the model card
names the run folder and its validation accuracy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from designer.app.project import load_project
from designer.app.shipping import best_run, best_run_of_project, chance_warning, project_runs
from designer.base.errors import DesignerError
from designer.base.fileio import write_json
from designer.cli.main import main
from designer.model.build import build
from designer.train.runs import load_run
from designer.zoo import builders

CLASSES = ["circle", "square", "triangle"]


def _run(folder: Path, acc: float, status: str = "finished", mode: str = "full", state=None) -> Path:
    """A run folder as training leaves it, without training (``state``: the weights to keep)."""
    folder.mkdir(parents=True)
    torch.save(state if state is not None else {"w": torch.zeros(1)}, folder / "best.pt")
    write_json(folder / "history.json", {"status": status, "best_val_acc": acc, "best_epoch": 1,
                                         "epochs": [{"epoch": 1, "val_acc": acc}]})
    write_json(folder / "summary.json", {"mode": mode, "status": status, "best_val_acc": acc,
                                         "classes": CLASSES})
    return folder


def test_the_best_finished_run_wins_not_the_newest(tmp_path):
    runs = tmp_path / "runs"
    _run(runs / "20261201-100000-recommended", 0.84)
    _run(runs / "20261201-110000-full", 0.95, status="stopped")  # stopped: not what ships
    _run(runs / "20261201-120000-scratch", 0.33, mode="scratch")  # the newest, at chance
    listed = _run(tmp_path / "elsewhere" / "20261130-090000-full", 0.5)  # named in the project file
    found = project_runs(runs, [str(listed), str(tmp_path / "gone")])
    assert found[0].name == "20261130-090000-full" and len(found) == 4
    assert best_run(found).name == "20261201-100000-recommended"
    assert best_run_of_project(runs, [str(listed)]).name == "20261201-100000-recommended"
    assert best_run([r for r in found if r.status != "finished"]) is None


def test_no_finished_run_is_said_plainly(tmp_path):
    with pytest.raises(DesignerError, match="no training runs"):
        best_run_of_project(tmp_path / "runs")
    _run(tmp_path / "runs" / "a", 0.9, status="stopped")
    with pytest.raises(DesignerError, match="no finished training run"):
        best_run_of_project(tmp_path / "runs")


def test_a_run_at_chance_gets_a_warning(tmp_path):
    at_chance = load_run(_run(tmp_path / "chance", 0.38))  # 3 classes: 1/3 + 0.05 = 0.383
    learned = load_run(_run(tmp_path / "learned", 0.40))
    assert "guessing among 3 classes" in chance_warning(at_chance) and "38.0 %" in chance_warning(at_chance)
    assert chance_warning(learned) == ""


@pytest.fixture
def project(tmp_path):
    path = str(tmp_path / "p.json")
    assert main(["new", "testkit.train:tiny_rgb_cnn", "-o", path, "--trust-builder"]) == 0
    assert main(["edit", path, "--input", "3x24x24", "--classes", "3", "--trust-builder"]) == 0
    builders.trust("testkit.train:tiny_rgb_cnn")
    return path


def test_cli_export_weights_best_takes_the_best_run_and_names_it_in_the_card(project, tmp_path, capsys):
    state = build(load_project(project).recipe).model.state_dict()
    runs = tmp_path / "runs"  # beside the project file, where `train` puts them
    best = _run(runs / "20261201-100000-recommended", 0.84, state=state)
    _run(runs / "20261201-120000-scratch", 0.30, mode="scratch", state=state)
    out = tmp_path / "export"
    capsys.readouterr()
    assert main(["export", project, "--weights", "best", "--format", "pt", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "20261201-100000-recommended" in err and "84.0 %" in err and "Warning" not in err
    card = json.loads((out / "model.card.json").read_text())
    assert card["trained_in"] == {"run_folder": str(best.resolve()), "best_val_acc": 0.84}


def test_cli_export_of_a_run_at_chance_warns_first(project, tmp_path, capsys):
    state = build(load_project(project).recipe).model.state_dict()
    chance = _run(tmp_path / "runs" / "20261201-120000-scratch", 0.30, mode="scratch", state=state)
    capsys.readouterr()
    assert main(["export", project, "--weights", str(chance), "--format", "pt", "-o", str(tmp_path / "o")]) == 0
    assert "Warning: The run 20261201-120000-scratch reached 30.0 %" in capsys.readouterr().err


def test_cli_export_weights_best_without_runs_fails_in_one_line(project, tmp_path, capsys):
    assert main(["export", project, "--weights", "best", "--format", "pt", "-o", str(tmp_path / "o")]) == 2
    assert "no training runs" in capsys.readouterr().err
