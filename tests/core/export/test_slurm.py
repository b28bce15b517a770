"""The SLURM launch file beside the exported script (``train.sbatch``): bash parses it, it passes
the script's own settings, it never runs what a name or a path holds, and it trains for real
under ``srun torchrun`` on CPU.

No SLURM here: ``srun`` and ``scontrol`` are small fakes first on PATH (``srun`` runs its
command, ``scontrol`` names localhost as the job's one node). Where only the arguments matter,
a fake ``torchrun`` writes them to a file, NUL-separated, and the tests read them back.
"""

from __future__ import annotations

import ast
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from testkit.data import make_shapes_folder

from designer.codegen.script import write_script
from designer.data.folders import scan_folder
from designer.export.formats import export
from designer.export.slurm import PLACEHOLDER_DATA, launch_settings, sbatch_text, write_sbatch
from designer.model.build import build
from designer.model.ops import ReplaceClassifier, SetInput
from designer.model.recipe import Recipe

RECIPE = Recipe.for_model("resnet18", weights="none").with_ops(SetInput(32, 32, 3), ReplaceClassifier(3))
HOSTILE = "d $(touch pwned) `touch pwned` 'q' \"dq\" ${HOME} \\ ; touch pwned #\nnext line; touch pwned"
CLASSES = ["circle", "square", "triangle"]
FAKE_SRUN = '#!/bin/sh\nexec "$@"\n'
FAKE_SCONTROL = '#!/bin/sh\necho localhost\n'
RECORDING_TORCHRUN = '#!/bin/sh\nprintf \'%s\\0\' "$@" > "$ARGS_FILE"\n'


def fake_bin(folder: Path, record: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    fakes = {"srun": FAKE_SRUN, "scontrol": FAKE_SCONTROL,
             **({"torchrun": RECORDING_TORCHRUN} if record else {})}
    for name, text in fakes.items():
        (folder / name).write_text(text)
        (folder / name).chmod(0o755)
    return folder


def slurm_env(submit_dir: Path, *path_first: Path, **extra: str) -> dict:
    """The environment sbatch gives a one-node job, with the fakes first on PATH."""
    drop = ("PYTHONPATH", "DATA", "OUT", "PROCS_PER_NODE", "RDZV_PORT")
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("SLURM_")}
    env.update(PATH=os.pathsep.join([*map(str, path_first), env.get("PATH", "")]), SLURM_NNODES="1",
               SLURM_JOB_ID="1", SLURM_JOB_NODELIST="localhost", SLURM_SUBMIT_DIR=str(submit_dir),
               OMP_NUM_THREADS="1", **extra)
    return env


