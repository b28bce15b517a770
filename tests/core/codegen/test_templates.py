"""The script's fixed parts are Python modules (``designer.codegen.templates``): importable, linted
like the script, pasted into it below their marker line, and computing what the app computes."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from argparse import Namespace
from pathlib import Path

import numpy as np
import pytest
import torch
from testkit.script import script_namespace
from torch import nn

from designer.codegen import templates
from designer.codegen.script import script_files, write_script
from designer.model.ops import ReplaceClassifier, SetInput
from designer.model.recipe import Recipe
from designer.train import recommended
from designer.train import setup as ts
from designer.train.options import TrainOptions

RUFF = Path(sys.executable).parent / "ruff"  # the venv's own


def template(name: str):
    return importlib.import_module(f"designer.codegen.templates.{name}")


def test_each_template_imports_and_its_code_goes_into_the_script():
    # 5 input channels: images load RGB and are tiled, so the data template goes in whole
    files = script_files(Recipe.for_model("resnet18", weights="none").with_ops(
        SetInput(24, 24, 5), ReplaceClassifier(3)))
    into = {"policy": "model.py", "data": "data.py"}  # the rest go into the script itself
    for name in templates.ORDER:
        module = template(name)
        body = templates.code(name, {templates.BUILD_CALL: "build_model()"} if name == "policy" else None)
        assert "from designer" not in body and templates.SCRIPT_STARTS not in body
        assert body.strip() in files[into.get(name, "train.py")], name
        assert callable(getattr(module, {"policy": "load_model", "data": "scan_data", "modes": "settle",
                                         "loop": "schedule_factor", "run": "train", "main": "parse_args"}[name]))


def test_a_replacement_must_match_once():
    with pytest.raises(ValueError, match="once"):
        templates.code("policy", {"no such text": "x"})


def test_templates_are_ruff_clean_as_the_script_must_be():
    ruff = str(RUFF) if RUFF.exists() else shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed")
    folder = Path(templates.__file__).parent
    proc = subprocess.run([ruff, "check", "--isolated", "--select", "E,F,W,I,B,UP", "--line-length", "100",
                           str(folder)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("num_train, batch", [(7, 8), (17, 8), (100, 8), (1438, 32)])
def test_steps_per_epoch_as_the_app_counts_them(num_train, batch):
    ours = template("modes").steps_per_epoch(num_train, batch)
    assert ours == recommended.steps_per_epoch(num_train, batch)


@pytest.mark.parametrize("schedule", ["constant", "step", "cosine"])
def test_the_schedule_is_the_apps(schedule):
    options = TrainOptions(schedule=schedule, epochs=6, warmup_epochs=1.5, gamma=0.1, step_size=0)
    args = Namespace(warmup_epochs=1.5, schedule=schedule, epochs=6)
    factor = template("loop").schedule_factor(args, 4)
    for step in range(24):
        assert factor(step) == pytest.approx(ts.schedule_factor(step, 4, options)), step


def test_the_layout_is_the_apps():
    """Channels-last on the CPU for a network with convolutions, as the app trains (the same layout
    gives the same rounding, step by step), and the default layout for the rest."""
    layout = template("policy").layout
    cpu = torch.device("cpu")
    for model in (nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten()), nn.Sequential(nn.Linear(4, 2))):
        assert layout(model, cpu) == ts.memory_format(model, cpu)
    assert layout(nn.Conv2d(1, 2, 3), cpu) == torch.channels_last


def test_grey_is_repeated_to_the_networks_channels():
    data = template("data")
    grey = torch.arange(4.0).reshape(1, 2, 2)
    three = data.tile_channels(grey)
    assert three.shape == (3, 2, 2) and all(torch.equal(c, grey[0]) for c in three)


@pytest.mark.parametrize("channels, conv_mode", [(1, "replicate"), (1, "adapt"), (3, "adapt"), (5, "adapt")])
def test_the_script_transforms_images_as_the_app_does(channels, conv_mode, tmp_path):
    """Grey repeated to an RGB network, grey, RGB, and RGB tiled to 5 channels: the script's
    evaluation transform gives the app's tensor for the same image."""
    from PIL import Image

    from designer.data.transforms import make_transform
    from designer.model.build import build

    design = build(Recipe.for_model("resnet18", weights="none").with_ops(
        SetInput(24, 24, channels, conv_mode=conv_mode), ReplaceClassifier(2)))
    script = write_script(design, tmp_path / "train.py")
    namespace = script_namespace(script)
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (30, 40, 3), dtype=np.uint8), "RGB")
    path = tmp_path / "image.png"
    image.save(path)
    ours = namespace["make_transform"](False)(namespace["load_image"](str(path)))
    assert torch.equal(ours, make_transform(design)(Image.open(path)))
    # the tiling is carried only where images load in fewer channels than the network takes
    tiles = (channels, conv_mode) in ((1, "replicate"), (5, "adapt"))
    assert ("tile_channels" in namespace) == tiles
    assert ("tile_channels" in (tmp_path / "data.py").read_text()) == tiles


def test_without_leaves_out_one_function_and_names_a_missing_one():
    body = "\n\ndef kept():\n    return 1\n\n\n@staticmethod\ndef gone():\n    return 2\n\n\nX = kept()\n"
    assert templates.without(body, "gone") == "\n\ndef kept():\n    return 1\n\n\nX = kept()\n"
    with pytest.raises(ValueError, match="no function missing"):
        templates.without(body, "missing")
