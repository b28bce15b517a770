"""Where a run trains (``designer.launch``): in this process, in one child process, or in N
torchrun processes, on the CPU; and, where there is a GPU, how fast the GPU paths go.

One design, one data set, one set of options for every row: torchvision resnet18 with random
weights (``weights="none"``, the same start weights in every row: seeded before each build) at
``--size`` x ``--size``, a 3-class head, on a generated shapes folder of ``--images`` PNG files
(80 % train, 20 % validation), mode "full", SGD, batch ``--batch`` in all (torchrun splits it
between the processes, so each step sees the same number of images), ``--epochs`` epochs,
seed 0, ``--workers`` loader workers (the app's default: 0), device cpu. Every row calls
``launch.run.train_run_placed`` as the window and the CLI do:

- ``here``: ``Placement("here")``, the in-process engine (``designer.train.runs.train_run``);
- ``1 child``: ``Placement("processes", 1)``, the generated training script as one plain python
  child process;
- ``N processes``: ``Placement("processes", N)``, the script under torchrun, gloo on the CPU,
  DistributedDataParallel.

Figures per row, from the run's own events: the first epoch's seconds; the median seconds per
epoch over the epochs after the first; the median images/s of those epochs' training part (the
last batch event of each epoch, which counts the whole epoch's training steps, all processes
together); seconds from the call to the first training step and to the final event (the whole
run's wall time, process start-up, script writing and the last checkpoint included); the
epochs validated and the final validation accuracy (the same work was done in every row).
Epoch seconds include validation as each path does it: the script validates after every epoch,
the engine spaces its validations to about a quarter of the time (``designer.train.pacing``),
so on a few epochs it may skip some; ``--validate-every-epoch`` makes the engine validate every
epoch too. Images/s counts training steps only and is the figure to compare.

Threads: the in-process row uses torch's default threads in this process (printed; the
OMP_NUM_THREADS of the environment if set). The launcher gives one child process torch's
default too, and each of N > 1 processes ``torch.get_num_threads() // N`` threads
(OMP_NUM_THREADS, unless the environment sets it already, then every process gets that), so
together they use as many threads as the in-process row.

GPU (only where ``torch.cuda.is_available()``; NOT RUN while this script was written, on a
machine without a GPU): images/s of the in-process engine with amp off and on (bf16 where the
GPU has it), of ``Placement("gpus")`` (one process per GPU: torchrun and nccl from two GPUs on,
plain python for one; amp on), all on the same PNG folder and loaders as the CPU rows (with
``--workers 0`` the GPU mostly waits for image decoding: that is the app's default, and what
``--workers`` is for), and of a plain best-practice PyTorch loop on GPU 0: the same model and
input size, channels_last, bf16 autocast, SGD, batches of random tensors made once in pinned
memory and copied with non_blocking=True each step, so data loading is not the bottleneck;
``--gpu-steps`` timed steps after ``--gpu-warmup``. Without a GPU one line says the GPU figures
were not measured.

    .venv/bin/python bench/bench_distributed.py [--size 64] [--images 300] [--epochs 4] [--batch 32]
        [--processes 1,2] [--workers 0] [--validate-every-epoch] [--json PATH] [--keep]

Numbers are not asserted; they depend on the machine (quote them with its CPUs and load).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import math
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("NETSURGEON_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import torch  # after sys.path: the repository first

from designer.base.errors import DesignerError
from designer.data.folders import scan_folder
from designer.launch.placement import Placement, threads_per_process
from designer.launch.run import train_run_placed
from designer.model.build import build
from designer.model.ops import ReplaceClassifier, SetInput
from designer.model.recipe import Recipe
from designer.train import engine
from designer.train.events import FailedEvent
from designer.train.options import TrainOptions
from designer.train.pacing import Pacing

DEFAULT_THREADS = torch.get_num_threads()  # before anything here could change it
SEED = 0


def make_design(size: int, classes: int):
    """resnet18, random weights, input size x size, a ``classes`` head; the same weights every call."""
    torch.manual_seed(SEED)
    return build(Recipe.for_model("resnet18", weights="none").with_ops(SetInput(size, size, 3),
                                                                      ReplaceClassifier(classes)))


def threads_of(placement: Placement, device: str) -> str:
    """'processes x threads each' as the launcher sets them (designer/launch/run.py, _env)."""
    if not placement.in_child:
        return f"1 x {torch.get_num_threads()}"
    count = placement.count(device)
    if device != "cpu":
        return f"{count} x GPU"
    env = os.environ.get("OMP_NUM_THREADS")
    if env:
        return f"{count} x {env}"  # the launcher leaves a set OMP_NUM_THREADS as it is
    return f"{count} x {DEFAULT_THREADS if count == 1 else threads_per_process(count)}"


def label_of(placement: Placement, device: str) -> str:
    if not placement.in_child:
        return "here (in-process engine)"
    count = placement.count(device)
    if placement.where == "gpus":
        return f"gpus ({count} process{'es' if count > 1 else ''}, {'nccl' if count > 1 else 'python'})"
    return "1 child process" if count == 1 else f"{count} processes (torchrun, gloo)"


@contextlib.contextmanager
def engine_validates_every_epoch(on: bool):
    """The engine's pacing with a budget of 1.0 (validate after every epoch, as the script does)."""
    if not on:
        yield
        return
    saved = engine.Pacing
    engine.Pacing = functools.partial(Pacing, val_budget=1.0)
    try:
        yield
    finally:
        engine.Pacing = saved