def run_recorded(sbatch: Path, tmp_path: Path, *args: str,
                 **extra: str) -> tuple[subprocess.CompletedProcess, list]:
    """Run ``bash sbatch args`` from another folder; what the fake torchrun was given (None: not run)."""
    record = tmp_path / "torchrun-args"
    record.unlink(missing_ok=True)
    env = slurm_env(sbatch.parent, fake_bin(tmp_path / "fakes"), ARGS_FILE=str(record), **extra)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    proc = subprocess.run(["bash", str(sbatch), *args], cwd=elsewhere, env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    given = record.read_bytes().decode().split("\0")[:-1] if record.exists() else None
    return proc, given


def bash_parses(path: Path) -> None:
    proc = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


def script_defaults(text: str) -> dict:
    """``--flag`` -> default, read from the generated script's ``add_argument`` calls (a default that
    is a name is the script's constant of that name)."""
    tree, out, constants = ast.parse(text), {}, {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                tuple_target = isinstance(target, ast.Tuple)
                pairs = (zip(target.elts, node.value.elts, strict=True) if tuple_target
                         else [(target, node.value)])
                constants.update({t.id: v for t, v in pairs if isinstance(t, ast.Name)})
    for node in ast.walk(tree):
        func = getattr(node, "func", None)  # parser.add_argument(...), or add(...) for short
        if getattr(func, "attr", "") == "add_argument" or getattr(func, "id", "") == "add":
            default = [kw.value for kw in node.keywords if kw.arg == "default"]
            if default:
                value = constants[default[0].id] if isinstance(default[0], ast.Name) else default[0]
                out[node.args[0].value] = ast.literal_eval(value)
    return out


def script_constant(text: str, name: str):
    """The value of the generated script's top-level constant ``name``."""
    return next(ast.literal_eval(node.value) for node in ast.parse(text).body if isinstance(node, ast.Assign)
                and any(getattr(t, "id", "") == name for t in node.targets))


def settings_after_out(given: list[str]) -> dict:
    """The script's arguments after ``--out OUT`` as flag -> value (True/False for switches)."""
    rest, out = given[given.index("--out") + 2:], {}
    while rest:
        flag = rest.pop(0)
        if flag.startswith("--no-"):
            out["--" + flag[5:]] = False
        elif rest and not rest[0].startswith("--"):
            out[flag] = rest.pop(0)
        else:
            out[flag] = True
    return out


@pytest.mark.parametrize("training, num_train", [
    (None, 37),  # the recommended mode, its schedule planned from the number of images
    (None, None),
    ({"mode": "full", "optimizer": "adamw", "lr": 3e-4, "schedule": "step", "warmup_epochs": 0.5,
      "weight_decay": 0.05, "epochs": 7, "batch_size": 12, "seed": 123, "workers": 2, "amp": True,
      "class_weights": True}, 100),
])
def test_the_launch_file_passes_the_scripts_own_settings(tmp_path, training, num_train):
    folder = tmp_path / "export"
    folder.mkdir()
    data = make_shapes_folder(tmp_path / "my data", classes=CLASSES, per_class=2, size=8)
    write_script(RECIPE, folder / "train.py", training=training, num_train=num_train)
    sbatch = write_sbatch(RECIPE, folder / "train.py", training=training, num_train=num_train,
                          data_root=str(data))
    assert sbatch == folder / "train.sbatch"
    bash_parses(sbatch)
    proc, given = run_recorded(sbatch, tmp_path, RDZV_PORT="29999")
    assert proc.returncode == 0, proc.stderr
    assert given[:12] == ["--nnodes", "1", "--nproc-per-node", "gpu", "--rdzv-backend", "c10d",
                          "--rdzv-endpoint", "localhost:29999", "--rdzv-id", "1", "train.py", "--data"]
    assert given[12:15] == [str(data), "--out", "runs/1"]
    passed, defaults = settings_after_out(given), script_defaults((folder / "train.py").read_text())
    # the recommended mode plans epochs, batch, warm-up and schedule, and the rate is the default's:
    # passing them would fix them. Settings a mode decides come from the script's SETTINGS.
    settings = script_constant((folder / "train.py").read_text(), "SETTINGS")
    assert len(passed) == (7 if training is None else 12) == len(launch_settings(training, num_train))
    for flag, value in passed.items():
        expected = defaults[flag] if flag in defaults else settings[flag[2:].replace("-", "_")]
        assert (value if isinstance(value, bool) else type(expected)(value)) == expected, flag


def test_settings_given_to_sbatch_go_to_the_script_after_the_exported_ones(tmp_path):
    sbatch = write_sbatch(RECIPE, tmp_path / "train.py", data_root=str(tmp_path))
    (tmp_path / "train.py").write_text("")
    proc, given = run_recorded(sbatch, tmp_path, "--epochs", "1", "--weights", "a b.safetensors",
                               PROCS_PER_NODE="2", OUT="elsewhere/run", RDZV_PORT="29998")
    assert proc.returncode == 0, proc.stderr
    assert given[-4:] == ["--epochs", "1", "--weights", "a b.safetensors"]
    assert given[3] == "2" and given[given.index("--out") + 1] == "elsewhere/run"
    text = sbatch.read_text()
    for line in ("#SBATCH --nodes=1", "#SBATCH --ntasks-per-node=1", "#SBATCH --gpus-per-node=4",
                 "#SBATCH --cpus-per-task=8", "#SBATCH --time=", "#SBATCH --output=", "set -euo pipefail",
                 'cd "$SLURM_SUBMIT_DIR"', "scontrol show hostnames \"$SLURM_JOB_NODELIST\" | head -n1"):
        assert line in text
    assert "#SBATCH --job-name=resnet18-train\n" in text


def hostile_folder(tmp_path: Path) -> Path:
    data = tmp_path / HOSTILE
    data.mkdir(parents=True)
    return data


def assert_nothing_ran(tmp_path: Path) -> None:
    assert not [p for p in tmp_path.rglob("*pwned*") if p.name == "pwned"]
    assert not Path("pwned").exists()


def test_hostile_names_and_paths_are_only_ever_data(tmp_path):
    """A design name, a script name and a data folder holding $( ), backticks, quotes, ; and a
    line break: the file parses, its #SBATCH lines hold only a clean job name, and running it
    (fake srun, scontrol and torchrun) runs none of them and passes each as one argument."""
    data = hostile_folder(tmp_path)
    folder = tmp_path / "export"
    folder.mkdir()
    script = f"{HOSTILE}.py"
    (folder / script).write_text("")
    settings = launch_settings()
    sbatch = folder / "train.sbatch"
    sbatch.write_text(sbatch_text(script_name=script, title=HOSTILE, job=HOSTILE, settings=settings,
                                  data=str(data)))
    bash_parses(sbatch)
    text = sbatch.read_text()
    names = re.findall(r"^#SBATCH --job-name=(.*)$", text, re.MULTILINE)
    assert len(names) == 1 and re.fullmatch(r"[A-Za-z0-9_.-]{1,40}", names[0])
    proc, given = run_recorded(sbatch, tmp_path, RDZV_PORT="29997")
    assert proc.returncode == 0, proc.stderr
    assert_nothing_ran(tmp_path)
    assert given[10:13] == [script, "--data", str(data)]


def test_a_hostile_data_folder_from_the_apps_split_is_passed_literally(tmp_path):
    data = hostile_folder(tmp_path)
    sbatch = write_sbatch(build(RECIPE), tmp_path / "train.py", data_root=str(data))
    (tmp_path / "train.py").write_text("")
    bash_parses(sbatch)
    proc, given = run_recorded(sbatch, tmp_path, RDZV_PORT="29996")
    assert proc.returncode == 0, proc.stderr
    assert_nothing_ran(tmp_path)
    assert given[given.index("--data") + 1] == str(data)


def test_without_a_known_data_folder_it_stops_with_a_message(tmp_path):
    sbatch = write_sbatch(RECIPE, tmp_path / "train.py")
    (tmp_path / "train.py").write_text("")
    assert f"DATA=${{DATA:-{PLACEHOLDER_DATA}}}" in sbatch.read_text()
    proc, given = run_recorded(sbatch, tmp_path)
    assert proc.returncode == 2 and given is None
    assert f"The data folder '{PLACEHOLDER_DATA}' does not exist" in proc.stderr
    assert "DATA=/path/to/images sbatch" in proc.stderr
    proc, given = run_recorded(sbatch, tmp_path, DATA=str(tmp_path), RDZV_PORT="29995")  # DATA from outside
    assert proc.returncode == 0 and given[given.index("--data") + 1] == str(tmp_path)


def test_submitted_from_the_wrong_folder_it_says_where_to_run_it(tmp_path):
    (tmp_path / "export").mkdir()
    sbatch = write_sbatch(RECIPE, tmp_path / "export" / "train.py", data_root=str(tmp_path))
    env = slurm_env(tmp_path, fake_bin(tmp_path / "fakes"))  # submitted from tmp_path, not export/
    proc = subprocess.run(["bash", str(sbatch)], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 2 and "No train.py in" in proc.stderr


def test_exporting_the_script_writes_the_launch_file_and_reports_it(tmp_path, capsys):
    from designer.app import project as project_mod
    from designer.cli.main import main

    project = tmp_path / "p.json"
    project_mod.save_project(project_mod.Project(recipe=RECIPE, classes=CLASSES, data={}, training={},
                                                 runs=[]), project)
    out = str(tmp_path / "out")
    assert main(["export", str(project), "--format", "script", "--no-check", "-o", out]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path / "out" / "train.sbatch") in out
    assert (tmp_path / "out" / "train.sbatch").is_file()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_the_launch_file_trains_with_two_processes_under_torchrun(tmp_path):
    """Exported with the app's split, run as SLURM would run it (fake srun and scontrol, the real
    torchrun): two gloo processes train one epoch and leave best.pt and last.pt in OUT."""
    root = make_shapes_folder(tmp_path / "data", classes=CLASSES, per_class=6, size=16)
    split = scan_folder(root, val_fraction=0.2, seed=3)
    out = tmp_path / "export"
    result = export(build(RECIPE), "script", out / "train.py", classes=CLASSES, split=split, check=False,
                    training={"mode": "full", "epochs": 1, "batch_size": 4})
    assert [p.name for p in result.beside] == ["model.py", "data.py", "split.json", "train.sbatch"]
    torchrun = Path(sys.executable).with_name("torchrun")
    assert torchrun.is_file()
    env = slurm_env(out, fake_bin(tmp_path / "fakes", record=False), torchrun.parent,
                    PROCS_PER_NODE="2", RDZV_PORT=str(free_port()))
    proc = subprocess.run(["bash", str(out / "train.sbatch"), "--workers", "0"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "Training on 2 x cpu" in proc.stdout and "epoch 1/1" in proc.stdout
    assert "the app's split" in proc.stdout
    assert (out / "runs" / "1" / "best.pt").is_file() and (out / "runs" / "1" / "last.pt").is_file()
