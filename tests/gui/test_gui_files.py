"""Files in the window: unsaved-changes prompts, autosave and crash recovery, bad files."""

from __future__ import annotations

import os

import pytest
from testkit.gui import open_model, wait_idle

from designer.model.ops import Freeze, ReplaceClassifier


def edited_window(qtbot, make_window, **kwargs):
    window = make_window(**kwargs)
    open_model(qtbot, window, "resnet18", "none")
    window.qdoc.edit([ReplaceClassifier(3)])
    wait_idle(qtbot, window)
    assert window.isWindowModified() and window.windowTitle().startswith("resnet18[*]")
    return window


def test_close_prompts_and_cancel_keeps_the_window(qtbot, make_window, dialogs):
    window = edited_window(qtbot, make_window)
    asked = dialogs.answer("ask_save_changes", "cancel")
    assert not window.close()
    assert asked and window.isVisible() and window.qdoc.doc.dirty


def test_close_can_save_first(qtbot, make_window, dialogs, tmp_path):
    window = edited_window(qtbot, make_window)
    dialogs.answer("ask_save_changes", "save")
    path = str(tmp_path / "saved.nsd.json")
    dialogs.answer("save_project_path", path)
    assert window.close()
    assert os.path.isfile(path) and not window.qdoc.doc.dirty


def test_opening_another_model_prompts(qtbot, make_window, dialogs):
    window = edited_window(qtbot, make_window)
    dialogs.answer("ask_save_changes", "cancel")
    window.open_model("alexnet", "none")
    wait_idle(qtbot, window)
    assert window.qdoc.recipe.base.name == "resnet18"  # kept
    dialogs.answer("ask_save_changes", "discard")
    window.open_model("squeezenet1_0", "none")
    wait_idle(qtbot, window)
    assert window.qdoc.recipe.base.name == "squeezenet1_0" and not window.isWindowModified()
    assert window.qdoc.undo_stack.count() == 0


def test_bad_project_file_shows_a_message_and_keeps_the_design(qtbot, make_window, dialogs, tmp_path):
    window = edited_window(qtbot, make_window)
    before = window.qdoc.state
    bad = tmp_path / "broken.nsd.json"
    bad.write_text("{ not json")
    dialogs.answer("ask_save_changes", "discard")
    window.open_project(str(bad))
    wait_idle(qtbot, window)
    assert dialogs.errors and dialogs.errors[0][0] == "Could not open the project"
    assert window.qdoc.state is before and window.qdoc.undo_stack.count() == 1


def test_bad_builder_shows_a_message(qtbot, make_window, dialogs):
    window = make_window()
    window.open_model("no_such_module_xyz:build", "default")
    wait_idle(qtbot, window)
    assert dialogs.errors and "could not be imported" in dialogs.errors[0][1]
    assert window.qdoc.state is None


def test_autosave_then_recovery_on_next_start(qtbot, make_window, dialogs, tmp_path):
    data_dir = tmp_path / "crash"
    window = edited_window(qtbot, make_window, data_dir=data_dir)
    window.qdoc.edit([Freeze("layer1")])
    wait_idle(qtbot, window)
    window.files.autosave_timer.timeout.emit()  # the autosave tick
    recovery = window.qdoc.doc.autosave_path
    assert os.path.isfile(recovery)
    recipe = window.qdoc.recipe
    # a crash: the window never closes cleanly, the recovery file stays
    window.qdoc.doc.clear_autosave = lambda: None
    second = make_window(data_dir=data_dir)
    asked = dialogs.answer("ask_recover", True)
    assert second.files.offer_recovery()
    wait_idle(qtbot, second)
    assert asked and second.qdoc.recipe == recipe
    assert second.isWindowModified() and second.qdoc.doc.path is None


def test_clean_close_removes_the_recovery_file(qtbot, make_window, dialogs, tmp_path):
    window = edited_window(qtbot, make_window)
    window.files.autosave()
    path = window.qdoc.doc.autosave_path
    assert os.path.isfile(path)
    path_after = tmp_path / "kept.nsd.json"
    dialogs.answer("save_project_path", str(path_after))
    assert window.files.save()
    assert not os.path.exists(path)  # saved: the recovery copy is stale
    assert str(path_after) in window.files.recent()
    assert window.start.recent.item(0).data(256) == str(path_after)