def median_or_nan(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


def measure(name: str, placement: Placement, split, options: TrainOptions, args, tmp: Path) -> dict:
    """One run through ``train_run_placed``; its figures from its events (see the docstring)."""
    design = make_design(args.size, len(split.classes))
    run_dir = tmp / re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    row = {"name": name, "placement": placement.to_dict(), "threads": threads_of(placement, options.device),
           "device": options.device, "amp": options.amp}
    print(f"  running {name} ({row['threads']} threads) ...", flush=True)
    events, first_step, t0 = [], None, time.perf_counter()
    try:
        with engine_validates_every_epoch(args.validate_every_epoch):
            for event in train_run_placed(design, split, options, run_dir, placement=placement):
                if first_step is None and event.kind == "batch" and event.epoch >= 1:
                    first_step = time.perf_counter() - t0
                events.append(event)
    except DesignerError as exc:  # refused before it started (e.g. a GPU that cannot be used)
        events.append(FailedEvent(message=exc.message, hint=exc.hint or ""))
    row["wall_s"] = time.perf_counter() - t0
    final = events[-1] if events else None
    if final is None or final.kind != "finished":
        row["error"] = getattr(final, "message", repr(final)) + " " + getattr(final, "hint", "")
        print(f"  {name} did not finish: {row['error']}", flush=True)
        return row
    epochs = [e for e in events if e.kind == "epoch" and e.epoch >= 1]
    last_batch = {}  # epoch -> its last batch event (images/s over the epoch's training steps)
    for e in events:
        if e.kind == "batch" and e.epoch >= 1:
            last_batch[e.epoch] = e
    per_epoch_img_s = [last_batch[e.epoch].images_per_s for e in epochs if e.epoch in last_batch]
    row.update({
        "first_epoch_s": epochs[0].epoch_time_s if epochs else math.nan,
        "epoch_s": median_or_nan([e.epoch_time_s for e in epochs[1:]]),
        "img_s": median_or_nan(per_epoch_img_s[1:]),
        "first_epoch_img_s": per_epoch_img_s[0] if per_epoch_img_s else math.nan,
        "to_first_step_s": first_step if first_step is not None else math.nan,
        "epoch_times_s": [e.epoch_time_s for e in epochs],
        "epoch_img_s": per_epoch_img_s,
        "validated": sum(e.val_acc is not None for e in epochs),
        "epochs": len(epochs),
        "final_val_acc": epochs[-1].val_acc if epochs else None,
        "steps_per_epoch": events[0].steps_per_epoch if events[0].kind == "start" else None,
    })
    return row


def print_cpu_table(rows: list[dict]) -> None:
    print(f"{'where':32}{'threads':>12}{'1st epoch s':>12}{'epoch s':>9}{'img/s':>8}{'1st step s':>11}"
          f"{'wall s':>8}{'val':>6}{'val acc':>8}")
    for r in rows:
        if "error" in r:
            print(f"{r['name']:32}{r['threads']:>12}  failed: {r['error'][:120]}")
            continue
        print(f"{r['name']:32}{r['threads']:>12}{r['first_epoch_s']:12.2f}{r['epoch_s']:9.2f}{r['img_s']:8.1f}"
              f"{r['to_first_step_s']:11.2f}{r['wall_s']:8.1f}{r['validated']:>3}/{r['epochs']:<2}"
              f"{_number(r['final_val_acc']):>8}")


def _number(value, digits: int = 3) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def _plain(value):
    """JSON-ready: NaN (a figure that could not be had) becomes null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


# --- GPU --------------------------------------------------------------------------------------


def plain_loop_img_s(model, size: int, classes: int, batch: int, steps: int, warmup: int, lr: float) -> float:
    """Images/s of a plain best-practice training loop on cuda:0 (see the docstring)."""
    device = torch.device("cuda", 0)
    torch.backends.cudnn.benchmark = True
    model = model.to(device, memory_format=torch.channels_last).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=1e-4)
    criterion = torch.nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(SEED)
    batches = [(torch.randn(batch, 3, size, size, generator=generator).pin_memory(),
                torch.randint(0, classes, (batch,), generator=generator).pin_memory()) for _ in range(8)]

    def step(i: int) -> torch.Tensor:
        x, y = batches[i % len(batches)]
        x = x.to(device, non_blocking=True, memory_format=torch.channels_last)
        y = y.to(device, non_blocking=True)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = criterion(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.detach()

    for i in range(warmup):
        loss = step(i)
    float(loss)  # waits for the GPU
    t0 = time.perf_counter()
    for i in range(steps):
        loss = step(i)
    float(loss)
    return batch * steps / (time.perf_counter() - t0)


def gpu_rows(split, options: TrainOptions, args, tmp: Path) -> list[dict]:
    rows = []
    for amp in (False, True):
        opts = replace(options, device="cuda", amp=amp)
        rows.append(measure(f"gpu here, amp {'on' if amp else 'off'}", Placement("here"), split, opts, args, tmp))
    placement = Placement("gpus")
    rows.append(measure(f"gpu {label_of(placement, 'cuda')}, amp on", placement, split,
                        replace(options, device="cuda", amp=True), args, tmp))
    print("  running plain PyTorch loop on cuda:0 ...", flush=True)
    model = make_design(args.size, len(split.classes)).model
    img_s = plain_loop_img_s(model, args.size, len(split.classes), args.batch, args.gpu_steps, args.gpu_warmup,
                             options.resolved_lr)
    rows.append({"name": "gpu plain loop (bf16, channels_last, preloaded)", "img_s": img_s, "device": "cuda",
                 "amp": True, "steps": args.gpu_steps})
    return rows


def print_gpu_table(rows: list[dict]) -> None:
    names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    print(f"GPUs: {torch.cuda.device_count()} ({', '.join(names)})")
    print(f"{'GPU variant':52}{'img/s':>9}{'epoch s':>9}{'wall s':>8}")
    for r in rows:
        if "error" in r:
            print(f"{r['name']:52}  failed: {r['error'][:120]}")
            continue
        print(f"{r['name']:52}{r['img_s']:9.1f}{_number(r.get('epoch_s'), 2):>9}{_number(r.get('wall_s'), 1):>8}")


# --- main ------------------------------------------------------------------------------------


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64, help="input height and width")
    parser.add_argument("--images", type=int, default=300, help="images in the generated folder (all classes)")
    parser.add_argument("--classes", type=int, default=3, choices=range(2, 7), metavar="2..6")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch", type=int, default=32, help="batch size of a step, all processes together")
    parser.add_argument("--processes", default="1,2", help="child process counts on the CPU, e.g. 1,2,4")
    parser.add_argument("--workers", type=int, default=0, help="data loader workers in every row")
    parser.add_argument("--validate-every-epoch", action="store_true",
                        help="the in-process engine validates every epoch, as the script does")
    parser.add_argument("--gpu-steps", type=int, default=100, help="timed steps of the plain GPU loop")
    parser.add_argument("--gpu-warmup", type=int, default=20, help="untimed steps before those")
    parser.add_argument("--no-gpu", action="store_true", help="skip the GPU figures even with a GPU")
    parser.add_argument("--json", type=Path, default=None, help="write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the data and run folders (train.log) afterwards")
    args = parser.parse_args(argv)
    counts = [int(c) for c in args.processes.split(",") if c.strip()]
    tmp = Path(tempfile.mkdtemp(prefix="nsdist-"))
    try:
        return run(args, counts, tmp)
    finally:
        if args.keep:
            print(f"data and run folders kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def run(args, counts: list[int], tmp: Path) -> int:

    from testkit.data import SHAPES, make_shapes_folder

    per_class = max(2, args.images // args.classes)
    folder = make_shapes_folder(tmp / "shapes", classes=SHAPES[:args.classes], per_class=per_class,
                                size=args.size)
    split = scan_folder(folder, val_fraction=0.2, seed=SEED)
    options = TrainOptions(mode="full", epochs=args.epochs, batch_size=args.batch, seed=SEED, device="cpu",
                           workers=args.workers, amp=False)
    env_threads = os.environ.get("OMP_NUM_THREADS")
    print(f"resnet18 (weights none) @ {args.size}x{args.size}, {len(split.train)} train / {len(split.val)} val "
          f"images, {args.classes} classes, batch {args.batch} (split between processes), {args.epochs} epochs, "
          f"mode full, SGD lr {options.resolved_lr:g}, workers {args.workers}, seed {SEED}")
    print(f"CPUs (os.cpu_count) {os.cpu_count()}, torch default threads {DEFAULT_THREADS}"
          f"{f' (OMP_NUM_THREADS={env_threads})' if env_threads else ''}, torch {torch.__version__}, "
          f"python {platform.python_version()}, {platform.machine()}")
    print(f"threads: here {torch.get_num_threads()} (this process); 1 child: torch default; N processes: "
          f"{'OMP_NUM_THREADS=' + env_threads + ' each' if env_threads else 'torch threads // N each'}")
    print(f"engine validation: {'every epoch' if args.validate_every_epoch else 'paced (about 1/4 of the time)'};"
          " script: every epoch")
    placements = [Placement("here"), *(Placement("processes", n) for n in counts)]
    rows = [measure(label_of(p, "cpu"), p, split, options, args, tmp) for p in placements]
    print()
    print("CPU: epoch s = median over epochs 2..N; img/s = median training images/s of those epochs; "
          "1st step s and wall s from the call (process start-up included); val = epochs validated")
    print_cpu_table(rows)

    gpu, gpu_note = [], ""
    if args.no_gpu:
        gpu_note = "GPU figures not measured: --no-gpu."
    elif not torch.cuda.is_available():
        gpu_note = "GPU figures not measured: no GPU is present (torch.cuda.is_available() is False)."
    else:
        print()
        gpu = gpu_rows(split, options, args, tmp)
        print_gpu_table(gpu)
    if gpu_note:
        print()
        print(gpu_note)

    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(_plain({
            "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "machine": {"cpu_count": os.cpu_count(), "torch_default_threads": DEFAULT_THREADS,
                        "omp_num_threads": env_threads, "torch": torch.__version__,
                        "python": platform.python_version(), "platform": platform.platform(),
                        "gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]},
            "data": {"train": len(split.train), "val": len(split.val), "classes": list(split.classes)},
            "cpu": rows, "gpu": gpu, "gpu_note": gpu_note,
        }), indent=2, default=str))
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
