"""The audit's suggested fixes as project decisions (``data["overrides"]`` entries): what "Accept all
suggestions" in the review and ``audit --apply-fixes`` add.

- Each label issue in training: leave the image out, not relabel it. About a quarter of the
  suspects carry the right label (precision 0.75 on the planted digits); relabelling them teaches a
  wrong label where leaving them out only costs an image. On those digits relabelling every suspect
  gave 0.969 validation accuracy against 0.994 clean (``bench/bench_audit.py --done-when``). The
  review's R key relabels one image the user has looked at.
- Suspects in validation are shown, never fixed automatically: dropping the validation images the
  network disagrees with would raise the reported accuracy by removing the ones it gets wrong.
- Each duplicate group that crosses the split: leave out its validation and test copies, so
  validation never scores an image the network trained on (a flat folder's split also keeps the
  group together, ``remember_groups``; a folder's own train/ and val/ are the user's, so only
  leaving the copy out helps there).

Outliers and odd images are shown, never fixed automatically: only the user can say whether an odd
picture is wrong or just rare."""

from __future__ import annotations

from designer.audit.report import AuditReport
from designer.data.split import key_for


def suggested_fixes(report: AuditReport) -> list[dict]:
    """Override entries (path relative to the data folder, action, label) for ``report``'s fixes."""
    decisions: dict[str, dict] = {}
    for issue in report.label_issues:
        if report.split_of.get(issue.path, "train") != "train":
            continue  # validation decides the reported accuracy: only the user may change it
        key = key_for(issue.path, report.root)
        decisions[key] = {"path": key, "action": "exclude", "label": ""}
    for group in report.duplicates:
        if not group.crosses_split:
            continue
        for path in group.paths:
            if report.split_of.get(path, "train") != "train":
                key = key_for(path, report.root)
                decisions[key] = {"path": key, "action": "exclude", "label": ""}
    return list(decisions.values())


def merge_decisions(existing: list[dict], new: list[dict]) -> list[dict]:
    """``existing`` overrides with ``new`` added; the user's own decision about a file wins."""
    out = {o["path"]: dict(o) for o in new}
    out.update({o["path"]: dict(o) for o in existing})
    return list(out.values())


def fix_counts(overrides: list[dict]) -> dict[str, int]:
    """How many images the decisions relabel and leave out (what a run records about its audit)."""
    return {"relabelled": sum(o.get("action") == "relabel" for o in overrides),
            "excluded": sum(o.get("action") == "exclude" for o in overrides)}
