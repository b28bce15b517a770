"""CLI: ``python -m designer compress PROJECT --weights RUN --data DIR --goal latency=0.5x --max-drop 0.02
-o OUT``: prune to the goal, recover each step with a short fine-tune, then try int8; every figure measured.
Parsing and printing only; the work is ``designer.app.compress``. Ctrl+C stops after the current step."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from designer.app.compress import CompressRequest, compress_job
from designer.app.project import load_project
from designer.app.shipping import BEST, best_run_of_project
from designer.app.vocabulary import IMPORTANCES, CompressSettings, StepMeasured, parse_goal
from designer.base.errors import DesignerError
from designer.base.jobs import JobControl, Progress
from designer.cli.flags import add_data_flags, number


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "compress", help="shrink a trained network to a goal: channel pruning, then int8",
        description="Prune channels step by step (Torch-Pruning), fine-tune briefly after each step, stop "
                    "at the goal or before accuracy drops by more than --max-drop, then try int8 (ONNX "
                    "Runtime); keeps the fastest model. A size or latency goal that int8 alone may meet "
                    "tries int8 of the original first, and prunes nothing when that is enough.")
    p.add_argument("project", help="project .nsd.json")
    p.add_argument("--weights", required=True, metavar="RUN",
                   help="the trained run folder (or its best.pt), or 'best': the project's finished run with "
                        "the best validation accuracy")
    add_data_flags(p)
    p.add_argument("--goal", required=True, type=_goal, metavar="GOAL",
                   help="latency=0.5x (batch-1 latency), size=4MB (ONNX file) or params=0.3x")
    p.add_argument("--max-drop", type=number(0, 1), default=0.02,
                   help="most validation accuracy a kept step may lose (default 0.02)")
    p.add_argument("--importance", choices=IMPORTANCES, default="magnitude", help="how channels are ranked")
    p.add_argument("--keep", action="append", default=[], metavar="LAYER",
                   help="keep this layer out of pruning (repeatable; the first conv and the classifier "
                        "always are)")
    p.add_argument("--steps", type=number(1, 50, whole=True), default=8, help="pruning steps (default 8)")
    p.add_argument("--max-ratio", type=number(0.05, 0.95), default=0.8,
                   help="share of prunable channels removed by the last step (default 0.8)")
    p.add_argument("--finetune-epochs", type=number(1, 100, whole=True), default=2,
                   help="fine-tuning epochs after each step (default 2)")
    p.add_argument("--runs", type=number(20, 10_000, whole=True), default=20,
                   help="timed runs per latency figure, the median reported (at least 20)")
    p.add_argument("--no-int8", action="store_true", help="skip int8 quantization")
    p.add_argument("--seed", type=number(0, 2**32 - 1, whole=True), default=0)
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="a new folder for the results")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    p.set_defaults(handler=cmd_compress)


def _goal(text: str):
    try:
        return parse_goal(text)
    except DesignerError as exc:  # argparse then prints it as one flag error
        raise argparse.ArgumentTypeError(f"{exc.message} {exc.hint}") from None


def cmd_compress(args) -> int:
    settings = CompressSettings(args.goal, args.max_drop, args.importance, tuple(args.keep), args.steps,
                                args.max_ratio, args.finetune_epochs, args.runs, not args.no_int8)
    weights = args.weights
    if weights == BEST:  # as export does: the project's best finished run, named on stderr
        runs_dir = Path(args.project).resolve().parent / "runs"
        weights = str(best_run_of_project(runs_dir, load_project(args.project).runs).path)
        print(f"Compressing the best finished run: {weights}", file=sys.stderr)
    request = CompressRequest(args.project, weights, args.output, args.data, args.val_data,
                              args.val_split, args.seed)
    control = JobControl(report=lambda item: _show(item, args.json))
    gen = compress_job(control, request, settings)
    report = None
    while report is None:
        try:
            _show(next(gen), args.json)
        except StopIteration as stop:
            report = stop.value
        except KeyboardInterrupt:
            control.cancel()  # the job stops at its next check and says so
            sys.stderr.write("\nstopping after the current step...\n")
    print(json.dumps(report) if args.json else _summary(report))
    return 0


def _show(item, quiet: bool) -> None:
    if isinstance(item, Progress) and not quiet:
        sys.stderr.write(f"\r{item.text[:100]:100}")
    elif isinstance(item, StepMeasured) and not quiet:
        f = item.figures
        sys.stderr.write(f"\r{_row(f)}{'' if item.within_floor else '  (below the accuracy floor)'}\n")


def _row(f) -> str:
    acc = "-" if f.val_acc is None else f"{f.val_acc:.4f}"
    return (f"{f.label:28} b1 {f.latency_b1_ms:8.2f} ms  b32 {f.latency_b32_ms:9.2f} ms  "
            f"{f.size_bytes / 1e6:7.2f} MB  {f.params / 1e6:6.2f} M params  {f.macs / 1e6:8.1f} M MACs  "
            f"acc {acc}")


def _summary(report: dict) -> str:
    original, kept = report["original"], report["kept"]
    lines = [report["stop_reason"] + ".",
             f"original: {_row_dict(original)}", f"kept ({kept['format']}): {_row_dict(kept)}",
             (f"batch-1 latency x{kept['latency_b1_ms'] / original['latency_b1_ms']:.2f}, "
              f"size x{kept['size_bytes'] / original['size_bytes']:.2f}"),
             f"project: {report['project']}"]
    return "\n".join(lines)


def _row_dict(d: dict) -> str:
    acc = "-" if d["val_acc"] is None else f"{d['val_acc']:.4f}"
    return (f"b1 {d['latency_b1_ms']:.2f} ms, b32 {d['latency_b32_ms']:.2f} ms, "
            f"{d['size_bytes'] / 1e6:.2f} MB, acc {acc}")
