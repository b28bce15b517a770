"""Runs never overwrite each other, one writer per folder, and a diverging run stops cleanly."""

from __future__ import annotations

import json
import os

import pytest
import torch
from testkit.data import make_digits_folder
from testkit.train import final, tiny_design

from designer.base.errors import DesignerError
from designer.base.fileio import TMP_PREFIX
from designer.data.folders import scan_folder
from designer.train.engine import train_loaders
from designer.train.options import TrainOptions
from designer.train.runs import RunLock, train_run

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    return scan_folder(make_digits_folder(tmp_path_factory.mktemp("digits"), per_class=6, size=16), 0.25)


def opts(**kw) -> TrainOptions:
    return TrainOptions(**{"mode": "full", "epochs": 1, "batch_size": 8, "device": "cpu", "optimizer": "adam", "lr": 3e-3, **kw})


def test_a_new_run_never_goes_over_another(split, tmp_path):
    run = tmp_path / "r"
    assert final(list(train_run(tiny_design(), split, opts(), run))).kind == "finished"
    best = (run / "best.pt").read_bytes()
    with pytest.raises(DesignerError, match="already holds files"):
        list(train_run(tiny_design(), split, opts(seed=5), run))
    assert (run / "best.pt").read_bytes() == best and not (run / RunLock.NAME).exists()


def test_one_writer_per_run_folder(tmp_path):
    run = tmp_path / "r"
    run.mkdir()
    (run / RunLock.NAME).write_text(str(os.getppid()))  # a live process holds it
    with pytest.raises(DesignerError, match="Another training"):
        RunLock(run, new=False).__enter__()
    (run / RunLock.NAME).write_text("999999999")  # a crashed one: taken over
    (run / f"{TMP_PREFIX}best.pt.1234.pt").write_bytes(b"half a file")
    with RunLock(run, new=False):
        assert (run / RunLock.NAME).read_text() == str(os.getpid())
    assert sorted(p.name for p in run.iterdir()) == []  # the lock and the stale temp are gone


class _Loader:
    """Batches of (images, labels); from the second epoch on the images hold NaN."""

    def __init__(self, split):
        from designer.data.loading import make_loader
        from designer.data.transforms import make_transform

        self.inner = make_loader(split.train, make_transform(tiny_design()), 8)
        self.dataset, self.epoch = self.inner.dataset, 0

    def __len__(self):
        return len(self.inner)

    def __iter__(self):
        self.epoch += 1
        for batch in self.inner:
            images = batch.images if self.epoch == 1 else torch.full_like(batch.images, float("nan"))
            yield images, batch.labels


def test_a_loss_that_becomes_nan_stops_the_run_and_keeps_the_best_weights(split, tmp_path):
    design = tiny_design()
    events = list(train_loaders(design, _Loader(split), None, opts(epochs=3), tmp_path / "r",
                                classes=split.classes))
    last = final(events)
    assert last.kind == "failed" and "loss became NaN" in last.message and "epoch 1" in last.message
    assert all(torch.isfinite(p).all() for p in design.model.parameters())  # the best weights are back
    history = json.loads((tmp_path / "r" / "history.json").read_text())
    assert history["status"] == "failed" and [e["epoch"] for e in history["epochs"]] == [1]
