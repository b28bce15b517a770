"""CLI commands for the model itself: ``models``, ``inspect``, ``new``, ``edit``.

Each handler returns an exit code; a ``DesignerError`` is printed as one line
by ``designer.cli.main`` (exit 2). ``inspect`` returns 1 when the analyzer
finds an error, so scripts can check a design without parsing its output.
"""

from __future__ import annotations

import json
from dataclasses import asdict

from designer.app.designs import edit_project, gallery, inspect_target, new_project
from designer.app.vocabulary import (
    BN_MODES,
    CATEGORIES,
    GALLERY_SOURCES,
    LR_PRESETS,
    DeleteLayer,
    Freeze,
    FreezeUntil,
    InsertAfter,
    LRPreset,
    Op,
    ReplaceClassifier,
    ReplaceLayer,
    SetBatchNormMode,
    SetLayerParams,
    SetLRFactor,
    format_shape,
)
from designer.base.errors import DesignerError
from designer.base.schema import MAX_CLASSES, MAX_WIDTH
from designer.cli.flags import format_op_flag, number, parse_input, parse_layer, parse_lr_factor, parse_set


def register(subparsers) -> None:
    p = subparsers.add_parser("models", help="list the model gallery")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--category", choices=CATEGORIES, help="only this category")
    p.add_argument("--source", choices=GALLERY_SOURCES, help="only networks from this library")
    p.add_argument("--family", help="only this family (e.g. resnet, vision_transformer)")
    p.set_defaults(handler=cmd_models)

    p = subparsers.add_parser("inspect", help="layer table, totals and analyzer messages")
    p.add_argument("target", metavar="MODEL_OR_PROJECT",
                   help="gallery name, package.module:callable, or a project .json")
    p.add_argument("--input", help="input as CxHxW, e.g. 1x64x64 (add :replicate to keep 3 channels)")
    p.add_argument("--depth", type=number(1, 100, whole=True), help="fold layers deeper than N path "
                   "components into blocks")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=cmd_inspect)

    p = subparsers.add_parser("new", help="create a project from a model")
    p.add_argument("model", help="gallery name or package.module:callable")
    p.add_argument("--weights", default="default", help="default | none | path to .pth/.pt/.safetensors")
    p.add_argument("-o", "--output", required=True, help="project file to write (.json)")
    p.set_defaults(handler=cmd_new)

    _register_edit(subparsers)


def _register_edit(subparsers) -> None:
    p = subparsers.add_parser(
        "edit", help="append edits to a project",
        description="Edits are appended in this order: input, classifier, delete, insert, replace, set, "
                    "freeze-until, freeze, unfreeze, LR preset, LR factors, BatchNorm mode. The design is "
                    "built and analyzed before the file is written; on any error the file is unchanged.")
    p.add_argument("project", help="project .json")
    p.add_argument("--input", help="CxHxW[:replicate|:adapt], e.g. 1x32x32:replicate")
    p.add_argument("--classes", type=number(1, MAX_CLASSES, whole=True),
                   help="replace the classifier for N classes")
    p.add_argument("--head-dropout", type=number(0, 0.99), default=0.0, metavar="P")
    p.add_argument("--head-hidden", type=number(0, MAX_WIDTH, whole=True), default=0, metavar="H")
    p.add_argument("--head-bn", action="store_true")
    p.add_argument("--delete", action="append", default=[], metavar="PATH")
    p.add_argument("--insert-after", action="append", default=[], metavar="PATH=Type[:k=v,...]")
    p.add_argument("--replace", action="append", default=[], metavar="PATH=Type[:k=v,...]")
    p.add_argument("--set", action="append", default=[], metavar="PATH:k=v,...")
    p.add_argument("--freeze", action="append", default=[], metavar="PATH")
    p.add_argument("--unfreeze", action="append", default=[], metavar="PATH")
    p.add_argument("--freeze-until", metavar="PATH")
    p.add_argument("--lr-factor", action="append", default=[], metavar="PATH=F")
    p.add_argument("--lr-preset", choices=LR_PRESETS)
    p.add_argument("--bn-mode", choices=BN_MODES)
    p.add_argument("--allow-errors", action="store_true", help="save even if the analyzer finds errors")
    p.add_argument("-o", "--output", help="write here instead of overwriting PROJECT")
    p.set_defaults(handler=cmd_edit)


# --- models ----------------------------------------------------------------------------


def cmd_models(args) -> int:
    infos = gallery(args.source, args.category, args.family)
    if args.json:
        print(json.dumps([asdict(i) for i in infos], indent=1))
        return 0
    rows = [[i.name, i.source, i.family, i.category, _num(i.params / 1e6 if i.params else None, ".1f"),
             _num(i.gflops, ".2f"), _num(i.top1, ".1f"), str(i.input_size),
             "yes" if i.weights_available else "no"]
            for i in infos]
    print(_table(["model", "source", "family", "category", "params M", "GFLOPs", "top-1", "input",
                  "weights local"],
                 rows, right={4, 5, 6, 7}))
    print(f"{len(infos)} models. Pretrained weights not stored locally are downloaded on first use.")
    return 0


