"""Hostile and malformed inputs for the CLI, and a driver that runs them.

``cases(root)`` writes every file the cases need under ``root`` (project files with one bad
field each, weight files that are bombs or lies, a folder with a ``helpers.py`` that would
leave a marker file if it were ever imported) and returns ``Case`` records. ``python -m
testkit.hostile ROOT OUT`` runs them through ``designer.cli.main.main`` one after the other,
in its own process, and writes one JSON line per case: exit status, what was printed to
stderr, and how long it took. The test (``tests/core/cli/test_hostile_inputs.py``) runs that
driver in a subprocess under a memory and time limit and judges the lines.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import resource
import sys
import tempfile
import time
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

# No case may ever create this file: every piece of hostile code here would touch it.
MARKER = os.environ.get("NETSURGEON_HOSTILE_MARKER", str(Path(tempfile.gettempdir()) / "netsurgeon-hostile-marker"))
TOUCH = f"__import__('os').system('touch {MARKER}')"
CODE_STRINGS = (TOUCH, f'"""; {TOUCH} #', f"x\n{TOUCH}\n", f"{{{TOUCH}}}", "\\N{bad}\\", "'" * 3 + "\"" * 3)


@dataclass
class Case:
    name: str
    argv: list[str]
    expect: int = 2  # 2: refused with one line; 0: accepted and handled safely


def _project(recipe: dict, **sections) -> dict:
    return {"format": "netsurgeon-project", "version": 1, "recipe": recipe, **sections}


BASE = {"source": "torchvision", "name": "resnet18", "weights": "none"}
GOOD_OPS = [{"op": "set_input", "height": 32, "width": 32, "channels": 3, "conv_mode": "adapt"},
            {"op": "replace_classifier", "num_classes": 3}]

# One good value per op field, so each field can be spoiled on its own.
OP_FIELDS = {
    "set_input": {"height": 32, "width": 32, "channels": 1, "conv_mode": "adapt"},
    "replace_classifier": {"num_classes": 3, "dropout": 0.1, "hidden": 8, "batchnorm": False},
    "delete_layer": {"path": "layer4.1.relu"},
    "insert_after": {"path": "layer1", "layer": {"type": "Dropout", "args": {"p": 0.1}}},
    "replace_layer": {"path": "layer4.1.relu", "layer": {"type": "ReLU", "args": {}}},
    "set_layer_params": {"path": "fc", "params": {"out_features": 3}},
    "freeze": {"path": "layer1", "frozen": True},
    "freeze_until": {"path": "layer2"},
    "set_lr_factor": {"path": "fc", "factor": 10.0},
    "lr_preset": {"name": "layer_decay", "head_factor": 10.0, "rest_factor": 0.1, "decay": 0.7},
    "set_batchnorm_mode": {"mode": "frozen_eval"},
}
BAD_VALUES = {  # what each field gets instead: wrong types, NaN/inf, huge, negative, code
    "int": ["32", 32.5, True, None, [32], float("nan"), 10**12, -5],
    "float": ["0.1", None, float("nan"), float("inf"), -1.0, 1e9],
    "bool": ["no", 1, None],
    "str": [123, None, ["x"], TOUCH, "a\nb", "x" * 5000],
    "layer": ["Dropout", {"type": TOUCH, "args": {}}, {"type": "Conv2d", "args": {"out_channels": 10**7}},
              {"type": "Linear", "args": {"out_features": float("inf")}}, {"type": "Dropout", "args": [1]}],
    "params": [[["out_features", 3]], {"out_features": 10**12}, {"out_features": TOUCH}, {"__class__": 1}],
}


