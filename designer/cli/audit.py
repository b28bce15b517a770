"""CLI: ``python -m designer audit PROJECT --data DIR [--json] [--html report.html]``: check the images
for wrong labels, duplicates (and those that leak into validation), outliers, imbalance and odd images.
Printing only; the work is ``designer.app.audit``."""

from __future__ import annotations

import json
import sys

from designer.app.audit import (
    audit_project,
    move_project_excluded,
    remember_groups,
    report_dict,
    undo_project_move,
    write_html,
)
from designer.app.jobs import scan_job
from designer.app.project import load_project
from designer.app.training import data_settings
from designer.app.vocabulary import DEVICES
from designer.base.jobs import JobControl, Progress
from designer.cli.flags import add_data_flags, number

SHOWN = 15  # rows per finding in the plain listing


def register(subparsers) -> None:
    p = subparsers.add_parser("audit", help="check the images: wrong labels, duplicates, outliers, imbalance",
                              description="Find images that may carry the wrong label, copies across the "
                                          "train/validation split, images unlike their class, class "
                                          "imbalance and tiny, blank, dark or blurry images, from the "
                                          "network's features. Nothing on disk is changed.")
    p.add_argument("project", help="project .json (its design gives the features)")
    add_data_flags(p)
    p.add_argument("--seed", type=number(0, 2**32 - 1, whole=True), default=0)
    p.add_argument("--device", choices=DEVICES)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--html", metavar="FILE", help="also write a report with thumbnails")
    p.add_argument("--apply-fixes", action="store_true",
                   help="add the suggested fixes to the project's decisions (leave out the wrong-label "
                        "suspects and the validation copies of training images; your own decisions win) "
                        "and remember the groups")
    p.add_argument("--save-groups", action="store_true",
                   help="remember the duplicate groups in the project: every split then keeps each group "
                        "together")
    moves = p.add_mutually_exclusive_group()
    moves.add_argument("--move-excluded", metavar="DIR",
                       help="instead of checking: move the images the project leaves out from --data into "
                            "DIR (outside it), with an undo log DIR/netsurgeon-moves.json; never done by "
                            "default")
    moves.add_argument("--undo-move", metavar="LOG",
                       help="instead of checking: put back the images a --move-excluded moved (LOG: the log, "
                            "or the folder holding it) into --data")
    p.set_defaults(handler=cmd_audit)


def cmd_move(args) -> int:
    """--move-excluded / --undo-move: files only, no audit."""
    if args.undo_move:
        result = undo_project_move(args.undo_move, args.data)
        print(result.sentence("Put back"))
    else:
        result = move_project_excluded(args.project, args.data, args.move_excluded)
        left_out = load_project(args.project).data.get("overrides", [])
        print(result.sentence() + ("" if left_out else " The project leaves no image out."))
    return 1 if result.skipped else 0


def cmd_audit(args) -> int:
    if args.move_excluded or args.undo_move:
        return cmd_move(args)
    # the folders only: audit_project applies the project's decisions itself
    split = scan_job(JobControl(), data_settings(None, args.data, args.val_data, args.val_split, args.seed))
    gen = audit_project(args.project, split, args.device)
    while True:
        try:
            item = next(gen)
        except StopIteration as stop:
            report = stop.value
            break
        if isinstance(item, Progress) and not args.json:
            sys.stderr.write(f"\r{item.text[:100]:100}")
    if not args.json:
        sys.stderr.write("\n")
    if args.html:
        write_html(report, args.html)
    if args.save_groups or args.apply_fixes:
        remember_groups(args.project, report, fixes=args.apply_fixes)
    if args.json:
        print(json.dumps(report_dict(report)))
    else:
        _print(report_dict(report), report.summary_lines(), args)
    return 0


def _print(data: dict, summary: list[str], args) -> None:
    print("\n".join(summary))
    rows = [("wrong label?",
             f"{i['path']}: labelled {i['given']}, looks like {i['suggested']} ({i['score']:.2f})")
            for i in data["label_issues"][:SHOWN]]
    rows += [("duplicates", ("LEAK " if g["crosses_split"] else "") + ", ".join(g["paths"][:4]))
             for g in data["duplicates"][:SHOWN]]
    rows += [("unlike class", f"{o['path']} ({o['given']}, {o['score']:.1f})")
             for o in data["outliers"][:SHOWN]]
    rows += [("odd image", f"{o['path']}: {', '.join(o['problems'])}") for o in data["odd_images"][:SHOWN]]
    for kind, text in rows:
        print(f"  {kind:13} {text}")
    if args.html:
        print(f"report with thumbnails: {args.html}")
