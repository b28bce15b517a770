"""Properties of the selected layer: what it is, its training settings, its hyperparameters.

Shows the document (selection + state); every change becomes an op:
hyperparameters -> SetLayerParams, frozen -> Freeze, LR factor -> SetLRFactor,
the input node -> SetInput.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from designer.model.ops import Freeze, SetInput, SetLayerParams, SetLRFactor
from designer.model.surgery import layer_params as core_layer_params
from widgets.base import feedback, style
from widgets.design.param_editors import editor_for, read_editor


def layer_params(module) -> dict:
    """Editable hyperparameters of ``module``: its constructor arguments (the core's rule)."""
    return dict(core_layer_params(module))


class Properties(QScrollArea):
    def __init__(self, qdoc, parent=None):
        super().__init__(parent)
        self.qdoc = qdoc
        self.editors: dict[str, QWidget] = {}
        self.values: dict = {}
        self.path: str | None = None
        self.setWidgetResizable(True)
        body = QWidget(objectName="propBody")
        self.layout_ = QVBoxLayout(body)
        self.layout_.setContentsMargins(10, 10, 10, 10)
        self.title = QLabel("Nothing selected", objectName="propTitle")
        self.title.setWordWrap(True)
        self.subtitle = QLabel("Click a layer in the graph to see and edit it.", objectName="muted")
        self.subtitle.setWordWrap(True)
        self.info = QLabel("", objectName="propInfo", textFormat=Qt.RichText)
        self.layout_.addWidget(self.title)
        self.layout_.addWidget(self.subtitle)
        self.layout_.addWidget(self.info)
        self._build_training()
        self._build_input()
        self.hyper_box = QGroupBox("Hyperparameters")
        self.hyper_form = QFormLayout(self.hyper_box)
        self.apply_button: QPushButton | None = None
        self.layout_.addWidget(self.hyper_box)
        self.layout_.addStretch(1)
        self.setWidget(body)
        qdoc.selection_changed.connect(self.refresh)
        qdoc.recipe_changed.connect(self.refresh)
        self.refresh()

    def _build_training(self) -> None:
        self.train_box = QGroupBox("Training")
        form = QFormLayout(self.train_box)
        self.frozen_box = QCheckBox("Frozen (weights stay as they are)")
        self.frozen_box.clicked.connect(self._on_frozen_clicked)
        self.lr_spin = QDoubleSpinBox(decimals=4, maximum=1000.0, singleStep=0.1)
        self.lr_spin.setToolTip("Learning-rate factor: 0.1 learns 10× slower, 10 learns 10× faster")
        self.lr_button = QPushButton("Set")
        self.lr_button.clicked.connect(self.apply_lr)
        row = QHBoxLayout()
        row.addWidget(self.lr_spin, 1)
        row.addWidget(self.lr_button)
        form.addRow(self.frozen_box)
        form.addRow("LR factor", row)
        self.layout_.addWidget(self.train_box)

    def _build_input(self) -> None:
        self.input_box = QGroupBox("Input")
        form = QFormLayout(self.input_box)
        self.in_c = QSpinBox(minimum=1, maximum=64)
        self.in_h = QSpinBox(minimum=8, maximum=4096, suffix=" px")
        self.in_w = QSpinBox(minimum=8, maximum=4096, suffix=" px")
        self.in_replicate = QCheckBox("Grey: repeat over 3 channels instead of adapting the first conv")
        self.in_replicate.setToolTip("Only for 1 channel")
        apply = QPushButton("Apply input", objectName="primary")
        apply.clicked.connect(self.apply_input)
        for label, w in (("Channels", self.in_c), ("Height", self.in_h), ("Width", self.in_w)):
            form.addRow(label, w)
        form.addRow(self.in_replicate)
        form.addRow(apply)
        self.layout_.addWidget(self.input_box)

    # --- document -> pane ---------------------------------------------------------------------------

    @Slot()
    def refresh(self, *_) -> None:
        state, selection = self.qdoc.state, self.qdoc.doc.selection
        self.path = selection[0] if len(selection) == 1 else None
        self.input_box.hide()
        self.train_box.hide()
        self.hyper_box.hide()
        if state is None or not selection:
            self._show_text("Nothing selected", "Click a layer in the graph to see and edit it.", "")
            return
        if len(selection) > 1:
            self._show_many(state, selection)
        elif self.path == "input":
            self._show_input(state)
        elif self.path in state.modules:
            self._show_layer(state, self.path)
        else:
            node = state.graph.nodes.get(self.path, {})
            self._show_text(self.path, str(node.get("op_type", "")) + " (an operation without settings)",
                            self._info(node))

    def _show_text(self, title: str, subtitle: str, info: str) -> None:
        self.title.setText(title)
        self.subtitle.setText(subtitle)
        self.info.setText(info)

    def _info(self, node: dict) -> str:
        rows = []
        if node.get("out_shape") is not None:
            rows.append(("Output", style.shape_text(node["out_shape"])))
        if node.get("params"):
            rows.append(("Parameters", f"{node['params']:,} ({node.get('trainable', 0):,} trainable)"))
        if node.get("flops"):
            rows.append(("Multiply-adds", style.human_count(node["flops"])))
        return "<table cellspacing=3>" + "".join(
            f"<tr><td style='color:#6b7280'>{k}&nbsp;&nbsp;</td><td>{v}</td></tr>" for k, v in rows
        ) + "</table>"

    def _node_for(self, state, path: str) -> dict:
        if path in state.graph:
            return state.graph.nodes[path]
        for _, d in state.graph.nodes(data=True):
            if d.get("module") == path and d.get("kind") == "module":
                return d
        members = [d for n, d in state.graph.nodes(data=True) if d.get("path", "").startswith(path + ".")]
        shaped = [d for d in sorted(members, key=lambda d: d["order"]) if d.get("out_shape") is not None]
        return {"out_shape": shaped[-1]["out_shape"] if shaped else None,
                "params": sum(d.get("params") or 0 for d in members),
                "trainable": sum(d.get("trainable") or 0 for d in members),
                "flops": sum(d.get("flops") or 0 for d in members)}

    def _show_layer(self, state, path: str) -> None:
        module = state.modules[path]
        self._show_text(path, type(module).__name__, self._info(self._node_for(state, path)))
        self._show_training(state, [path])
        self._show_params(layer_params(module) if next(module.children(), None) is None else {})

    def _show_many(self, state, selection) -> None:
        layers = [p for p in selection if p in state.modules]
        self._show_text(f"{len(selection)} layers selected", ", ".join(selection[:6])
                        + (" …" if len(selection) > 6 else ""), "")
        if layers:
            self._show_training(state, layers)

    def _show_training(self, state, layers) -> None:
        with_params = [p for p in layers if next(state.modules[p].parameters(), None) is not None]
        if not with_params:
            return
        self.train_box.show()
        # module_state gives None for a layer whose parameters are partly frozen
        frozen = {state.layer_state.get(p, (None, 1.0))[0] for p in with_params}
        mixed = len(frozen) > 1 or None in frozen
        self.frozen_box.setTristate(mixed)
        self.frozen_box.setCheckState(Qt.PartiallyChecked if mixed else
                                      Qt.Checked if frozen == {True} else Qt.Unchecked)
        self.lr_spin.setValue(float(state.layer_state.get(with_params[0], (None, 1.0))[1] or 1.0))

    def _show_input(self, state) -> None:
        c, h, w = state.design.input_shape
        self._show_text("Input", "The images the network takes",
                        self._info(state.graph.nodes.get("input", {})))
        self.in_c.setValue(c)
        self.in_h.setValue(h)
        self.in_w.setValue(w)
        self.in_replicate.setChecked(bool(getattr(state.design, "replicate_grey", False)))
        self.input_box.show()

    def _show_params(self, params: dict) -> None:
        while self.hyper_form.rowCount():
            self.hyper_form.removeRow(0)
        self.editors, self.values = {}, dict(params)
        if not params:
            return
        for name, value in params.items():
            self.editors[name] = editor_for(value)
            self.hyper_form.addRow(name, self.editors[name])
        self.apply_button = QPushButton("Apply changes", objectName="primary")
        self.apply_button.clicked.connect(self.apply_params)
        self.hyper_form.addRow(self.apply_button)
        self.hyper_box.show()

    # --- pane -> document ------------------------------------------------------------------------------

    def _layers(self) -> list[str]:
        state = self.qdoc.state
        return [p for p in self.qdoc.doc.selection if state is not None and p in state.modules]

    @Slot()
    def _on_frozen_clicked(self) -> None:
        frozen = self.frozen_box.checkState() != Qt.Unchecked
        layers = self._layers()
        if layers:
            verb = "Freeze" if frozen else "Unfreeze"
            label = f"{verb} {layers[0]}" if len(layers) == 1 else f"{verb} {len(layers)} layers"
            self.qdoc.edit([Freeze(p, frozen) for p in layers], label)

    @Slot()
    def apply_lr(self) -> None:
        layers, factor = self._layers(), self.lr_spin.value()
        if layers:
            label = f"LR ×{factor:g} on " + (layers[0] if len(layers) == 1 else f"{len(layers)} layers")
            self.qdoc.edit_checked(lambda: [SetLRFactor(p, factor) for p in layers], label)

    @Slot()
    def apply_params(self) -> None:
        if not self.path or not self.editors:
            return
        changed = {}
        for name, editor in self.editors.items():
            try:
                value = read_editor(editor, self.values[name])
            except ValueError as exc:
                feedback.show_error(self.window(), "Not a valid value", f"{name}: {exc}")
                return
            if value != self.values[name]:
                changed[name] = value
        if changed:
            self.qdoc.edit_checked(lambda: [SetLayerParams.of(self.path, **changed)])

    @Slot()
    def apply_input(self) -> None:
        c = self.in_c.value()
        mode = "replicate" if c == 1 and self.in_replicate.isChecked() else "adapt"
        self.qdoc.edit([SetInput(self.in_h.value(), self.in_w.value(), c, mode)])

