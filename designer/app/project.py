"""The project file (``*.nsd.json``): a recipe plus the settings around it, as versioned JSON.

The schema is documented, with an example, in ``docs/project-format.md``. Files from
older versions are upgraded on load by ``MIGRATIONS`` (version n -> n + 1, one step
at a time); files from a newer NetSurgeon are refused with a message saying so, never
half-read. A bare recipe (``{"base": ..., "ops": [...]}``) is version 0.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from collections.abc import Callable
from dataclasses import field
from typing import Annotated

from pydantic import Field
from pydantic.dataclasses import dataclass as checked_dataclass

from designer.base.errors import DesignerError
from designer.base.fileio import atomic_write_text, remove_stale_temps
from designer.base.safeio import loads_json, read_text, valid_text
from designer.base.schema import (
    MAX_CLASSES,
    MAX_NAME,
    MAX_TEXT,
    STRICT,
    LayerPath,
    Seed,
    Text,
    describe_value,
    friendly,
)
from designer.data.overrides import groups_from_list, overrides_from_list
from designer.model.recipe import Recipe
from designer.train.options import TrainOptions

FORMAT = "netsurgeon-project"
FORMAT_VERSION = 1
MAX_PROJECT_BYTES = 16 * 2**20
MAX_RUNS = 10_000
STALE_TEMP_S = 600  # another window may be saving beside us: only older temporary files go
SUFFIX = ".nsd.json"


@dataclasses.dataclass
class Project:
    recipe: Recipe
    classes: list[str] = field(default_factory=list)
    data: dict = field(default_factory=dict)  # data panel settings (folder, split, augmentation)
    training: dict = field(default_factory=dict)  # training options
    runs: list[str] = field(default_factory=list)  # run folders, oldest first
    explain: dict = field(default_factory=dict)  # heat maps: the layer chosen in the graph (ExplainSettings)


# --- to and from plain dicts ----------------------------------------------------------------------


def project_to_dict(project: Project) -> dict:
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "recipe": project.recipe.to_dict(),
        "classes": [str(c) for c in project.classes],
        "data": dict(project.data),
        "training": dict(project.training),
        "runs": [str(r) for r in project.runs],
        "explain": dict(project.explain),
    }


def project_from_dict(data, where: str = "The project") -> Project:
    """A ``Project`` from a parsed file of any known version (migrated first)."""
    data = migrate(data, where)
    if "recipe" not in data:
        raise DesignerError(f"{where} has no design (its 'recipe' entry is missing).",
                            hint="The file is damaged; open an autosave or a backup instead.")
    project = Project(
        recipe=Recipe.from_dict(data["recipe"]),
        classes=_list_of_str(data.get("classes", []), "classes", where, MAX_CLASSES, MAX_NAME),
        data=_dict(data.get("data", {}), "data", where),
        training=_dict(data.get("training", {}), "training", where),
        runs=_list_of_str(data.get("runs", []), "runs", where, MAX_RUNS, MAX_TEXT),
        explain=_dict(data.get("explain", {}), "explain", where),  # absent in files saved before heat maps
    )
    check_settings(project.data, project.training, where, project.explain)
    return project


def check_settings(data: dict, training: dict, where: str = "The project",
                   explain: dict | None = None) -> None:
    """The data, training and explain sections hold only values that can be used (the same checks
    as the CLI's flags and the window's fields); unknown keys from newer versions are ignored."""
    try:
        DataSettings.from_dict(data)
        overrides_from_list(data.get("overrides", []))
        groups_from_list(data.get("duplicate_groups", []))
        TrainOptions.from_dict(training)
        ExplainSettings.from_dict(explain or {})
    except DesignerError as exc:
        raise DesignerError(f"{where}: {exc.message}", hint=exc.hint) from None


@friendly("Data settings")
@checked_dataclass(config=STRICT)
class DataSettings:
    """The Data tab's settings: the image folder(s) and how they are split."""

    root: Text = ""
    val_root: Text = ""
    val_fraction: Annotated[float, Field(ge=0.0, le=0.9, allow_inf_nan=False)] = 0.2
    seed: Seed = 0

    @classmethod
    def from_dict(cls, data: dict) -> DataSettings:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@friendly("Heat-map settings")
@checked_dataclass(config=STRICT)
class ExplainSettings:
    """Heat maps (Results tab, ``explain``): the layer they look at, chosen in the graph ("" = the
    last layer before the head whose map is at least 7x7, or the largest there is)."""

    layer: LayerPath = ""

    @classmethod
    def from_dict(cls, data: dict) -> ExplainSettings:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def _list_of_str(value, key: str, where: str, most: int, longest: int) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DesignerError(f"{where}: the '{key}' entry should be a list of names, "
                            f"not {describe_value(value)}.")
    if not all(valid_text(v) for v in value):  # a lone surrogate: the file could never be saved again
        raise DesignerError(f"{where}: the '{key}' entry holds a name that is not valid text (Unicode).",
                            hint="Rename it with ordinary characters.")
    if len(value) > most or any(len(v) > longest for v in value):
        raise DesignerError(f"{where}: the '{key}' entry is too long: at most {most:,} names "
                            f"of up to {longest} characters each.")
    return list(value)


