"""Every export format round-trips every representative design (64x64, CPU).

Each export is verified by ``export`` itself (the file read back as a user
would and run on a seeded batch); these tests also read the files back
independently where that is cheap, and check the model card and the errors.
ONNX conversion takes a few seconds per design, the script check one fresh
Python each: the whole file runs in about a minute on 2 cores.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from testkit.designs import RECIPES, design
from torch import nn

from designer.base.errors import DesignerError
from designer.base.jobs import JobCancelled
from designer.export import formats as export_mod
from designer.export.checks import sample_input
from designer.export.formats import FORMATS, card_path_for, default_path, export
from designer.zoo.weights import plain_state_dict
from designer.zoo.weights import read_state_dict as read_weights

TOL = 1e-4
MEASURED: dict[tuple[str, str], float] = {}


@pytest.fixture(autouse=True, scope="module")
def print_measured():
    yield
    if MEASURED:
        width = max(len(d) for d, _ in MEASURED)
        lines = [f"{d:<{width}}  {f:<12} {diff:.2e}" for (d, f), diff in sorted(MEASURED.items())]
        print("\nmax abs diff per design and format:\n" + "\n".join(lines))


@pytest.mark.slow
@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("name", list(RECIPES))
def test_every_format_round_trips(name, fmt, tmp_path):
    d = design(name)
    path = default_path(tmp_path, fmt)
    progress: list[float] = []
    result = export(d, fmt, path, classes=[f"c{i}" for i in range(d.num_classes)],
                    report=lambda p: progress.append(p.fraction))
    assert result.ok and path.is_file()
    assert result.max_abs_diff is not None and result.max_abs_diff <= TOL
    assert progress[0] == 0.0 and progress[-1] == 1.0 and progress == sorted(progress)
    MEASURED[(name, fmt)] = result.max_abs_diff
    if fmt in ("pt", "safetensors"):
        _check_weights_file(d, path)
    if fmt == "torchscript":
        assert "deprecated" in result.note
    if fmt in ("onnx", "pt2"):  # checked on a batch of 3 after exporting with a batch of 2
        assert result.note == "dynamic batch size"
    if fmt != "script":
        assert result.card_path == card_path_for(path) and result.card_path.is_file()


def _check_weights_file(d, path):
    """Read back independently: a fresh copy of the model loads the file strictly."""
    model = export_mod.model_for_export(d.model)
    state = read_weights(path)
    assert sorted(state) == sorted(d.model.state_dict())  # safetensors stores keys sorted
    model.load_state_dict(state, strict=True)
    x = sample_input(d.input_shape, 2)
    with torch.no_grad():
        assert torch.equal(model(x), export_mod.model_for_export(d.model)(x))


def test_model_card_names_everything_needed_to_deploy(tmp_path):
    d = design("lite0_real")
    classes = ["cat", "dog", "bird"]
    training = {"optimizer": "adamw", "lr": 0.001, "epochs": 3}
    metrics = {"best_val_acc": 0.93}
    result = export(d, "safetensors", tmp_path / "net.safetensors", classes=classes, training=training,
                    metrics=metrics)
    card = json.loads((tmp_path / "net.card.json").read_text())
    assert result.card_path == tmp_path / "net.card.json"
    assert card["classes"] == classes and card["num_classes"] == 3
    assert card["input"]["height"] == 64 and card["input"]["channels"] == 3
    assert card["input"]["mean"] == [0.5, 0.5, 0.5] and card["input"]["std"] == [0.5, 0.5, 0.5]
    assert card["recipe"] == d.recipe.to_dict()
    assert card["training"] == training and card["metrics"] == metrics
    from designer.zoo.lite0 import weights_path
    from designer.zoo.weights import file_sha256

    assert card["base_weights"]["sha256"] == file_sha256(weights_path())


def test_trained_weights_are_exported_not_the_design_ones(tmp_path):
    d = design("resnet18_grey")
    trained = dict(d.model.state_dict())
    trained["fc.weight"] = trained["fc.weight"] + 1
    torch.save(trained, tmp_path / "best.pt")
    export(d, "safetensors", tmp_path / "out.safetensors", weights=tmp_path / "best.pt")
    state = read_weights(tmp_path / "out.safetensors")
    assert torch.equal(state["fc.weight"], trained["fc.weight"])


def test_weights_of_another_network_are_refused(tmp_path):
    torch.save(nn.Linear(3, 4).state_dict(), tmp_path / "other.pt")
    with pytest.raises(DesignerError, match="does not fit this design"):
        export(design("resnet18_grey"), "pt", tmp_path / "m.pt", weights=tmp_path / "other.pt")


def test_a_difference_beyond_tolerance_fails_with_a_clear_message(tmp_path):
    with pytest.raises(DesignerError, match="does not reproduce the model"):
        export(design("resnet18_grey"), "pt", tmp_path / "m.pt", tolerance=-1.0)


def test_unknown_format_lists_the_formats(tmp_path):
    with pytest.raises(DesignerError, match="safetensors"):
        export(design("resnet18_grey"), "tflite", tmp_path / "m.tflite")


def test_missing_onnx_packages_say_what_to_install(tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxscript" else real(name, *a))
    with pytest.raises(DesignerError, match=r"netsurgeon\[onnx\]"):
        export(design("resnet18_grey"), "onnx", tmp_path / "m.onnx")


def test_cancel_stops_before_writing(tmp_path):
    with pytest.raises(JobCancelled):
        export(design("resnet18_grey"), "pt2", tmp_path / "m.pt2", cancel=lambda: True)
    assert not list(tmp_path.iterdir())


def test_unchecked_export_reports_no_diff(tmp_path):
    result = export(design("resnet18_grey"), "pt", tmp_path / "m.pt", check=False)
    assert result.ok and result.max_abs_diff is None and "not checked" in result.summary()


def test_cli_exports_several_formats_and_prints_each_parity(tmp_path, capsys):
    from designer.app import project as project_mod
    from designer.cli.main import main

    d = design("inserted_deleted")
    project = tmp_path / "p.json"
    project_mod.save_project(project_mod.Project(recipe=d.recipe, classes=["a", "b", "c"], data={},
                                                 training={"epochs": 2}, runs=[]), project)
    torch.save(plain_state_dict(d.model), tmp_path / "best.pt")
    (tmp_path / "history.json").write_text(json.dumps({"best_val_acc": 0.75, "best_epoch": 2}))
    code = main(["export", str(project), "--weights", str(tmp_path / "best.pt"), "--format", "pt",
                 "--format", "pt2", "-o", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert code == 0
    assert "pt " in out and "pt2" in out and out.count("max abs diff") == 2
    card = json.loads((tmp_path / "out" / "model.card.json").read_text())
    assert card["classes"] == ["a", "b", "c"] and card["metrics"]["best_val_acc"] == 0.75


def _saved_project(tmp_path: Path) -> Path:
    """resnet18_grey saved as a project file, for the CLI."""
    from designer.app import project as project_mod
    project = tmp_path / "p.json"
    project_mod.save_project(project_mod.Project(recipe=design("resnet18_grey").recipe, classes=[], data={},
                                                 training={}, runs=[]), project)
    return project


def test_cli_failure_exits_non_zero_with_the_reason(tmp_path, capsys):
    from designer.cli.main import main

    project = _saved_project(tmp_path)
    torch.save(nn.Linear(2, 2).state_dict(), tmp_path / "wrong.pt")
    code = main(["export", str(project), "--weights", str(tmp_path / "wrong.pt"), "--format", "safetensors",
                 "-o", str(tmp_path / "out")])
    assert code == 2
    assert "does not fit this design" in capsys.readouterr().err


def test_a_design_that_does_not_run_is_refused_before_writing(tmp_path):
    from designer.model.build import build
    from designer.model.ops import InsertAfter, LayerSpec

    broken = build(RECIPES["resnet18_grey"].with_op(InsertAfter("avgpool", LayerSpec.of("Linear", in_features=7,
                                                                                         out_features=3))))
    with pytest.raises(DesignerError, match="does not run on a 1x64x64 input"):
        export(broken, "pt", tmp_path / "m.pt")
    assert not list(tmp_path.iterdir())


def test_wrong_shaped_weights_name_the_keys_and_shapes(tmp_path):
    d = design("resnet18_grey")
    state = plain_state_dict(d.model)
    state["fc.weight"] = torch.zeros(5, 512)
    del state["bn1.bias"]
    torch.save(state, tmp_path / "wrong.pt")
    with pytest.raises(DesignerError) as info:
        export(d, "pt", tmp_path / "m.pt", weights=tmp_path / "wrong.pt")
    message = str(info.value)
    assert "1 missing (bn1.bias)" in message
    assert "fc.weight is 5x512 in the file, 10x512 in the design" in message
    assert "\n" not in message


def test_an_unwritable_output_folder_fails_with_one_clear_line(tmp_path):
    (tmp_path / "a_file").write_text("not a folder")
    with pytest.raises(DesignerError, match=r"Cannot write to the folder .*a_file[/\\]out"):
        export(design("resnet18_grey"), "pt", tmp_path / "a_file" / "out" / "m.pt")


def test_exported_files_get_ordinary_permissions(tmp_path):
    """safetensors writes owner-only files; an export meant for others must be readable."""
    import os
    import stat

    d = design("resnet18_grey")
    export(d, "safetensors", tmp_path / "m.safetensors", check=False)
    (tmp_path / "plain").write_text("x")
    mode = stat.S_IMODE((tmp_path / "m.safetensors").stat().st_mode)
    if os.name == "posix":
        assert mode == stat.S_IMODE((tmp_path / "plain").stat().st_mode)


def test_cli_bad_weights_or_folder_print_one_line_and_exit_2(tmp_path, capsys):
    from designer.cli.main import main

    project = _saved_project(tmp_path)
    (tmp_path / "a_file").write_text("")
    cases = [(["--weights", str(tmp_path / "missing.pt"), "-o", str(tmp_path / "out")], "does not exist"),
             (["-o", str(tmp_path / "a_file" / "out")], "Cannot write to the folder")]
    for extra, reason in cases:
        assert main(["export", str(project), "--format", "all", *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert reason in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
