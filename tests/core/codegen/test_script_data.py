"""The generated script reads data like the app: it skips the files the app skips, splits a
folder exactly as the app does, and trains on the app's own split when one is exported.

The script's data functions are run in this process (``runpy``: its ``main`` only runs as
``__main__``); one test runs it for real, from another folder, without ``designer`` importable.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from testkit.data import make_shapes_folder, truncate_file
from testkit.designs import design
from testkit.script import run_outside, script_namespace

from designer.codegen.script import write_script
from designer.data.folders import scan_folder
from designer.export.splitfile import SPLIT_NAME, portable_split, write_split
from designer.model.build import build
from designer.model.ops import ReplaceClassifier, SetInput
from designer.model.recipe import Recipe

CLASSES = ("circle", "square", "triangle")


def generated_names(tmp_path: Path, split_file: str | None = None) -> dict:
    script = write_script(design("resnet18_grey"), tmp_path / "train.py", split_file=split_file)
    return script_namespace(script)


def messy_folder(root: Path, layout: str = "flat") -> Path:
    """Shapes with every kind of bad file, a hidden file, a Thumbs.db and a nested image."""
    make_shapes_folder(root, classes=CLASSES, per_class=7, size=16, corrupt=5, layout=layout)
    base = root / "train" if layout == "split" else root
    (base / "circle" / ".hidden.png").write_bytes(b"not read")
    (base / "square" / "Thumbs.db").write_bytes(b"windows")
    nested = base / "triangle" / "more"
    nested.mkdir()
    shutil.copy(next((base / "triangle").glob("triangle_*.png")), nested / "a_copy.png")
    return root


@pytest.mark.parametrize("layout", ["flat", "split", "train+test"])
def test_the_script_skips_and_splits_a_folder_as_the_app_does(tmp_path, layout):
    root = messy_folder(tmp_path / "data", "flat" if layout == "flat" else "split")
    if layout == "train+test":  # no val/: validation comes out of train/ (the names match in any case)
        (root / "val").rename(root / "Test")
    app = scan_folder(root, val_fraction=0.3, seed=7)
    classes, train, val, skipped = generated_names(tmp_path)["scan_data"](str(root), 0.3, 7)
    assert classes == app.classes
    assert train == app.train and val == app.val  # the very same images, in the same order
    assert sorted(p for p, _ in skipped) == sorted(p for p, _ in app.skipped)
    assert len(skipped) == 5 and all(Path(p).name.startswith("bad_") for p, _ in skipped)


def test_the_script_reads_the_apps_split_from_a_moved_folder(tmp_path):
    root = messy_folder(tmp_path / "data")
    app = scan_folder(root, val_fraction=0.3, seed=7)
    written = write_split(app, tmp_path / "export")
    assert written.name == SPLIT_NAME
    data = json.loads(written.read_text())
    assert data["train"][0][0] == Path(app.train[0][0]).relative_to(root).as_posix()  # portable
    moved = tmp_path / "elsewhere"
    shutil.move(root, moved)
    gone = Path(app.val[0][0].replace(str(root), str(moved)))
    gone.unlink()
    classes, train, val, skipped = generated_names(tmp_path)["read_split"](str(written), str(moved))
    relocate = [(p.replace(str(root), str(moved)), label) for p, label in app.train]
    assert classes == app.classes and train == relocate
    assert len(val) == len(app.val) - 1
    assert (str(gone), "listed in the split but not found") in skipped
    assert len(skipped) == len(app.skipped) + 1


def test_a_split_with_a_label_out_of_range_is_refused(tmp_path):
    root = make_shapes_folder(tmp_path / "data", classes=CLASSES, per_class=3, size=16)
    data = portable_split(scan_folder(root, 0.3, 0))
    data["train"][0][1] = 9
    path = tmp_path / "split.json"
    path.write_text(json.dumps(data))
    with pytest.raises(SystemExit, match="not a class index"):
        generated_names(tmp_path)["read_split"](str(path), str(root))


def three_class_design():
    recipe = Recipe.for_model("resnet18", weights="none").with_ops(SetInput(32, 32, 3), ReplaceClassifier(3))
    return build(recipe)


@pytest.mark.slow
def test_the_exported_script_trains_on_the_apps_split_and_survives_damaged_files(tmp_path):
    """Run from another folder as its help says: it uses split.json beside it by default,
    lists the files the app skipped, and skips a file damaged after the scan without stopping."""
    root = make_shapes_folder(tmp_path / "data", classes=CLASSES, per_class=6, size=16, corrupt=2)
    app = scan_folder(root, val_fraction=0.2, seed=3)
    out = tmp_path / "export"
    write_split(app, out)
    script = write_script(three_class_design(), out / "train.py", classes=list(CLASSES), split_file=SPLIT_NAME)
    damaged = app.train[0][0]
    truncate_file(damaged)
    work = tmp_path / "elsewhere"
    work.mkdir()
    proc = run_outside([sys.executable, str(script), "--data", str(root), "--epochs", "1", "--batch-size", "4",
                        "--out", str(work / "runs")], work)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert f"{len(app.train)} training images, {len(app.val)} validation images" in proc.stdout
    assert f"Skipped {len(app.skipped)} file(s)" in proc.stdout
    assert all(Path(p).name in proc.stdout for p, _ in app.skipped)
    assert f"skipped {damaged}" in proc.stderr  # damaged after the scan: skipped while loading
    assert "epoch 1/1" in proc.stdout and (work / "runs" / "best.pt").is_file()


def test_the_script_follows_no_link_out_of_the_data_folder(tmp_path):
    """Links to files or class folders outside DATA are left out, as the app leaves them out; links that
    stay inside DATA are read, and a pipe never blocks the scan."""
    root = messy_folder(tmp_path / "data")
    outside = make_shapes_folder(tmp_path / "elsewhere", classes=("star",), per_class=3, size=16)
    (root / "circle" / "outside.png").symlink_to(next((outside / "star").glob("*.png")))
    (root / "star").symlink_to(outside / "star", target_is_directory=True)
    (root / "square" / "inside.png").symlink_to(next((root / "triangle").glob("triangle_*.png")))
    os.mkfifo(root / "square" / "pipe.png")
    app = scan_folder(root, val_fraction=0.3, seed=7)
    classes, train, val, skipped = generated_names(tmp_path)["scan_data"](str(root), 0.3, 7)
    assert classes == app.classes == list(CLASSES)
    assert train == app.train and val == app.val
    assert sorted(p for p, _ in skipped) == sorted(p for p, _ in app.skipped)
    assert not any("outside" in p or "elsewhere" in p for p, _ in train + val)
    assert any(p.endswith("inside.png") for p, _ in train + val)
