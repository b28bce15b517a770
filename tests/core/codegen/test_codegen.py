"""The generated training script: standalone, faithful to the app's network, and it trains.

Every script runs in a subprocess from a folder outside the project with
PYTHONPATH unset, so it cannot import ``designer``.
"""

from __future__ import annotations

import json
import os
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from testkit import REPO
from testkit.data import make_shapes_folder
from testkit.designs import RECIPES, design, example_recipe
from testkit.script import run_outside
from torch import nn

from designer.codegen.layers import attr_expr, render_module
from designer.codegen.script import script_files, write_script
from designer.export.checks import sample_input
from designer.export.script import expected_lr_factors
from designer.model.ops import SetInput
from designer.model.recipe import Recipe
from designer.model.surgery import LAYER_LIBRARY
from designer.zoo.weights import plain_state_dict

ROOT = REPO
EXAMPLE = ROOT / "docs" / "example_script"  # train.py, model.py, data.py
EXAMPLE_TRAINING = {"optimizer": "sgd", "lr": 0.01, "schedule": "cosine", "warmup_epochs": 1, "epochs": 15,
                    "batch_size": 32, "weight_decay": 1e-4, "seed": 0, "augment": {"hflip": True, "rotation": 10}}
EXAMPLE_CLASSES = ["circle", "cross", "square", "star", "triangle"]
SHAPES4 = ("circle", "square", "triangle", "cross")  # mobilenet_frozen has 4 outputs
RUFF = ROOT / ".venv" / "bin" / "ruff"


