"""``python -m designer explain``: heat maps written as PNG files, and bad input refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from testkit.data import make_shapes_folder

from designer.app.project import load_project, save_project
from designer.cli.main import main

pytestmark = pytest.mark.usefixtures("one_thread")
BUILDER = "testkit.train:tiny_rgb_cnn"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("explain")
    data = make_shapes_folder(root / "data", per_class=2, size=24)
    path = str(root / "p.nsd.json")
    assert main(["new", BUILDER, "-o", path, "--trust-builder"]) == 0
    assert main(["edit", path, "--input", "3x24x24", "--classes", "3", "--trust-builder"]) == 0
    project = load_project(path)
    project.classes = ["circle", "square", "triangle"]  # as training records them
    save_project(project, path)
    return root, data, path


def _explain(path, *args) -> int:
    """The exit status (argparse's own refusals exit at once, with status 2)."""
    try:
        return main(["explain", path, *args, "--trust-builder", "--device", "cpu"])
    except SystemExit as exit_:
        return exit_.code


def test_explain_writes_an_overlay_per_class_and_method(project, tmp_path, capsys):
    _, data, path = project
    square = min((data / "square").iterdir())
    loose = tmp_path / "photo.png"  # not in a class folder: no true class
    Image.open(square).save(loose)
    out = tmp_path / "maps"
    assert _explain(path, str(square), str(loose), "-o", str(out), "--method", "both", "--json") == 0
    written = json.loads(capsys.readouterr().out)
    files = sorted(Path(w["file"]).name for w in written)
    predicted = {w["path"]: w["predicted"] for w in written}
    for method in ("gradcam", "ablation"):
        assert f"{square.stem}.{method}.square.png" in files  # its folder names its true class
        assert f"{square.stem}.{method}.{predicted[str(square)]}.png" in files
        assert f"photo.{method}.{predicted[str(loose)]}.png" in files
    for name in files:
        with Image.open(out / name) as img:
            assert img.format == "PNG" and img.size == (24, 24) and img.mode == "RGB"
    assert not list(out.glob(".*"))  # atomic writes leave no temporary files


def test_the_layer_comes_from_the_flag_or_the_project(project, tmp_path, capsys):
    _, data, path = project
    image = str(min((data / "circle").iterdir()))
    assert _explain(path, image, "-o", str(tmp_path / "a"), "--layer", "1", "--class", "triangle") == 0
    captured = capsys.readouterr()
    assert "Grad-CAM at layer 1 (16x24x24)" in captured.err
    assert len(list((tmp_path / "a").glob("*.triangle.png"))) == 1
    chosen = load_project(path)
    chosen.explain = {"layer": "3"}
    save_project(chosen, tmp_path / "chosen.nsd.json")
    assert _explain(str(tmp_path / "chosen.nsd.json"), image, "-o", str(tmp_path / "b")) == 0
    assert "at layer 3 (32x12x12)" in capsys.readouterr().err
    assert _explain(path, image, "-o", str(tmp_path / "c")) == 0
    assert "at layer 4 (32x12x12)" in capsys.readouterr().err  # the default: the last map of 7x7 or more


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_bad_input_is_refused_in_one_line(project, tmp_path, capsys):
    _, data, path = project
    image = str(min((data / "circle").iterdir()))
    out = str(tmp_path / "out")
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    cases = [
        ([str(tmp_path / "missing.png")], "does not exist"),
        ([str(text)], "cannot be used"),
        ([image, "--layer", "nothing"], "There is no layer named nothing"),
        ([image, "--layer", "7"], "not a map over the image"),
        ([image, "--layer", "../../etc"], "no layer named"),
        ([image, "--class", "dragon"], "'dragon' is not one of the network's classes"),
        ([image, "--weights", str(text)], ""),
        ([image, "--opacity", "2"], "out of range"),
        ([image, "--method", "magic"], "invalid choice"),
    ]
    for args, message in cases:
        code = _explain(path, *args, "-o", out)
        err = _one_line_error(capsys)
        assert code == 2, (args, err)
        assert message in err, (args, err)
    (tmp_path / "file").write_text("x")
    assert _explain(path, image, "-o", str(tmp_path / "file")) == 2
    assert "is a file, not a folder" in _one_line_error(capsys)
    assert not Path(out).exists() or not list(Path(out).iterdir())  # nothing written for bad input
