"""Issue 13 end to end: a trained run's weights exported from the Export dialog, then the written
train.py run as its help says, from another folder, in a fresh Python without NetSurgeon importable,
on the app's digits folder with corrupt files in it.

It must start from the pretrained EfficientNet-Lite0 weights (they ship in a pip package, so this
runs offline), skip the files the app skipped, train on the app's split (from split.json beside it),
and beat chance after one epoch.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import torch
from testkit.data import make_digits_folder, write_bad_files
from testkit.gui import load_data, runners_idle, shared_cache, train
from testkit.script import run_outside

from designer.app.document import Document
from designer.model.build import build
from designer.model.ops import FreezeUntil, ReplaceClassifier, SetInput
from designer.model.recipe import Recipe

# Grey 64x64 digits, 10 classes; the backbone frozen so that one epoch fits the head to the
# pretrained features (a random backbone stays near chance, 0.1).
RECIPE = Recipe.for_model("efficientnet_lite0").with_ops(
    SetInput(64, 64, 1), ReplaceClassifier(10), FreezeUntil("_bn1"))
TRAINING = {"epochs": 1, "batch_size": 8, "optimizer": "adam", "lr": 0.01, "seed": 1,
            "fixed": ["epochs", "batch_size"]}  # the recommended mode would plan its own length
FROZEN_KEY = "_blocks.5._project_conv.weight"  # a pretrained filter the script must have loaded


@pytest.fixture
def digits(tmp_path):
    root = make_digits_folder(tmp_path / "digits", per_class=40, size=64)
    write_bad_files(root / "3", 1)  # a truncated PNG
    (root / "7" / "bad_scan.jpg").write_bytes(b"this is not a jpeg")
    return root


@pytest.mark.slow
def test_exported_script_trains_from_pretrained_weights_on_the_apps_split(qtbot, workspace, digits, tmp_path,
                                                                          dialogs):
    from widgets.export.dialog import ExportDialog

    doc = Document(cache=shared_cache(), data_dir=str(tmp_path / "appdata"))
    doc.open_recipe(RECIPE)
    ws = workspace(doc)
    split = load_data(qtbot, ws, digits, seed=5)  # not the script's own default seed
    assert len(split.skipped) == 2
    run = train(qtbot, ws, timeout=300_000, **TRAINING)
    assert run.kind == "finished", run

    dialog = ExportDialog(ws.context.qdoc, ws, context=ws.context)
    qtbot.addWidget(dialog)
    dialog.show()
    assert Path(dialog.weights.currentData()) == Path(run.run_dir) / "best.pt"  # the default choice
    for fmt, check in dialog.checks.items():
        check.setChecked(fmt == "script")
    out = tmp_path / "export"
    dialog.folder.setText(str(out))
    qtbot.waitUntil(lambda: "import torch" in dialog.script.toPlainText(), timeout=60_000)
    previews = {name: view.toPlainText() for name, view in dialog.script_views.items()}  # a tab each
    assert dialog.start_export()
    qtbot.waitUntil(lambda: not dialog.runner.running, timeout=300_000)
    result, message = dialog.results["script"]
    assert result is not None and result.ok, message
    script = out / "train.py"
    assert sorted(previews) == ["data.py", "model.py", "train.py"]
    for name, preview in previews.items():
        assert (out / name).read_text() == preview  # what the dialog showed is what it wrote
    assert "weights=default" in previews["model.py"] and "weights=none" not in previews["model.py"]
    assert (out / "split.json").is_file()
    dialog.close()
    assert runners_idle(dialog)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = run_outside([sys.executable, str(script), "--data", str(digits), "--epochs", "1", "--out", "runs"],
                       elsewhere, timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    # the app's split, the same images, the same files skipped
    assert f"Images: the app's split ({out / 'split.json'})" in proc.stdout
    assert f"{len(split.train)} training images, {len(split.val)} validation images" in proc.stdout
    assert "Skipped 2 file(s)" in proc.stdout
    assert all(Path(p).name in proc.stdout for p, _ in split.skipped)
    # the pretrained ImageNet filters were loaded (frozen, so they are still in the saved weights)
    trained = torch.load(elsewhere / "runs" / "best.pt", weights_only=True)
    pretrained = build(RECIPE).model.state_dict()
    assert torch.equal(trained[FROZEN_KEY], pretrained[FROZEN_KEY])
    # and one epoch beats chance (0.1 for ten classes) clearly
    accuracy = float(re.search(r"epoch 1/1 .* val acc (\S+)", proc.stdout).group(1))
    print(f"exported script, one epoch: val acc {accuracy:.3f} on {len(split.val)} images")
    assert accuracy >= 0.3, proc.stdout
