"""CLI: models, inspect, new, edit, and the flag <-> op spelling of fixes."""

import json
import os
import subprocess
import sys

import pytest
from testkit import REPO

from designer.base.errors import DesignerError
from designer.cli.core import edit_ops
from designer.cli.flags import format_op_flag, parse_input, parse_layer, parse_lr_factor, parse_set
from designer.cli.main import main, make_parser
from designer.model.ops import (
    DeleteLayer,
    Freeze,
    FreezeUntil,
    InsertAfter,
    LayerSpec,
    LRPreset,
    ReplaceClassifier,
    ReplaceLayer,
    SetBatchNormMode,
    SetInput,
    SetLayerParams,
    SetLRFactor,
)


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "designer", *args], check=False, capture_output=True, text=True,
                          cwd=str(REPO), env={**os.environ, **(env or {})}, timeout=300)


@pytest.mark.slow
def test_models_json_lists_the_gallery():
    out = run_cli("models", "--json")
    assert out.returncode == 0, out.stderr
    models = {m["name"]: m for m in json.loads(out.stdout)}
    assert len(models) >= 80 and {"resnet18", "vit_b_16", "efficientnet_lite0"} <= set(models)
    assert models["efficientnet_lite0"]["weights_available"] is True
    assert models["resnet50"]["input_size"] == 224 and models["inception_v3"]["input_size"] == 299


def test_models_table_by_category(capsys):
    assert main(["models", "--category", "edge"]) == 0
    out = capsys.readouterr().out
    assert "mobilenet_v3_small" in out and "vgg16 " not in out and "weights local" in out


@pytest.mark.slow
def test_unknown_model_exits_2_with_one_line():
    out = run_cli("inspect", "resnet1")
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "resnet18" in lines[0]


def test_inspect_folded_table_and_totals(capsys):
    assert main(["inspect", "resnet18", "--depth", "1"]) == 0
    out = capsys.readouterr().out
    assert "layer4" in out and "layer4.0.conv1" not in out
    assert "11,689,512 total" in out and "GFLOPs" in out


