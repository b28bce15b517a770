"""Regenerate docs/screenshots/compress.png: the Compress dialog after a run, one step picked.

A resnet18 (random start) trained two epochs on 32x32 digits from the command line, opened in a real
window (as ``main.py`` builds it), compressed from File > Compress for a device… in four steps toward
a third of the parameters. A minute or two on two CPU cores. Run under a display (or Xvfb):

    xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python -m tools.screenshots.compress
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from tools.screenshots.design import open_window, wait_idle
from tools.screenshots.training import grab, until


def trained_project(root: Path) -> str:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
    from testkit.data import make_digits_folder

    from designer.cli.main import main

    data = make_digits_folder(root / "digits", per_class=20, size=32)
    project = str(root / "digits.nsd.json")
    for argv in (["new", "resnet18", "--weights", "none", "-o", project],
                 ["edit", project, "--input", "3x32x32", "--classes", "10"],
                 ["train", project, "--data", str(data), "--mode", "full", "--epochs", "3", "--device", "cpu",
                  "-o", str(root / "runs" / "full-3-epochs")]):
        if main(argv) != 0:
            raise SystemExit(f"could not prepare the project: {' '.join(argv)}")
    return project


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="netsurgeon-shots-compress-"))
    os.environ["NETSURGEON_DATA_DIR"] = str(root / "appdata")
    project = trained_project(root)
    app, window = open_window(str(root / "settings.ini"))
    window.open_project(project)
    wait_idle(app, window)
    window.compress_action.trigger()
    dialog = window.compress_dialog
    dialog.resize(1100, 860)
    dialog.goal.setText("params=0.3x")
    dialog.max_drop.setValue(0.05)
    dialog.steps.setValue(4)
    dialog.finetune_epochs.setValue(2)
    dialog.start()
    until(app, lambda: not dialog.runner.running, "the compression")
    if dialog.report is None:
        raise SystemExit(f"the compression did not finish: {dialog.status.text()}")
    dialog.table.selectRow(dialog.row_steps.index(dialog.report["chosen_step"]))
    grab(app, dialog, "compress.png", settle=1.0)
    dialog.close()
    window.close()


if __name__ == "__main__":
    main()
