"""The data audit as the window and the CLI both run it: load the project's design and options,
scan the folder (with the project's decisions applied), run ``designer.audit``, and write the HTML
report. Printing is the CLI's; showing is the window's."""

from __future__ import annotations

import base64
import copy
import html
import io
import os
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from designer.app.project import load_project, save_project
from designer.audit.fixes import fix_counts, merge_decisions, suggested_fixes
from designer.audit.moves import MoveResult, move_excluded, read_log, undo_moves
from designer.audit.report import AuditReport
from designer.audit.run import audit
from designer.base.errors import DesignerError
from designer.base.fileio import atomic_write_text, read_json, write_json
from designer.base.jobs import Progress
from designer.data.images import load_image
from designer.data.overrides import apply_decisions
from designer.data.split import key_for
from designer.model.build import build
from designer.train.options import TrainOptions

THUMB = 96
MAX_THUMBS = 200  # per section: the report stays a few MB however many images are flagged


def audit_job(control, recipe, split, data: dict, training: dict, cache_dir=None, device: str | None = None):
    """Job (the window's and the CLI's): audit ``split`` (scanned already) with the features of
    ``recipe``'s network, after the project's decisions (``data``). Returns an ``AuditReport``."""
    split = apply_decisions(copy.deepcopy(split), data)  # the caller's split is the window's: never changed
    options = TrainOptions.from_dict(training)
    if device:  # a name from outside (a flag): checked as a saved setting is
        options = TrainOptions.from_dict({**options.to_dict(), "device": device})
    yield Progress(0, None, "Building the network…")
    design = build(recipe)
    return (yield from audit(design, split, options, cache_dir, control))


def audit_project(project_path: str, split, device: str | None = None):
    """``audit_job`` for a saved project: its design, settings and decisions; the features are cached
    where the CLI's training keeps them (``runs/.features`` beside the project)."""
    project = load_project(project_path)
    cache = Path(project_path).resolve().parent / "runs" / ".features"
    return (yield from audit_job(None, project.recipe, split, project.data, project.training, cache, device))


def remember_groups(project_path: str, report: AuditReport, fixes: bool = False) -> int:
    """Save the report's duplicate groups in the project, so every split keeps each group together,
    and which audit this was; ``fixes``: add its suggested fixes to the decisions (the user's own win)."""
    project = load_project(project_path)
    groups = [[key_for(p, report.root) for p in g.paths] for g in report.duplicates]
    data = {**project.data, "duplicate_groups": groups, "audit": audit_record(report)}
    if fixes:
        data["overrides"] = merge_decisions(project.data.get("overrides", []), suggested_fixes(report))
    save_project(replace(project, data=data), project_path)
    return len(groups)


def audit_record(report: AuditReport) -> dict:
    """Which audit this was, saved in the project's data section when it runs: the runs trained on
    its decisions name it (``run_record``)."""
    when = datetime.now()
    return {"id": "audit-" + when.strftime("%Y%m%d-%H%M%S"), "time": when.isoformat(timespec="seconds"),
            "images": report.images, "label_issues": len(report.label_issues),
            "duplicate_groups": len(report.duplicates)}


def run_record(data: dict) -> dict:
    """What a new run notes in its options.json about the data it trains on: the audit whose
    decisions it uses and how many images they relabel and leave out ({} without an audit or
    without decisions)."""
    audit, overrides = data.get("audit"), data.get("overrides") or []
    if not isinstance(audit, dict) or not has_decisions(data):
        return {}
    return {"audit": {"id": str(audit.get("id", ""))[:80], "time": str(audit.get("time", ""))[:40],
                      **fix_counts(overrides), "groups": len(data.get("duplicate_groups") or [])}}


def recording_audit(events, run_dir, record: dict | None):
    """``events`` (a run's, ``train_run``) passed through; once the run has written its options.json
    (its "start" event), ``record`` (``run_record``) is added to it. Nothing for a resumed run."""
    for event in events:
        if record and getattr(event, "kind", "") == "start":
            path = Path(run_dir) / "options.json"
            options = read_json(path)
            if isinstance(options, dict) and "audit" not in options:
                write_json(path, {**options, **record})
        yield event


