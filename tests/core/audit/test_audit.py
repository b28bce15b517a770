"""The data audit (issue 25): planted wrong labels and train->val copies on digits are found, the CLI
prints one JSON object and an HTML report, and hostile folders and paths are handled."""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from testkit.audit import make_planted_digits
from testkit.data import make_shapes_folder

from designer.app.project import Project, save_project
from designer.audit.images import odd_images, pixel_facts
from designer.audit.similar import duplicate_groups, unit_rows
from designer.cli.main import main
from designer.data.split import key_for
from designer.model.ops import ReplaceClassifier, SetInput
from designer.model.recipe import Recipe


def _project(folder: Path, size: int, classes: int) -> str:
    path = folder / "p.nsd.json"
    recipe = Recipe.for_model("efficientnet_lite0").with_ops(SetInput(size, size, 1, "replicate"),
                                                             ReplaceClassifier(classes))
    save_project(Project(recipe=recipe), path)
    return str(path)


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    root = tmp_path_factory.mktemp("planted")
    wrong, pairs = make_planted_digits(root / "digits", size=64)
    old = torch.get_num_threads()
    torch.set_num_threads(1)  # Lite0 on a busy 2-core box: one thread is several times faster
    try:
        project = _project(root, 64, 10)
        html = root / "report.html"
        out = io.StringIO()
        with contextlib.redirect_stdout(out):  # a module fixture has no capsys
            code = main(["audit", project, "--data", str(root / "digits"), "--json", "--html", str(html),
                         "--apply-fixes"])
    finally:
        torch.set_num_threads(old)
    return root, wrong, pairs, code, html, out.getvalue(), project


@pytest.mark.slow
def test_planted_wrong_labels_and_copies_are_found(planted):
    root, wrong, pairs, code, _, out, _ = planted
    assert code == 0
    report = json.loads(out)
    data = root / "digits"
    flagged = {i["path"] for i in report["label_issues"]}
    truth = {key_for(p, str(data)) for p in wrong}
    precision, recall = len(flagged & truth) / max(1, len(flagged)), len(flagged & truth) / len(truth)
    assert precision >= 0.6 and recall >= 0.6, (precision, recall)
    groups = [set(g["paths"]) for g in report["duplicates"]]
    found = sum(any({key_for(a, str(data)), key_for(b, str(data))} <= g for g in groups) for a, b in pairs)
    assert found >= 18
    leaking = [g for g in report["duplicates"] if g["crosses_split"]]
    assert len(leaking) >= 18
    leak = report["leak"]  # what the copies do to the reported accuracy (memorised copies score right)
    assert leak["crossing"] >= 18 and leak["with_copies"] >= leak["without_copies"]
    issue = report["label_issues"][0]
    assert set(issue) == {"path", "given", "suggested", "score"} and issue["given"] != issue["suggested"]
    assert set(report) >= {"label_issues", "duplicates", "outliers", "imbalance", "odd_images"}
    assert report["imbalance"]["ratio"] < 1.5 and len(report["imbalance"]["weights"]) == 10


@pytest.mark.slow
def test_the_html_report_has_thumbnails_and_escaped_paths(planted):
    _, _, _, code, html, _, _ = planted
    text = html.read_text()
    assert code == 0 and text.count("data:image/png;base64,") > 50 and "Possibly wrong labels" in text


@pytest.fixture
def shapes_project(tmp_path):
    data = make_shapes_folder(tmp_path / "data", per_class=8, size=32)
    return data, _project(tmp_path, 32, len([p for p in data.iterdir() if p.is_dir()]))


