"""Hostile files, folders and odd values for the CLI (issue 23), one class of attack at a time, and a
driver that runs them.

The classes: (1) writes that could follow a planted link, (2) inputs that could hang a read (named
pipes, devices, PostScript dressed as PNG), (3) legal values that multiply into a huge allocation,
(4) odd values that once became internal errors, (5) paths from a run folder or a scan that lead
outside the data, (6) messages that named the wrong thing. ``cases(root)`` builds what they need
(one real, tiny trained run included, whose copies are then spoiled) and returns ``Case`` records;
``python -m testkit.hostile_fs ROOT OUT`` runs them through ``designer.cli.main.main`` with a time
limit each and writes one JSON line per case: exit status, stderr, seconds, whether it hung, and
whether any file outside the case's own output changed (``victim/`` must never change).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HANG_S = 60  # a case still running after this long counts as a hang
EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n(hello) print flush\nshowpage\n"


@dataclass
class Case:
    name: str
    argv: list[str]
    klass: int  # the class of attack, 1 to 6
    expect: int | None = 2  # 2: refused with one line; 0: accepted and handled safely; None: either
    must_not_say: str = ""  # a phrase the refusal must not use (class 6)
    must_not_exist: list[str] = field(default_factory=list)  # paths no case may create


def _json(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, allow_nan=True))
    return path


def _fifo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return path


def _link(path: Path, target) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, path)
    return path


BASE = {"source": "torchvision", "name": "resnet18", "weights": "none"}


def _project(path: Path, ops=None, **sections) -> Path:
    ops = ops if ops is not None else [
        {"op": "set_input", "height": 32, "width": 32, "channels": 3, "conv_mode": "adapt"},
        {"op": "replace_classifier", "num_classes": 3}]
    return _json(path, {"format": "netsurgeon-project", "version": 1, "recipe": {"base": BASE, "ops": ops},
                        "classes": ["circle", "square", "triangle"], **sections})


def _real_run(root: Path, project: Path, data: Path) -> Path:
    """One tiny run trained for real (1 epoch, stopped state faked so it can be resumed)."""
    from designer.cli.main import main

    run = root / "real-run"
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        code = main(["train", str(project), "--data", str(data), "--mode", "full", "--epochs", "1",
                     "--device", "cpu", "--batch-size", "4", "-o", str(run)])
    assert code == 0, f"the reference run failed ({code})"
    for name in ("summary.json", "history.json"):  # mark it stopped after 1 of 3 epochs
        data_ = json.loads((run / name).read_text())
        data_["status"] = "stopped"
        (run / name).write_text(json.dumps(data_))
    return run


def _spoiled_run(root: Path, run: Path, name: str) -> Path:
    copy = root / "runs" / name
    shutil.copytree(run, copy, symlinks=True)
    return copy


def _class1(root: Path, project: Path, data: Path, run: Path, victim: Path) -> list[Case]:
    """Writes that would follow a link planted where we write."""
    out = []
    # A run folder from elsewhere: error.log and other names are links to the victim's files.
    for spoil in ("last.pt-junk", "history-deep", "error-only"):
        r = _spoiled_run(root, run, f"c1-{spoil}")
        (r / "error.log").unlink(missing_ok=True)
        _link(r / "error.log", victim / "precious.txt")
        if spoil == "last.pt-junk":
            (r / "last.pt").write_bytes(b"\x80\x02}q\x00.")  # a pickle of an empty dict: no 'model'
        elif spoil == "history-deep":
            (r / "history.json").write_text("[" * 995 + "]" * 995)
        out.append(Case(f"resume a run whose error.log links out ({spoil})", ["train", str(project), "--resume",
                                                                              str(r), "--epochs", "3"], 1, None))
    # cached-head with -o under a shared folder: no .features beside -o, and a planted one is not used.
    shared = root / "shared"
    out.append(Case("cached-head -o shared/outer/run", ["train", str(project), "--data", str(data), "--mode",
                                                        "cached-head", "--epochs", "1", "--device", "cpu", "-o",
                                                        str(shared / "outer" / "run")], 1, 0,
                    must_not_exist=[str(shared / "outer" / ".features")]))
    _link(shared / "outer2" / ".features", victim)
    out.append(Case("cached-head -o beside a planted .features link", [
        "train", str(project), "--data", str(data), "--mode", "cached-head", "--epochs", "1", "--device", "cpu",
        "-o", str(shared / "outer2" / "run")], 1, 0))
    # Output files that exist as links to the victim: replaced, never written through.
    export_dir = root / "c1-export"
    _link(export_dir / "model.pt", victim / "precious.txt")
    out.append(Case("export over a model.pt link", ["export", str(project), "--format", "pt", "-o",
                                                    str(export_dir), "--no-check"], 1, 0))
    for spoil in ("link", "fifo", "huge-pid", "pid-0"):  # a run.lock left in a run folder from elsewhere
        r = _spoiled_run(root, run, f"c1-lock-{spoil}")
        lock = r / "run.lock"
        if spoil == "link":
            _link(lock, victim / "precious.txt")
        elif spoil == "fifo":
            _fifo(lock)
        else:
            lock.write_text(str(10**30) if spoil == "huge-pid" else "0")
        out.append(Case(f"resume a run with a planted run.lock ({spoil})", ["train", str(project), "--resume", str(r),
                                                                          "--epochs", "2"], 1, None))
    linked_project = _link(root / "c1-linked.nsd.json", victim / "project.nsd.json")
    out.append(Case("edit a project through a link", ["edit", str(linked_project), "--freeze", "layer1"], 1, 0))
    return out


def _class2(root: Path, project: Path, data: Path, run: Path, image: Path) -> list[Case]:
    """Reads that could block forever or never end."""
    fifo_dir = root / "c2"
    fifo = _fifo(fifo_dir / "pipe.nsd.json")
    fifo_png = _fifo(fifo_dir / "pipe.png")
    fifo_pt = _fifo(fifo_dir / "pipe.pt")
    eps = fifo_dir / "eps.png"
    eps.write_bytes(EPS)
    zero_proj = _link(fifo_dir / "zero.nsd.json", "/dev/zero")
    zero_png = _link(fifo_dir / "zero.png", "/dev/zero")
    p, d = str(project), str(data)
    out = [Case(f"{cmd} on a FIFO project", [cmd, str(fifo), *rest], 2) for cmd, rest in (
        ("inspect", []), ("edit", ["--freeze", "layer1"]), ("train", ["--data", d]),
        ("export", ["--format", "pt", "-o", str(root / "c2-out")]), ("predict", [str(image)]))]
    out += [Case("inspect /dev/zero as a project", ["inspect", str(zero_proj)], 2),
            Case("inspect /dev/stdin as a project", ["inspect", "/dev/stdin"], 2),
            Case("inspect /proc/self/environ", ["inspect", "/proc/self/environ"], 2)]
    for name, img in (("FIFO", fifo_png), ("EPS", eps), ("/dev/zero", zero_png), ("/proc/self/mem", "/proc/self/mem")):
        # predict reports each unreadable image on its line and exits 1 (its documented status)
        out.append(Case(f"predict a {name} image", ["predict", p, str(img)], 2, 1))
        out.append(Case(f"explain a {name} image", ["explain", p, str(img), "-o", str(root / "c2-explain")], 2))
    for cmd in ("export", "new"):
        for name, w in (("FIFO", fifo_pt), ("/dev/zero", "/dev/zero"), ("/proc/self/mem", "/proc/self/mem")):
            argv = (["export", p, "--weights", str(w), "--format", "pt", "-o", str(root / "c2-w")] if cmd == "export"
                    else ["new", "resnet18", "--weights", str(w), "-o", str(root / "c2-new.nsd.json")])
            out.append(Case(f"{cmd} --weights {name}", argv, 2))
    out.append(Case("evaluate --weights FIFO", ["evaluate", p, "--weights", str(fifo_pt), "--data", d], 2))
    # A data folder holding a FIFO and PostScript among its images: scanned past, never opened.
    hostile_data = root / "c2-data"
    shutil.copytree(data, hostile_data)
    _fifo(hostile_data / "circle" / "pipe.png")
    (hostile_data / "square" / "eps.png").write_bytes(EPS)
    _link(hostile_data / "triangle" / "zero.png", "/dev/zero")
    out.append(Case("train on a folder with a FIFO, EPS and /dev/zero", [
        "train", p, "--data", str(hostile_data), "--mode", "linear-probe", "-o", str(root / "c2-run")], 2, 0))
    # A run's split.json and history.json replaced by pipes.
    for name in ("split.json", "history.json", "last.pt"):
        r = _spoiled_run(root, run, f"c2-{name}")
        (r / name).unlink()
        _fifo(r / name)
        out.append(Case(f"resume a run whose {name} is a FIFO", ["train", p, "--resume", str(r), "--epochs", "3"], 2,
                        None))
    r = _spoiled_run(root, run, "c2-split-entry")
    split = json.loads((r / "split.json").read_text())
    split["val"][0][0] = str(fifo_png)
    (r / "split.json").write_text(json.dumps(split))
    out.append(Case("evaluate a run whose split names a FIFO", ["evaluate", p, "--weights", str(r), "--data",
                                                               split["root"], "--subset", "val"], 2, 0))
    return out


def _class3(root: Path, project: Path, image: Path) -> list[Case]:
    """Legal values whose product is a huge allocation."""
    folder = root / "c3"
    huge_ops = [{"op": "set_input", "height": 4096, "width": 4096, "channels": 1024, "conv_mode": "adapt"},
                {"op": "replace_classifier", "num_classes": 3}]
    huge = _project(folder / "huge.nsd.json", huge_ops)
    big_ops = [{"op": "set_input", "height": 4096, "width": 4096, "channels": 3, "conv_mode": "adapt"},
               {"op": "replace_classifier", "num_classes": 3}]
    big = _project(folder / "big.nsd.json", big_ops)
    p = str(project)
    out = [Case(f"{cmd} 1024x4096x4096", argv, 3) for cmd, argv in (
        ("inspect", ["inspect", str(huge)]), ("export", ["export", str(huge), "--format", "pt", "-o",
                                                         str(folder / "o")]),
        ("predict", ["predict", str(huge), str(image)]), ("edit", ["edit", p, "--input", "1024x4096x4096"]),
        ("edit 512", ["edit", p, "--input", "512x4096x4096"]), ("inspect --input", ["inspect", p, "--input",
                                                                                   "1024x4096x4096"]))]
    out += [Case("predict 3x4096x4096 under a 1 GB limit", ["predict", str(big), str(image), "--memory-limit", "1"], 3),
            Case("export 3x4096x4096 under a 1 GB limit", ["export", str(big), "--format", "pt", "-o",
                                                             str(folder / "o2"), "--memory-limit", "1"], 3),
            Case("explain 3x4096x4096 under a 1 GB limit", ["explain", str(big), str(image), "-o",
                                                              str(folder / "o3"), "--memory-limit", "1"], 3),
            Case("inspect 3x4096x4096 under a 1 GB limit", ["inspect", str(big), "--memory-limit", "1"], 3, 1),
            Case("lr-find 3x4096x4096 under a 1 GB limit", ["lr-find", str(big), "--data", str(image.parent.parent),
                                                              "--memory-limit", "1", "--device", "cpu"], 3),
            Case("train 3x4096x4096 --batch-size 4096", ["train", str(big), "--data", str(image.parent.parent),
                                                          "--batch-size", "4096", "--mode", "full", "--new-classes",
                                                          "-o", str(folder / "r1")], 3),
            Case("--memory-limit nan", ["inspect", p, "--memory-limit", "nan"], 3),
            Case("--memory-limit -1", ["inspect", p, "--memory-limit", "-1"], 3)]
    return out


def _class4(root: Path, project: Path, data: Path, run: Path) -> list[Case]:
    """Odd values that once became internal errors."""
    folder = root / "c4"
    folder.mkdir(parents=True, exist_ok=True)
    p, d = str(project), str(data)
    texts = {
        "v0-no-base": json.dumps({"version": 0}), "v0-ops-only": json.dumps({"ops": []}),
        "v0-base-only-format": json.dumps({"format": "netsurgeon-project", "version": 0}),
        "digits-5000": '{"format": "netsurgeon-project", "version": 1, "recipe": {"base": {}, "ops": []}, "x": '
                       + "9" * 5000 + "}",
        "digits-in-op": json.dumps({"format": "netsurgeon-project", "version": 1, "recipe": {"base": BASE, "ops": [
            {"op": "set_input", "height": 32, "width": 32, "channels": 3}]}}).replace("32", "3" * 5000, 1),
        "version-digits": '{"format": "netsurgeon-project", "version": ' + "1" * 5000 + "}",
        "float-digits": '{"format": "netsurgeon-project", "version": 1, "recipe": {"base": ' + json.dumps(BASE)
                        + ', "ops": []}, "training": {"lr": 1' + "0" * 5000 + ".5}}",
        "surrogate-class": '{"format": "netsurgeon-project", "version": 1, "recipe": {"base": ' + json.dumps(BASE)
                           + ', "ops": []}, "classes": ["\\ud800", "b"]}',
        "surrogate-run": '{"format": "netsurgeon-project", "version": 1, "recipe": {"base": ' + json.dumps(BASE)
                         + ', "ops": []}, "runs": ["\\udfff"]}',
        "surrogate-key": '{"format": "netsurgeon-project", "version": 1, "\\ud800": 1, "recipe": {"base": '
                         + json.dumps(BASE) + ', "ops": []}}',
        "deep-995": '{"format": "netsurgeon-project", "version": 1, "recipe": {"base": ' + json.dumps(BASE)
                    + ', "ops": []}, "data": ' + "[" * 995 + "]" * 995 + "}",
        "deep-object": '{"format": "netsurgeon-project", "version": 1, "explain": ' + '{"a":' * 900 + "1"
                       + "}" * 900 + "}",
        "seed-infinity": '{"format": "netsurgeon-project", "version": 1, "recipe": {"base": ' + json.dumps(BASE)
                         + ', "ops": []}, "data": {"seed": Infinity}}',
        "bad-utf8": None,
    }
    out = []
    for name, text in texts.items():
        path = folder / f"{name}.nsd.json"
        if text is None:
            path.write_bytes(b'{"format": "netsurgeon-project", "classes": ["\xff\xfe"]}')
        else:
            path.write_text(text)
        out.append(Case(f"project {name}", ["inspect", str(path)], 4))
        out.append(Case(f"project {name} (edit)", ["edit", str(path), "--freeze", "layer1"], 4))
    for where in ("²", "٣", "１", "0", "-1", "9" * 50, "1e3", " ", "here\x00"):
        out.append(Case(f"--where {where!r}", ["train", p, "--data", d, "--where", where, "-o",
                                              str(folder / "never")], 4))
    # Weights with odd structure.
    import torch
    from torchvision.models import resnet18

    state = resnet18(num_classes=3).state_dict()
    for name, make in (
        ("metadata-list", lambda s: _with_metadata(s, [1, 2])),
        ("metadata-str", lambda s: _with_metadata(s, "x")),
        ("metadata-nested", lambda s: _with_metadata(s, {"fc": {"version": "two"}})),
        ("meta-tensor", lambda s: {**s, "fc.bias": torch.empty(3, device="meta")}),
        ("sparse-tensor", lambda s: {**s, "fc.weight": s["fc.weight"].to_sparse()}),
        ("all-meta", lambda s: {k: torch.empty(v.shape, device="meta") for k, v in s.items()}),
        ("nested-list", lambda s: {"state_dict": [s]}),
        ("int-keys", lambda s: {i: v for i, v in enumerate(s.values())}),
    ):
        path = folder / f"w-{name}.pt"
        torch.save(make(dict(state)), path)
        out.append(Case(f"export --weights {name}", ["export", p, "--weights", str(path), "--format", "pt", "-o",
                                                      str(folder / f"o-{name}")], 4, None))
        out.append(Case(f"predict --weights {name}", ["predict", p, next(str(i) for i in data.rglob("*.png")),
                                                       "--weights", str(path)], 4, None))
    # Run folders whose files hold the wrong types.
    spoils = {
        "history-epochs-dict": ("history.json", lambda h: {**h, "epochs": {"1": 2}}),
        "history-epochs-str": ("history.json", lambda h: {**h, "epochs": "x"}),
        "history-options-list": ("history.json", lambda h: {**h, "options": [1]}),
        "history-best-nan": ("history.json", lambda h: {**h, "best_val_acc": float("nan")}),
        "history-deep": ("history.json", lambda h: {**h, "x": DEEP}),
        "options-options-str": ("options.json", lambda o: {**o, "options": "fast"}),
        "options-deep": ("options.json", lambda o: {**o, "options": DEEP}),
        "summary-classes-int": ("summary.json", lambda s: {**s, "classes": 5}),
        "split-seed-inf": ("split.json", lambda s: {**s, "seed": float("inf")}),
        "split-seed-nan": ("split.json", lambda s: {**s, "seed": float("nan")}),
        "split-fraction-inf": ("split.json", lambda s: {**s, "val_fraction": float("inf")}),
        "split-val-dict": ("split.json", lambda s: {**s, "val": {"a": 1}}),
        "split-pair-3": ("split.json", lambda s: {**s, "val": [[1, 2, 3]]}),
        "split-classes-str": ("split.json", lambda s: {**s, "classes": "abc"}),
        "split-digits": ("split.json", None),
    }
    for name, (file, change) in spoils.items():
        r = _spoiled_run(root, run, f"c4-{name}")
        if change is None:
            text = (r / file).read_text()
            (r / file).write_text(text.replace('"seed": 0', '"seed": ' + "7" * 5000))
        else:
            text = json.dumps(change(json.loads((r / file).read_text())), allow_nan=True)
            (r / file).write_text(text.replace(json.dumps(DEEP), "[" * 990 + "]" * 990))
        for cmd, argv in (("resume", ["train", p, "--resume", str(r), "--epochs", "3"]),
                          ("evaluate", ["evaluate", p, "--weights", str(r), "--data", d, "--subset", "val"]),
                          ("export from run", ["export", p, "--weights", str(r), "--format", "pt", "-o",
                                               str(folder / f"e-{name}")])):
            out.append(Case(f"{cmd} {name}", argv, 4, None))
    import torch as _t

    ckpt = _t.load(run / "last.pt", weights_only=True)
    for name, change in (("epoch-str", {"epoch": "3"}), ("epoch-float", {"epoch": 1.5}),
                         ("epoch-huge", {"epoch": 10**30}), ("history-dict", {"history": {"a": 1}}),
                         ("best-list", {"best": [1]}), ("scheduler-list", {"scheduler": [1]}),
                         ("optimizer-str", {"optimizer": "adam"}), ("model-list", {"model": [1]}),
                         ("model-str-values", {"model": {"fc.weight": "x"}}), ("epoch-neg", {"epoch": -5})):
        r = _spoiled_run(root, run, f"c4-ckpt-{name}")
        _t.save({**ckpt, **change}, r / "last.pt")
        out.append(Case(f"resume last.pt {name}", ["train", p, "--resume", str(r), "--epochs", "3"], 4))
    # Output names the file system refuses.
    long = "x" * 300
    blocker = folder / "a-file"
    blocker.write_text("x")
    for label, target in (("300-char -o", folder / long), ("-o under a file", blocker / "run")):
        out.append(Case(f"train {label}", ["train", p, "--data", d, "--mode", "linear-probe", "-o", str(target)], 4))
        out.append(Case(f"export {label}", ["export", p, "--format", "pt", "-o", str(target)], 4))
        out.append(Case(f"explain {label}", ["explain", p, str(next(data.rglob("*.png"))), "-o", str(target)], 4))
        out.append(Case(f"new {label}", ["new", "resnet18", "--weights", "none", "-o", str(target) + ".nsd.json"], 4))
    # A class folder whose name is not UTF-8: refused before training, not after.
    bad_data = root / "c4-badname"
    shutil.copytree(data, bad_data)
    os.rename(bad_data / "circle", os.fsdecode(bytes(bad_data / "circle")[:-6] + b"c\xffrcle"))
    out.append(Case("train on a class folder named in non-UTF-8", [
        "train", p, "--data", str(bad_data), "--new-classes", "--mode", "linear-probe", "-o",
        str(root / "c4-badname-run")], 4, must_not_exist=[str(root / "c4-badname-run" / "best.pt")]))
    out.append(Case("train -o a folder named in non-UTF-8", [
        "train", p, "--data", d, "--mode", "linear-probe", "-o", os.fsdecode(bytes(root) + b"/run-\xff")], 4))
    bad_file = root / "c4-badfile"
    shutil.copytree(data, bad_file)
    first = next((bad_file / "circle").glob("*.png"))
    os.rename(first, os.fsdecode(bytes(first.parent) + b"/x\xff.png"))
    out.append(Case("train with an image file named in non-UTF-8", [
        "train", p, "--data", str(bad_file), "--mode", "linear-probe", "-o", str(root / "c4-badfile-run")], 4, 0))
    return out


DEEP = "<990 nested lists>"  # written into the file as text: json.dumps itself cannot nest that deep


def _with_metadata(state: dict, metadata):
    from collections import OrderedDict

    out = OrderedDict(state)
    out._metadata = metadata  # type: ignore[attr-defined]
    return out


def _class5(root: Path, project: Path, data: Path, run: Path) -> list[Case]:
    """Paths from a run folder or a scan that lead outside the data."""
    p = str(project)
    out = []
    outside = root / "victim-images"
    outside.mkdir(exist_ok=True)
    shutil.copy(next(data.rglob("*.png")), outside / "secret.png")
    targets = {"etc-shadow": "/etc/shadow", "proc-mem": "/proc/self/mem", "dev-zero": "/dev/zero",
               "dotdot": str(data / ".." / "victim-images" / "secret.png"), "outside-png": str(outside / "secret.png"),
               "relative": "secret.png", "etc-passwd": "/etc/passwd"}
    for name, target in targets.items():
        r = _spoiled_run(root, run, f"c5-{name}")
        split = json.loads((r / "split.json").read_text())
        split["train"][0][0] = target
        split["val"][0][0] = target
        (r / "split.json").write_text(json.dumps(split))
        out.append(Case(f"resume with split entry {name}", ["train", p, "--resume", str(r), "--epochs", "3"], 5))
        out.append(Case(f"evaluate with split entry {name}", ["evaluate", p, "--weights", str(r), "--data",
                                                               split["root"], "--subset", "val"], 5, 0))
    r = _spoiled_run(root, run, "c5-root-slash")
    split = json.loads((r / "split.json").read_text())
    split["root"], split["train"][0][0] = "/", "/etc/hostname.png"
    (r / "split.json").write_text(json.dumps(split))
    out.append(Case("resume with split root /", ["train", p, "--resume", str(r), "--epochs", "3"], 5))
    # A scan: a class folder linked to / and a file linked outside.
    linked = root / "c5-data"
    shutil.copytree(data, linked)
    _link(linked / "zzz-everything", "/")
    _link(linked / "circle" / "leak.png", outside / "secret.png")
    out.append(Case("scan with a class folder linked to /", ["train", p, "--data", str(linked), "--new-classes",
                                                             "--mode", "linear-probe", "-o", str(root / "c5-run")],
                    5, 0))
    return out


def _class6(root: Path, project: Path) -> list[Case]:
    """Messages that say what is really there."""
    folder = root / "c6"
    fifo = _fifo(folder / "pipe.png")
    (folder / "a-folder.png").mkdir()
    out = []
    for name, target in (("FIFO", fifo), ("device", "/dev/null"), ("device link", _link(folder / "null.png",
                                                                                          "/dev/null")),
                         ("folder", folder / "a-folder.png")):
        out.append(Case(f"explain a {name}", ["explain", str(project), str(target), "-o", str(folder / "o")], 6,
                        must_not_say="does not exist"))
        out.append(Case(f"inspect a {name}", ["inspect", str(target)], 6, must_not_say="does not exist"))
        out.append(Case(f"export --weights a {name}", ["export", str(project), "--weights", str(target), "--format",
                                                       "pt", "-o", str(folder / "w")], 6, must_not_say="does not exist"))
    dangling = _link(folder / "gone.pt", folder / "nothing-here.pt")
    for label, target in (("FIFO", fifo), ("dangling link", dangling), ("device", "/dev/null")):
        out.append(Case(f"resume a {label}", ["train", str(project), "--resume", str(target)], 6,
                        must_not_say="does not exist"))
        out.append(Case(f"evaluate --weights a {label}", ["evaluate", str(project), "--weights", str(target), "--data",
                                                           str(root / "data")], 6, must_not_say="does not exist"))
    out.append(Case("train --data a FIFO", ["train", str(project), "--data", str(fifo)], 6,
                    must_not_say="does not exist"))
    return out


def cases(root: Path) -> list[Case]:
    from testkit.data import make_shapes_folder

    root.mkdir(parents=True, exist_ok=True)
    data = make_shapes_folder(root / "data", per_class=4, size=16)
    project = _project(root / "good.nsd.json")
    victim = root / "victim"
    victim.mkdir(exist_ok=True)
    (victim / "precious.txt").write_text("do not touch")
    _project(victim / "project.nsd.json")
    run = _real_run(root, project, data)
    image = next(data.rglob("*.png"))
    return (_class1(root, project, data, run, victim) + _class2(root, project, data, run, image)
            + _class3(root, project, image) + _class4(root, project, data, run)
            + _class5(root, project, data, run) + _class6(root, project))


def _snapshot(folder: Path) -> dict[str, tuple]:
    out = {}
    for path in sorted(folder.rglob("*")):
        with contextlib.suppress(OSError):
            st = os.lstat(path)
            out[str(path)] = (st.st_mode, st.st_size, st.st_mtime_ns,
                              path.read_bytes() if path.is_file() and not path.is_symlink() else b"")
    return out


class _Hang(Exception):
    pass


def _alarm(signum, frame):
    raise _Hang()


def run(root: Path, out_path: Path) -> None:
    from designer.cli.main import main

    all_cases = cases(root)
    victim, tmp = root / "victim", Path(os.environ.get("TMPDIR", "/tmp"))
    before, tmp_before = _snapshot(victim), set(os.listdir(tmp))
    signal.signal(signal.SIGALRM, _alarm)
    with open(out_path, "w") as out:
        for case in all_cases:
            err = io.StringIO()
            start = time.perf_counter()
            hung = False
            signal.alarm(HANG_S)
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                try:
                    code = main(case.argv)
                except SystemExit as exc:
                    code = exc.code if isinstance(exc.code, int) else 1
                except _Hang:
                    code, hung = -1, True
                finally:
                    signal.alarm(0)
            after = _snapshot(victim)
            written = [k for k in set(before) | set(after) if before.get(k) != after.get(k)]
            written += [p for p in case.must_not_exist if os.path.lexists(p)]
            written += [f"{tmp}/{n}" for n in set(os.listdir(tmp)) - tmp_before if "netsurgeon-logs" in n]
            before = after
            out.write(json.dumps({**asdict(case), "code": code, "stderr": err.getvalue()[-2000:], "hung": hung,
                                  "outside_writes": written, "seconds": time.perf_counter() - start}) + "\n")
            out.flush()


if __name__ == "__main__":
    run(Path(sys.argv[1]), Path(sys.argv[2]))
