"""Edit actions: each turns the current selection into ops and hands them to the document.

One user action is one undo step, also when it touches many selected layers
(all their ops go into one recipe change). Dialogs come from ``dialogs`` and
``feedback`` so tests can script the answers.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu

from designer.inspect.cam_layers import graph_map_problem
from designer.model.ops import (
    DeleteLayer,
    Freeze,
    FreezeUntil,
    InsertAfter,
    LayerSpec,
    ReplaceLayer,
    SetLRFactor,
)
from widgets.base import feedback
from widgets.base.keys import REDO_KEYS
from widgets.design import dialogs
from widgets.design.layer_library import library_types


def layer_spec(layer: str) -> LayerSpec:
    """A library layer with its default settings; sizes are inferred when the design builds
    (a Linear keeps the width flowing in). Settings are edited afterwards in Properties."""
    return LayerSpec.of(layer)


class EditActions(QObject):
    def __init__(self, qdoc, window):
        super().__init__(window)
        self.qdoc, self.window = qdoc, window
        stack = qdoc.undo_stack
        self.undo = self._action("Undo", stack.undo, "Undo the last edit", QKeySequence.Undo)
        self.redo = self._action("Redo", stack.redo, "Redo the edit you undid")
        self.redo.setShortcuts(list(REDO_KEYS))
        stack.canUndoChanged.connect(self.undo.setEnabled)
        stack.canRedoChanged.connect(self.redo.setEnabled)
        stack.undoTextChanged.connect(self._on_undo_text)
        stack.redoTextChanged.connect(self._on_redo_text)
        self.undo.setEnabled(False)
        self.redo.setEnabled(False)
        self.replace_classifier = self._action("Replace classifier…", self.ask_replace_classifier,
                                               "New final layer for your number of classes", "Ctrl+K")
        self.change_input = self._action("Input size…", self.ask_change_input,
                                         "Image size and colour channels the network takes", "Ctrl+I")
        self.freeze = self._action("Freeze", self.freeze_selected, "Do not train the selected layers",
                                   "Ctrl+L")
        self.unfreeze = self._action("Unfreeze", self.unfreeze_selected, "Train the selected layers again")
        self.freeze_until = self._action("Freeze up to here", self.freeze_until_selected,
                                         "Freeze every layer from the input up to the selected one")
        self.set_lr = self._action("LR factor…", self.ask_lr_factor,
                                   "Learning-rate multiplier for the selected layers")
        self.lr_preset = self._action("LR preset…", self.ask_lr_preset,
                                      "Learning-rate factors for the whole network at once")
        self.delete = self._action("Delete layer", self.delete_selected, "Remove the selected layers",
                                   QKeySequence.Delete)
        self.heat_layer = self._action("Use for heat maps", self.use_for_heat_maps,
                                       "Heat maps in the Results tab look at this layer's output")
        self.heat_layer.setCheckable(True)
        self.heat_default = self._action("Heat maps: back to the default layer", self.default_heat_layer,
                                         "Heat maps look at the default layer again "
                                         "(the last with a map of at least 7x7)")
        self.selection_actions = (self.freeze, self.unfreeze, self.freeze_until, self.set_lr, self.delete)
        qdoc.selection_changed.connect(self._update)
        qdoc.recipe_changed.connect(self._update)
        qdoc.busy_changed.connect(self._update)
        self._update()

    def _action(self, text: str, slot, tip: str, shortcut=None) -> QAction:
        action = QAction(text, self)
        action.setToolTip(tip)
        action.setStatusTip(tip)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        return action

    @Slot(str)
    def _on_undo_text(self, text: str) -> None:
        self.undo.setToolTip(f"Undo: {text}" if text else "Nothing to undo")
        self.undo.setStatusTip(self.undo.toolTip())

    @Slot(str)
    def _on_redo_text(self, text: str) -> None:
        self.redo.setToolTip(f"Redo: {text}" if text else "Nothing to redo")
        self.redo.setStatusTip(self.redo.toolTip())

    # --- selection ----------------------------------------------------------------------------

    def selected_layers(self) -> list[str]:
        """Selected module paths (not the input/output or function nodes), in model order."""
        state = self.qdoc.state
        if state is None:
            return []
        modules = state.modules
        order = {p: i for i, p in enumerate(modules)}
        return sorted((p for p in self.qdoc.doc.selection if p and p in modules), key=order.get)

    @Slot()
    def _update(self, *_) -> None:
        has_design = self.qdoc.state is not None
        has_layers = bool(self.selected_layers())
        for action in self.selection_actions:
            action.setEnabled(has_layers)
        for action in (self.replace_classifier, self.change_input, self.lr_preset):
            action.setEnabled(has_design)

    def _edit(self, ops, label: str = "") -> bool:
        return self.qdoc.edit(list(ops), label)

    def _need_layers(self) -> list[str]:
        layers = self.selected_layers()
        if not layers:
            feedback.show_error(self.window, "Select a layer",
                                "Select one or more layers in the graph first.")
        return layers

    # --- whole-network edits ---------------------------------------------------------------------

    @Slot()
    def ask_replace_classifier(self) -> None:
        if self.qdoc.state is None:
            return
        classes = self.qdoc.doc.classes
        op = dialogs.ask_classifier(self.window, self.qdoc.state.design, len(classes) or None)
        if op is not None:
            self._edit([op])

    @Slot()
    def ask_change_input(self) -> None:
        if self.qdoc.state is None:
            return
        op = dialogs.ask_input(self.window, self.qdoc.state.design)
        if op is not None:
            self._edit([op])

    @Slot()
    def ask_lr_preset(self) -> None:
        op = dialogs.ask_preset(self.window)
        if op is not None:
            self._edit([op])

    # --- selection edits ---------------------------------------------------------------------------

    def _plural(self, verb: str, layers: list[str]) -> str:
        return f"{verb} {layers[0]}" if len(layers) == 1 else f"{verb} {len(layers)} layers"

    @Slot()
    def freeze_selected(self) -> None:
        self.set_frozen(True)

    @Slot()
    def unfreeze_selected(self) -> None:
        self.set_frozen(False)

    def set_frozen(self, frozen: bool, layers: list[str] | None = None) -> None:
        layers = layers or self._need_layers()
        if layers:
            verb = "Freeze" if frozen else "Unfreeze"
            self._edit([Freeze(p, frozen) for p in layers], self._plural(verb, layers))

    @Slot()
    def freeze_until_selected(self) -> None:
        layers = self._need_layers()
        if layers:
            self._edit([FreezeUntil(layers[-1])])

    @Slot()
    def ask_lr_factor(self) -> None:
        layers = self._need_layers()
        if not layers:
            return
        current = self.qdoc.state.layer_state.get(layers[0], (None, 1.0))[1] or 1.0
        factor = feedback.lr_factor(self.window, current)
        if factor is not None:
            self.set_lr_factor(factor, layers)

    def set_lr_factor(self, factor: float, layers: list[str] | None = None) -> None:
        layers = layers or self._need_layers()
        if layers:
            self.qdoc.edit_checked(lambda: [SetLRFactor(p, float(factor)) for p in layers],
                                   self._plural(f"LR ×{factor:g} on", layers))

    @Slot()
    def delete_selected(self) -> None:
        layers = self._need_layers()
        if layers:
            self._edit([DeleteLayer(p) for p in layers], self._plural("Delete", layers))

    def insert_layer(self, layer: str, path: str | None = None) -> None:
        path = path or (self._need_layers() or [None])[-1]
        if path:
            self._edit([InsertAfter(path, layer_spec(layer))])

    def replace_layer(self, layer: str, path: str | None = None) -> None:
        paths = [path] if path else self._need_layers()
        if paths:
            self._edit([ReplaceLayer(p, layer_spec(layer)) for p in paths],
                       self._plural(f"Replace with {layer}:", paths))

    # --- heat maps ------------------------------------------------------------------------------------

    def heat_map_layer(self) -> str:
        """The layer chosen for heat maps ("" = the default: the last layer whose map is at least 7x7)."""
        return (self.qdoc.doc.settings.get("explain") or {}).get("layer") or ""

    @Slot()
    def use_for_heat_maps(self, path: str | None = None) -> bool:
        """Make the selected layer the one heat maps look at (a project setting, saved with it)."""
        path = path if isinstance(path, str) and path else (self._need_layers() or [None])[-1]
        state = self.qdoc.state
        if not path or state is None:
            return False
        problem = graph_map_problem(state.graph, path)
        if problem:
            feedback.show_error(self.window, "Not a layer for heat maps", problem)
            return False
        explain = self.qdoc.doc.settings.get("explain") or {}
        self.qdoc.doc.set_settings("explain", {**explain, "layer": path})
        return True

    @Slot()
    def default_heat_layer(self) -> None:
        explain = dict(self.qdoc.doc.settings.get("explain") or {})
        explain.pop("layer", None)
        self.qdoc.doc.set_settings("explain", explain)

    def apply_fix(self, message) -> None:
        if message.fix is not None:
            self._edit([message.fix], message.fix_label or message.fix.describe())

    # --- context menu ------------------------------------------------------------------------------------

    def context_menu(self, parent, extra: list[QAction] = ()) -> QMenu:
        layers = self.selected_layers()
        menu = QMenu(parent)
        title = menu.addAction(layers[0] if len(layers) == 1 else f"{len(layers)} layers selected")
        title.setEnabled(False)
        menu.addSeparator()
        for action in (self.freeze, self.unfreeze, self.freeze_until, self.set_lr, self.lr_preset):
            menu.addAction(action)
        menu.addSeparator()
        design = self.qdoc.state.design if self.qdoc.state else None
        if design is not None and any(
                p == design.classifier_path or design.classifier_path.startswith(p + ".") for p in layers):
            menu.addAction(self.replace_classifier)
        if layers:
            self._layer_submenu(menu.addMenu("Insert after"), self.insert_layer, layers[-1])
            self._layer_submenu(menu.addMenu("Replace with"), self.replace_layer, None)
            menu.addAction(self.delete)
        self._heat_map_items(menu, layers)
        for action in extra:
            menu.addAction(action)
        return menu

    def _heat_map_items(self, menu: QMenu, layers: list[str]) -> None:
        chosen = self.heat_map_layer()
        if len(layers) == 1 or chosen:
            menu.addSeparator()
        if len(layers) == 1:
            self.heat_layer.setChecked(layers[0] == chosen)
            menu.addAction(self.heat_layer)
        if chosen:
            self.heat_default.setText(f"Heat maps: back to the default layer (now {chosen})")
            menu.addAction(self.heat_default)

    def _layer_submenu(self, menu: QMenu, fn, path) -> None:
        for layer in library_types():
            action = menu.addAction(layer)
            action.setData((fn.__name__, layer, path))
            action.triggered.connect(self._on_library_action)

    @Slot()
    def _on_library_action(self) -> None:
        name, layer, path = self.sender().data()
        getattr(self, name)(layer, path)
