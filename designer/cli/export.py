"""CLI: ``python -m designer export PROJECT --format F [--format F ...] -o OUT``.

Writes each format into the folder OUT (``model.pt``, ``model.safetensors``, ``model.onnx``,
``model.pt2``, ``model.torchscript.pt``, ``train.py`` with its ``model.py``, ``data.py`` and
SLURM launch file ``train.sbatch``, plus ``model.card.json``), verifies each one and prints its
parity (max abs difference of the outputs) and the files written with it. ``--weights best``
takes the project's finished run with the best validation accuracy; a run no better than
guessing gets a warning. Exporting a run's weights (``--weights RUN``) writes that run's split
beside the script (``split.json``), so the script trains on the same images. Any failed format
makes the exit code 2, after the other formats have been written.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from designer.app.jobs import DesignSource, export_job
from designer.app.project import load_project
from designer.app.shipping import BEST, best_run_of_project, percent, weights_warning
from designer.app.vocabulary import DEFAULT_TOLERANCE, FORMATS
from designer.base.jobs import JobControl
from designer.cli.flags import file_stem, number

ALL = "all"


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "export", help="export a design: weights, ONNX, torch.export, TorchScript, training script",
        description="Export a project's network and check that every export reproduces it.",
    )
    p.add_argument("project", help="project file (.json)")
    p.add_argument("--weights", help="trained weights to export: 'best' (the project's finished run with "
                   "the best validation accuracy), RUN_DIR/best.pt or RUN_DIR (default: the design's own "
                   "weights)")
    p.add_argument("--format", dest="formats", action="append", required=True,
                   choices=(*FORMATS, ALL), help="repeat for several; 'all' for every format")
    p.add_argument("-o", "--output", required=True, help="folder to write into")
    p.add_argument("--name", type=file_stem, default="model", help="file name stem (default: model)")
    p.add_argument("--tolerance", type=number(0, 1, above=True), default=DEFAULT_TOLERANCE,
                   help="largest allowed output difference")
    p.add_argument("--no-check", action="store_true", help="skip verifying the exports")
    p.add_argument("--json", action="store_true", help="one JSON line per format")
    p.set_defaults(handler=cmd_export)


def cmd_export(args) -> int:
    project = load_project(args.project)
    if args.weights == BEST:
        args.weights = str(_best_run(args.project, project).path)
    formats = list(FORMATS) if ALL in args.formats else list(dict.fromkeys(args.formats))
    saved = dict(project.training) if getattr(project, "training", None) else None
    warn = _warn_once(weights_warning(args.weights, len(project.classes or [])))
    outcomes = export_job(JobControl(warn), DesignSource.of_recipe(project.recipe), formats, args.output,
                          args.weights, saved, project.classes or None, stem=args.name,
                          check=not args.no_check, tolerance=args.tolerance, data=project.data)
    failed = 0
    for outcome in outcomes:
        warn(outcome)
        if outcome.ok:
            _report(args, outcome.result, outcome.seconds)
        else:
            failed += 1
            _report_failure(args, outcome.format, outcome.error)
    return 2 if failed else 0


def _warn_once(warning: str):
    """A job reporter that prints ``warning`` at the job's first sign of life: once the folder and
    the weights are known to be sound (a refusal stays one line), before the first file is written."""
    pending = [warning]

    def report(_item) -> None:
        if pending[0]:
            print(f"Warning: {pending[0]}", file=sys.stderr)
            pending[0] = ""
    return report


def _best_run(path, project):
    """The project's best finished run (``app.shipping``), named on stderr so --json stays clean."""
    run = best_run_of_project(Path(path).resolve().parent / "runs", project.runs)
    accuracy = percent(run.best_val_acc) if run.best_val_acc is not None else "no"
    print(f"Exporting the best finished run: {run.path} ({accuracy} validation accuracy)",
          file=sys.stderr)
    return run


def _report(args, result, seconds: float) -> None:
    if args.json:
        print(json.dumps({"format": result.format, "path": str(result.path), "ok": result.ok,
                          "max_abs_diff": result.max_abs_diff, "note": result.note,
                          "beside": [str(p) for p in result.beside], "seconds": round(seconds, 2)}))
        return
    diff = "not checked" if result.max_abs_diff is None else f"max abs diff {result.max_abs_diff:.2e}"
    note = f"  ({result.note})" if result.note else ""
    print(f"{result.format:<12} {result.path!s:<40} {diff}  {seconds:.1f} s{note}")
    for path in result.beside:  # split.json and train.sbatch beside the script
        print(f"{'':<12} {path!s:<40} written with it")


def _report_failure(args, fmt: str, error: str) -> None:
    if args.json:
        print(json.dumps({"format": fmt, "ok": False, "error": error}))
    else:
        print(f"{fmt:<12} FAILED: {error}", file=sys.stderr)
