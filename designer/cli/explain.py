"""``python -m designer explain PROJECT --weights W IMAGE... -o DIR``: heat maps as PNG files.

For each image: its predicted class, its true class when the image sits in a folder named
after one of the classes (as in a labelled image folder), and any ``--class`` given. One
overlay per class and method, ``<image>.<method>.<class>.png``. The layer is ``--layer``,
else the project's choice (``explain.layer``, set in the window's graph), else the last
layer before the head whose map is at least 7x7 (or the largest there is).

Every image is checked before the network is built: a missing or unreadable one is refused
in one line (exit status 2), like any bad input.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from designer.app.explain import ExplainSummary, check_images, explain_job, requests_for, write_overlays
from designer.app.jobs import DesignSource, known_classes
from designer.app.project import load_project
from designer.app.vocabulary import DEVICES, METHODS
from designer.base.errors import DesignerError
from designer.base.jobs import JobControl, Progress
from designer.base.safeio import check_new_folder
from designer.cli.flags import number


def register(subparsers) -> None:
    p = subparsers.add_parser("explain",
                              help="heat maps (Grad-CAM, feature ablation) of images, as PNG files")
    p.add_argument("project", help="project .json")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="folder for the PNG files")
    p.add_argument("--weights", help="a run's best.pt or run folder (default: the project's base weights)")
    p.add_argument("--method", choices=(*METHODS, "both"), default="gradcam",
                   help="gradcam (default), ablation (gradient-free) or both")
    p.add_argument("--layer", metavar="PATH", help="the layer to map (default: the project's choice, else "
                   "the last layer before the head whose map is at least 7x7)")
    p.add_argument("--class", dest="classes", action="append", default=[], metavar="NAME",
                   help="also map this class (may be repeated)")
    p.add_argument("--opacity", type=number(0, 1), default=0.5, help="strength of the overlay, 0..1")
    p.add_argument("--device", default="auto", choices=DEVICES)
    p.add_argument("--json", action="store_true", help="print what was written as JSON")
    p.set_defaults(handler=cmd_explain)


def output_folder(text: str) -> Path:
    folder = check_new_folder(Path(text).expanduser())
    if folder.exists() and not folder.is_dir():
        raise DesignerError(f"'{folder}' is a file, not a folder.",
                            hint="Give -o a folder for the PNG files.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DesignerError(f"Cannot create the folder '{folder}': {exc.strerror or exc}.") from None
    return folder


def cmd_explain(args) -> int:
    check_images(args.images)
    project = load_project(args.project)
    layer = args.layer or (project.explain or {}).get("layer") or None
    folder = output_folder(args.output)
    classes = known_classes(args.weights, project.classes)
    source = DesignSource.of_recipe(project.recipe)
    methods = list(METHODS) if args.method == "both" else [args.method]
    written: list[dict] = []
    taken: set[str] = set()
    failed = 0
    for method in methods:
        summary = None
        requests = requests_for(args.images, classes)
        for item in _run(explain_job, source, args.weights, requests, classes, layer, method,
                         tuple(args.classes), args.device):
            if isinstance(item, Progress):
                continue
            if isinstance(item, ExplainSummary):
                summary = item
                continue
            if item.error:
                failed += 1
                print(f"{item.path}: error: {item.error}", file=sys.stderr)
                continue
            for path in write_overlays(item, folder, method, args.opacity, taken):
                written.append({**item.to_dict(), "method": method, "file": str(path)})
                if not args.json:
                    print(f"{path}  ({METHODS[method]}, predicted {item.predicted} {item.probability:.2f})")
        if summary is not None and not args.json:
            print(f"{METHODS[method]} at {summary.target.describe()}", file=sys.stderr)
    if args.json:
        print(json.dumps(written, indent=1))
    return 1 if failed else 0


def _run(job, *args):
    """A job's items, then its return value as the last item."""
    gen = job(JobControl(), *args)
    while True:
        try:
            yield next(gen)
        except StopIteration as stop:
            yield stop.value
            return