def test_declined_recovery_deletes_the_file(qtbot, make_window, dialogs, tmp_path):
    window = edited_window(qtbot, make_window)
    window.files.autosave()
    dialogs.answer("ask_recover", False)
    assert not window.files.offer_recovery()
    assert not window.qdoc.doc.recovery_available()


def _project_file(path, base, ops=(), **sections):
    import json

    path.write_text(json.dumps({"format": "netsurgeon-project", "version": 1,
                                "recipe": {"base": base, "ops": list(ops)}, **sections}))
    return str(path)


def test_a_hostile_project_shows_one_message_and_the_app_stays_usable(qtbot, make_window, dialogs, tmp_path):
    window = make_window()
    touch = f"__import__('os').system('touch {tmp_path / 'MARKER'}')"
    hostile = _project_file(tmp_path / "hostile.nsd.json", {"source": "torchvision", "name": "resnet18"},
                            [{"op": "replace_classifier", "num_classes": 3, "batchnorm": "no"}],
                            training={"seed": touch})
    window.open_project(hostile)
    wait_idle(qtbot, window)
    title, text = dialogs.errors[-1]
    assert title == "Could not open the project" and "'batchnorm' is 'no'" in text and window.qdoc.state is None
    open_model(qtbot, window, "resnet18", "none")  # still usable
    window.qdoc.edit([ReplaceClassifier(3)])
    wait_idle(qtbot, window)
    assert window.qdoc.state.design.num_classes == 3 and not (tmp_path / "MARKER").exists()


@pytest.mark.slow
def test_a_project_with_a_builder_asks_before_running_its_code(qtbot, make_window, dialogs, tmp_path):
    window = make_window()
    marker = tmp_path / "MARKER"
    helpers = tmp_path / "helpers_in_project.py"
    helpers.write_text(f"open({str(marker)!r}, 'w').close()\ndef build():\n    pass\n")
    path = _project_file(tmp_path / "builder.nsd.json", {"source": "builder", "name": "helpers_in_project:build"})
    asked = dialogs.answer("ask_trust_builder", False)
    window.open_project(path)
    wait_idle(qtbot, window)
    assert asked == [("helpers_in_project:build",)] and dialogs.errors[-1][0] == "Did not open the project"
    assert not marker.exists() and window.qdoc.state is None
    trusted = _project_file(tmp_path / "trusted.nsd.json",
                            {"source": "builder", "name": "torchvision.models:squeezenet1_1", "weights": "none"})
    dialogs.answer("ask_trust_builder", True)
    window.open_project(trusted)
    wait_idle(qtbot, window)
    assert window.qdoc.recipe.base.name == "torchvision.models:squeezenet1_1"


def test_file_dialogs_start_in_the_projects_folder(qtbot, workspace, tmp_path, dialogs):
    """Issue 13: every file dialog started in the home folder, not the project's."""
    from testkit.gui import make_document

    from widgets.base.feedback import folder_for

    project = tmp_path / "leaves" / "leaves.nsd.json"
    project.parent.mkdir()
    doc = make_document(tmp_path)
    doc.save(str(project))
    ws = workspace(doc)
    browse = ws.data.root_edit.parentWidget().findChildren(type(ws.data.load_button))
    asked = dialogs.answer("choose_folder", "")
    next(b for b in browse if b.property("edit") is ws.data.root_edit).click()
    assert asked and asked[0][1] == str(project.parent)
    images = dialogs.answer("choose_images", [])
    ws.results.predict_box.pick_button.click()
    assert images[0] == (str(project.parent),)
    data = tmp_path / "photos"
    data.mkdir()
    ws.data.root_edit.setText(str(data))  # a folder already chosen is where the dialog opens
    next(b for b in browse if b.property("edit") is ws.data.root_edit).click()
    assert asked[1][1] == str(data)
    assert folder_for(None) == os.path.expanduser("~")  # an unsaved design: the home folder
