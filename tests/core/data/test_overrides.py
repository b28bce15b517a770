"""The user's image decisions (relabel / exclude) and near-duplicate groups: checked when read from a
project, applied to every scan, and honoured by training."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from testkit.data import make_shapes_folder

from designer.app.project import load_project
from designer.base.errors import DesignerError
from designer.cli.main import main
from designer.data.folders import scan_folder
from designer.data.overrides import Override, apply_decisions, overrides_from_list
from designer.data.split import keep_groups_together, key_for
from designer.zoo import builders


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    return make_shapes_folder(tmp_path_factory.mktemp("ov") / "data", per_class=10, size=24)


def test_relabel_and_exclude_change_the_split_not_the_disk(shapes):
    split = scan_folder(shapes, 0.2, seed=0)
    (moved, _), (dropped, _) = split.train[0], split.train[1]
    before = sorted(p.name for p in Path(shapes).rglob("*.png"))
    decisions = [{"path": key_for(moved, str(shapes)), "action": "relabel", "label": "triangle"},
                 {"path": key_for(dropped, str(shapes)), "action": "exclude"},
                 {"path": "gone/never.png", "action": "exclude"}]
    out = apply_decisions(split, {"overrides": decisions})
    paths = dict(out.train + out.val)
    assert paths[moved] == out.classes.index("triangle") and dropped not in paths
    assert len(out.train) + len(out.val) == 29
    assert any("1 images relabelled, 1 left out" in w and "1 decisions name files" in w for w in out.warnings)
    assert sorted(p.name for p in Path(shapes).rglob("*.png")) == before  # nothing on disk changed


@pytest.mark.parametrize("bad, says", [
    ("nope", "should be a list"),
    ([{"path": "a.png", "action": "delete"}], "action"),
    ([{"path": "a.png", "action": "relabel"}], "needs the new class name"),
    ([{"path": "", "action": "exclude"}], "path"),
    ([{"path": 3, "action": "exclude"}], "path"),
])
def test_bad_decisions_are_refused_in_one_line(bad, says):
    with pytest.raises(DesignerError, match=says):
        overrides_from_list(bad)


def test_a_relabel_to_an_unknown_class_is_refused(shapes):
    split = scan_folder(shapes, 0.2)
    with pytest.raises(DesignerError, match="not classes of this folder"):
        apply_decisions(split, {"overrides": [Override(split.train[0][0], "relabel", "hexagon").to_dict()]})


def test_a_project_with_bad_decisions_does_not_load(tmp_path):
    path = tmp_path / "p.nsd.json"
    path.write_text(json.dumps({"format": "netsurgeon-project", "version": 1,
                                "recipe": {"base": {"source": "torchvision", "name": "resnet18", "weights": "none"},
                                           "ops": []},
                                "data": {"overrides": [{"path": "x.png", "action": "burn"}]}}))
    with pytest.raises(DesignerError, match="overrides"):
        load_project(path)


def test_groups_land_in_one_split(shapes):
    split = scan_folder(shapes, 0.3, seed=0)
    (a, _), (b, _), (c, _) = split.train[0], split.val[0], split.val[1]
    moved = keep_groups_together(split, [[a, b], [key_for(c, split.root), "not/there.png"]])
    where = {p: w for w in ("train", "val") for p, _ in split.subset(w)}
    assert moved == 1 and where[a] == where[b] == "train" and where[c] == "val"
    assert keep_groups_together(split, [[a, b]]) == 0


@pytest.mark.usefixtures("one_thread")
def test_training_honours_the_projects_decisions(tmp_path, shapes, capsys):
    path = str(tmp_path / "p.json")
    assert main(["new", "testkit.train:tiny_rgb_cnn", "-o", path, "--trust-builder"]) == 0
    assert main(["edit", path, "--input", "3x24x24", "--classes", "3", "--trust-builder"]) == 0
    split = scan_folder(shapes, 0.2, seed=0)
    relabelled, excluded = split.train[0][0], split.val[0][0]
    project = json.loads(Path(path).read_text())
    project["data"] = {"overrides": [
        {"path": key_for(relabelled, str(shapes)), "action": "relabel", "label": "square"},
        {"path": key_for(excluded, str(shapes)), "action": "exclude"}]}
    Path(path).write_text(json.dumps(project))
    builders.trust("testkit.train:tiny_rgb_cnn")
    try:
        run = tmp_path / "run"
        assert main(["train", path, "--data", str(shapes), "--epochs", "1", "--batch-size", "8", "--device", "cpu",
                     "--mode", "full", "--json", "-o", str(run)]) == 0
    finally:
        builders.trust_all(False)
    capsys.readouterr()
    saved = json.loads((run / "split.json").read_text())
    labels = {p: n for p, n in saved["train"] + saved["val"]}
    assert excluded not in labels and labels[relabelled] == saved["classes"].index("square")
    assert len(labels) == 29
