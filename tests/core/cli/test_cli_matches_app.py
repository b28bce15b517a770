"""The terminal and the window give the same answer: each command of ``python -m designer`` writes
(or prints) what the window's job in ``designer.app`` writes for the same project, images and
settings, file for file, apart from times, durations and the folder's own name."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import torch
from testkit.train import tiny_cli_project

from designer.app.audit import audit_project, report_dict
from designer.app.designs import edit_project, inspect_target, new_project
from designer.app.explain import explain_job, requests_for, write_overlays
from designer.app.jobs import (
    DesignSource,
    evaluate_job,
    export_job,
    lr_find_job,
    predict_job,
    scan_job,
    train_job,
)
from designer.app.project import load_project
from designer.app.training import data_settings, merged_options, resume_run
from designer.app.vocabulary import ReplaceClassifier, SetInput
from designer.base.jobs import JobControl, drain
from designer.cli.main import main

pytestmark = pytest.mark.usefixtures("one_thread")

# keys whose values are a clock reading, a duration or a speed: they differ between any two runs
VOLATILE = re.compile(r"(^|_)(time|date|started|ended|created|seconds|eta|elapsed)($|_)|_s$")


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return tiny_cli_project(tmp_path_factory.mktemp("parity"), per_class=8)


def _comparable(value, folders: tuple[str, ...] = ()):
    """``value`` without volatile keys, with each of ``folders`` written as FOLDER."""
    if isinstance(value, dict):
        return {k: _comparable(v, folders) for k, v in value.items() if not VOLATILE.search(str(k))}
    if isinstance(value, list):
        return [_comparable(v, folders) for v in value]
    if isinstance(value, str):
        for folder in folders:
            value = value.replace(folder, "FOLDER")
    return value


def _result_files(folder: Path) -> list[str]:
    """The files a command leaves in ``folder``, less the feature cache: features computed once are
    kept in memory too, so the second run in one process finds them there and writes no file."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                  if p.is_file() and not p.name.startswith("features-"))


def _same_folders(a: Path, b: Path) -> None:
    """The same file names; JSON equal but for volatile keys, weights equal, anything else byte-equal."""
    names_a, names_b = _result_files(a), _result_files(b)
    assert names_a == names_b
    folders = (str(a.resolve()), str(a), str(b.resolve()), str(b))
    for name in names_a:
        fa, fb = a / name, b / name
        if fa.suffix == ".json":
            assert _comparable(json.loads(fa.read_text()), folders) == \
                _comparable(json.loads(fb.read_text()), folders), name
        elif fa.suffix == ".pt":
            _same_weights(torch.load(fa, weights_only=True), torch.load(fb, weights_only=True), name)
        elif fa.suffix not in (".log", ".jsonl"):
            assert fa.read_bytes() == fb.read_bytes(), name


def _same_weights(a, b, name: str) -> None:
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), name
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), name
        for key in a:
            _same_weights(a[key], b[key], f"{name}:{key}")


def _source(path: str) -> DesignSource:
    return DesignSource.of_recipe(load_project(path).recipe)


def _split(path: str, data, seed: int = 1):
    settings = data_settings(load_project(path).data, str(data), None, 0.2, seed)
    return scan_job(JobControl(), settings)


def _train_here(path: str, data, run: Path, given: dict) -> None:
    options = merged_options(load_project(path).training, given)
    drain(train_job(JobControl(), _source(path), _split(path, data, options.seed), options, str(run),
                    probe={"classifier": "logistic"}))


def _cli_json(capsys, argv: list[str]):
    assert main(argv) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def test_new_and_edit_write_the_same_project(project, tmp_path):
    by_cli, by_app = tmp_path / "cli.json", tmp_path / "app.json"
    assert main(["new", "resnet18", "--weights", "none", "-o", str(by_cli)]) == 0
    assert main(["edit", str(by_cli), "--input", "1x32x32", "--classes", "4"]) == 0
    new_project("resnet18", "none", str(by_app))
    edit_project(str(by_app), [SetInput(32, 32, 1, "adapt"), ReplaceClassifier(4)])
    assert json.loads(by_cli.read_text()) == json.loads(by_app.read_text())


def test_inspect_prints_the_apps_analysis(project, capsys):
    _, _, path = project
    printed = _cli_json(capsys, ["inspect", path, "--json", "--depth", "2"])
    found = inspect_target(path, None, 2)
    expected = json.loads(json.dumps({"recipe": found.recipe.to_dict(), **found.report.to_dict(),
                                      "layers": found.rows}, default=list))
    assert printed == expected


def test_train_writes_the_same_run_as_the_window(project, tmp_path, capsys):
    _, data, path = project
    given = {"mode": "linear-probe", "seed": 1, "device": "cpu"}
    assert main(["train", path, "--data", str(data), "--mode", "linear-probe", "--seed", "1",
                 "--device", "cpu", "--json", "-o", str(tmp_path / "cli")]) == 0
    capsys.readouterr()
    _train_here(path, data, tmp_path / "app", given)
    _same_folders(tmp_path / "cli", tmp_path / "app")


