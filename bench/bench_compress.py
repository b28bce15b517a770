"""Compression to a goal (issue 26): before and after, measured on this machine.

For each network and data set: a project is made, trained by the default (recommended) mode, then
compressed with ``python -m designer compress ... --goal latency=0.5x --max-drop 0.02``. The table
shows the original and the kept model side by side: ONNX Runtime latency at batch 1 and 32 (median
of 20 runs after a warm-up, both models measured in the same process by the compress job), ONNX file
size and validation accuracy; the kept model is float or int8, whichever was fastest within the floor.

Networks: EfficientNet-Lite0 with its packaged ImageNet weights, and resnet18 from random weights
(its ImageNet weights would need a download); both at 64x64, 3 channels (grey images replicated).
Data sets: ``digitsfull`` (scikit-learn's digits, 80/20 per class: 1,438 / 359) and ``lfw``
(scikit-image's LFW subset, faces vs non-faces, 20 per class train, 80 validate), written as in
``bench_transfer.py``. The machine may be shared: latencies are medians, and both sides of a row are
measured minutes apart in one process.

    .venv/bin/python bench/bench_compress.py [--models lite0,resnet18] [--datasets digitsfull,lfw]
        [--work /tmp/netsurgeon-bench-compress] [--max-minutes 3] [--scratch-epochs 8] [--steps 8]
        [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from bench_transfer import prepare  # the same data sets, written the same way

from designer.cli.main import main as cli

MODELS = {"lite0": ("efficientnet_lite0", "default"), "resnet18": ("resnet18", "none")}


def make_project(work: Path, model: str, classes: int) -> Path:
    name, weights = MODELS[model]
    project = work / f"{model}.nsd.json"
    project.unlink(missing_ok=True)
    assert cli(["new", name, "--weights", weights, "-o", str(project)]) == 0
    assert cli(["edit", str(project), "--input", "3x64x64", "--classes", str(classes)]) == 0
    return project


def train(project: Path, folder: Path, run: Path, model: str, max_minutes: float,
          scratch_epochs: int) -> float:
    shutil.rmtree(run, ignore_errors=True)
    t0 = time.perf_counter()
    # the default mode fits a pretrained network's head first; random weights are trained in full instead
    scratch = MODELS[model][1] == "none"
    mode = (["--mode", "full", "--epochs", str(scratch_epochs), "--lr", "0.01"] if scratch else
            ["--max-minutes", str(max_minutes)])
    code = cli(["train", str(project), "--data", str(folder / "train"), "--val-data", str(folder / "val"),
                "--device", "cpu", *mode, "-o", str(run)])
    assert code == 0, f"training failed ({code})"
    return time.perf_counter() - t0


def compress(project: Path, folder: Path, run: Path, out: Path, steps: int) -> tuple[dict, float]:
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    code = cli(["compress", str(project), "--weights", str(run), "--data", str(folder / "train"),
                "--val-data", str(folder / "val"), "--goal", "latency=0.5x", "--max-drop", "0.02",
                "--steps", str(steps), "-o", str(out)])
    assert code == 0, f"compress failed ({code})"
    return json.loads((out / "report.json").read_text()), time.perf_counter() - t0


def row(model: str, dataset: str, report: dict, seconds: float) -> str:
    o, k = report["original"], report["kept"]
    b1, size = k["latency_b1_ms"] / o["latency_b1_ms"], k["size_bytes"] / o["size_bytes"]
    return (f"| {model} | {dataset} | {o['latency_b1_ms']:.2f} → {k['latency_b1_ms']:.2f} (x{b1:.2f}) | "
            f"{o['latency_b32_ms']:.1f} → {k['latency_b32_ms']:.1f} | "
            f"{o['size_bytes'] / 1e6:.2f} → {k['size_bytes'] / 1e6:.2f} (x{size:.2f}) | "
            f"{o['val_acc']:.3f} → {k['val_acc']:.3f} | step {report['chosen_step']}, {k['format']} | "
            f"{seconds / 60:.1f} |")


HEADER = ("| network | data | latency b1 ms | latency b32 ms | ONNX MB | val acc | kept | compress min |\n"
          "|---|---|---|---|---|---|---|---|")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="lite0,resnet18")
    parser.add_argument("--datasets", default="digitsfull,lfw")
    parser.add_argument("--work", default="/tmp/netsurgeon-bench-compress")
    parser.add_argument("--max-minutes", type=float, default=3.0, help="the recommended mode's time cap")
    parser.add_argument("--scratch-epochs", type=int, default=8,
                        help="epochs of resnet18's training from random weights")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--json", help="also write every report here")
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    lines, reports = [HEADER], {}
    for dataset in args.datasets.split(","):
        folder = prepare(dataset, work / "data")
        if isinstance(folder, str):
            lines.append(f"| - | {dataset} | skipped: {folder} | | | | | |")
            continue
        classes = len([p for p in (folder / "train").iterdir() if p.is_dir()])
        for model in args.models.split(","):
            project = make_project(work, model, classes)
            trained = train(project, folder, work / f"run-{model}-{dataset}", model, args.max_minutes,
                            args.scratch_epochs)
            report, seconds = compress(project, folder, work / f"run-{model}-{dataset}",
                                       work / f"out-{model}-{dataset}", args.steps)
            reports[f"{model}/{dataset}"] = {**report, "train_s": trained, "compress_s": seconds}
            lines.append(row(model, dataset, report, seconds))
            print("\n".join(lines), flush=True)
    print("\n".join(lines))
    if args.json:
        Path(args.json).write_text(json.dumps(reports, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
