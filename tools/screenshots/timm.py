"""Screenshots of timm networks in the window: the gallery filtered to a timm family, and an
edited timm design (random weights: nothing is downloaded).

Run under a display (or Xvfb):
    xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python -m tools.screenshots.timm
"""

from __future__ import annotations

import os
import sys
import tempfile

from tools.screenshots.design import OUT, open_window, save_window, wait_idle

FAMILY = "convnext"
MODEL = "convnext_atto.d2_in1k"


def main() -> int:
    os.makedirs(OUT, exist_ok=True)
    os.environ.setdefault("NETSURGEON_DATA_DIR", tempfile.mkdtemp(prefix="ns-shots-"))
    os.environ.setdefault("NETSURGEON_OFFLINE", "1")
    from designer.model.ops import LRPreset, ReplaceClassifier, SetInput

    app, window = open_window(os.path.join(os.environ["NETSURGEON_DATA_DIR"], "s.ini"))
    window.start.source.setCurrentText("timm")
    window.start.search.setText(FAMILY)
    window.start.select_name(MODEL)
    save_window(app, window, "start-page-timm-convnext.png")
    window.open_model(MODEL, "none")
    wait_idle(app, window)
    for op in (SetInput(64, 64, 1), ReplaceClassifier(5), LRPreset("layer_decay")):
        window.qdoc.edit([op])
        wait_idle(app, window, 0.05)
    save_window(app, window, "designer-timm-convnext.png")
    window.qdoc.doc.mark_saved()
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
