"""Regenerate the Data / Training / Results / Export screenshots in docs/screenshots/.

A real window (as ``main.py`` builds it) with EfficientNet-Lite0 (its offline ImageNet
weights) at 64x64 for four classes of a generated coloured-shapes folder; one run from
scratch, then a run in the default (recommended) mode shot mid-run, its stage 1 drawn and
the scratch run overlaid; its results;
the export dialog after an export (parity checks) and its script preview (model.py's tab). A few minutes
on two CPU cores. Run under a display (or Xvfb):

    xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python -m tools.screenshots.training
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from tools.screenshots.design import OUT, open_window, save_grab

CLASSES = ("circle", "square", "triangle", "cross")
IMAGE = 64
EPOCHS = 4  # the recommended mode makes this 10 (at least 100 steps of 8 images)
SCRATCH_EPOCHS = 10  # as many steps as the recommended run
TIMEOUT_S = 600


def pump(app, seconds: float) -> None:
    end = time.time() + seconds
    while time.time() < end:
        app.processEvents()
        time.sleep(0.01)


def until(app, condition, what: str, timeout: float = TIMEOUT_S) -> None:
    end = time.time() + timeout
    while not condition():
        if time.time() > end:
            raise TimeoutError(f"timed out waiting for {what}")
        app.processEvents()
        time.sleep(0.02)


def grab(app, widget, name: str, settle: float = 0.6) -> str:
    pump(app, settle)
    return save_grab(widget, name)


def make_images(root: Path) -> Path:
    """Four shape classes, a little uneven, with what real folders have: two unreadable files
    (the Data tab lists them) and a few mislabelled images (the Results tab's gallery shows them)."""
    import numpy as np

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
    from testkit.data import make_shapes_folder, shape_image

    counts = {"circle": 26, "square": 26, "triangle": 24, "cross": 20}
    folder = make_shapes_folder(root / "shapes", classes=CLASSES, per_class=counts, size=IMAGE, corrupt=2,
                                seed=3)
    rng = np.random.default_rng(7)
    for into, looks_like in (("circle", "square"), ("triangle", "circle"), ("square", "cross")):
        for k in range(2):
            shape_image(CLASSES.index(looks_like), IMAGE, rng).save(folder / into / f"{into}_9{k}{into[0]}.png")
    return folder


def train_run(app, ws, mode: str, epochs: int = EPOCHS, until_epoch: int | None = None, on_mid_run=None):
    panel = ws.training
    panel.form.set_mode(mode)
    ws.context.update_training(epochs=epochs, batch_size=8, seed=0, workers=0)
    assert panel.start(), f"{mode} run did not start"
    if until_epoch is not None:
        bar = panel.progress.bar
        # half-way through epoch ``until_epoch`` (its predecessors' validation points drawn)
        # (or its end: the recommended mode may stop early, and then the shot shows the whole run)
        until(app, lambda: not panel.training or (panel.progress.steps > 1 and bar.maximum() > 1
               and bar.value() >= (until_epoch - 1 + 0.5) * panel.progress.steps), "mid-run")
        on_mid_run()
    until(app, lambda: not panel.training, f"the {mode} run to end")
    final = panel.final_event
    print(f"{mode}: {final.kind}, best {final.best_val_acc}", flush=True)
    return final


def main() -> int:
    os.makedirs(OUT, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="ns-shots-train-"))
    os.environ.setdefault("NETSURGEON_DATA_DIR", str(tmp / "appdata"))
    import torch

    from designer.model.ops import ReplaceClassifier, SetInput
    from widgets.export.dialog import ExportDialog
    from widgets.shell.training_workspace import TrainingWorkspace

    torch.set_num_threads(1)  # two threads spin against other processes on a shared 2-core box
    app, window = open_window(str(tmp / "s.ini"))
    window.open_model("efficientnet_lite0", "default")
    until(app, lambda: window.qdoc.state is not None and window.qdoc.state.design is not None
           and not window.qdoc.busy, "the model to open")
    for op in (SetInput(IMAGE, IMAGE, 3), ReplaceClassifier(len(CLASSES), dropout=0.2)):
        window.qdoc.edit([op])
        until(app, lambda: not window.qdoc.busy, "an edit")
    ws = window.findChild(TrainingWorkspace)
    window.tabs.setCurrentWidget(ws)

    folder = make_images(tmp)
    ws.tabs.setCurrentWidget(ws.data)
    ws.data.root_edit.setText(str(folder))
    ws.data.load_images()
    until(app, lambda: ws.context.split is not None and not ws.data.scan_runner.running, "the scan")
    until(app, lambda: not ws.data.preview_runner.running and not ws.data.preview_timer.isActive(),
           "the preview", 60)
    grab(app, window, "data.png", settle=1.5)

    ws.tabs.setCurrentWidget(ws.training)
    scratch = train_run(app, ws, "scratch", epochs=SCRATCH_EPOCHS)
    ws.training.runs.set_checked(str(Path(scratch.run_dir).resolve()))
    train_run(app, ws, "recommended", until_epoch=5,
           on_mid_run=lambda: grab(app, window, "training-mid-run.png", settle=0.3))

    ws.tabs.setCurrentWidget(ws.results)
    results = ws.results
    until(app, lambda: results.result is not None and not results.runner.running, "the evaluation", 120)
    if not results.result.evaluation.misclassified:  # the mislabelled files all fell in the training part
        results.subset_combo.setCurrentIndex(results.subset_combo.findData("all"))
        until(app, lambda: results.result.subset == "all" and not results.runner.running, "evaluation", 120)
    grab(app, window, "results.png", settle=1.0)

    dialog = ExportDialog(window.qdoc, window, context=ws.context)
    dialog.resize(1100, 760)
    dialog.show()
    until(app, lambda: "import torch" in dialog.script.toPlainText(), "the script preview", 120)
    for fmt, check in dialog.checks.items():
        check.setChecked(fmt in ("pt", "safetensors", "onnx", "script"))
    dialog.folder.setText(str(tmp / "export"))
    assert dialog.start_export()
    until(app, lambda: not dialog.runner.running, "the export", 300)
    grab(app, dialog, "export.png", settle=0.5)
    dialog.tabs.setCurrentWidget(dialog.script_views["model.py"])  # the network, as code
    grab(app, dialog, "export-script.png", settle=0.5)
    dialog.close()

    return finish(window, ws)


def finish(window, ws) -> int:
    """Close without the unsaved-changes question, the workers stopped."""
    window.qdoc.doc.mark_saved()
    ws.shutdown()
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
