"""Seconds per heat map: Grad-CAM and the gradient-free feature ablation (``designer.inspect.cam``).

Each row maps one image for two classes (its true and its predicted class, as the Results tab
does for a misclassified image) at the default layer (the last before the head whose map is at least 7x7),
median of ``--repeat`` runs after one warm-up. EfficientNet-Lite0 uses its packaged ImageNet
weights; the others are built with random weights (the cost does not depend on the values).

    .venv/bin/python bench/bench_cam.py [--models efficientnet_lite0:64,resnet18:224] [--repeat 5] [--threads 1]

One torch thread by default: on a shared 2-core machine two threads spin against other processes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]


def design_for(name: str, size: int):
    from designer.model.build import build
    from designer.model.ops import ReplaceClassifier, SetInput
    from designer.model.recipe import Recipe

    weights = "default" if name == "efficientnet_lite0" else "none"
    return build(Recipe.for_model(name, weights=weights).with_ops(SetInput(size, size, 3), ReplaceClassifier(4)))


def seconds(fn, repeat: int) -> float:
    fn()  # warm-up: captum's import, allocator
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="efficientnet_lite0:64,resnet18:224",
                        help="comma-separated NAME:SIZE (square input)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's choice)")
    args = parser.parse_args()

    import torch

    from designer.app.explain import resolve_target
    from designer.inspect.cam import MAX_REGIONS, class_maps

    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); 2 classes per image")
    print(f"{'model':<20} {'input':>6} {'layer':<28} {'map':>6} {'Grad-CAM s':>11} {'ablation s':>11}")
    for item in args.models.split(","):
        name, size = item.split(":")
        design = design_for(name, int(size))
        target = resolve_target(design)
        image = torch.randn(3, int(size), int(size))
        times = [seconds(lambda m=method, d=design, x=image, t=target: class_maps(d.model, x, [0, 1], t, m),
                         args.repeat) for method in ("gradcam", "ablation")]
        h, w = target.grid
        layer = f"input of {target.path}" if target.on_input else target.path
        print(f"{name:<20} {size:>6} {layer:<28} {f'{h}x{w}':>6} {times[0]:>11.3f} {times[1]:>11.3f}")
    print(f"(ablation blanks each position of the map, at most {MAX_REGIONS} regions, in batches)")


if __name__ == "__main__":
    main()