def audit_note(options: dict) -> str:
    """A run's audit in a few words for the runs list ('' when it used none). ``options`` is the run's
    options.json, read from a folder someone may have sent: every value is checked."""
    audit = options.get("audit") if isinstance(options, dict) else None
    if not isinstance(audit, dict) or not isinstance(audit.get("id"), str):
        return ""
    counts = [(audit.get(k), word) for k, word in (("relabelled", "relabelled"), ("excluded", "left out"))]
    said = ", ".join(f"{n} {word}" for n, word in counts if isinstance(n, int) and not isinstance(n, bool))
    return f"cleaned data ({audit['id'][:80]}{': ' + said if said else ''})"


def move_job(control, root: str, overrides: list[dict], dest: str):
    """Job: move the left-out images into ``dest`` (``audit.moves``); returns the ``MoveResult``."""
    def report(done: int, total: int) -> None:
        if control is not None:
            control.report(Progress(done, total, f"Moving images ({done:,} of {total:,})…"))
    return move_excluded(root, overrides, dest, report, control)


def undo_move_job(control, log: str):
    """Job: put back what a move's log names; returns the ``MoveResult``."""
    def report(done: int, total: int) -> None:
        if control is not None:
            control.report(Progress(done, total, f"Putting images back ({done:,} of {total:,})…"))
    return undo_moves(log, report, control)


def move_project_excluded(project_path: str, root: str, dest: str, control=None) -> MoveResult:
    """Move the images ``project_path``'s decisions leave out of ``root`` into ``dest``, with an
    undo log there (the CLI's --move-excluded; the review's button runs ``move_job``)."""
    return move_job(control, root, load_project(project_path).data.get("overrides", []), dest)


def undo_project_move(log: str, root: str, control=None) -> MoveResult:
    """Put back what ``log`` moved, when it moved them out of ``root`` (the CLI's --undo-move)."""
    moved_from, _ = read_log(log)
    if os.path.realpath(moved_from) != os.path.realpath(root):
        raise DesignerError(f"The log moved images out of '{moved_from}', not '{root}'.",
                            hint=f"Run it with --data {moved_from}.")
    return undo_move_job(control, log)


def has_decisions(data: dict) -> bool:
    return bool(data.get("overrides") or data.get("duplicate_groups"))


def export_split(split, data: dict):
    """The split an exported script trains on, with the project's decisions (``data``) applied, so
    the script drops the excluded images, uses the new labels and keeps duplicate groups together
    (they travel inside ``split.json``; the script reads its lists as they are):

    - ``split`` given (a run's, or the loaded one): a copy with the decisions applied. A run trained
      before the decisions gets them too; applying them twice changes nothing.
    - no split, but decisions and a data folder in the project: that folder scanned as the Data tab
      does, then decided, so the script does not split the raw folder itself;
    - else None (the script splits ``--data`` itself)."""
    if split is not None:
        return apply_decisions(copy.deepcopy(split), data) if has_decisions(data) else split
    root = (data.get("root") or "").strip()
    if not has_decisions(data) or not root:
        return None
    from designer.data.folders import scan_folder, scan_folders

    fraction, seed = float(data.get("val_fraction", 0.2)), int(data.get("seed", 0))
    val_root = data.get("val_root")
    scanned = scan_folders(root, val_root, seed) if val_root else scan_folder(root, fraction, seed)
    return apply_decisions(scanned, data)


def report_dict(report: AuditReport) -> dict:
    """The report as the CLI's --json prints it: paths relative to the data folder where inside it
    (they are also what the project's decisions name)."""
    data = report.to_dict()

    def rel(path: str) -> str:
        return key_for(path, report.root)
    for item in data["label_issues"] + data["outliers"] + data["odd_images"]:
        item["path"] = rel(item["path"])
    for group in data["duplicates"]:
        group["paths"] = [rel(p) for p in group["paths"]]
    return data


