"""The heat-map screenshots in docs/screenshots/: the Results tab with each misclassified image's
heat map of its predicted class, the enlarged view with both maps (true and predicted class), and
new images classified with their maps.

``shoot_heatmaps`` is called by ``screenshots_training`` after its Results shot. Run alone, this
module takes the same window and data through one shorter run in the default mode (about a
minute on two CPU cores), then shoots. Under a display (or Xvfb):

    xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python -m tools.screenshots.heatmaps
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from tools.screenshots.design import OUT, open_window
from tools.screenshots.training import CLASSES, IMAGE, finish, grab, make_images, train_run, until

# Lite0 at 64x64 ends in a 2x2 map; a block at stride 16 gives 4x4, which shows more of where it
# looked: chosen as a user would, from the graph's context menu ("Use for heat maps").
HEAT_LAYER = "_blocks.10"
MODE = "cached-head"  # the head alone, on frozen ImageNet features: quick, and it still makes mistakes to show
EPOCHS = 10


def shoot_heatmaps(app, window, ws, new_images: list[str] = ()) -> None:
    """With the Results tab showing an evaluation: heat maps on, shot; the first image enlarged, shot;
    then ``new_images`` classified, with their maps, shot."""
    from widgets.design.edit_actions import EditActions

    results = ws.results
    EditActions(window.qdoc, window).use_for_heat_maps(HEAT_LAYER)
    bar = results.heat_bar
    bar.opacity.setValue(55)
    bar.show_combo.setCurrentIndex(bar.show_combo.findData("predicted"))
    until(app, lambda: not results.heat_maps.runner.running and not results.gallery.missing_explanations(),
           "the heat maps", 300)
    grab(app, window, "results-heatmaps.png", settle=1.0)
    dialog = results.gallery.enlarge(results.gallery.item(0))
    dialog.move(120, 80)
    grab(app, dialog, "heatmap-enlarged.png", settle=1.0)
    dialog.close()
    if new_images:
        box = results.predict_box
        results.lower_tabs.setCurrentWidget(box)
        box.predict(list(new_images))
        until(app, lambda: not box.runner.running and box.gallery.count() == len(new_images), "the predictions")
        until(app, lambda: not results.heat_maps.runner.running and not box.gallery.missing_explanations(),
               "their heat maps", 300)
        grab(app, window, "results-heatmaps-predict.png", settle=1.0)


def _new_images(root: Path) -> list[str]:
    """Shapes the run has not seen (another seed), three per class."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
    from testkit.data import make_shapes_folder

    folder = make_shapes_folder(root / "new", classes=CLASSES, per_class=3, size=IMAGE, seed=11)
    return sorted(str(p) for p in folder.rglob("*.png"))


def main() -> int:
    os.makedirs(OUT, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="ns-shots-heat-"))
    os.environ.setdefault("NETSURGEON_DATA_DIR", str(tmp / "appdata"))
    import torch

    from designer.model.ops import ReplaceClassifier, SetInput
    from widgets.shell.training_workspace import TrainingWorkspace

    torch.set_num_threads(1)
    app, window = open_window(str(tmp / "s.ini"))
    window.open_model("efficientnet_lite0", "default")
    until(app, lambda: window.qdoc.state is not None and not window.qdoc.busy, "the model to open")
    for op in (SetInput(IMAGE, IMAGE, 3), ReplaceClassifier(len(CLASSES), dropout=0.2)):
        window.qdoc.edit([op])
        until(app, lambda: not window.qdoc.busy, "an edit")
    ws = window.findChild(TrainingWorkspace)
    window.tabs.setCurrentWidget(ws)
    ws.data.root_edit.setText(str(make_images(tmp)))
    ws.data.load_images()
    until(app, lambda: ws.context.split is not None and not ws.data.scan_runner.running, "the scan")
    ws.tabs.setCurrentWidget(ws.training)
    train_run(app, ws, MODE, epochs=EPOCHS)
    ws.tabs.setCurrentWidget(ws.results)
    results = ws.results
    until(app, lambda: results.result is not None and not results.runner.running, "the evaluation", 120)
    # every image, so the gallery holds the mislabelled files too (their maps show what the network saw)
    results.subset_combo.setCurrentIndex(results.subset_combo.findData("all"))
    until(app, lambda: results.result.subset == "all" and not results.runner.running, "evaluation", 120)
    shoot_heatmaps(app, window, ws, _new_images(tmp))
    return finish(window, ws)


if __name__ == "__main__":
    sys.exit(main())