def _kind(value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return "str"


def _field_cases(folder: Path) -> list[Case]:
    out = []
    for op, fields in OP_FIELDS.items():
        for field, good in fields.items():
            kind = field if field in ("layer", "params") else _kind(good)
            for k, bad in enumerate(BAD_VALUES[kind]):
                spoiled = {"op": op, **fields, field: bad}
                path = _write(folder / f"{op}-{field}-{k}.nsd.json", _project({"base": BASE, "ops": [*GOOD_OPS, spoiled]}))
                out.append(Case(f"{op}.{field}={_short(bad)}", ["inspect", str(path)]))
    return out


def _section_cases(folder: Path) -> list[Case]:
    recipe = {"base": BASE, "ops": GOOD_OPS}
    spoiled = {
        "base.source": {"base": {**BASE, "source": "evil"}, "ops": []},
        "base.name-code": {"base": {**BASE, "name": TOUCH}, "ops": []},
        "base.name-builder-as-torchvision": {"base": {**BASE, "name": "os:system"}, "ops": []},
        "base.weights-newline": {"base": {**BASE, "weights": "a\nb"}, "ops": []},
        "base.weights-int": {"base": {**BASE, "weights": 5}, "ops": []},
        "base.missing": {"ops": []},
        "ops.not-a-list": {"base": BASE, "ops": {"op": "freeze"}},
        "ops.unknown": {"base": BASE, "ops": [{"op": "teleport"}]},
        "ops.not-an-object": {"base": BASE, "ops": [TOUCH]},
        "ops.too-many": {"base": BASE, "ops": [{"op": "freeze", "path": "layer1"}] * 10_001},
    }
    out = [Case(f"recipe:{name}", ["inspect", str(_write(folder / f"recipe-{name}.nsd.json", _project(r)))])
           for name, r in spoiled.items()]
    sections = {
        "classes-str": {"classes": "cat"}, "classes-int": {"classes": [1, 2]},
        "classes-huge": {"classes": ["x" * 300]}, "runs-dict": {"runs": {"a": 1}},
        "data-list": {"data": []}, "data.val_fraction": {"data": {"val_fraction": 5}},
        "data.seed": {"data": {"seed": -1}}, "data.root-int": {"data": {"root": 3}},
        "training-list": {"training": [1]}, "training.epochs": {"training": {"epochs": "ten"}},
        "training.seed": {"training": {"seed": 10**23}}, "training.lr-nan": {"training": {"lr": float("nan")}},
        "training.lr-inf": {"training": {"lr": float("inf")}}, "training.lr-neg": {"training": {"lr": -0.1}},
        "training.step_size-code": {"training": {"step_size": TOUCH}},
        "training.optimizer-code": {"training": {"optimizer": TOUCH}},
        "training.batch-huge": {"training": {"batch_size": 10**9}}, "training.workers": {"training": {"workers": -1}},
        "training.weight_decay-nan": {"training": {"weight_decay": float("nan")}},
        "training.momentum": {"training": {"momentum": 3}}, "training.amp-str": {"training": {"amp": "yes"}},
        "training.augment-list": {"training": {"augment": [1]}},
        "training.augment.rotation": {"training": {"augment": {"rotation": float("inf")}}},
        "training.augment.scale": {"training": {"augment": {"scale": [2, 1]}}},
        "training.augment.color": {"training": {"augment": {"color": "x"}}},
    }
    for name, section in sections.items():
        path = _write(folder / f"section-{name}.nsd.json", _project(recipe, **section))
        out.append(Case(f"project:{name}", ["edit", str(path), "--freeze", "layer1"]))
    return out


def _structure_cases(folder: Path) -> list[Case]:
    deep = "[" * 100_000 + "]" * 100_000
    files = {"not-json": "{not json", "list": "[1, 2]", "deep": deep, "future": json.dumps(
        {"format": "netsurgeon-project", "version": 99, "recipe": {}}), "empty": "",
             "binary": "\x00\x01\x02"}
    out = [Case(f"file:{name}", ["inspect", str(_write_text(folder / f"file-{name}.nsd.json", text))])
           for name, text in files.items()]
    big = folder / "file-huge.nsd.json"
    with open(big, "w") as fh:
        fh.write('{"x": "' + "a" * (17 << 20) + '"}')
    out.append(Case("file:huge", ["inspect", str(big)]))
    out.append(Case("file:folder", ["inspect", str(folder)]))
    return out


def _flag_cases(folder: Path, project: Path, data: Path) -> list[Case]:
    p, d = str(project), str(data)
    train = ["train", p, "--data", d, "--device", "cpu"]
    flags = [
        ["--lr", "inf"], ["--lr", "nan"], ["--lr", "-1"], ["--lr", "0"], ["--lr", "abc"], ["--lr", "1e9"],
        ["--weight-decay", "nan"], ["--seed", str(10**23)], ["--seed", "-1"], ["--epochs", "0"],
        ["--epochs", "1e9"], ["--batch-size", "0"], ["--batch-size", str(10**9)], ["--workers", "-1"],
        ["--workers", "1000"], ["--val-split", "1.5"], ["--val-split", "-0.1"], ["--augment", "rotate=inf"],
        ["--augment", "rotate=-5"], ["--augment", "blur"], ["--augment", "scale=nan"], ["--mode", "evil"],
        ["--optimizer", TOUCH], ["-o", str(folder)],
    ]
    out = [Case(f"train {' '.join(f)[:40]}", train + f) for f in flags]
    out += [Case(f"train --resume {name}", ["train", p, "--resume", target]) for name, target in
            (("a folder that is not a run", str(folder)), ("a project file", p), ("missing", str(folder / "nope")))]
    edit = ["edit", p]
    edits = [
        ["--input", "3x32.5x32"], ["--input", "0x32x32"], ["--input", f"{10**9}x32x32"], ["--input", "1x1e9x3"],
        ["--input", "3x32x32:evil"], ["--classes", "0"], ["--classes", "-1"], ["--classes", str(10**9)],
        ["--classes", "abc"], ["--classes", "3", "--head-dropout", "1.5"], ["--classes", "3", "--head-dropout", "nan"],
        ["--classes", "3", "--head-hidden", str(10**12)], ["--lr-factor", "fc=nan"], ["--lr-factor", "fc=inf"],
        ["--lr-factor", "fc=-1"], ["--lr-factor", f"{TOUCH}=2"], ["--set", "fc:out_features=1000000000000"],
        ["--set", f"fc:out_features={TOUCH}"], ["--insert-after", "layer4=Conv2d:out_channels=10000000"],
        ["--insert-after", f"layer4={TOUCH}"], ["--replace", "fc=Embedding:num_embeddings=2147483647,embedding_dim=64"],
        ["--delete", "no.such.layer"], ["--freeze", "a\nb"], ["--lr-preset", "fast"], ["--bn-mode", "sometimes"],
    ]
    out += [Case(f"edit {' '.join(e)[:40]}", edit + e) for e in edits]
    image = next(data.rglob("*.png"))
    out += [
        Case("predict --topk -1", ["predict", p, str(image), "--topk", "-1"]),
        Case("predict --topk 0", ["predict", p, str(image), "--topk", "0"]),
        Case("export --name ../../x", ["export", p, "--format", "pt", "-o", str(folder / "o"), "--name", "../../x"]),
        Case("export --tolerance -1", ["export", p, "--format", "pt", "-o", str(folder / "o"), "--tolerance", "-1"]),
        Case("export --tolerance nan", ["export", p, "--format", "pt", "-o", str(folder / "o"), "--tolerance", "nan"]),
        Case("inspect --depth -3", ["inspect", p, "--depth", "-3"]),
        Case("evaluate --batch-size 0", ["evaluate", p, "--weights", str(folder), "--data", d, "--batch-size", "0"]),
        Case("unknown command", ["teleport"]),
    ]
    return out


def _weights_cases(folder: Path, project: Path) -> list[Case]:
    import torch
    from torchvision.models import resnet18

    state = {k: v.clone() for k, v in resnet18(num_classes=3).state_dict().items()}
    files = {}
    files["nan.pt"] = {k: torch.full_like(v, float("nan")) if v.is_floating_point() else v for k, v in state.items()}
    files["bool.pt"] = {k: v.bool() if v.is_floating_point() else v for k, v in state.items()}
    files["int8.pt"] = {k: v.to(torch.int8) if v.is_floating_point() else v for k, v in state.items()}
    files["complex.pt"] = {k: v.to(torch.complex64) if v.is_floating_point() else v for k, v in state.items()}
    for name, sd in files.items():
        torch.save(sd, folder / name)
    (folder / "code.pt").write_bytes(
        b"cos\nsystem\n(S'touch " + MARKER.encode() + b"'\ntR.")  # a protocol-0 pickle that calls os.system
    bomb = folder / "bomb.pt"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive, archive.open("archive/data.pkl", "w") as fh:
        for _ in range(512):  # 512 MB of zeros in a file of half a megabyte
            fh.write(bytes(1 << 20))
    (folder / "junk.pt").write_bytes(os.urandom(4096))
    (folder / "a_folder").mkdir(exist_ok=True)
    out = []
    for name in (*files, "code.pt", "bomb.pt", "junk.pt", "a_folder", "missing.pt"):
        weights = str(folder / name)
        out.append(Case(f"export --weights {name}", ["export", str(project), "--weights", weights, "--format", "pt",
                                                      "-o", str(folder / f"out-{name}")]))
        out.append(Case(f"new --weights {name}", ["new", "resnet18", "--weights", weights, "-o",
                                                   str(folder / f"new-{name}.nsd.json")]))
    out.append(Case("train --resume code.pt", ["train", str(project), "--resume", str(folder / "code.pt")]))
    return out


def _builder_cases(folder: Path) -> list[Case]:
    helpers = folder / "builders"
    helpers.mkdir(exist_ok=True)
    (helpers / "helpers.py").write_text(f"open({MARKER!r}, 'w').close()\ndef build():\n    pass\n")
    out = []
    for spec in ("helpers:build", "builtins:breakpoint", "builtins:input", "signal:pause", "os:abort", "sys:exit",
                 "http.server:test", "os:system", "builtins:exec", "subprocess:Popen"):
        path = _write(helpers / f"{spec.replace(':', '-')}.nsd.json",
                      _project({"base": {"source": "builder", "name": spec, "weights": "none"}, "ops": []}))
        out.append(Case(f"builder {spec} untrusted", ["inspect", str(path)]))
        out.append(Case(f"builder {spec} trusted", ["inspect", str(path), "--trust-builder"]))
    return out


def _accepted_cases(folder: Path, project: Path) -> list[Case]:
    """Strange but legal values: accepted, and written into the script only as literals."""
    out = []
    for k, text in enumerate(CODE_STRINGS):
        data = json.loads(project.read_text())
        data["classes"] = [text, "b", "c"]
        path = _write(folder / f"classes-code-{k}.nsd.json", data)
        out.append(Case(f"class name {_short(text)} in the script", ["export", str(path), "--format", "script",
                                                                        "-o", str(folder / f"script-{k}"), "--no-check"],
                        expect=0))
    return out


def cases(root: Path) -> list[Case]:
    from testkit.data import make_shapes_folder

    root.mkdir(parents=True, exist_ok=True)
    data = make_shapes_folder(root / "data", per_class=3, size=16)
    project = _write(root / "good.nsd.json", _project({"base": BASE, "ops": GOOD_OPS}, classes=["circle", "square",
                                                                                               "triangle"]))
    return (_field_cases(root) + _section_cases(root) + _structure_cases(root) + _flag_cases(root, project, data)
            + _weights_cases(root, project) + _builder_cases(root) + _accepted_cases(root, project))


def _write(path: Path, data) -> Path:
    path.write_text(json.dumps(data, allow_nan=True))
    return path


def _write_text(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _short(value, limit: int = 24) -> str:
    text = repr(value) if not (isinstance(value, float) and math.isnan(value)) else "nan"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def run(root: Path, out_path: Path) -> None:
    """Run every case through the CLI's ``main`` in this process; one JSON line per case."""
    from designer.cli.main import main

    all_cases = cases(root)
    os.chdir(root / "builders")  # a helpers.py lies here: the folder a hostile project came in
    with open(out_path, "w") as out:
        for case in all_cases:
            err = io.StringIO()
            start = time.perf_counter()
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                try:
                    code = main(case.argv)
                except SystemExit as exc:  # argparse's own exit
                    code = exc.code if isinstance(exc.code, int) else 1
            out.write(json.dumps({**asdict(case), "code": code, "stderr": err.getvalue(),
                                  "seconds": time.perf_counter() - start, "peak_mb_after": _own_peak_mb()}) + "\n")
            out.flush()
        # Peak memory of this process (VmHWM: ru_maxrss of a process forked from a big pytest keeps the
        # parent's peak across exec) and of the builder probes it ran, in MB.
        peaks = [_own_peak_mb(), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024]
        out.write(json.dumps({"peak_mb": max(peaks)}) + "\n")


def _own_peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    run(Path(sys.argv[1]), Path(sys.argv[2]))