@pytest.mark.usefixtures("one_thread")
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs and links (POSIX)")
def test_fifo_and_link_in_the_folder_and_html_into_a_link(shapes_project, tmp_path, capsys):
    data, project = shapes_project
    klass = next(p for p in sorted(data.iterdir()) if p.is_dir())
    os.mkfifo(klass / "pipe.png")  # reading it would block forever
    outside = tmp_path / "secret.png"
    next(klass.glob("*.png")).rename(outside)
    (klass / "link.png").symlink_to(outside)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tmp_path / "report.html").symlink_to(victim)
    code = main(["audit", project, "--data", str(data), "--html", str(tmp_path / "report.html")])
    err = capsys.readouterr().err
    assert code == 2 and "link" in err and victim.read_text() == "keep me"
    assert main(["audit", project, "--data", str(data), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    odd = {o["path"]: o["problems"] for o in report["odd_images"]}
    assert not any("pipe.png" in p for g in report["duplicates"] for p in g["paths"])
    # a link out of the data folder is skipped by the scan; if one got through, the audit would not read it
    assert not any("link.png" in p for p in odd) or any("link.png" in p and "not read" in " ".join(v)
                                                         for p, v in odd.items())
    assert not any("link.png" in i["path"] for i in report["label_issues"])


def test_odd_images_tiny_blank_dark_and_blurry(tmp_path):
    from PIL import Image, ImageFilter

    rng = np.random.default_rng(0)
    paths = []
    for k in range(6):  # ordinary sharp images set the data set's sharpness
        p = tmp_path / f"ok{k}.png"
        Image.fromarray(rng.integers(0, 255, (64, 64), dtype=np.uint8), "L").save(p)
        paths.append(p)
    Image.new("L", (10, 10), 120).save(tmp_path / "tiny_blank.png")
    Image.fromarray(rng.integers(0, 8, (64, 64), dtype=np.uint8), "L").save(tmp_path / "dark.png")
    coarse = Image.fromarray(rng.integers(40, 215, (4, 4), dtype=np.uint8), "L")
    coarse.resize((64, 64), Image.BICUBIC).filter(ImageFilter.GaussianBlur(4)).save(tmp_path / "blurry.png")
    paths += [tmp_path / n for n in ("tiny_blank.png", "dark.png", "blurry.png")]
    found = {Path(o.path).name: o.problems for o in odd_images([str(p) for p in paths],
                                                                [pixel_facts(str(p)) for p in paths])}
    assert found == {"tiny_blank.png": ["tiny", "blank"], "dark.png": ["very dark"],
                     "blurry.png": ["very blurry"]}


def test_exact_copies_group_and_say_when_they_cross_the_split(tmp_path):
    rng = np.random.default_rng(1)
    feats = rng.normal(size=(4, 16))
    paths = [str(tmp_path / f"{k}.png") for k in range(4)]
    hashes = ["a", "a", "b", None]
    groups = duplicate_groups(paths, unit_rows(feats), hashes, {paths[0]: "train", paths[1]: "val"})
    assert len(groups) == 1 and groups[0].kind == "exact" and groups[0].crosses_split


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs and links (POSIX)")
def test_pixel_checks_never_follow_a_link_or_open_a_fifo(tmp_path):
    from PIL import Image

    Image.new("L", (32, 32), 90).save(tmp_path / "real.png")
    (tmp_path / "link.png").symlink_to(tmp_path / "real.png")
    os.mkfifo(tmp_path / "pipe.png")
    assert "not read" in pixel_facts(str(tmp_path / "link.png")).problem
    assert "not read" in pixel_facts(str(tmp_path / "pipe.png")).problem  # returns at once, never blocks
    assert pixel_facts(str(tmp_path / "real.png")).digest


@pytest.mark.slow
def test_apply_fixes_saves_the_suggestions_and_which_audit(planted):
    root, _, pairs, code, _, out, project = planted
    report, data = json.loads(out), json.loads(Path(project).read_text())["data"]
    assert code == 0 and data["audit"]["id"].startswith("audit-")
    assert data["audit"]["images"] == report["images"]
    excluded = {o["path"] for o in data["overrides"] if o["action"] == "exclude"}
    copies = {key_for(b, str(root / "digits")) for _, b in pairs}
    assert copies <= excluded  # every leaking validation copy is left out
    suspects = {i["path"] for i in report["label_issues"] if i["path"].startswith("train/")}
    assert suspects <= excluded <= suspects | copies  # validation suspects are the user's call
    assert data["duplicate_groups"]


def test_an_undecodable_image_is_described_in_words(tmp_path):
    """Issue 22, item 10: the audit said 'cannot be decoded (UnidentifiedImageError)'."""
    (tmp_path / "fake.png").write_bytes(b"this is not a picture" * 10)
    problem = pixel_facts(str(tmp_path / "fake.png")).problem
    assert "cannot be read as an image" in problem and "Error" not in problem
