"""A SLURM batch file (``train.sbatch``) beside the exported training script.

``sbatch train.sbatch`` runs the script under ``srun torchrun`` on one or more nodes: one
torchrun per node, a c10d rendezvous on the job's first node, the run's settings passed
explicitly (the same values as the script's own defaults). DATA, OUT and PROCS_PER_NODE are
shell variables at the top that the environment overrides (``DATA=/images sbatch train.sbatch``);
arguments after the file name go to the script (``sbatch train.sbatch --epochs 5``).

Everything from outside (the data folder, file names, the design's name) is hostile: it is
written only as one ``shlex.quote``-d word, as a job name cut down to ``[A-Za-z0-9_.-]``, or in a
comment on one line. Numbers come from checked ``TrainOptions``, written as the script writes them.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path

from designer import __version__
from designer.base.errors import DesignerError
from designer.base.fileio import atomic_write_text
from designer.codegen.literals import comment_text

# The one place that turns training options into the script's argparse defaults; the launch file
# passes the very same values (a public helper in codegen.script would be tidier).
from designer.codegen.script import (
    DEFAULT_VAL_FRACTION,
    _main_defaults,
    _options,
    script_mode,
    script_settings,
)
from designer.model.build import Design
from designer.model.recipe import Recipe
from designer.train.options import OPTIMIZERS, PLAN_FIELDS, SCHEDULES

SBATCH_SUFFIX = ".sbatch"
PLACEHOLDER_DATA = "/path/to/images"
MAX_JOB_NAME = 40
_SAFE_VALUE = re.compile(r"[A-Za-z0-9_.+-]+")
_NOT_JOB_NAME = re.compile(r"[^A-Za-z0-9_.-]+")
# flag, key in the script's defaults, and a comment for the line
_VALUES = (
    ("--epochs", "epochs", ""),
    ("--batch-size", "batch_size", "per process: each step sees this x the number of processes"),
    ("--lr", "lr", "base learning rate, times each layer's LR factor"),
    ("--optimizer", "optimizer", ""),
    ("--schedule", "schedule", ""),
    ("--warmup-epochs", "warmup_epochs", ""),
    ("--weight-decay", "weight_decay", ""),
    ("--seed", "seed", ""),
    ("--workers", "workers", "data-loading processes per training process"),
)
_SWITCHES = (("amp", "bfloat16 mixed precision: --amp on, --no-amp off"),
             ("class-weights", "weigh classes by inverse frequency: --class-weights on"))


def sbatch_path_for(script: str | Path) -> Path:
    """``export/train.py`` -> ``export/train.sbatch``."""
    return Path(script).with_suffix(SBATCH_SUFFIX)


def write_sbatch(design: Design | Recipe, script: str | Path, *, training=None, num_train: int | None = None,
                 data_root: str | None = None) -> Path:
    """Write the launch file for ``script`` (generated from ``design`` with ``training``; ``num_train``
    as for the script) beside it, atomically; ``data_root``: the data folder the app used."""
    script = Path(script)
    base = (design.recipe if isinstance(design, Design) else design).base
    path = sbatch_path_for(script)
    text = sbatch_text(script_name=script.name, title=f"fine-tune {base.name} as designed in NetSurgeon",
                       job=f"{base.name}-{script.stem}", settings=launch_settings(training, num_train),
                       data=_usable_path(data_root))
    atomic_write_text(path, text)
    return path


def launch_settings(training=None, num_train: int | None = None) -> list[tuple[str, str]]:
    """(flag, value) for each setting the launch file passes: the script's own defaults for
    ``training`` (``TrainOptions`` or its dict), so both say the same. The settings the script's mode
    decides from the data (the recommended mode's plan, the default rate) are not passed, or they would
    be fixed. Switches have no value. (``num_train`` is kept for callers; the script plans itself.)"""
    options = _options(training)
    defaults = _main_defaults(options, DEFAULT_VAL_FRACTION, 0)
    settings = script_settings(options)
    mode = script_mode(options)
    out = [("--mode", _safe(mode))]
    for flag, key, _ in _VALUES:
        if key in settings:
            value = settings[key]
            if value is None or (mode == "recommended" and key in PLAN_FIELDS and not options.is_fixed(key)):
                continue
        else:
            value = json.loads(defaults[key]) if key == "optimizer" else defaults[key]
        allowed = OPTIMIZERS if key == "optimizer" else SCHEDULES
        if key in ("optimizer", "schedule") and value not in allowed:
            raise DesignerError(f"'{value}' cannot be written into the launch file.")
        out.append((flag, _safe(value)))
    for name, _ in _SWITCHES:
        on = defaults[name.replace("-", "_")] == "True"
        out.append((f"--{name}" if on else f"--no-{name}", ""))
    return out


def job_name(text: str) -> str:
    """A SLURM job name: only ``[A-Za-z0-9_.-]``, at most ``MAX_JOB_NAME`` characters."""
    name = _NOT_JOB_NAME.sub("-", str(text)).strip("-.")[:MAX_JOB_NAME].strip("-.")
    return name or "netsurgeon-train"


def sbatch_text(*, script_name: str, title: str, job: str, settings: list[tuple[str, str]],
                data: str | None = None) -> str:
    """The batch file. ``data``: the default data folder (None: a placeholder the file refuses)."""
    name, launcher = comment_text(script_name), comment_text(sbatch_path_for(script_name).name)
    lines = [
        "#!/bin/bash",
        f"# SLURM batch file for {name}: {comment_text(title)}.",
        f"# Generated by NetSurgeon {__version__}. Submit it from the folder that holds it and {name}:",
        f"#     sbatch {launcher}                          # trains on DATA below",
        f"#     DATA=/path/to/images sbatch {launcher}     # on another image folder",
        f"#     sbatch {launcher} --epochs 30              # more arguments go to the script",
        "# Change the #SBATCH lines for your cluster (its documentation names partitions and limits).",
        f"#SBATCH --job-name={job_name(job)}",
        "#SBATCH --nodes=1              # machines; each runs one training process per GPU",
        "#SBATCH --ntasks-per-node=1    # one torchrun per machine: keep 1",
        "#SBATCH --gpus-per-node=4      # GPUs per machine (some clusters: --gres=gpu:4; none on CPU)",
        "#SBATCH --cpus-per-task=8      # CPU cores per machine, for its processes and their loaders",
        "#SBATCH --time=04:00:00        # time limit, hours:minutes:seconds",
        "#SBATCH --output=%x-%j.out     # the log: <job name>-<job id>.out in the submission folder",
        "",
        "set -euo pipefail",
        "",
        "# The image folder: one sub-folder per class, or train/ and val/ (the environment's DATA wins).",
        f"DATA=${{DATA:-{shlex.quote(data or PLACEHOLDER_DATA)}}}",
        "# Where best.pt and last.pt go, one folder per job.",
        "OUT=${OUT:-runs/$SLURM_JOB_ID}",
        "# Training processes per machine: gpu = one per visible GPU; on CPU a number, e.g. 2.",
        "PROCS_PER_NODE=${PROCS_PER_NODE:-gpu}",
        "# The port on the first machine where the machines meet (one per job id).",
        "RDZV_PORT=${RDZV_PORT:-$((29500 + SLURM_JOB_ID % 1000))}",
        f"SCRIPT={shlex.quote(script_name)}",
        "",
        "# Make torchrun, torch and torchvision available here, e.g.:",
        "# module load cuda    or    source ~/venvs/torch/bin/activate",
        "",
        *_CHECKS,
        "",
        'HEAD_NODE=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n1)',
        "# srun does not hand --cpus-per-task on to its tasks by itself in some SLURM versions",
        'if [ -n "${SLURM_CPUS_PER_TASK:-}" ]; then export SRUN_CPUS_PER_TASK="$SLURM_CPUS_PER_TASK"; fi',
        "",
        *_settings(settings),
        "",
        "srun torchrun \\",
        '    --nnodes "$SLURM_NNODES" \\',
        '    --nproc-per-node "$PROCS_PER_NODE" \\',
        "    --rdzv-backend c10d \\",
        '    --rdzv-endpoint "$HEAD_NODE:$RDZV_PORT" \\',
        '    --rdzv-id "$SLURM_JOB_ID" \\',
        '    "$SCRIPT" --data "$DATA" --out "$OUT" "${SETTINGS[@]}" "$@"',
    ]
    return "\n".join(lines) + "\n"


_CHECKS = (
    'cd "$SLURM_SUBMIT_DIR"  # the folder sbatch ran in: the script and split.json are there',
    'if [ ! -f "$SCRIPT" ]; then',
    '    echo "No $SCRIPT in $PWD: run sbatch in the folder that holds it." >&2',
    "    exit 2",
    "fi",
    'if [ ! -d "$DATA" ]; then',
    """    echo "The data folder '$DATA' does not exist. Set DATA at the top of this file," >&2""",
    '    echo "or submit with: DATA=/path/to/images sbatch <this file>" >&2',
    "    exit 2",
    "fi",
)


def _settings(settings: list[tuple[str, str]]) -> list[str]:
    """The settings as a bash array, one per line: ``sbatch train.sbatch --lr 0.1`` overrides one
    (the script takes the last value given)."""
    comments = {flag: why for flag, _, why in _VALUES}
    comments.update({f"--{s}": why for s, why in _SWITCHES} | {f"--no-{s}": why for s, why in _SWITCHES})
    lines = ["# The run's settings, as chosen in the app (the same as the script's defaults):", "SETTINGS=("]
    for flag, value in settings:
        text = f"    {flag} {shlex.quote(value)}" if value else f"    {flag}"
        why = comments.get(flag, "")
        lines.append(f"{text:<27} # {comment_text(why)}" if why else text)  # "#" starts a word
    return [*lines, ")"]


def _safe(value: str) -> str:
    """A number or a choice as one plain word; anything else is refused."""
    if not _SAFE_VALUE.fullmatch(str(value)):
        raise DesignerError(f"The value {value!r} cannot be written into the launch file.")
    return str(value)


def _usable_path(root: str | None) -> str | None:
    """The app's data folder as an absolute path, or None (the file then asks for DATA)."""
    if not root:
        return None
    path = os.path.abspath(os.path.expanduser(str(root)))
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:  # a name that is not valid text: the user sets DATA instead
        return None
    return path
