"""Moving left-out images (issue 25): only when asked, with an undo log that puts them back; links,
odd names and folders inside the data folder are handled without a traceback."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from testkit.data import make_shapes_folder

from designer.app.project import Project, save_project
from designer.audit.moves import LOG_NAME, move_excluded, undo_moves
from designer.base.errors import DesignerError
from designer.cli.main import main
from designer.model.recipe import Recipe


def _folder(tmp_path: Path) -> tuple[Path, list[str]]:
    root = make_shapes_folder(tmp_path / "data", per_class=4, size=8)
    odd = root / "circle" / "odd name ü;$(x).png"  # spaces, a non-ASCII letter, shell characters
    odd.write_bytes((root / "circle" / min(os.listdir(root / "circle"))).read_bytes())
    keys = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.png"))
    return root, keys


def _excluded(*keys: str) -> list[dict]:
    return [{"path": k, "action": "exclude", "label": ""} for k in keys]


def test_move_and_undo_put_every_file_back(tmp_path):
    root, keys = _folder(tmp_path)
    odd = next(k for k in keys if k.startswith("circle/odd"))
    before = {k: (root / k).read_bytes() for k in keys}
    decisions = _excluded(odd, keys[-1]) + [{"path": keys[1], "action": "relabel", "label": "square"}]
    result = move_excluded(str(root), decisions, str(tmp_path / "out"))
    assert result.moved == 2 and not result.skipped
    assert not (root / odd).exists() and (tmp_path / "out" / odd).is_file() and (root / keys[1]).exists()
    log = json.loads((tmp_path / "out" / LOG_NAME).read_text())
    assert len(log["moves"]) == 2
    back = undo_moves(str(tmp_path / "out"))
    assert back.moved == 2 and not back.skipped and not (tmp_path / "out" / LOG_NAME).exists()
    assert {k: (root / k).read_bytes() for k in keys} == before


def test_links_escapes_and_a_destination_inside_the_data_are_refused(tmp_path):
    root, keys = _folder(tmp_path)
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"not yours")
    (root / "circle" / "link.png").symlink_to(secret)
    decisions = _excluded("circle/link.png", "../secret.png", str(secret), "circle/gone.png")
    result = move_excluded(str(root), decisions, str(tmp_path / "out"))
    assert result.moved == 0 and len(result.skipped) == 4 and secret.read_bytes() == b"not yours"
    assert (root / "circle" / "link.png").is_symlink()
    with pytest.raises(DesignerError, match="inside the data folder"):
        move_excluded(str(root), _excluded(keys[0]), str(root / "moved"))
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "linked").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(DesignerError, match="link"):
        move_excluded(str(root), _excluded(keys[0]), str(tmp_path / "linked"))
    assert (root / keys[0]).is_file()


def test_a_tampered_log_moves_nothing_from_outside(tmp_path):
    root, keys = _folder(tmp_path)
    out = tmp_path / "out"
    move_excluded(str(root), _excluded(keys[0]), str(out))
    victim = tmp_path / "victim.txt"
    victim.write_text("stay")
    log = json.loads((out / LOG_NAME).read_text())
    log["moves"].append([str(root / "circle" / "x.png"), str(victim)])
    (out / LOG_NAME).write_text(json.dumps(log))
    result = undo_moves(str(out / LOG_NAME))
    assert result.moved == 1 and len(result.skipped) == 1 and victim.read_text() == "stay"
    (out / LOG_NAME).write_text("[1, 2]")
    with pytest.raises(DesignerError, match="not a move log"):
        undo_moves(str(out))


def test_the_cli_moves_only_when_asked_and_undoes(tmp_path, capsys):
    root, keys = _folder(tmp_path)
    project = tmp_path / "p.nsd.json"
    save_project(Project(recipe=Recipe.for_model("resnet18", weights="none"),
                         data={"overrides": _excluded(keys[0], keys[2])}), project)
    out = tmp_path / "moved"
    assert main(["audit", str(project), "--data", str(root), "--move-excluded", str(out)]) == 0
    assert "Moved 2 images" in capsys.readouterr().out and not (root / keys[0]).exists()
    assert main(["audit", str(project), "--data", str(tmp_path), "--undo-move", str(out)]) != 0
    assert "Run it with --data" in capsys.readouterr().err
    assert main(["audit", str(project), "--data", str(root), "--undo-move", str(out)]) == 0
    assert "Put back 2 images" in capsys.readouterr().out and (root / keys[0]).is_file()


def test_a_stopped_move_reports_progress_and_is_still_undone(tmp_path):
    import threading

    root, keys = _folder(tmp_path)
    seen, stop = [], threading.Event()

    def progress(done: int, total: int) -> None:
        seen.append((done, total))
        stop.set()  # stop after the first report: the rest stays where it was
    result = move_excluded(str(root), _excluded(*keys[:3]), str(tmp_path / "out"), progress, stop)
    assert seen == [(0, 3)] and result.moved == 0 and all((root / k).is_file() for k in keys[:3])
    back = undo_moves(str(tmp_path / "out"))  # the log listed all three: none was moved, nothing to do
    assert back.moved == 3 and not back.skipped and not (tmp_path / "out" / LOG_NAME).exists()
