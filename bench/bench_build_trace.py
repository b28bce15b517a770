"""How long it takes from a recipe to a drawn, analyzed graph.

    .venv/bin/python bench/bench_build_trace.py [--repeat 3] [--models resnet50 densenet201] [--threads N]

Prints model | build s | trace s | analyze s | total s | nodes, each the median of
``--repeat`` runs. Build uses random weights (``weights="none"``) and a fresh
base-model cache each run, so it includes initialising the network; trace is
``graph.trace_graph`` (fx trace + shapes and FLOPs on the meta device); analyze
is ``analysis.analyze``, which traces again and runs every check.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch

from designer.inspect.analysis import analyze
from designer.inspect.graph import trace_graph
from designer.model.build import BaseCache, build
from designer.model.recipe import Recipe


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def run_once(name: str) -> tuple[float, float, float, int]:
    recipe = Recipe.for_model(name, weights="none")
    design, t_build = timed(lambda: build(recipe, BaseCache()))
    graph, t_trace = timed(lambda: trace_graph(design.model, design.input_shape))
    _, t_analyze = timed(lambda: analyze(design))
    return t_build, t_trace, t_analyze, graph.number_of_nodes()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--models", nargs="+", default=["resnet50", "densenet201"])
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, median of {args.repeat} runs")
    header = f"{'model':<14} | {'build s':>7} | {'trace s':>7} | {'analyze s':>9} | {'total s':>7} | {'nodes':>5}"
    print(header)
    print("-" * len(header))
    for name in args.models:
        runs = [run_once(name) for _ in range(args.repeat)]
        b, t, a = (statistics.median(r[i] for r in runs) for i in range(3))
        print(f"{name:<14} | {b:7.3f} | {t:7.3f} | {a:9.3f} | {b + t + a:7.3f} | {runs[0][3]:5d}")


if __name__ == "__main__":
    main()
