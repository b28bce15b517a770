"""The script's command line: its flags, with the defaults the app's run was set with.

A template (see ``templates``): the code below SCRIPT_STARTS goes into the script as it is."""

from __future__ import annotations

import argparse
from pathlib import Path

from designer.codegen.templates.names import (
    AMP,
    CLASS_WEIGHTS,
    MODE,
    MODES,
    OPTIMIZER,
    OPTIMIZERS,
    SCHEDULES,
    SEED,
    SPLIT_FILE,
    SPLIT_SEED,
    VAL_FRACTION,
    WEIGHT_DECAY,
    WORKERS,
)
from designer.codegen.templates.policy import (
    check,
)
from designer.codegen.templates.run import train

# --- the script: everything below this line is copied into it ---


class Help(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each flag's default, except where the mode decides it (None)."""

    def _get_help_string(self, action):
        return action.help if action.default is None else super()._get_help_string(action)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=Help)
    parser.add_argument("--data", help="image folder: one sub-folder per class, or train/ and val/")
    parser.add_argument("--split", help="the app's split file: the images it trained and "
                        "validated on (default: the one exported beside this script, if any); "
                        "'none' splits DATA here with --val-fraction and --split-seed")
    parser.add_argument("--weights", help="start from these weights (.pt or .safetensors)")
    parser.add_argument("--out", default="runs", help="folder for best.pt (the best weights) and "
                        "last.pt (a checkpoint to continue from)")
    parser.add_argument("--resume", metavar="LAST_PT",
                        help="continue a stopped run from its last.pt")
    parser.add_argument("--mode", choices=MODES, default=MODE,
                        help="recommended: fit the classifier on features computed once, then "
                        "fine-tune from a fresh one; full: fine-tune; scratch: from random weights")
    # Flags left out (None) are settled by the mode: SETTINGS, or planned (see settle)
    for flag, kind in (("--epochs", int), ("--batch-size", int), ("--warmup-epochs", float)):
        parser.add_argument(flag, type=kind, help="default: planned (recommended) or SETTINGS")
    parser.add_argument("--lr", type=float, help="base LR, times each LR factor")
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default=OPTIMIZER)
    parser.add_argument("--schedule", choices=SCHEDULES)
    parser.add_argument("--weight-decay", type=float, default=WEIGHT_DECAY)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--val-fraction", type=float, default=VAL_FRACTION,
                        help="share of each class held out when DATA has no val/ folder")
    parser.add_argument("--split-seed", type=int, default=SPLIT_SEED,
                        help="which images are held out (the app's split seed)")
    parser.add_argument("--workers", type=int, default=WORKERS, help="data loading processes")
    parser.add_argument("--class-weights", action=argparse.BooleanOptionalAction,
                        default=CLASS_WEIGHTS,
                        help="weigh classes by inverse frequency")
    parser.add_argument("--amp", action=argparse.BooleanOptionalAction, default=AMP,
                        help="bfloat16 mixed precision")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                        help="auto: the GPUs when PyTorch sees one, else the CPU")
    parser.add_argument("--val-budget", type=float, help="share of the time validation may take "
                        "(1: after every epoch); this and the next three default to PACING[mode]")
    parser.add_argument("--patience", type=int, help="stop when validation accuracy has not "
                        "improved for this many validations (0: never)")
    parser.add_argument("--patience-fraction", type=float,
                        help="... and the best is at least this share of the epochs old")
    parser.add_argument("--max-minutes", type=float, help="time cap (0: none)")
    parser.add_argument("--baseline-acc", type=float, default=None,
                        help="best.pt is only replaced by weights that beat this validation "
                        "accuracy (the app's stage 1: then the script skips its own)")
    parser.add_argument("--events", action="store_true",
                        help="print the run's events as JSON lines on stdout (what NetSurgeon "
                        "reads); text for people goes to stderr")
    parser.add_argument("--stop-file", help="stop after the current step once this file exists, "
                        "keeping last.pt to resume and best.pt")
    parser.add_argument("--check", action="store_true",
                        help="print state-dict keys, logits of a fixed input and LR factors "
                        "as JSON, then exit")
    args = parser.parse_args()
    beside = Path(__file__).with_name(SPLIT_FILE) if SPLIT_FILE else None
    if args.split is None and beside is not None and beside.is_file():
        args.split = str(beside)
    if args.split and args.split.lower() != "none" and not Path(args.split).is_file():
        parser.error(f"the split file {args.split} does not exist "
                     "(pass --split none to split DATA here)")
    if not args.check and not args.data and not (args.split and args.split.lower() != "none"):
        parser.error("--data is required to train")
    return args


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.check:
        check(arguments.weights)
    else:
        train(arguments)
