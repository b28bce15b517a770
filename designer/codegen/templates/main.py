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
    add = parser.add_argument
    add("--data", help="image folder: one sub-folder per class, or train/ and val/")
    add("--split", help="the app's split file (default: the one beside this script, if any); "
        "'none' splits DATA here with --val-fraction and --split-seed")
    add("--weights", help="start from these weights (.pt or .safetensors)")
    add("--out", default="runs", help="folder for best.pt and last.pt (to continue from)")
    add("--resume", metavar="LAST_PT", help="continue a stopped run from its last.pt")
    add("--mode", choices=MODES, default=MODE, help="recommended: fit the classifier on features, "
        "then fine-tune from a fresh one; full: fine-tune; scratch: from random weights")
    # Flags left out (None) are settled by the mode: SETTINGS, or planned (see settle)
    for flag, kind in (("--epochs", int), ("--batch-size", int), ("--warmup-epochs", float)):
        add(flag, type=kind, help="default: planned (recommended) or SETTINGS")
    add("--lr", type=float, help="base LR, times each LR factor")
    add("--optimizer", choices=OPTIMIZERS, default=OPTIMIZER)
    add("--schedule", choices=SCHEDULES)
    add("--weight-decay", type=float, default=WEIGHT_DECAY)
    add("--seed", type=int, default=SEED)
    add("--val-fraction", type=float, default=VAL_FRACTION,
        help="share of each class held out when DATA has no val/ folder")
    add("--split-seed", type=int, default=SPLIT_SEED, help="which images are held out")
    add("--workers", type=int, default=WORKERS, help="data loading processes")
    add("--class-weights", action=argparse.BooleanOptionalAction, default=CLASS_WEIGHTS,
        help="weigh classes by inverse frequency")
    add("--amp", action=argparse.BooleanOptionalAction, default=AMP, help="bfloat16 autocast")
    add("--device", choices=["auto", "cpu", "cuda"], default="auto",
        help="auto: the GPUs when PyTorch sees one, else the CPU")
    add("--val-budget", type=float, help="share of the time validation may take (1: every "
        "epoch); this and the next three default to PACING[mode]")
    add("--patience", type=int, help="stop after this many validations without a better one")
    add("--patience-fraction", type=float, help="... once the best is this share of the epochs old")
    add("--max-minutes", type=float, help="time cap (0: none)")
    add("--baseline-acc", type=float, help="keep only weights that beat this validation accuracy "
        "(the app's stage 1: the script then skips its own)")
    add("--stage1-weights", help="the app's stage-1 weights (with --baseline-acc): stage 2's "
        "guards restart from them or give up for them")
    add("--events", action="store_true", help="print the run's events as JSON lines on stdout "
        "(what NetSurgeon reads); text goes to stderr")
    add("--stop-file", help="stop after the step at which this file exists (last.pt resumes)")
    add("--check", action="store_true",
        help="print state-dict keys, logits of a fixed input and LR factors as JSON")
    args = parser.parse_args()
    if args.split is None and SPLIT_FILE and Path(__file__).with_name(SPLIT_FILE).is_file():
        args.split = str(Path(__file__).with_name(SPLIT_FILE))
    split = args.split if args.split and args.split.lower() != "none" else None
    if split and not Path(split).is_file():
        parser.error(f"the split file {split} does not exist "
                     "(pass --split none to split DATA here)")
    if not (args.check or args.data or split):
        parser.error("--data is required to train")
    return args


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.check:
        check(arguments.weights)
    else:
        train(arguments)
