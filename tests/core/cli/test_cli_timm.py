"""A timm design from the command line, offline with random weights: new, edit, train in every
mode, and export in every format with its parity check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from testkit.data import make_shapes_folder

from designer.cli.main import main
from designer.train.options import MODES

pytestmark = pytest.mark.usefixtures("one_thread")
MODEL = "mobilenetv3_small_050.lamb_in1k"


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_models_lists_both_zoos(capsys):
    assert main(["models", "--json"]) == 0
    models = json.loads(capsys.readouterr().out)
    sources = {m["source"] for m in models}
    assert {"torchvision", "timm"} <= sources and sum(m["source"] == "timm" for m in models) > 1000
    assert main(["models", "--source", "timm", "--family", "convnext"]) == 0
    out = capsys.readouterr().out
    assert "convnext_atto.d2_in1k" in out and "resnet18 " not in out


def test_a_bad_timm_name_is_one_line_and_status_2(tmp_path, capsys):
    assert main(["new", "resnet18.no_such_tag", "--weights", "none", "-o", str(tmp_path / "p.json")]) == 2
    assert "timm has no pretrained classifier called 'resnet18.no_such_tag'" in capsys.readouterr().err
    assert not (tmp_path / "p.json").exists()


@pytest.mark.slow
def test_timm_design_new_edit_train_every_mode_export_every_format(tmp_path, capsys):
    data = make_shapes_folder(tmp_path / "data", per_class=8, size=32)
    path = str(tmp_path / "p.json")
    assert main(["new", MODEL, "--weights", "none", "-o", path]) == 0
    assert main(["edit", path, "--input", "1x32x32", "--classes", "3", "--lr-preset", "layer_decay"]) == 0
    saved = json.loads(Path(path).read_text())
    assert saved["recipe"]["base"] == {"source": "timm", "name": MODEL, "weights": "none"}
    for mode in MODES:
        run = tmp_path / f"run-{mode}"
        short = ["--budget", "30s", "--trials", "2"] if mode == "search" else []  # two trials, not ten minutes
        code = main(["train", path, "--data", str(data), "--mode", mode, "--epochs", "1", "--batch-size", "8",
                     "--device", "cpu", "--json", "-o", str(run), *short])
        events = _json_lines(capsys.readouterr().out)
        assert code == 0 and events[-1]["kind"] == "finished", (mode, events[-1])
    out = tmp_path / "export"
    code = main(["export", path, "--weights", str(tmp_path / "run-full" / "best.pt"), "--format", "all",
                 "-o", str(out), "--json"])
    results = _json_lines(capsys.readouterr().out)
    assert code == 0 and len(results) == 6 and all(r["ok"] for r in results), results
    assert all(r["max_abs_diff"] <= 1e-4 for r in results), results
    script = Path(next(r["path"] for r in results if r["format"] == "script"))
    assert f'timm.create_model("{MODEL}", pretrained=False)' in script.with_name("model.py").read_text()
