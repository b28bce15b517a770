"""Write designer/zoo/timm_results.csv from a checkout of timm's repository.

timm publishes ImageNet top-1, parameter counts and GMACs in its repository's
``results/`` folder, not in the wheel. The gallery shows them without building
anything, so a small extract ships with NetSurgeon:

    python -m tools.make_timm_results /path/to/pytorch-image-models

Columns: model (with its pretrained tag), top1 (%), params_m (millions), gmacs
(per image at the benchmark size; by architecture). Source: timm's
``results/results-imagenet.csv`` and ``results/benchmark-infer-amp-nchw-pt240-cu124-rtx4090.csv``
(Apache-2.0, https://github.com/huggingface/pytorch-image-models).
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

RESULTS = "results/results-imagenet.csv"
BENCHMARK = "results/benchmark-infer-amp-nchw-pt240-cu124-rtx4090.csv"
OUT = Path(__file__).resolve().parent.parent / "designer" / "model" / "timm_results.csv"


def _rows(path: Path) -> list[dict]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def main(repo: str) -> int:
    root = Path(repo)
    gmacs = {r["model"]: r["infer_gmacs"] for r in _rows(root / BENCHMARK)}
    params_by_arch = {r["model"]: r["param_count"] for r in _rows(root / BENCHMARK)}
    out: dict[str, tuple] = {}
    for row in _rows(root / RESULTS):  # sorted best first: a model evaluated at two sizes keeps its best
        name = row["model"]
        arch = name.split(".")[0]
        out.setdefault(name, (row["top1"], row["param_count"], gmacs.get(arch, "")))
    for arch, params in params_by_arch.items():  # architectures without a published top-1
        out.setdefault(arch, ("", params, gmacs.get(arch, "")))
    with OUT.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["model", "top1", "params_m", "gmacs"])
        writer.writerows([name, *values] for name, values in sorted(out.items()))
    print(f"{len(out)} rows -> {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
