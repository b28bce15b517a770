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

from designer.app.explain import ExplainRequest, ExplainSummary, explain, write_overlays
from designer.app.project import load_project
from designer.base.errors import DesignerError
from designer.base.jobs import JobControl, Progress
from designer.base.safeio import check_new_folder, file_kind
from designer.cli.flags import number
from designer.cli.train import _run_classes, load_design
from designer.data.images import check_image
from designer.inspect.cam import METHODS
from designer.train.options import DEVICES

MAX_IMAGES = 10_000


def register(subparsers) -> None:
    p = subparsers.add_parser("explain", help="heat maps (Grad-CAM, feature ablation) of images, as PNG files")
    p.add_argument("project", help="project .json")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="folder for the PNG files")
    p.add_argument("--weights", help="a run's best.pt or run folder (default: the project's base weights)")
    p.add_argument("--method", choices=(*METHODS, "both"), default="gradcam",
                   help="gradcam (default), ablation (gradient-free) or both")
    p.add_argument("--layer", metavar="PATH", help="the layer to map (default: the project's choice, else the "
                   "last layer before the head whose map is at least 7x7)")
    p.add_argument("--class", dest="classes", action="append", default=[], metavar="NAME",
                   help="also map this class (may be repeated)")
    p.add_argument("--opacity", type=number(0, 1), default=0.5, help="strength of the overlay, 0..1")
    p.add_argument("--device", default="auto", choices=DEVICES)
    p.add_argument("--json", action="store_true", help="print what was written as JSON")
    p.set_defaults(handler=cmd_explain)


def check_images(paths: list[str]) -> None:
    """Every image exists and is a usable image file (headers only), or one clear error."""
    if len(paths) > MAX_IMAGES:
        raise DesignerError(f"{len(paths):,} images were given; at most {MAX_IMAGES:,} at a time.")
    for path in paths:
        kind = file_kind(path)  # say what is really there: a folder, a pipe and a device are not "missing"
        if kind == "missing":
            raise DesignerError(f"The image '{path}' does not exist.", hint="Check the path.")
        if kind != "a file":
            raise DesignerError(f"The image '{path}' is {kind}, not an image file.", hint="Give image files.")
        problem = check_image(path)
        if problem:
            raise DesignerError(f"The image '{path}' cannot be used: {problem}.")


def output_folder(text: str) -> Path:
    folder = check_new_folder(Path(text).expanduser())
    if folder.exists() and not folder.is_dir():
        raise DesignerError(f"'{folder}' is a file, not a folder.", hint="Give -o a folder for the PNG files.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DesignerError(f"Cannot create the folder '{folder}': {exc.strerror or exc}.") from None
    return folder


def _requests(paths: list[str], classes: list[str]) -> list[ExplainRequest]:
    """A true class for each image in a folder named after a class."""
    return [ExplainRequest(p, Path(p).parent.name if Path(p).parent.name in classes else None) for p in paths]


def cmd_explain(args) -> int:
    check_images(args.images)
    project = load_project(args.project)
    layer = args.layer or (project.explain or {}).get("layer") or None
    folder = output_folder(args.output)
    design = load_design(project, args.weights)
    classes = project.classes or _run_classes(args.weights) or [str(k) for k in range(design.num_classes)]
    methods = list(METHODS) if args.method == "both" else [args.method]
    written, taken, failed = [], set(), 0
    for method in methods:
        summary = None
        for item in _run(explain, design, _requests(args.images, classes), classes, layer, method,
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