def _dict(value, key: str, where: str) -> dict:
    if not isinstance(value, dict):
        raise DesignerError(f"{where}: the '{key}' entry should be a JSON object, "
                            f"not {describe_value(value)}.")
    return dict(value)


# --- versions -------------------------------------------------------------------------------------


def _from_v0(data: dict) -> dict:
    """Version 0 was a bare recipe ``{"base": ..., "ops": [...]}`` with no settings around it."""
    if "base" not in data:  # reached by a file that says version 0 but has no design
        raise DesignerError("The project (version 0) has no 'base' entry: it names no network.",
                            hint="The file is damaged; open an autosave or a backup instead.")
    return {"format": FORMAT, "version": 1, "recipe": {"base": data["base"], "ops": data.get("ops", [])},
            "classes": [], "data": {}, "training": {}, "runs": []}


# version n -> a function turning a version-n dict into a version-(n + 1) dict
MIGRATIONS: dict[int, Callable[[dict], dict]] = {0: _from_v0}


def _json_kind(data) -> str:
    """What a JSON value is, in words (not a Python type name such as 'list')."""
    if isinstance(data, list):
        return "a list"
    if isinstance(data, str):
        return "a piece of text"
    if isinstance(data, bool) or data is None:
        return "a single value"
    return "a number" if isinstance(data, (int, float)) else "something else"


def file_version(data, where: str = "The project") -> int:
    if not isinstance(data, dict):
        raise DesignerError(f"{where} is not a NetSurgeon project (it holds {_json_kind(data)}, not the "
                            "settings a project file holds).",
                            hint="Open a .nsd.json file saved by NetSurgeon.")
    if "format" not in data and "version" not in data and "base" in data:
        return 0
    if data.get("format") != FORMAT:
        said = ("it does not say it is one" if data.get("format") is None
                else "it says it is another kind of file")
        raise DesignerError(f"{where} is not a NetSurgeon project ({said}).",
                            hint="Open a .nsd.json file saved by NetSurgeon.")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise DesignerError(f"{where} has no valid format version ({version!r}).")
    return version


def migrate(data, where: str = "The project") -> dict:
    """Upgrade a parsed project of any older version to ``FORMAT_VERSION``."""
    version = file_version(data, where)
    if version > FORMAT_VERSION:
        raise DesignerError(
            f"{where} was made by a newer NetSurgeon (file format {version}; this one reads up to "
            f"{FORMAT_VERSION}).", hint="Update NetSurgeon to open it.")
    while version < FORMAT_VERSION:
        data = MIGRATIONS[version](data)
        version += 1
    return data


# --- files ----------------------------------------------------------------------------------------


def save_project(project: Project, path) -> None:
    """Write ``project`` to ``path`` atomically: a temp file beside it, flushed to disk, then a
    rename; the old file stays as it was if anything fails."""
    path = os.fspath(path)
    try:
        text = json.dumps(project_to_dict(project), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
        text.encode("utf-8")  # a lone surrogate (a name from a non-UTF-8 file name) fails here, not mid-write
    except UnicodeEncodeError:
        raise DesignerError("The project cannot be saved: a name in it is not valid text (Unicode).",
                            hint="Rename the class folder or file with ordinary characters.") from None
    except (TypeError, ValueError) as exc:  # before any file is touched: the old file stays as it was
        raise DesignerError(f"The project cannot be saved: a setting is not plain data ({exc}).") from exc
    # a crash's leftovers
    remove_stale_temps(os.path.dirname(os.path.abspath(path)), older_than_s=STALE_TEMP_S)
    try:
        atomic_write_text(path, text, fsync=True)
    except DesignerError as exc:
        reason = getattr(exc.__cause__, "strerror", None) or exc.message
        raise DesignerError(f"Cannot save the project to {path}: {reason}.",
                            hint="Choose a folder you can write to.") from exc


def load_project(path) -> Project:
    """Read a project (any older version is migrated; a bare recipe JSON is accepted). Only a regular
    file is opened, at most ``MAX_PROJECT_BYTES`` of it is read, and odd JSON (too deep, giant
    numbers, broken text) is one line (``safeio``)."""
    path = os.fspath(path)
    name = f"'{os.path.basename(path)}'"
    hint = "Pick the .nsd.json file NetSurgeon saved."
    if os.path.isdir(path):
        raise DesignerError(f"'{path}' is a folder, not a project file.", hint="Pick a .nsd.json file.")
    with contextlib.suppress(OSError):
        if os.path.isfile(path) and os.path.getsize(path) > MAX_PROJECT_BYTES:
            raise DesignerError(f"{name} is {os.path.getsize(path) / 2**20:.0f} MB; a project file is "
                                f"at most {MAX_PROJECT_BYTES // 2**20} MB.", hint=hint)
    text = read_text(path, MAX_PROJECT_BYTES, "project file")
    return project_from_dict(loads_json(text, name), name)