def test_inspect_json_and_errors_with_fix(capsys):
    assert main(["inspect", "alexnet", "--input", "3x32x32", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    error = report["messages"][0]
    assert error["level"] == "error" and error["node"] == "features.12"
    assert error["fix"] == {"op": "set_input", "height": 64, "width": 64, "channels": 3, "conv_mode": "adapt"}
    assert main(["inspect", "alexnet", "--input", "3x32x32"]) == 1
    assert "fix: Set input to 64x64 (--input 3x64x64)" in capsys.readouterr().out


def test_new_then_edit_then_inspect_project(tmp_path, capsys):
    from designer.app.project import load_project

    project = str(tmp_path / "p.json")
    assert main(["new", "resnet18", "--weights", "none", "-o", project]) == 0
    assert main(["edit", project, "--input", "1x64x64:replicate", "--classes", "5", "--head-dropout", "0.2",
                 "--freeze-until", "layer3", "--unfreeze", "layer3.1", "--lr-preset", "head_x10_rest_x0.1",
                 "--lr-factor", "layer4=0.5", "--bn-mode", "frozen_eval",
                 "--insert-after", "layer4=Dropout2d:p=0.1"]) == 0
    kinds = [op.kind for op in load_project(project).recipe.ops]
    assert kinds == ["set_input", "replace_classifier", "insert_after", "freeze_until", "freeze",
                     "lr_preset", "set_lr_factor", "set_batchnorm_mode"]
    capsys.readouterr()
    assert main(["inspect", project, "--depth", "2"]) == 0
    out = capsys.readouterr().out
    assert "input 3x64x64" in out or "input 1x64x64" in out
    assert "5 classes" in out and "frozen" in out


def test_edit_with_a_bad_op_leaves_the_file_unchanged(tmp_path):
    project = tmp_path / "p.json"
    assert main(["new", "alexnet", "--weights", "none", "-o", str(project)]) == 0
    before = project.read_bytes()
    with pytest.raises(SystemExit):
        main(["edit", str(project), "--bn-mode", "nonsense"])
    assert main(["edit", str(project), "--delete", "features.99"]) == 2
    assert main(["edit", str(project), "--input", "3x32x32"]) == 2  # the analyzer's error, with its fix
    assert project.read_bytes() == before
    assert main(["edit", str(project), "--input", "3x32x32", "--allow-errors", "-o", str(tmp_path / "q.json")]) == 0


@pytest.mark.slow
def test_edit_refusal_names_the_fix_flag(tmp_path):
    project = str(tmp_path / "p.json")
    assert main(["new", "alexnet", "--weights", "none", "-o", project]) == 0
    out = run_cli("edit", project, "--input", "3x32x32")
    assert out.returncode == 2 and "--input 3x64x64" in out.stderr and "63x63" in out.stderr


@pytest.mark.slow
def test_new_with_missing_default_weights_says_weights_none(tmp_path):
    out = run_cli("new", "resnet18", "-o", str(tmp_path / "p.json"),
                  env={"TORCH_HOME": str(tmp_path / "empty"), "NETSURGEON_OFFLINE": "1"})
    assert out.returncode == 2 and "--weights none" in out.stderr
    assert not (tmp_path / "p.json").exists()


# --- flag parsing --------------------------------------------------------------------


def test_parse_flags():
    assert parse_input("1x32x32:replicate") == SetInput(32, 32, 1, "replicate")
    assert parse_input("64x48") == SetInput(64, 48, 3, "adapt")
    assert parse_layer("features.3=Conv2d:out_channels=64,kernel_size=(3,3),bias=false", "--replace") == (
        "features.3", LayerSpec.of("Conv2d", out_channels=64, kernel_size=(3, 3), bias=False))
    assert parse_layer("avgpool=AdaptiveAvgPool2d", "--replace") == ("avgpool", LayerSpec.of("AdaptiveAvgPool2d"))
    assert parse_set("classifier.6:out_features=7,p=0.5") == ("classifier.6", {"out_features": 7, "p": 0.5})
    assert parse_lr_factor("layer4=0.1") == ("layer4", 0.1)
    for bad, parse in (("3x0x32", parse_input), ("axbxc", parse_input), ("fc", parse_set), ("fc=x", parse_lr_factor)):
        with pytest.raises(DesignerError):
            parse(bad)
    with pytest.raises(DesignerError):
        parse_layer("features.3", "--insert-after")


@pytest.mark.parametrize("op", [
    SetInput(64, 64, 1, "replicate"), ReplaceClassifier(7, 0.2, 128, True), DeleteLayer("avgpool"),
    InsertAfter("avgpool", LayerSpec.of("AdaptiveAvgPool2d", output_size=(7, 7))),
    ReplaceLayer("features.3", LayerSpec.of("Dropout", p=0.5)), SetLayerParams.of("fc", in_features=512),
    Freeze("layer1"), Freeze("layer1", frozen=False), FreezeUntil("layer3"), SetLRFactor("layer4", 0.1),
    LRPreset("layer_decay"), SetBatchNormMode("eval"),
])
def test_every_op_prints_as_the_edit_flag_that_makes_it(op):
    args = make_parser().parse_args(["edit", "p.json", *format_op_flag(op).split()])
    assert edit_ops(args) == [op]


def test_inspect_an_edited_lite0_project_as_json_and_as_text(tmp_path, capsys):
    """Issue 13: --json crashed deep-copying the traced graph of Lite0 at 1x32x32 (10 classes)."""
    project = str(tmp_path / "lite0.nsd.json")
    assert main(["new", "efficientnet_lite0", "-o", project]) == 0
    assert main(["edit", project, "--input", "1x32x32", "--classes", "10"]) == 0
    capsys.readouterr()
    assert main(["inspect", project, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["params_total"] == 3_383_242 and report["output_shape"] == [1, 10]
    assert report["layers"][0]["name"] == "input" and report["recipe"]["base"]["weights"] == "default"
    assert main(["inspect", project]) == 0
    out = capsys.readouterr().out
    for line in ("params 3,383,242 total", "GFLOPs", "input 1x32x32", "activations"):
        assert out.count(line) == 1, f"'{line}' printed {out.count(line)} times"
