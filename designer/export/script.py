"""Export the training script and check it the way a user would run it.

The check writes the model's weights to a temporary ``.safetensors`` file and
runs ``python train.py --weights ... --check`` in a fresh interpreter, from a
temporary folder, without this project on ``PYTHONPATH``. The script must
rebuild a network with the same state-dict keys and LR factors, and its logits
for the fixed seeded input must match the model's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from safetensors.torch import save_file

from designer.base.errors import DesignerError
from designer.codegen.script import SplitArgs, companions, write_script
from designer.export.checks import max_abs_diff
from designer.export.slurm import write_sbatch
from designer.export.splitfile import write_split
from designer.model.build import Design
from designer.model.policy import param_groups, resolve_policy
from designer.zoo.weights import plain_state_dict

CHECK_TIMEOUT_S = 300


def export_script(design: Design, job, out_path: Path, *, training=None, classes=None, split=None,
                  check=True):
    """Write the script with its model.py and data.py, and beside it the app's ``split`` (a
    ``DatasetSplit``) when given, which the script then trains on, and a SLURM launch file
    (``export.slurm``); returns (max abs diff of the logits or None, note, the files written beside
    the script)."""
    job.step(0.1, "Writing the training script")
    split_file, beside = None, []
    how: SplitArgs = {}
    if split is not None:
        beside.append(write_split(split, out_path.parent))
        split_file = beside[-1].name
        how = {"val_fraction": float(split.val_fraction), "split_seed": int(split.seed),
               "num_train": len(split.train)}
    write_script(design, out_path, training=training, classes=classes, split_file=split_file, **how)
    beside[:0] = companions(out_path)  # model.py and data.py, which the script imports
    beside.append(write_sbatch(design, out_path, training=training, num_train=how.get("num_train"),
                               data_root=split.root if split is not None else None))
    with_split = f"; it trains on the app's split ({split_file})" if split_file else ""
    if not check:
        return None, "not run" + with_split, tuple(beside)
    job.step(0.3, "Running the script in a fresh Python to check it")
    report = run_check(out_path, job.model)
    with torch.no_grad():
        reference = job.model(job.example)  # the script checks the same seeded batch of two
    _compare_structure(report, job.model, design)
    diff = max_abs_diff(reference, torch.tensor(report["logits"]))
    note = "checked by running it with the model's weights in a fresh Python" + with_split
    return diff, note, tuple(beside)


def run_check(script: Path, model) -> dict:
    """Run ``script --weights <model's weights> --check`` outside the project; its JSON report."""
    with tempfile.TemporaryDirectory(prefix="netsurgeon-check-") as tmp:
        weights = Path(tmp) / "weights.safetensors"
        save_file(plain_state_dict(model), str(weights))
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env["PYTHONDONTWRITEBYTECODE"] = "1"  # no __pycache__ of model.py and data.py in the export
        cmd = [sys.executable, str(Path(script).resolve()), "--weights", str(weights), "--check"]
        try:
            proc = subprocess.run(cmd, check=False, cwd=tmp, env=env, capture_output=True, text=True,
                                  timeout=CHECK_TIMEOUT_S)
        except subprocess.TimeoutExpired as exc:
            raise DesignerError(
                f"The generated script did not finish its check in {CHECK_TIMEOUT_S} s.") from exc
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no error output"])[-1]
        raise DesignerError(f"The generated script failed when run: {last}",
                            hint="Please report this design; the other export formats still work.")
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError) as exc:
        raise DesignerError("The generated script's check printed no readable report.") from exc


def _compare_structure(report: dict, model, design: Design) -> None:
    keys = list(model.state_dict())
    if report["keys"] != keys:
        missing = sorted(set(keys) - set(report["keys"]))[:3]
        extra = sorted(set(report["keys"]) - set(keys))[:3]
        raise DesignerError(
            "The generated script builds a different network from the app's "
            f"(missing {missing or 'none'}, extra {extra or 'none'}).",
            hint="Please report this design; the other export formats still work.",
        )
    expected = expected_lr_factors(design)
    if expected is not None and _rounded(report["lr_factors"]) != _rounded(expected):
        raise DesignerError("The generated script freezes layers or sets learning rates differently "
                            "from the app.", hint="Please report this design.")


def expected_lr_factors(design: Design) -> dict[str, float] | None:
    """Parameter name -> LR factor for every trainable parameter, as the app trains them."""
    policy = resolve_policy(design.recipe, design.model)
    groups = param_groups(design.model, policy, 1.0, 0.0)
    names = {id(p): n for n, p in design.model.named_parameters()}
    return {names[id(p)]: g["lr"] for g in groups for p in g["params"]}


def _rounded(table: dict[str, float]) -> dict[str, float]:
    return {k: round(float(v), 9) for k, v in table.items()}
