"""designer.app.document: the GUI's source of truth, tested headless (no Qt)."""

from __future__ import annotations

import json
import os

import pytest

from designer.app.document import Document, Event
from designer.app.project import load_project
from designer.base.errors import DesignerError
from designer.inspect.graph import annotate_policy
from designer.model.ops import DeleteLayer, Freeze, ReplaceClassifier, SetLRFactor
from designer.model.recipe import Recipe

_CACHE = []


def cache():
    if not _CACHE:
        from designer.model.build import BaseCache

        _CACHE.append(BaseCache())
    return _CACHE[0]


@pytest.fixture
def doc(tmp_path):
    d = Document(cache=cache(), data_dir=str(tmp_path / "appdata"))
    d.open_recipe(Recipe.for_model("resnet18", "none"))
    return d


class Recorder:
    def __init__(self, doc: Document):
        self.events = []
        for name in ("recipe_changed", "dirty_changed", "path_changed", "selection_changed", "settings_changed"):
            getattr(doc, name).connect(lambda *args, name=name: self.events.append((name, args)))

    def names(self):
        return [e[0] for e in self.events]


def test_event_connect_emit_disconnect():
    event, got = Event(), []
    event.connect(got.append)
    event.connect(got.append)  # connecting twice calls once
    event.emit(1)
    event.disconnect(got.append)
    event.emit(2)
    assert got == [1]


def test_open_gives_a_clean_state(doc):
    assert doc.recipe == Recipe.for_model("resnet18", "none")
    assert doc.design.num_classes == 1000
    assert "fc" in doc.graph and doc.report.params_total > 11_000_000
    assert not doc.dirty and doc.path is None


def test_set_recipe_notifies_and_tracks_dirty(doc):
    rec = Recorder(doc)
    original = doc.recipe
    state = doc.set_recipe(original.with_op(ReplaceClassifier(4)), "head")
    assert state.report.output_shape[-1] == 4
    assert rec.names() == ["dirty_changed", "recipe_changed"] and doc.dirty
    doc.set_recipe(original)  # back where we started: clean again
    assert not doc.dirty


def test_failing_recipe_leaves_the_document_unchanged(doc):
    rec = Recorder(doc)
    before = doc.state
    with pytest.raises(DesignerError):
        doc.set_recipe(doc.recipe.with_op(DeleteLayer("no.such.layer")))
    assert doc.state is before and rec.events == [] and not doc.dirty


def test_policy_change_reuses_model_and_graph_structure(doc):
    before = doc.state
    state = doc.set_recipe(doc.recipe.with_ops(Freeze("layer1"), SetLRFactor("fc", 10.0)))
    assert state.design.model is before.design.model
    assert set(state.graph.nodes) == set(before.graph.nodes)
    assert state.graph.nodes["layer1.0.conv1"]["frozen"] is True
    assert before.graph.nodes["layer1.0.conv1"]["frozen"] is False  # old state untouched
    assert state.graph.nodes["fc"]["lr_factor"] == 10.0
    assert state.layer_state["layer1"][0] is True and state.layer_state["fc"] == (False, 10.0)
    assert state.report.params_frozen == sum(p.numel() for p in state.design.model.layer1.parameters())


def test_recent_states_are_reused(doc):
    first = doc.state
    doc.set_recipe(doc.recipe.with_op(ReplaceClassifier(3)))
    assert doc.cached_state(first.recipe) is first
    assert doc.prepare(first.recipe) is first


def test_selection_events_are_deduplicated(doc):
    rec = Recorder(doc)
    doc.select(["fc", "fc", "layer1"])
    doc.select(("fc", "layer1"))
    assert doc.selection == ("fc", "layer1") and rec.names() == ["selection_changed"]


def test_save_and_open_round_trip(doc, tmp_path):
    doc.set_recipe(doc.recipe.with_op(ReplaceClassifier(7)))
    doc.set_settings("classes", ["a", "b", "c", "d", "e", "f", "g"])
    doc.set_settings("training", {"epochs": 3})
    path = doc.save(str(tmp_path / "p"))
    assert path.endswith(".nsd.json") and os.path.isfile(path) and not doc.dirty
    other = Document(cache=cache(), data_dir=str(tmp_path / "appdata2"))
    other.open_project(path)
    assert other.recipe == doc.recipe and other.classes == doc.classes
    assert other.settings["training"] == {"epochs": 3} and other.path == path and not other.dirty


def test_classes_change_reanalyzes(doc):
    doc.set_settings("classes", ["cat", "dog"])
    assert doc.dirty
    assert any("2" in m.text and m.fix == ReplaceClassifier(2) for m in doc.report.messages)


def test_autosave_and_recovery(doc, tmp_path):
    assert doc.write_autosave() is None  # nothing unsaved
    doc.set_recipe(doc.recipe.with_op(ReplaceClassifier(6)))
    path = doc.write_autosave()
    assert path == doc.autosave_path and os.path.isfile(path)
    fresh = Document(cache=cache(), data_dir=doc.data_dir)
    assert fresh.recovery_available() and fresh.recovery_origin() is None
    fresh.recover()
    assert fresh.recipe == doc.recipe and fresh.dirty and fresh.path is None
    fresh.clear_autosave()
    assert not fresh.recovery_available()


def test_recovery_keeps_the_original_path(doc, tmp_path):
    saved = doc.save(str(tmp_path / "orig.nsd.json"))
    doc.set_recipe(doc.recipe.with_op(ReplaceClassifier(2)))
    doc.write_autosave()
    with open(os.path.join(doc.data_dir, "autosave.meta.json"), encoding="utf-8") as fh:
        assert json.load(fh)["path"] == saved
    fresh = Document(cache=cache(), data_dir=doc.data_dir)
    fresh.recover()
    assert fresh.path == saved and fresh.dirty


def test_save_needs_a_path_and_a_design(tmp_path):
    empty = Document(cache=cache(), data_dir=str(tmp_path))
    with pytest.raises(DesignerError):
        empty.save(str(tmp_path / "x.nsd.json"))
    with pytest.raises(DesignerError):
        empty.set_settings("nonsense", 1)


def test_annotate_policy_without_policy_reads_requires_grad(doc):
    model = doc.design.model
    model.fc.weight.requires_grad_(False)
    try:
        graph = annotate_policy(doc.graph, model, None)
        assert graph.nodes["fc"]["trainable"] == model.fc.bias.numel()
    finally:
        model.fc.weight.requires_grad_(True)


def test_a_new_run_alone_is_not_an_unsaved_change(doc, tmp_path):
    """Issue 13: 'changes not saved' appeared when only a training run was added."""
    path = doc.save(str(tmp_path / "p"))
    run = str(tmp_path / "runs" / "20261201-000000-full")
    doc.set_settings("runs", [run])
    assert not doc.dirty and doc.write_autosave() is None
    doc.set_settings("training", {"epochs": 3})  # an edit still counts
    assert doc.dirty
    doc.save()
    assert load_project(path).runs == [run]  # saved with the project all the same