def run(args: list[str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run outside the project: cwd elsewhere, no PYTHONPATH, so ``designer`` is not importable."""
    proc = run_outside(args, cwd, timeout)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return proc


def script_check(script: Path, weights: Path | None, cwd: Path) -> dict:
    args = [sys.executable, str(script), "--check"] + (["--weights", str(weights)] if weights else [])
    return json.loads(run(args, cwd).stdout.strip().splitlines()[-1])


def app_logits(d) -> torch.Tensor:
    model = d.model.eval()
    with torch.no_grad():
        return model(sample_input(d.input_shape, 2, seed=0))


@pytest.mark.slow
def test_script_rebuilds_the_app_network_from_a_pt_file(tmp_path):
    """(test_export runs every design's script the same way, from a .safetensors file.)"""
    d = design("resnet18_grey")
    script = write_script(d, tmp_path / "train.py")
    torch.save(plain_state_dict(d.model), tmp_path / "weights.pt")
    report = script_check(script, tmp_path / "weights.pt", tmp_path)
    assert report["keys"] == list(d.model.state_dict())
    assert (torch.tensor(report["logits"]) - app_logits(d)).abs().max() <= 1e-4
    assert report["lr_factors"] == pytest.approx(expected_lr_factors(d))


@pytest.mark.slow
def test_script_rebuilds_lite0_with_its_real_pretrained_weights(tmp_path):
    """No --weights: the script loads the packaged ImageNet weights and adapts the first conv
    to one channel itself; its logits match the app's."""
    recipe = Recipe.for_model("efficientnet_lite0").with_ops(SetInput(64, 64, 1))
    from designer.model.build import build

    d = build(recipe)
    script = write_script(d, tmp_path / "train.py")
    assert "from efficientnet_lite_pytorch import EfficientNet" in (tmp_path / "model.py").read_text()
    report = script_check(script, None, tmp_path)
    assert (torch.tensor(report["logits"]) - app_logits(d)).abs().max() <= 1e-4
    rebuilt = runpy.run_path(str(tmp_path / "model.py"))["build_model"](pretrained=False)
    assert bn_momenta(rebuilt) == bn_momenta(d.model) == pytest.approx([0.1] * 49)


def bn_momenta(model: nn.Module) -> list[float]:
    return [m.momentum for m in model.modules() if isinstance(m, nn.BatchNorm2d)]


@pytest.fixture(scope="module")
def shapes4(tmp_path_factory):
    return make_shapes_folder(tmp_path_factory.mktemp("data"), classes=SHAPES4, per_class=5, size=32)


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["python", "torchrun"])
def test_script_trains_and_keeps_frozen_layers_fixed(launcher, shapes4, tmp_path):
    d = design("mobilenet_frozen")
    script = write_script(d, tmp_path / "train.py", classes=sorted(SHAPES4),
                          training={"mode": "full", "epochs": 1, "batch_size": 4, "optimizer": "adamw",
                                    "lr": 1e-2})
    start = plain_state_dict(d.model)
    save_file(start, str(tmp_path / "start.safetensors"))
    args = [str(script), "--data", str(shapes4), "--weights", str(tmp_path / "start.safetensors"),
            "--out", str(tmp_path / "out")]
    if launcher == "python":
        out = run([sys.executable, *args], tmp_path).stdout
    else:
        torchrun = Path(sys.executable).with_name("torchrun")
        out = run([str(torchrun), "--standalone", "--nproc_per_node=2", *args], tmp_path).stdout
        assert "Training on 2 x cpu" in out
    assert "epoch 1/1" in out
    trained = torch.load(tmp_path / "out" / "best.pt", weights_only=True)
    assert list(trained) == list(d.model.state_dict())
    frozen = [n for n, p in d.model.named_parameters() if n not in expected_lr_factors(d)]
    assert frozen and all(torch.equal(trained[n], start[n]) for n in frozen)
    # frozen BatchNorm stayed in eval mode: its running statistics did not move
    assert torch.equal(trained["features.1.block.0.1.running_mean"], start["features.1.block.0.1.running_mean"])
    head = f"{d.classifier_path}.3.weight"  # the hidden head: Dropout, Linear, ReLU, Linear
    assert not torch.equal(trained[head], start[head])


@pytest.mark.slow
def test_script_is_standalone_and_ruff_clean(tmp_path):
    folders = [EXAMPLE]
    for name in RECIPES:
        files = script_files(design(name))
        folders.append(tmp_path / name)
        folders[-1].mkdir()
        for file, text in files.items():
            compile(text, file, "exec")
            assert "designer" not in text.split('"""', 2)[2]  # only the header may mention the app
            (folders[-1] / file).write_text(text)
        assert ("efficientnet_lite_pytorch" in files["model.py"]) == (name == "lite0_real")
    if not RUFF.exists() and shutil.which("ruff") is None:
        pytest.skip("ruff is not installed")
    ruff = str(RUFF) if RUFF.exists() else shutil.which("ruff")
    for folder in folders:  # from each folder, as ruff sees model.py and data.py as the script's own
        for rules in (["--isolated"], ["--isolated", "--select", "E,F,W,I,B,UP", "--line-length", "100"]):
            proc = subprocess.run([ruff, "check", "--no-cache", *rules, "."], cwd=folder, capture_output=True, text=True,
                                  check=False)
            assert proc.returncode == 0, proc.stdout


def test_docs_example_script_is_current():
    files = script_files(example_recipe(), training=EXAMPLE_TRAINING, classes=EXAMPLE_CLASSES)
    for name, text in files.items():
        if os.environ.get("NETSURGEON_WRITE_DOCS"):
            EXAMPLE.mkdir(exist_ok=True)
            (EXAMPLE / name).write_text(text)
        assert (EXAMPLE / name).read_text() == text, \
            "regenerate it: NETSURGEON_WRITE_DOCS=1 pytest tests/core/codegen/test_codegen.py"
    assert sorted(p.name for p in EXAMPLE.glob("*.py")) == sorted(files)
    assert 'FROZEN = ["conv1", "bn1", "layer1", "layer2"]' in files["model.py"]
    assert "models.resnet18(weights=weights)" in files["model.py"]


@pytest.mark.parametrize("layer", [
    nn.Linear(512, 10), nn.Linear(8, 2, bias=False), nn.Conv2d(3, 8, 3, padding=1, bias=False),
    nn.Conv2d(8, 8, (3, 5), padding="same", groups=2), nn.Conv2d(8, 4, 3, stride=(2, 1)), nn.BatchNorm2d(16), nn.BatchNorm1d(4),
    nn.ReLU(inplace=True), nn.GELU(), nn.Dropout(0.25), nn.MaxPool2d(2), nn.AdaptiveAvgPool2d(1),
    nn.Flatten(), nn.LayerNorm(5), nn.Identity(), nn.LeakyReLU(0.2),
    nn.Sequential(nn.Dropout(0.2), nn.Linear(512, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 4)),
])
def test_layers_are_written_as_code_that_rebuilds_them(layer):
    code = render_module(layer)
    assert repr(eval(code, {"nn": nn})) == repr(layer)


def test_module_paths_become_attribute_access():
    assert attr_expr("layer4.1.conv2") == "model.layer4[1].conv2"
    assert attr_expr("features.3") == "model.features[3]"
    assert attr_expr("") == "model"


@pytest.mark.slow
def test_example_script_loads_app_weights(tmp_path):
    """The README example runs offline from the app's weights (no ImageNet download)."""
    from designer.codegen.script import structure

    d = structure(example_recipe())
    save_file(plain_state_dict(d.model), str(tmp_path / "w.safetensors"))
    shutil.copytree(EXAMPLE, tmp_path / "example")
    report = script_check(tmp_path / "example" / "train.py", tmp_path / "w.safetensors", tmp_path)
    assert report["keys"] == list(d.model.state_dict())
    assert (torch.tensor(report["logits"]) - app_logits(d)).abs().max() <= 1e-4
    assert set(load_file(str(tmp_path / "w.safetensors"))) == set(report["keys"])


@pytest.mark.parametrize("kind", sorted(LAYER_LIBRARY))
def test_every_library_layer_can_be_written_as_code(kind):
    from designer.model.ops import LayerSpec
    from designer.model.surgery import make_layer

    in_shape = (1, 8) if kind in ("BatchNorm1d", "Linear", "LayerNorm") else (1, 8, 16, 16)
    layer = make_layer(LayerSpec.of(kind), in_shape)
    assert repr(eval(render_module(layer), {"nn": nn})) == repr(layer)


@pytest.mark.slow
def test_model_py_classifies_an_image_as_its_docstring_shows(tmp_path):
    """model.py and data.py import without the training script: the docstring's five lines, run as
    they stand in the exported folder, give the app's probabilities for the image."""
    from PIL import Image

    from designer.data.transforms import make_transform

    d = design("resnet18_grey")
    write_script(d, tmp_path / "train.py")
    (tmp_path / "runs").mkdir()
    torch.save(plain_state_dict(d.model), tmp_path / "runs" / "best.pt")
    Image.new("RGB", (40, 30), (200, 30, 90)).save(tmp_path / "image.png")
    doc = runpy.run_path(str(tmp_path / "model.py"))["__doc__"]
    snippet = doc.split("the weights it saved:\n", 1)[1].strip()
    snippet = "\n".join(line.strip() for line in snippet.splitlines())
    assert snippet.startswith("from data import") and "load_model(" in snippet
    proc = run([sys.executable, "-c", snippet], tmp_path)
    printed = torch.tensor([json.loads(proc.stdout.strip().splitlines()[-1])])
    with torch.no_grad():
        app = d.model.eval()(make_transform(d)(Image.open(tmp_path / "image.png")).unsqueeze(0)).softmax(1)
    assert printed.shape == app.shape and (printed - app).abs().max() < 1e-3
