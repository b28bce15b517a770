"""Atomic writes: the old file survives a failed write, no temporary file is left behind."""

import os

import pytest

from designer.base.errors import DesignerError
from designer.base.fileio import (
    FILE_MODE,
    TMP_PREFIX,
    atomic_write,
    read_json,
    remove_stale_temps,
    write_json,
)


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path):
    path = tmp_path / "a.json"
    write_json(path, {"v": 1})

    def broken(tmp):
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(path, broken)
    assert read_json(path) == {"v": 1} and os.listdir(tmp_path) == ["a.json"]


def test_files_get_ordinary_permissions(tmp_path):
    path = atomic_write(tmp_path / "w.bin", lambda tmp: (tmp.write_bytes(b"x"), os.chmod(tmp, 0o600)))
    assert os.stat(path).st_mode & 0o777 == FILE_MODE


def test_an_unwritable_place_is_a_clear_error(tmp_path):
    with pytest.raises(DesignerError, match="Cannot write"):
        atomic_write(tmp_path / "missing" / "x.txt", lambda tmp: tmp.write_text("x"))


def test_read_json_treats_damage_as_empty(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "list.json").write_text("[1, 2]")
    assert read_json(tmp_path / "bad.json") == {} and read_json(tmp_path / "list.json") == {}
    assert read_json(tmp_path / "none.json") == {}


def test_stale_temporary_files_are_removed(tmp_path):
    (tmp_path / f"{TMP_PREFIX}best.pt.1234abcd.pt").write_bytes(b"half")
    (tmp_path / "best.pt").write_bytes(b"whole")
    assert remove_stale_temps(tmp_path) == 1 and os.listdir(tmp_path) == ["best.pt"]