def _num(value, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def _table(header: list[str], rows: list[list[str]], right: set[int] | frozenset[int] = frozenset()) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells):
        return "  ".join(str(c).rjust(w) if i in right else str(c).ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


# --- inspect -----------------------------------------------------------------------------


def cmd_inspect(args) -> int:
    found = inspect_target(args.target, parse_input(args.input) if args.input else None, args.depth)
    design, report, rows = found.design, found.report, found.rows
    if args.json:
        out = {"recipe": found.recipe.to_dict(), **report.to_dict(), "layers": rows}
        print(json.dumps(out, indent=1, default=list))
    else:
        print(_layer_table(rows))
        print()
        print(_summary(design, report))
        _print_messages(report.messages)
    return 0 if report.ok else 1


def _layer_table(rows: list[dict]) -> str:
    def frozen(row):
        if row["frozen"] is None:
            return "-"
        return "frozen" if row["frozen"] else ("train" if row["trainable"] == row["params"] else "partial")

    body = [[r["name"], r["type"], r["out_shape"], f"{r['params']:,}", frozen(r),
             "-" if r["lr_factor"] is None else f"{r['lr_factor']:g}"] for r in rows]
    return _table(["layer", "type", "output", "params", "state", "lr x"], body, right={3})


def _summary(design, report) -> str:
    c, h, w = design.input_shape
    grey = " (grey, replicated to 3 channels)" if design.replicate_grey else ""
    lines = [
        (f"input {c}x{h}x{w}{grey}, output {_shape(report.output_shape)}, classifier "
        f"{design.classifier_path} ({design.num_classes} classes)"),
        (f"params {report.params_total:,} total, {report.params_trainable:,} trainable, "
        f"{report.params_frozen:,} frozen"),
        f"compute {report.flops / 1e9:.3g} GFLOPs (multiply-adds) per image",
        (f"activations {report.activation_bytes / 2**20:.1f} MiB per image; training at batch 32 needs "
        f"about {report.train_memory_bytes / 2**30:.2f} GiB"),
    ]
    return "\n".join(lines)


def _shape(shape) -> str:
    return format_shape(shape)


def _print_messages(messages) -> None:
    for m in messages:
        where = f" [{m.node}]" if m.node else ""
        print(f"{m.level}{where}: {m.text}")
        if m.fix is not None:
            print(f"    fix: {m.fix_label} ({format_op_flag(m.fix)})")


# --- new -----------------------------------------------------------------------------------


def cmd_new(args) -> int:
    recipe, design = new_project(args.model, args.weights, args.output)
    c, h, w = design.input_shape
    print(f"Created {args.output}: {recipe.base.describe()}, input {c}x{h}x{w}, "
          f"{design.num_classes} classes, classifier {design.classifier_path}")
    if design.load_report is not None:
        print(design.load_report.summary())
    return 0


# --- edit ----------------------------------------------------------------------------------


def edit_ops(args) -> list[Op]:
    """The flags as ops, in the order described in ``edit --help``."""
    ops: list[Op] = []
    if args.input:
        ops.append(parse_input(args.input))
    if args.classes is not None:
        ops.append(ReplaceClassifier(args.classes, args.head_dropout, args.head_hidden, args.head_bn))
    elif args.head_dropout or args.head_hidden or args.head_bn:
        raise DesignerError("--head-dropout, --head-hidden and --head-bn need --classes N.")
    ops += [DeleteLayer(p) for p in args.delete]
    ops += [InsertAfter(*parse_layer(s, "--insert-after")) for s in args.insert_after]
    ops += [ReplaceLayer(*parse_layer(s, "--replace")) for s in args.replace]
    for text in args.set:
        path, params = parse_set(text)
        ops.append(SetLayerParams.of(path, **params))
    if args.freeze_until:
        ops.append(FreezeUntil(args.freeze_until))
    ops += [Freeze(p) for p in args.freeze] + [Freeze(p, frozen=False) for p in args.unfreeze]
    if args.lr_preset:
        ops.append(LRPreset(args.lr_preset))
    ops += [SetLRFactor(*parse_lr_factor(s)) for s in args.lr_factor]
    if args.bn_mode:
        ops.append(SetBatchNormMode(args.bn_mode))
    return ops


def cmd_edit(args) -> int:
    ops = edit_ops(args)
    edited = edit_project(args.project, ops, args.output, args.allow_errors, spell_fix=format_op_flag)
    for op in ops:
        print(f"+ {op.describe()}")
    print(f"Saved {args.output or args.project} ({len(edited.recipe.ops)} edits).")
    print(_summary(edited.design, edited.report))
    _print_messages(edited.report.messages)
    return 0
