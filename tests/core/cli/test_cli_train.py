"""``python -m designer train | evaluate | predict``: end to end on a tiny generated folder,
plus the progress line, augmentation flags, Ctrl+C and the class checks."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from testkit.data import make_shapes_folder

from designer.base.errors import DesignerError
from designer.base.jobs import JobControl
from designer.cli.main import main
from designer.cli.train import ProgressPrinter, _sigint_sets, parse_augment
from designer.train.events import BatchEvent, EpochEvent, FinishedEvent
from designer.train.recommended import MAX_AUTO_EPOCHS, steps_per_epoch
from designer.zoo import builders

# Tiny convs run ~10x slower with 2 threads on a busy 2-core box.
pytestmark = pytest.mark.usefixtures("one_thread")


def test_augment_flags():
    aug = parse_augment("flip, rotate=20,translate,scale=0.2,color")
    assert aug.hflip and aug.rotation == 20 and aug.translate == 0.1 and aug.color == 0.2
    assert aug.scale == pytest.approx((0.8, 1.2))
    assert not parse_augment("none").active and not parse_augment("").active
    with pytest.raises(DesignerError, match="Unknown augmentation 'blur'"):
        parse_augment("blur")


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_progress_line_on_a_terminal_and_plain_lines_elsewhere():
    batch = BatchEvent(epoch=1, step=3, steps_per_epoch=10, global_step=3, loss=0.5, acc=0.75, lr=0.01,
                       eta_s=83, images_per_s=40.0)
    epoch = EpochEvent(epoch=1, train_loss=0.5, train_acc=0.75, val_loss=0.4, val_acc=0.8, lr=0.01,
                       epoch_time_s=2.0, best_val_acc=0.8, best_epoch=1, is_best=True)
    done = FinishedEvent(epochs_done=1, best_val_acc=0.8, best_epoch=1, time_s=3.0, run_dir="run")
    tty, log = _Tty(), io.StringIO()
    for stream in (tty, log):
        printer = ProgressPrinter(2, stream)
        for event in (batch, epoch, done):
            printer(event)
    assert "\r" in tty.getvalue() and "step 3/10" in tty.getvalue() and "ETA 1:23" in tty.getvalue()
    assert "\r" not in log.getvalue() and "step 3/10" not in log.getvalue()
    assert "epoch 1/2" in log.getvalue() and "best.pt" in log.getvalue()


def test_first_ctrl_c_stops_the_second_aborts():

    cancel = JobControl()
    guard = _sigint_sets(cancel, quiet=True)
    guard._handler(2, None)
    assert cancel.cancelled
    with pytest.raises(KeyboardInterrupt):
        guard._handler(2, None)


# --- end to end (needs designer.model.build and designer.app.project) ------------------------------------


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    data = make_shapes_folder(root / "data", per_class=10, size=24)
    path = str(root / "p.json")
    # A builder is code: without --trust-builder nothing is imported and nothing is written. (Trust is
    # process-wide: a module of tests run earlier may have granted it, so it is withdrawn first.)
    builders._TRUSTED.discard("testkit.train:tiny_rgb_cnn")
    assert main(["new", "testkit.train:tiny_rgb_cnn", "-o", path]) == 2 and not Path(path).exists()
    assert main(["new", "testkit.train:tiny_rgb_cnn", "-o", path, "--trust-builder"]) == 0
    assert main(["edit", path, "--input", "3x24x24", "--classes", "3", "--trust-builder"]) == 0
    builders.trust("testkit.train:tiny_rgb_cnn")  # as the window does once the user says yes
    return root, data, path


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_train_evaluate_predict(project, capsys):
    root, data, path = project
    run = root / "run"
    code = main(["train", path, "--data", str(data), "--epochs", "6", "--batch-size", "8", "--optimizer", "adam",
                 "--lr", "0.003", "--device", "cpu", "--seed", "1", "--json", "-o", str(run)])
    events = _json_lines(capsys.readouterr().out)
    assert code == 0, events[-1]
    assert events[0]["kind"] == "start" and events[-1]["kind"] == "finished"
    assert (run / "best.pt").is_file() and (run / "summary.json").is_file()
    saved = json.loads(Path(path).read_text())
    assert str(run) in json.dumps(saved)  # the project lists its run and its classes

    assert main(["evaluate", path, "--weights", str(run / "best.pt"), "--data", str(data), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["num_images"] == 30 and report["accuracy"] > 0.5  # chance is 1/3
    assert len(report["confusion"]) == 3 and set(report["per_class"]) == {"circle", "square", "triangle"}

    assert main(["evaluate", path, "--weights", str(run), "--data", str(data), "--subset", "val"]) == 0
    text = capsys.readouterr().out
    assert "accuracy" in text and "confusion matrix" in text

    image = next((data / "square").iterdir())
    assert main(["predict", path, "--weights", str(run / "best.pt"), str(image), "--topk", "2", "--json"]) == 0
    (pred,) = json.loads(capsys.readouterr().out)
    assert pred["error"] is None and len(pred["top"]) == 2 and pred["top"][0][0] in {"circle", "square", "triangle"}


def test_cached_head_and_probe_modes_from_the_cli(project, capsys):
    root, data, path = project
    frozen = str(root / "frozen.json")
    assert main(["edit", path, "--freeze-until", "6", "-o", frozen]) == 0  # all but the Linear head
    for mode in ("cached-head", "linear-probe"):
        code = main(["train", frozen, "--data", str(data), "--mode", mode, "--epochs", "3", "--device", "cpu",
                     "--json", "-o", str(root / mode)])
        events = _json_lines(capsys.readouterr().out)
        assert code == 0 and events[-1]["kind"] == "finished", events[-1]
        assert json.loads((root / mode / "summary.json").read_text())["mode"] == mode
    # an unfrozen design: the run freezes everything before the head by itself and says so
    code = main(["train", path, "--data", str(data), "--mode", "cached-head", "--device", "cpu", "--json",
                 "-o", str(root / "unfrozen")])
    events = _json_lines(capsys.readouterr().out)
    assert code == 0 and events[-1]["kind"] == "finished"
    assert "frozen for this run only (the design is unchanged)" in events[0]["plan"]


def test_train_with_no_mode_fits_the_head_then_fine_tunes(project, capsys):
    root, data, path = project
    run = root / "recommended"
    assert main(["train", path, "--data", str(data), "--device", "cpu", "-o", str(run)]) == 0
    out = capsys.readouterr().out
    assert "Stage 1: fit the new classifier" in out and "stage 1: classifier fitted on cached features" in out
    summary = json.loads((run / "summary.json").read_text())
    planned = re.search(r"for up to (\d+) optimizer steps", summary["plan"])
    assert summary["mode"] == "recommended" and planned and int(planned.group(1)) > 0
    assert "stage 1" in summary["outcome"] and summary["outcome"] in out.replace("\n", " ")
    history = json.loads((run / "history.json").read_text())
    assert history["epochs"][0]["epoch"] == 0 and history["epochs"][0]["stage"] == "head"
    steps = steps_per_epoch(summary["num_train"], history["options"]["batch_size"])
    assert history["options"]["epochs"] * steps == int(planned.group(1))
    assert history["options"]["epochs"] == MAX_AUTO_EPOCHS  # tiny data: as many epochs as the mode takes


def test_class_mismatches_are_explained(project, tmp_path, capsys):
    _, data, path = project
    main(["train", path, "--data", str(data), "--mode", "linear-probe", "--device", "cpu", "-o",
          str(tmp_path / "r")])  # records the classes in the project
    capsys.readouterr()
    four = make_shapes_folder(tmp_path / "four", classes=("circle", "square", "triangle", "cross"), per_class=3)
    assert main(["train", path, "--data", str(four), "--epochs", "1", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "3 outputs" in err and "4 classes" in err and f"edit {path} --classes 4" in err
    other = make_shapes_folder(tmp_path / "other", classes=("ring", "square", "triangle"), per_class=3)
    assert main(["train", path, "--data", str(other), "--epochs", "1", "--device", "cpu"]) == 2
    assert "--new-classes" in capsys.readouterr().err


def test_resume_continues_a_run_on_its_own_images_and_options(project, tmp_path, capsys):
    _, data, path = project
    run = tmp_path / "run"
    main(["train", path, "--data", str(data), "--mode", "full", "--epochs", "1", "--batch-size", "8",
          "--device", "cpu", "--seed", "3", "--json", "-o", str(run)])
    capsys.readouterr()
    split_before = (run / "split.json").read_text()
    assert main(["train", path, "--resume", str(run), "--epochs", "1"]) == 2  # already done
    assert "already done 1 epochs" in capsys.readouterr().err
    assert main(["train", path, "--resume", str(run), "--epochs", "2", "--lr", "0.5"]) == 2  # fixed with the run
    assert "--lr cannot be given" in capsys.readouterr().err
    code = main(["train", path, "--resume", str(run / "last.pt"), "--epochs", "2", "--json"])
    events = _json_lines(capsys.readouterr().out)
    assert code == 0 and events[0]["start_epoch"] == 2 and events[-1]["kind"] == "finished"
    history = json.loads((run / "history.json").read_text())
    assert [e["epoch"] for e in history["epochs"]] == [1, 2] and history["options"]["seed"] == 3
    assert (run / "split.json").read_text() == split_before  # the same images, not a new scan


def test_separate_validation_folder(project, tmp_path, capsys):
    _, data, path = project
    val = make_shapes_folder(tmp_path / "val", per_class=2, size=24, seed=5)
    code = main(["train", path, "--data", str(data), "--val-data", str(val), "--mode", "linear-probe",
                 "--device", "cpu", "--json", "-o", str(tmp_path / "r")])
    assert code == 0, capsys.readouterr().err
    split = json.loads((tmp_path / "r" / "split.json").read_text())
    assert len(split["train"]) == 30 and len(split["val"]) == 6 and split["layout"] == "train+val folders"


def test_exporting_a_runs_weights_keeps_the_real_base_weights(project, tmp_path, capsys):
    _, data, path = project
    run = tmp_path / "run"
    main(["train", path, "--data", str(data), "--mode", "linear-probe", "--device", "cpu", "-o", str(run)])
    out = tmp_path / "export"
    assert main(["export", path, "--weights", str(run), "--format", "pt", "-o", str(out)]) == 0
    card = json.loads((out / "model.card.json").read_text())
    assert card["recipe"]["base"]["weights"] == "default" and card["base_weights"]["weights"] == "default"
    assert card["metrics"]["status"] == "finished"  # read from the run's history.json


def test_lr_find_prints_a_suggestion(project, capsys):
    _, data, path = project
    assert main(["lr-find", path, "--data", str(data), "--steps", "20", "--batch-size", "8", "--device", "cpu",
                 "--json"]) == 0
    finding = json.loads(capsys.readouterr().out)
    assert len(finding["lrs"]) == len(finding["losses"]) and finding["lrs"][0] <= finding["suggestion"]
    assert main(["lr-find", path, "--data", str(data), "--steps", "20", "--device", "cpu"]) == 0
    assert "suggested base LR" in capsys.readouterr().out


def test_explicit_epochs_and_batch_size_are_used_in_the_recommended_mode(project, capsys):
    root, data, path = project
    run = root / "mine"
    assert main(["train", path, "--data", str(data), "--epochs", "2", "--batch-size", "32", "--device", "cpu",
                 "--json", "-o", str(run)]) == 0
    events = _json_lines(capsys.readouterr().out)
    start, summary = events[0], json.loads((run / "summary.json").read_text())
    assert start["epochs"] == 2 and start["steps_per_epoch"] == steps_per_epoch(summary["num_train"], 32)
    assert "You set the epochs, the batch size" in start["plan"]
    assert sorted(json.loads((run / "options.json").read_text())["options"]["fixed"]) == ["batch_size", "epochs"]


def test_the_time_cap_is_a_flag(project, capsys):
    root, data, path = project
    run = root / "capped"
    assert main(["train", path, "--data", str(data), "--max-minutes", "0.0001", "--device", "cpu", "--json",
                 "-o", str(run)]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert "time cap" in summary["outcome"] and "by about 0.0001 min" in summary["plan"]
    with pytest.raises(SystemExit) as exc:
        main(["train", path, "--data", str(data), "--max-minutes", "nan", "-o", str(root / "x")])
    assert exc.value.code == 2
