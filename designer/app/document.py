"""The GUI's single source of truth, without Qt.

A :class:`Document` holds the current :class:`~designer.model.recipe.Recipe` and what was
computed from it (a :class:`DesignState`: built design, traced graph, analysis), the
project path and settings (classes/data/training/runs), the selected layers and a dirty
flag. Views listen through plain-Python events (``doc.recipe_changed.connect(fn)``);
undo commands swap recipes with :meth:`Document.set_recipe`.

:meth:`Document.prepare` never touches the document, so the GUI runs it in a worker
thread and hands the result to :meth:`Document.apply`. A recipe that fails to build
raises DesignerError and leaves the document unchanged. A recipe that differs only in
policy ops (freeze, LR, BN mode) reuses the current model and graph.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sys
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
from torch import nn

from designer.app.project import Project, load_project, save_project
from designer.base.errors import DesignerError
from designer.base.fileio import read_json, write_json
from designer.inspect.analysis import Report, analyze
from designer.inspect.graph import annotate_policy, trace_graph
from designer.model.build import BaseCache, Design, build, network_input
from designer.model.policy import LayerState, Policy, module_state, resolve_policy
from designer.model.recipe import Recipe

PROJECT_SUFFIX = ".nsd.json"
AUTOSAVE_NAME = "autosave" + PROJECT_SUFFIX
AUTOSAVE_META = "autosave.meta.json"
DATA_DIR_ENV = "NETSURGEON_DATA_DIR"
SECTIONS = ("classes", "data", "training", "runs", "explain")
STATE_CACHE_SIZE = 6  # recently prepared states kept for instant undo/redo


class Event:
    """A minimal signal: ``connect(fn)``, ``disconnect(fn)``, ``emit(*args)``."""

    def __init__(self) -> None:
        self._slots: list[Callable] = []

    def connect(self, fn: Callable) -> None:
        if fn not in self._slots:
            self._slots.append(fn)

    def disconnect(self, fn: Callable) -> None:
        if fn in self._slots:
            self._slots.remove(fn)

    def emit(self, *args: Any) -> None:
        for fn in list(self._slots):
            fn(*args)


@dataclass
class DesignState:
    """Everything the views show for one recipe. Treat as read-only."""

    recipe: Recipe
    design: Design
    graph: nx.DiGraph[str]  # node ids; from graph.trace_graph, annotated with the policy
    report: Report
    policy: Policy | None = None
    layer_state: dict[str, LayerState] = field(default_factory=dict)  # module path -> (frozen, lr factor)

    @property
    def modules(self) -> dict[str, nn.Module]:
        if "_modules" not in self.__dict__:
            self.__dict__["_modules"] = dict(self.design.model.named_modules())
        return self.__dict__["_modules"]


def same_structure(a: Recipe, b: Recipe) -> bool:
    return a.base == b.base and a.structural_ops == b.structural_ops


def default_data_dir() -> str:
    """Per-user app data folder (autosave, recent files), overridable by $NETSURGEON_DATA_DIR."""
    if os.environ.get(DATA_DIR_ENV):
        return os.environ[DATA_DIR_ENV]
    if sys.platform == "win32":
        root = os.environ.get("APPDATA", os.path.expanduser("~"))
    elif sys.platform == "darwin":
        root = os.path.expanduser("~/Library/Application Support")
    else:
        root = os.environ.get("XDG_DATA_HOME", os.path.expanduser("~/.local/share"))
    return os.path.join(root, "NetSurgeon")


class Document:
    """Current recipe + computed state + project settings + selection, with events."""

    def __init__(self, cache=None, data_dir: str | None = None):
        self.recipe_changed = Event()  # (state)
        self.dirty_changed = Event()  # (bool)
        self.path_changed = Event()  # (str | None)
        self.selection_changed = Event()  # (tuple of node ids / module paths)
        self.settings_changed = Event()  # (section name)
        self._cache = cache
        self.data_dir = data_dir or default_data_dir()
        self.state: DesignState | None = None
        self.path: str | None = None
        self.settings: dict[str, Any] = empty_settings()
        self.selection: tuple[str, ...] = ()
        self._saved: tuple | None = None
        self._dirty = False
        self._states: OrderedDict[Recipe, DesignState] = OrderedDict()

    # --- read access -----------------------------------------------------------------

    recipe = property(lambda self: self.state.recipe if self.state else None)
    design = property(lambda self: self.state.design if self.state else None)
    report = property(lambda self: self.state.report if self.state else None)
    graph = property(lambda self: self.state.graph if self.state else None)

    dirty = property(lambda self: self._dirty)
    classes = property(lambda self: list(self.settings["classes"]))

    @property
    def cache(self):
        if self._cache is None:
            self._cache = BaseCache()
        return self._cache

    def cached_state(self, recipe: Recipe) -> DesignState | None:
        return self._states.get(recipe)

    # --- computing and applying states ----------------------------------------------------

    def prepare(self, recipe: Recipe) -> DesignState:
        """Build, trace and analyze ``recipe`` without changing the document (DesignerError if bad)."""
        known = self._states.get(recipe)
        if known is not None:
            return known
        base = self._reusable(recipe)
        if base is not None:
            design = dataclasses.replace(base.design, recipe=recipe)
            policy = resolve_policy(recipe, design.model)
            graph = annotate_policy(base.graph, design.model, policy)
        else:
            design = build(recipe, self.cache)
            policy = resolve_policy(recipe, design.model)
            graph = trace_graph(design.model, network_input(design).shape, policy)
        return DesignState(recipe, design, graph, self._analyze(design, graph), policy,
                           module_state(design.model, policy))

    def _reusable(self, recipe: Recipe) -> DesignState | None:
        for state in [self.state, *reversed(list(self._states.values()))]:  # GUI thread may add
            if state is not None and same_structure(state.recipe, recipe):
                return state
        return None

    def _analyze(self, design: Design, graph: nx.DiGraph) -> Report:
        classes = self.settings["classes"]
        return analyze(design, num_classes=len(classes) or None, graph=graph)

    def apply(self, state: DesignState) -> None:
        """Make ``state`` current (GUI thread) and tell the listeners."""
        self._remember(state)
        self.state = state
        self._update_dirty()
        self.recipe_changed.emit(state)

    def _remember(self, state: DesignState) -> None:
        self._states[state.recipe] = state
        self._states.move_to_end(state.recipe)
        while len(self._states) > STATE_CACHE_SIZE:
            self._states.popitem(last=False)

    def set_recipe(self, recipe: Recipe, label: str = "") -> DesignState:
        """Prepare and apply ``recipe`` (``label``: the edit's name; no history kept here)."""
        state = self.prepare(recipe)
        self.apply(state)
        return state

    def reanalyze(self) -> None:
        """Re-run the analysis (e.g. after the class list changed)."""
        if self.state is None:
            return
        self._states.clear()
        state = dataclasses.replace(self.state, report=self._analyze(self.state.design, self.state.graph))
        self.apply(state)

    # --- project lifecycle ----------------------------------------------------------------

    def open_recipe(self, recipe: Recipe) -> DesignState:
        """Start a fresh, unsaved design from ``recipe`` (path and settings cleared)."""
        state = self.prepare(recipe)
        self.load_state(state, None, empty_settings())
        return state

    def load_state(self, state: DesignState, path: str | None, settings: dict) -> None:
        """Replace everything: a new model or project was opened."""
        self._states.clear()
        self.settings = {k: _copy(settings.get(k, [] if k in ("classes", "runs") else {})) for k in SECTIONS}
        self.selection = ()
        self._set_path(path)
        self._saved = self._snapshot(state.recipe)
        self.apply(state)
        self.selection_changed.emit(self.selection)
        for section in SECTIONS:
            self.settings_changed.emit(section)

    def open_project(self, path: str) -> DesignState:
        project = load_project(path)
        state = self.prepare(project.recipe)
        self.load_state(state, os.path.abspath(path), project_settings(project))
        return state

    def to_project(self):
        if self.recipe is None:
            raise DesignerError("There is no design to save yet.", hint="Open a model first.")
        s = self.settings
        return Project(recipe=self.recipe, classes=list(s["classes"]), data=_copy(s["data"]),
                       training=_copy(s["training"]), runs=list(s["runs"]), explain=_copy(s["explain"]))

    def save(self, path: str | None = None) -> str:
        """Save the project (atomically) to ``path`` or the current path; returns the path."""
        path = path or self.path
        if not path:
            raise DesignerError("Choose where to save the project first.")
        if not path.endswith(PROJECT_SUFFIX) and not path.endswith(".json"):
            path += PROJECT_SUFFIX
        save_project(self.to_project(), path)
        saved = os.path.abspath(path)
        self._set_path(saved)
        self.mark_saved()
        return saved

    def _set_path(self, path: str | None) -> None:
        if path != self.path:
            self.path = path
            self.path_changed.emit(path)

    # --- settings and selection -------------------------------------------------------------

    def set_settings(self, section: str, value) -> None:
        """Replace one project section (classes, data, training, runs, explain)."""
        if section not in SECTIONS:
            raise DesignerError(f"Unknown project section '{section}'.")
        if value == self.settings[section]:
            return
        self.settings[section] = _copy(value)
        self._update_dirty()
        self.settings_changed.emit(section)
        if section == "classes":
            self.reanalyze()

    def select(self, paths) -> None:
        paths = tuple(dict.fromkeys(p for p in (paths or ()) if p is not None))
        if paths != self.selection:
            self.selection = paths
            self.selection_changed.emit(paths)

    # --- dirty tracking ----------------------------------------------------------------------

    def _snapshot(self, recipe) -> tuple:
        """What "unsaved changes" compares. A new training run is a record, not an edit: it lives in
        the project's runs/ folder (found there on reopening) and is written to the project file
        with the next save, so it alone does not mark the design changed."""
        edits = {k: v for k, v in self.settings.items() if k != "runs"}
        return (recipe, json.dumps(edits, sort_keys=True, default=str))

    def _update_dirty(self) -> None:
        dirty = self.state is not None and self._snapshot(self.recipe) != self._saved
        if dirty != self._dirty:
            self._dirty = dirty
            self.dirty_changed.emit(dirty)

    def mark_saved(self) -> None:
        self._saved = self._snapshot(self.recipe)
        self._update_dirty()

    # --- autosave and recovery -------------------------------------------------------------------

    @property
    def autosave_path(self) -> str:
        return os.path.join(self.data_dir, AUTOSAVE_NAME)

    def write_autosave(self) -> str | None:
        """Write the unsaved design to the recovery file; None when there is nothing to save."""
        if self.state is None or not self.dirty:
            return None
        os.makedirs(self.data_dir, exist_ok=True)
        save_project(self.to_project(), self.autosave_path)
        write_json(os.path.join(self.data_dir, AUTOSAVE_META), {"path": self.path})
        return self.autosave_path

    def clear_autosave(self) -> None:
        for name in (AUTOSAVE_NAME, AUTOSAVE_META):
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join(self.data_dir, name))

    def recovery_available(self) -> bool:
        return os.path.isfile(self.autosave_path)

    def recovery_origin(self) -> str | None:
        """Path of the project the recovery file was autosaved from (None: never saved)."""
        path = read_json(os.path.join(self.data_dir, AUTOSAVE_META)).get("path")  # regular files only
        return path if isinstance(path, str) else None

    def mark_recovered(self, original: str | None) -> None:
        """After opening the recovery file: it is unsaved work belonging to ``original``."""
        self._set_path(original)
        self._saved = None
        self._update_dirty()

    def recover(self) -> DesignState:
        """Open the recovery file as an unsaved design (its original path kept for Save)."""
        original = self.recovery_origin()
        state = self.open_project(self.autosave_path)
        self.mark_recovered(original)
        return state


def empty_settings() -> dict:
    return {"classes": [], "data": {}, "training": {}, "runs": [], "explain": {}}


def project_settings(project) -> dict:
    return {"classes": list(project.classes), "data": dict(project.data),
            "training": dict(project.training), "runs": list(getattr(project, "runs", [])),
            "explain": dict(getattr(project, "explain", {}))}


def _copy(value):
    return json.loads(json.dumps(value, default=str))


