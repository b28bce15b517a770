"""Issue 23, class by class, on the shared mechanisms themselves (fast; the whole CLI sweep is in
test_hostile_files.py): writes never follow a link, only regular files are opened, JSON has depth
and digit limits, Pillow decodes only allowed formats, the memory budget refuses in one line, paths
from a run stay inside the data, and messages say what is really there."""

from __future__ import annotations

import json
import os
import stat
import threading

import pytest
from testkit.data import make_shapes_folder

from designer.base import jobs, safeio
from designer.base.errors import DesignerError
from designer.cli.main import main
from designer.data.folders import ScanLimits, scan_folder
from designer.data.images import check_image, load_image
from designer.data.split import DatasetSplit
from designer.launch.placement import Placement


def _within(seconds: float, fn, *args):
    """``fn(*args)`` in a thread; fails the test if it has not returned in ``seconds`` (a hang)."""
    box = {}

    def call():
        try:
            box["value"] = fn(*args)
        except BaseException as exc:  # noqa: BLE001 -- handed to the test below
            box["error"] = exc
    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"{fn.__name__} hung"
    if "error" in box:
        raise box["error"]
    return box.get("value")


# --- 1. writes never follow a link ------------------------------------------------------------


def test_the_crash_log_goes_to_a_private_folder_and_replaces_a_planted_link(tmp_path, monkeypatch):
    monkeypatch.setenv("NETSURGEON_STATE_DIR", str(tmp_path / "state"))
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    logs = safeio.private_dir("logs")
    assert stat.S_IMODE(os.stat(logs).st_mode) == 0o700
    os.symlink(victim, logs / "error.log")
    try:
        raise ValueError("boom")
    except ValueError as exc:
        failure = jobs.failure_of(exc)
    assert failure.log_path == str(logs / "error.log")
    assert victim.read_text() == "keep"
    assert not os.path.islink(logs / "error.log") and "boom" in (logs / "error.log").read_text()


def test_the_log_folder_may_not_be_a_link(tmp_path, monkeypatch):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "state").mkdir()
    os.symlink(tmp_path / "elsewhere", tmp_path / "state" / "logs")
    monkeypatch.setenv("NETSURGEON_STATE_DIR", str(tmp_path / "state"))
    with pytest.raises(OSError):
        safeio.private_dir("logs")
    try:
        raise ValueError("boom")
    except ValueError as exc:
        assert jobs.failure_of(exc).log_path is None  # no log rather than a log written through the link
    assert not list((tmp_path / "elsewhere").iterdir())


def test_a_run_folders_error_log_link_is_replaced_not_followed(tmp_path):
    from designer.train.setup import log_traceback

    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    run = tmp_path / "run"
    run.mkdir()
    os.symlink(victim, run / "error.log")
    try:
        raise RuntimeError("inside the engine")
    except RuntimeError:
        log_traceback(run)
    assert victim.read_text() == "keep" and "inside the engine" in (run / "error.log").read_text()


def test_write_new_text_never_writes_through_a_link(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("keep")
    os.symlink(victim, tmp_path / "out.txt")
    safeio.write_new_text(tmp_path / "out.txt", "new")
    assert victim.read_text() == "keep" and (tmp_path / "out.txt").read_text() == "new"


# --- 2. hangs: only regular files are opened ---------------------------------------------------


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "proc", "folder", "dangling"])
def test_only_regular_files_are_read_and_the_refusal_says_what_is_there(tmp_path, kind):
    path = tmp_path / "thing.nsd.json"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev-zero":
        os.symlink("/dev/zero", path)
    elif kind == "proc":
        path = "/proc/self/status"
    elif kind == "folder":
        path.mkdir()
    else:
        os.symlink(tmp_path / "nothing", path)
    with pytest.raises(DesignerError) as info:
        _within(10, safeio.read_bytes, path, 1000, "project file")
    said = {"fifo": "named pipe", "dev-zero": "device", "proc": "system file", "folder": "folder",
            "dangling": "link to nothing"}[kind]
    assert said in info.value.message and "does not exist" not in info.value.message


def test_the_byte_cap_holds(tmp_path):
    path = tmp_path / "big.json"
    path.write_bytes(b"x" * 2000)
    with pytest.raises(DesignerError, match="larger than"):
        safeio.read_bytes(path, 1000)


def test_a_fifo_or_postscript_image_is_refused_at_once(tmp_path):
    os.mkfifo(tmp_path / "pipe.png")
    eps = tmp_path / "eps.png"
    eps.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n")
    assert "named pipe" in _within(10, check_image, str(tmp_path / "pipe.png"))
    assert "PNG, JPEG" in _within(10, check_image, str(eps))
    with pytest.raises(DesignerError, match="PNG, JPEG"):
        _within(10, load_image, str(eps))


# --- 3. huge allocations -------------------------------------------------------------------------


def test_an_absurd_input_shape_is_refused(tmp_path, capsys):
    project = tmp_path / "p.nsd.json"
    assert main(["new", "resnet18", "--weights", "none", "-o", str(project)]) == 0
    assert main(["edit", str(project), "--input", "1024x4096x4096"]) == 2
    assert "million values per image" in capsys.readouterr().err


