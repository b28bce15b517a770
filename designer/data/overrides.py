"""The user's decisions about single images, as data in the project: relabel one image, or leave it
out. Nothing on disk is moved or deleted; the split and training apply the list each time the folder is
scanned, so the decisions survive a rescan and can be undone by removing an entry.

An entry names its file relative to the data folder (so the project still works when the folder
moves) or, for a file outside it, by its full path. Entries for files that are gone are ignored and
counted; a relabel to a class the folder does not have is refused with a message."""

from __future__ import annotations

import dataclasses
import os
from typing import Annotated, Literal

from pydantic import Field
from pydantic.dataclasses import dataclass as checked_dataclass

from designer.base.errors import DesignerError
from designer.base.schema import MAX_NAME, MAX_TEXT, STRICT, friendly
from designer.data.split import DatasetSplit, Sample, keep_groups_together, key_for

MAX_OVERRIDES = 1_000_000
ACTIONS = ("relabel", "exclude")


@friendly("An image decision (data overrides)")
@checked_dataclass(config=STRICT)
class Override:
    path: Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
    action: Literal["relabel", "exclude"]
    label: Annotated[str, Field(max_length=MAX_NAME)] = ""  # the new class name, for "relabel"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def overrides_from_list(value, where: str = "The project's data overrides") -> list[Override]:
    """Checked ``Override`` entries from plain JSON (a list of objects)."""
    if not isinstance(value, list):
        raise DesignerError(f"{where} should be a list, not {type(value).__name__}.")
    if len(value) > MAX_OVERRIDES:
        raise DesignerError(f"{where} has {len(value):,} entries; at most {MAX_OVERRIDES:,}.")
    out = []
    for item in value:
        if not isinstance(item, dict):
            raise DesignerError(f"{where}: each entry should be an object with path and action.")
        entry = Override(**item)
        if entry.action == "relabel" and not entry.label:
            raise DesignerError(f"{where}: relabelling '{entry.path}' needs the new class name (label).")
        out.append(entry)
    return out


def apply_overrides(split: DatasetSplit, overrides: list[Override]) -> DatasetSplit:
    """``split`` with each decision applied (in place, and returned); a note says how many."""
    if not overrides:
        return split
    by_key = {o.path.replace(os.sep, "/"): o for o in overrides}  # the last decision for a file wins
    index = {name: i for i, name in enumerate(split.classes)}
    unknown = sorted({o.label for o in by_key.values() if o.action == "relabel" and o.label not in index})
    if unknown:
        raise DesignerError(f"The project relabels images as {unknown}, "
                            "which are not classes of this folder.",
                            hint="Check the data folder, or remove those decisions on the Data tab.")
    used = set()

    def decide(samples: list[Sample]) -> list[Sample]:
        out = []
        for path, label in samples:
            entry = by_key.get(key_for(path, split.root))
            if entry is None:
                out.append((path, label))
                continue
            used.add(entry.path)
            if entry.action == "relabel":
                out.append((path, index[entry.label]))
        return out

    split.train, split.val, split.test = decide(split.train), decide(split.val), decide(split.test)
    excluded = sum(o.action == "exclude" for o in by_key.values() if o.path in used)
    split.warnings.append(f"Your decisions are applied: {len(used) - excluded} images relabelled, "
                          f"{excluded} left out (nothing on disk was changed)."
                          + (f" {len(by_key) - len(used)} decisions name files no longer in the folder."
                             if len(used) < len(by_key) else ""))
    return split


def groups_from_list(value, where: str = "The project's duplicate groups") -> list[list[str]]:
    """Checked near-duplicate groups from plain JSON: a list of lists of paths."""
    if not isinstance(value, list) or not all(isinstance(g, list) and all(isinstance(p, str) for p in g)
                                              for g in value):
        raise DesignerError(f"{where} should be a list of lists of file names.")
    if sum(len(g) for g in value) > MAX_OVERRIDES or any(len(p) > MAX_TEXT for g in value for p in g):
        raise DesignerError(f"{where} is too large: at most {MAX_OVERRIDES:,} file names of up to {MAX_TEXT} "
                            "characters.")
    return [list(g) for g in value]


def apply_decisions(split: DatasetSplit, data: dict) -> DatasetSplit:
    """The project's data section applied to a freshly scanned split: duplicate groups kept in one
    split (only when this app made the split: a folder's own train/ and val/ are the user's), then the
    relabel / exclude decisions."""
    groups = groups_from_list(data.get("duplicate_groups", []))
    if groups and split.layout == "flat":
        moved = keep_groups_together(split, groups)
        if moved:
            split.warnings.append(f"{moved} near-duplicate images were moved so each group is in one split.")
    return apply_overrides(split, overrides_from_list(data.get("overrides", [])))
