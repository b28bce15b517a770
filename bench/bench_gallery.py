"""How fast the start page's gallery opens and filters with torchvision's and timm's models.

1. The timm metadata cache built from timm's registry (first run after installing or
   upgrading timm: imports timm and reads every pretrained config).
2. The start page opened in a fresh Python with that cache on disk: list_models()
   (torchvision's weight enums, timm's cached metadata, the Hugging Face cache
   listing), the table built, shown and painted. Also says whether timm was imported.
3. Filtering as you type "convnext" one key at a time, then the library switched to
   timm: each step filters 1,500+ rows and repaints the table.

Run:  QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_gallery.py
Prints a table; numbers depend on the machine (quote them with its CPU).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

REPEATS = 5
TYPED = "convnext"


def _open_and_filter() -> dict:
    """In this (fresh) process: open the start page, then filter as a user types."""
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    import torchvision  # noqa: F401 - the app imports it before the start page: not part of opening it

    start = time.perf_counter()
    from widgets.shell.start_page import StartPage

    page = StartPage()
    page.resize(1500, 900)
    page.show()
    app.processEvents()
    page.repaint()
    opened = time.perf_counter() - start
    keys = []
    for n in range(1, len(TYPED) + 1):
        t = time.perf_counter()
        page.search.setText(TYPED[:n])
        page.table.viewport().repaint()
        app.processEvents()
        keys.append(time.perf_counter() - t)
    t = time.perf_counter()
    page.source.setCurrentText("timm")
    page.table.viewport().repaint()
    app.processEvents()
    source = time.perf_counter() - t
    rows = {"total": len(page.model.infos), "timm": sum(i.source == "timm" for i in page.model.infos),
            "shown": page.proxy.rowCount()}
    return {"open_s": opened, "key_s": keys, "source_s": source, "rows": rows, "timm_imported": "timm" in sys.modules}


def _child(cache_dir: str) -> dict:
    env = {**os.environ, "NETSURGEON_CACHE_DIR": cache_dir, "PYTHONPATH": ROOT}
    out = subprocess.run([sys.executable, __file__, "--child"], env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _cold_cache(cache_dir: str) -> float:
    env = {**os.environ, "NETSURGEON_CACHE_DIR": cache_dir, "PYTHONPATH": ROOT}
    code = ("import time; t = time.perf_counter(); from designer.zoo import timm_gallery; n = len(timm_gallery.entries()); "
            "print(time.perf_counter() - t, n)")
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True)
    return float(out.stdout.split()[0])


def main() -> int:
    cache_dir = tempfile.mkdtemp(prefix="nsbench-gallery-")
    cold = _cold_cache(cache_dir)
    runs = [_child(cache_dir) for _ in range(REPEATS)]
    opens = [r["open_s"] for r in runs]
    keys = [k for r in runs for k in r["key_s"]]
    sources = [r["source_s"] for r in runs]
    rows = runs[0]["rows"]
    print(f"gallery rows: {rows['total']} ({rows['timm']} from timm); after typing '{TYPED}' and choosing timm: "
          f"{rows['shown']} shown; timm imported while opening: {runs[0]['timm_imported']}")
    print(f"{'step':<52} {'median':>9} {'max':>9}")
    print(f"{'timm metadata cache built (once per timm version)':<52} {cold:>8.2f}s {cold:>8.2f}s")
    print(f"{'start page opened and painted (cache on disk)':<52} {statistics.median(opens):>8.3f}s "
          f"{max(opens):>8.3f}s")
    print(f"{'one key typed in the filter (filter + repaint)':<52} {statistics.median(keys) * 1e3:>7.1f}ms "
          f"{max(keys) * 1e3:>7.1f}ms")
    print(f"{'library switched to timm (filter + repaint)':<52} {statistics.median(sources) * 1e3:>7.1f}ms "
          f"{max(sources) * 1e3:>7.1f}ms")
    return 0


if __name__ == "__main__":
    if "--child" in sys.argv:
        print(json.dumps(_open_and_filter()))
        sys.exit(0)
    sys.exit(main())