def test_the_memory_budget_refuses_in_one_line_and_the_flag_raises_it(tmp_path, capsys):
    project = tmp_path / "p.nsd.json"
    assert main(["new", "resnet18", "--weights", "none", "-o", str(project)]) == 0
    assert main(["edit", str(project), "--input", "3x2048x2048", "--classes", "3"]) == 0
    capsys.readouterr()
    out = tmp_path / "out"
    assert main(["export", str(project), "--format", "pt", "-o", str(out), "--memory-limit", "0.5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "GB of memory" in err[0] and "--memory-limit" in err[0]
    assert main(["inspect", str(project), "--memory-limit", "0.5"]) == 1  # the analyzer's error message
    assert "memory" in capsys.readouterr().out


# --- 4. odd values ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text, said", [
    ("[" * 995 + "]" * 995, "nested"), ('{"a": ' + "9" * 5000 + "}", "5,000 digits"),
    ('{"a": "\\ud800"}', "not valid Unicode"), ('{"a": ' + '{"b":' * 100 + "1" + "}" * 101, "nested")])
def test_json_limits(text, said):
    with pytest.raises(DesignerError, match=said):
        safeio.loads_json(text, "The file")


@pytest.mark.parametrize("where", ["²", "٣", "１", "9" * 40])
def test_where_takes_only_ascii_digits(where):
    with pytest.raises(DesignerError):
        Placement.parse(where)


def test_a_version_0_project_without_base_is_refused(tmp_path, capsys):
    path = tmp_path / "p.nsd.json"
    path.write_text(json.dumps({"format": "netsurgeon-project", "version": 0}))
    assert main(["inspect", str(path)]) == 2
    assert "'base'" in capsys.readouterr().err


def test_a_non_utf8_class_folder_is_refused_before_training(tmp_path):
    data = make_shapes_folder(tmp_path / "d", per_class=3, size=16)
    os.rename(data / "circle", os.fsdecode(bytes(data) + b"/c\xffrcle"))
    with pytest.raises(DesignerError, match="not valid text"):
        scan_folder(data)


@pytest.mark.parametrize("parts", [["x" * 300], ["file", "run"]])
def test_an_output_folder_that_cannot_be_made_is_refused_first(tmp_path, parts):
    (tmp_path / "file").write_text("x")
    with pytest.raises(DesignerError):
        safeio.check_new_folder(tmp_path.joinpath(*parts))


# --- 5. reads outside the data ---------------------------------------------------------------------


@pytest.mark.parametrize("entry", ["/etc/shadow", "/proc/self/mem", "/dev/zero", "{root}/../x.png", "x.png"])
def test_split_entries_must_be_images_inside_the_data(tmp_path, entry):
    data = make_shapes_folder(tmp_path / "d", per_class=3, size=16)
    split = scan_folder(data, 0.3).to_dict()
    split["train"][0][0] = entry.format(root=data)
    with pytest.raises(DesignerError, match="outside its data folder"):
        DatasetSplit.from_dict(split)


def test_a_saved_split_with_a_separate_validation_folder_still_loads(tmp_path):
    from designer.data.folders import scan_folders

    train = make_shapes_folder(tmp_path / "t", per_class=3, size=16)
    val = make_shapes_folder(tmp_path / "v", per_class=2, size=16)
    split = scan_folders(train, val)
    assert DatasetSplit.from_dict(json.loads(json.dumps(split.to_dict()))).val == split.val


def test_the_scan_does_not_follow_links_out_of_the_root(tmp_path):
    data = make_shapes_folder(tmp_path / "d", per_class=3, size=16)
    os.symlink("/", data / "everything")
    outside = tmp_path / "secret.png"
    outside.write_bytes((data / "circle" / os.listdir(data / "circle")[0]).read_bytes())
    os.symlink(outside, data / "square" / "leak.png")
    split = _within(60, scan_folder, data)
    paths = [p for p, _ in split.subset("all")]
    assert all(str(data) in p for p in paths) and not any("leak" in p for p in paths)
    assert "everything" not in split.classes


def test_the_scan_has_a_file_cap_and_says_so(tmp_path, monkeypatch):
    data = make_shapes_folder(tmp_path / "d", per_class=5, size=16)
    monkeypatch.setattr("designer.data.folders.MAX_SCAN_FILES", 7)
    split = scan_folder(data)
    assert any("stopped after 7 files" in w for w in split.warnings)
    limits = ScanLimits(data, max_s=0.0)
    assert not limits.count() and "longer than" in limits.notes[0]


# --- 6. messages ---------------------------------------------------------------------------------


def test_explain_says_what_is_there_instead_of_does_not_exist(tmp_path, capsys):
    project = tmp_path / "p.nsd.json"
    assert main(["new", "resnet18", "--weights", "none", "-o", str(project)]) == 0
    os.mkfifo(tmp_path / "pipe.png")
    (tmp_path / "dir.png").mkdir()
    for target, said in ((tmp_path / "pipe.png", "named pipe"), ("/dev/null", "device"),
                         (tmp_path / "dir.png", "folder")):
        capsys.readouterr()
        assert main(["explain", str(project), str(target), "-o", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err
        assert said in err and "does not exist" not in err