# --- the HTML report ----------------------------------------------------------------------------


def _thumb(path: str) -> str:
    try:
        img = load_image(path).convert("RGB")
        img.thumbnail((THUMB, THUMB))
        buf = io.BytesIO()
        img.save(buf, "PNG")
    except Exception:  # noqa: BLE001 -- an unreadable image gets a placeholder, not a broken report
        return '<div class="none">no preview</div>'
    return f'<img alt="" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def _card(path: str, root: str, lines: list[str]) -> str:
    text = "".join(f"<div>{html.escape(t)}</div>" for t in lines)
    return (f'<figure>{_thumb(path)}<figcaption><div class="path">{html.escape(key_for(path, root))}</div>'
            f"{text}</figcaption></figure>")


def _section(title: str, cards: list[str], total: int) -> str:
    more = f"<p>… and {total - len(cards)} more (see --json).</p>" if total > len(cards) else ""
    return f"<h2>{html.escape(title)} ({total})</h2><div class=\"grid\">{''.join(cards)}</div>{more}"


def render_html(report: AuditReport) -> str:
    root = report.root
    issues = [_card(i.path, root,
                    [f"labelled {i.given}", f"looks like {i.suggested}", f"score {i.score:.2f}"])
              for i in report.label_issues[:MAX_THUMBS]]
    groups = []
    for g in report.duplicates[:MAX_THUMBS // 4]:
        note = "crosses train / validation" if g.crosses_split else "same split"
        cards = [_card(p, root, [f"{g.kind} copy, {note}"]) for p in g.paths[:6]]
        groups.append(f'<div class="group">{"".join(cards)}</div>')
    outl = [_card(o.path, root, [f"class {o.given}", f"unlike its class ({o.score:.1f})"])
            for o in report.outliers[:MAX_THUMBS]]
    odd = [_card(o.path, root, [", ".join(o.problems), f"{o.width}x{o.height}"])
           for o in report.odd_images[:MAX_THUMBS]]
    imb = ""
    if report.imbalance:
        rows = "".join(f"<tr><td>{html.escape(c)}</td><td>{n}</td>"
                       f"<td>{report.imbalance.weights[c]:.2f}</td></tr>"
                       for c, n in report.imbalance.counts.items())
        imb = ("<h2>Classes</h2><table><tr><th>class</th><th>training images</th><th>class weight</th></tr>"
               f"{rows}</table>")
    summary = "".join(f"<li>{html.escape(s)}</li>" for s in report.summary_lines())
    return ("<!doctype html><html><head><meta charset=\"utf-8\"><title>Data check</title>"
            f"<style>{_CSS}</style>"
            f"</head><body><h1>Data check of {html.escape(root)}</h1><ul>{summary}</ul>"
            + _section("Possibly wrong labels", issues, len(report.label_issues))
            + f"<h2>Duplicates ({len(report.duplicates)})</h2>{''.join(groups)}"
            + _section("Unlike their class", outl, len(report.outliers))
            + _section("Odd images", odd, len(report.odd_images)) + imb + "</body></html>\n")


_CSS = ("body{font-family:sans-serif;margin:2em}.grid,.group{display:flex;flex-wrap:wrap;gap:8px}"
        ".group{border:1px solid #ccc;padding:4px;margin:4px 0}figure{margin:0;width:120px;font-size:11px}"
        ".path{word-break:break-all;color:#555}img{image-rendering:pixelated;width:96px}")


def write_html(report: AuditReport, path) -> Path:
    """Write the report atomically; never through a link (it could point at any file)."""
    path = Path(os.fspath(path))
    if path.is_symlink():
        raise DesignerError(f"{path} is a link; the report is not written through links.",
                            hint="Give the path of a new or ordinary file.")
    if path.is_dir():
        raise DesignerError(f"{path} is a folder.", hint="Give a file name such as report.html.")
    return atomic_write_text(path, render_html(report))
