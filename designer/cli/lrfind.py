"""CLI: ``python -m designer lr-find PROJECT --data DIR``: the learning-rate range test.

Prints the loss against the learning rate (a short table, or every point with
``--json``) and the suggested base LR, to pass to ``train --lr``.
"""

from __future__ import annotations

import json
import math
import sys

from designer.app.jobs import DesignSource, lr_find_job, scan_job
from designer.app.project import load_project
from designer.app.vocabulary import DEVICES, OPTIMIZERS
from designer.base.jobs import JobControl, Progress
from designer.cli.flags import add_data_flags, number
from designer.cli.train import data_flags, train_options


def register(subparsers) -> None:
    p = subparsers.add_parser("lr-find", help="learning-rate range test: the loss against a growing LR",
                              description="Train a copy of the network for a few steps with a growing "
                                          "learning rate and suggest the base LR (fastai's lr_find, "
                                          "'valley' rule). The design's freezing and LR factors apply; "
                                          "nothing is saved.")
    p.add_argument("project", help="project .json")
    add_data_flags(p, "a separate validation folder (not used by the test)")
    p.add_argument("--steps", type=number(10, 1000, whole=True), default=100, help="steps of the test")
    p.add_argument("--optimizer", choices=OPTIMIZERS)
    p.add_argument("--batch-size", type=number(1, 4096, whole=True))
    p.add_argument("--device", choices=DEVICES)
    p.add_argument("--json", action="store_true", help="every point and the suggestion as JSON")
    p.set_defaults(handler=cmd_lr_find)


def cmd_lr_find(args) -> int:
    project = load_project(args.project)
    options = train_options(args, project.training)  # the flags this command has override the project
    split = scan_job(JobControl(), data_flags(args, project.data, options.seed))
    control = JobControl(None if args.json else _progress)
    finding = lr_find_job(control, DesignSource.of_recipe(project.recipe), split, options, steps=args.steps)
    if args.json:
        print(json.dumps(finding.to_dict()))
        return 0
    sys.stderr.write("\n")
    for k in range(0, len(finding.lrs), max(1, len(finding.lrs) // 12)):
        print(f"  lr {finding.lrs[k]:9.2e}   loss {finding.losses[k]:.4f}")
    print(f"suggested base LR {finding.suggestion:.2e} (steepest fall at {finding.steepest:.2e}, lowest loss "
          f"at {finding.lowest:.2e}); train with --lr {finding.suggestion:.2g} --optimizer "
          f"{options.optimizer}")
    print("note: without --lr the recommended mode trains at the from-scratch rate (0.01 for SGD); on small "
          "data sets this suggestion was often lower than what trained best")
    return 0


def _progress(progress) -> None:
    if not isinstance(progress, Progress) or not progress.total:
        return
    if progress.done % 10 == 0 or progress.done == progress.total:
        width = 30
        filled = math.floor(width * progress.done / progress.total)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {progress.text}")
        sys.stderr.flush()