def test_resume_continues_as_the_window_does(project, tmp_path, capsys):
    _, data, path = project
    first = tmp_path / "first"
    _train_here(path, data, first, {"mode": "full", "epochs": 1, "batch_size": 8, "seed": 2, "device": "cpu"})
    shutil.copytree(first, tmp_path / "cli")
    shutil.copytree(first, tmp_path / "app")
    assert main(["train", path, "--resume", str(tmp_path / "cli"), "--epochs", "2", "--json"]) == 0
    capsys.readouterr()
    plan = resume_run(str(tmp_path / "app"), 2, {})
    drain(train_job(JobControl(), _source(path), plan.split, plan.options, str(plan.run_dir),
                    plan.checkpoint))
    _same_folders(tmp_path / "cli", tmp_path / "app")


@pytest.fixture(scope="module")
def trained(project, tmp_path_factory):
    _, data, path = project
    run = tmp_path_factory.mktemp("trained") / "run"
    _train_here(path, data, run, {"mode": "full", "epochs": 2, "batch_size": 8, "seed": 3, "device": "cpu"})
    return run


@pytest.mark.parametrize("subset", ["all", "val"])
def test_evaluate_scores_the_images_the_window_scores(project, trained, capsys, subset):
    _, data, path = project
    printed = _cli_json(capsys, ["evaluate", path, "--weights", str(trained), "--data", str(data),
                                 "--subset", subset, "--json"])
    settings = data_settings(load_project(path).data, str(data), None, 0.2 if subset != "all" else 0.0, 0)
    result = evaluate_job(JobControl(), _source(path), str(trained), None, subset, 0, settings,
                          load_project(path).classes)
    assert printed == json.loads(json.dumps(result.evaluation.to_dict()))
    if subset == "val":  # the run's own validation images, as the Results tab scores them
        window = evaluate_job(JobControl(), _source(path), str(trained), None, subset)
        assert printed == json.loads(json.dumps(window.evaluation.to_dict()))


def test_predict_prints_the_apps_predictions(project, trained, capsys):
    _, data, path = project
    images = [str(p) for p in sorted((data / "square").iterdir())[:3]]
    printed = _cli_json(capsys, ["predict", path, "--weights", str(trained), *images, "--json"])
    found = predict_job(JobControl(), _source(path), str(trained), images, 3, load_project(path).classes)
    assert printed == json.loads(json.dumps([p.to_dict() for p, _ in found]))


def test_explain_writes_the_same_pictures(project, trained, tmp_path, capsys):
    _, data, path = project
    images = [str(p) for p in sorted((data / "circle").iterdir())[:2]]
    assert main(["explain", path, *images, "--weights", str(trained), "-o", str(tmp_path / "cli"),
                 "--device", "cpu"]) == 0
    capsys.readouterr()
    folder = tmp_path / "app"
    folder.mkdir()
    classes = load_project(path).classes
    job = explain_job(JobControl(), _source(path), str(trained), requests_for(images, classes), classes)
    taken: set[str] = set()
    for item in _items(job):
        if hasattr(item, "maps") and not item.error:
            write_overlays(item, folder, "gradcam", 0.5, taken)
    _same_folders(tmp_path / "cli", folder)


def _items(gen):
    while True:
        try:
            yield next(gen)
        except StopIteration:
            return


def test_export_writes_the_same_files(project, trained, tmp_path, capsys):
    _, _, path = project
    assert main(["export", path, "--weights", str(trained), "--format", "pt", "--format", "safetensors",
                 "-o", str(tmp_path / "cli")]) == 0
    capsys.readouterr()
    saved = load_project(path)
    outcomes = list(export_job(JobControl(), _source(path), ["pt", "safetensors"], str(tmp_path / "app"),
                               str(trained), dict(saved.training) or None, saved.classes or None))
    assert all(o.ok for o in outcomes)
    _same_folders(tmp_path / "cli", tmp_path / "app")


def test_lr_find_suggests_what_the_window_suggests(project, capsys):
    _, data, path = project
    printed = _cli_json(capsys, ["lr-find", path, "--data", str(data), "--steps", "10", "--batch-size", "8",
                                 "--device", "cpu", "--json"])
    options = merged_options(load_project(path).training, {"batch_size": 8, "device": "cpu"})
    found = lr_find_job(JobControl(), _source(path), _split(path, data, options.seed), options, steps=10)
    assert printed == json.loads(json.dumps(found.to_dict()))


def test_audit_reports_what_the_window_reports(project, capsys):
    pytest.importorskip("cleanlab")
    _, data, path = project
    printed = _cli_json(capsys, ["audit", path, "--data", str(data), "--device", "cpu", "--json"])
    split = scan_job(JobControl(), data_settings(None, str(data), None, 0.2, 0))
    report = drain(audit_project(path, split, "cpu"))
    assert _comparable(printed) == _comparable(json.loads(json.dumps(report_dict(report))))
