"""The audit's decisions reach everything that trains (issue 25): the exported script trains on the
overridden samples and the group-aware split; the suggested fixes and the leak estimate are sound."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from testkit.data import make_shapes_folder
from testkit.script import script_namespace

from designer.app.audit import audit_note
from designer.app.project import Project, save_project
from designer.audit.fixes import fix_counts, merge_decisions, suggested_fixes
from designer.audit.leak import estimate_leak
from designer.audit.report import AuditReport, DuplicateGroup, LabelIssue
from designer.cli.main import main
from designer.model.ops import ReplaceClassifier, SetInput
from designer.model.recipe import Recipe


def _project_with_decisions(tmp_path: Path) -> tuple[str, Path, dict]:
    root = make_shapes_folder(tmp_path / "shapes", per_class=8, size=16)
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.png"))
    circles = [f for f in files if f.startswith("circle/")]
    squares = [f for f in files if f.startswith("square/")]
    data = {"root": str(root), "val_fraction": 0.25, "seed": 0,
            "overrides": [{"path": circles[0], "action": "exclude", "label": ""},
                          {"path": squares[0], "action": "relabel", "label": "triangle"}],
            "duplicate_groups": [circles[1:5]]}  # four images: some land in val by the plain split
    recipe = Recipe.for_model("resnet18", weights="none").with_ops(SetInput(16, 16, 3), ReplaceClassifier(3))
    path = tmp_path / "p.nsd.json"
    save_project(Project(recipe=recipe, classes=["circle", "square", "triangle"], data=data), path)
    return str(path), root, data


def test_the_exported_script_trains_on_the_overridden_samples(tmp_path, capsys):
    project, root, data = _project_with_decisions(tmp_path)
    out = tmp_path / "export"
    assert main(["export", project, "--format", "script", "-o", str(out), "--no-check"]) == 0
    assert (out / "split.json").is_file(), capsys.readouterr()
    script = script_namespace(out / "train.py")
    args = script["parse_args"].__globals__["argparse"].Namespace(split=str(out / "split.json"), data=None)
    classes, train, val, _ = script["read_split"](args.split, args.data)
    labels = {Path(p).relative_to(root).as_posix(): classes[label] for p, label in train + val}
    excluded, relabelled = data["overrides"][0]["path"], data["overrides"][1]["path"]
    assert excluded not in labels  # left out
    assert labels[relabelled] == "triangle"  # trains on the new label
    group = data["duplicate_groups"][0]
    train_keys = {Path(p).relative_to(root).as_posix() for p, _ in train}
    assert len({g in train_keys for g in group}) == 1  # the group is in one split
    assert len(labels) == 24 - 1  # every other image is still there


def test_a_project_without_decisions_exports_as_before(tmp_path):
    project, _, data = _project_with_decisions(tmp_path)
    saved = json.loads(Path(project).read_text())
    saved["data"] = {"root": data["root"]}
    Path(project).write_text(json.dumps(saved))
    out = tmp_path / "export"
    assert main(["export", project, "--format", "script", "-o", str(out), "--no-check"]) == 0
    assert not (out / "split.json").exists()  # the script splits --data itself, as before


def _report() -> AuditReport:
    report = AuditReport(["a", "b"], "/data", 6)
    report.label_issues = [LabelIssue("/data/a/1.png", "a", "b", 0.9),
                           LabelIssue("/data/b/6.png", "b", "a", 0.8)]
    report.duplicates = [DuplicateGroup(["/data/a/2.png", "/data/a/3.png"], "near", 0.995, True),
                         DuplicateGroup(["/data/b/4.png", "/data/b/5.png"], "exact", 1.0, False)]
    report.split_of = {"/data/a/1.png": "train", "/data/a/2.png": "train", "/data/a/3.png": "val",
                       "/data/b/4.png": "train", "/data/b/5.png": "train", "/data/b/6.png": "val"}
    return report


def test_suggested_fixes_leave_out_suspects_and_leaking_validation_copies():
    fixes = suggested_fixes(_report())
    assert {"path": "a/1.png", "action": "exclude", "label": ""} in fixes
    assert {"path": "a/3.png", "action": "exclude", "label": ""} in fixes
    # a group inside training is not a leak, and a validation suspect is the user's call: nothing to fix
    assert len(fixes) == 2
    assert fix_counts(fixes) == {"relabelled": 0, "excluded": 2}
    mine = [{"path": "a/1.png", "action": "relabel", "label": "b"}]  # the user looked: their word wins
    merged = merge_decisions(mine, fixes)
    assert mine[0] in merged and len(merged) == 2


def test_the_leak_estimate_counts_memorised_copies_as_right():
    rng = np.random.default_rng(0)
    centres = np.eye(4)[:2] * 3
    labels = np.array([0, 1] * 40)
    feats = centres[labels] + rng.normal(0, 3.0, (80, 4))  # overlapping classes: the head errs
    paths = [f"/d/{i}.png" for i in range(80)]
    split_of = {p: ("val" if i >= 60 else "train") for i, p in enumerate(paths)}
    feats[60:70] = feats[:10] + 1e-3  # ten val images copy training images, with their labels
    groups = [DuplicateGroup([paths[i], paths[60 + i]], "near", 0.999, True) for i in range(10)]
    leak = estimate_leak(feats, labels, paths, split_of, groups)
    assert leak.val_images == 20 and leak.crossing == 10
    assert leak.with_copies == round((leak.without_copies * 10 + 10) / 20, 4)
    assert leak.inflation > 0 and "10 of 20 validation images" in leak.sentence()
    assert estimate_leak(feats, labels, paths, split_of, []).crossing == 0


def test_a_run_trained_after_an_audit_names_it(tmp_path):
    project, root, _data = _project_with_decisions(tmp_path)
    saved = json.loads(Path(project).read_text())
    saved["data"]["audit"] = {"id": "audit-20261206-070000", "time": "2026-12-06T07:00:00", "images": 24}
    Path(project).write_text(json.dumps(saved))
    run = tmp_path / "run"
    args = ["train", project, "--data", str(root), "--mode", "linear-probe", "-o", str(run), "--json"]
    assert main(args) == 0
    options = json.loads((run / "options.json").read_text())
    assert options["audit"] == {"id": "audit-20261206-070000", "time": "2026-12-06T07:00:00", "relabelled": 1,
                                "excluded": 1, "groups": 1}
    assert audit_note(options) == "cleaned data (audit-20261206-070000: 1 relabelled, 1 left out)"
    assert audit_note({"audit": {"id": 3}}) == "" and audit_note({}) == ""  # a run from elsewhere: checked
