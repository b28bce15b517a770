"""Head-only training on cached features.

With every layer before the head frozen (``head_only`` freezes them for the run, whatever
the design says) and no augmentation, the backbone gives each image the same features
every epoch. ``train_cached_head`` computes
them once (the head's input, via a forward pre-hook), caches them (memory and a
``features-<key>.pt`` file) and runs the *same* engine (``training.train_loaders``)
on them, with the model's ``forward`` swapped for "head(features)" during the run.
So optimizer, LR factors, schedule, seeded batch order, events, cancel, best
weights and checkpoints are the engine's, and ``best.pt`` holds the whole model.
Parameter-free layers before the head (a backbone Dropout) run in eval mode while
caching. Epoch 0 ``batch`` events are extraction progress (loss and acc 0).
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from PIL import Image
from torch import nn

from designer.base.errors import DesignerError
from designer.base.fileio import read_json, write_json
from designer.base.jobs import is_cancelled
from designer.data.loading import make_loader
from designer.data.transforms import make_transform
from designer.model.build import Design
from designer.model.ops import Freeze
from designer.train import setup as ts
from designer.train.engine import train_loaders
from designer.train.reporting import failed_event, progress_events, start_event, stopped_before_training

CACHE_MODES = ("cached-head", "linear-probe")
MEMORY_CACHE_BYTES = 1 << 30
_MEMORY: OrderedDict[str, FeatureSet] = OrderedDict()
_LOCK = threading.Lock()  # a GUI may run a probe and a cached-head run side by side


@dataclass
class FeatureSet:
    """Features of the images that loaded, their labels and paths, and what failed."""

    features: torch.Tensor
    labels: torch.Tensor
    paths: list[str]
    failed: list[tuple[str, str]] = field(default_factory=list)


class _FeatureData(torch.utils.data.Dataset):
    """Batched indexing (``__getitems__``): one tensor gather per batch, not 32 item calls."""

    def __init__(self, fs: FeatureSet, device):
        # On a GPU the features live there once, instead of being copied over every step.
        self.x, self.y = fs.features.to(device), fs.labels.to(device)

    def __len__(self) -> int:
        return len(self.y)

    def __getitems__(self, idx):
        idx = torch.as_tensor(idx, device=self.y.device)
        return self.x[idx], self.y[idx]

    @staticmethod
    def collate(batch):
        return batch


def _under(name: str, path: str) -> bool:
    return not path or name == path or name.startswith(path + ".")


# --- eligibility -----------------------------------------------------------------------------


def head_path(model: nn.Module, classifier_path: str, trainable: list[str]) -> str:
    """The module trained on cached features: the classifier, widened to the smallest parent
    holding every trainable parameter, and over parameter-free wrappers (a Dropout beside it)."""
    head = classifier_path
    while "." in head:
        parent = head.rpartition(".")[0]
        outside = any(not _under(n, head) for n in trainable)
        state = [n for n, _ in model.get_submodule(parent).state_dict().items()]
        if not outside and any(not _under(f"{parent}.{n}", head) for n in state):
            break  # the parent holds frozen layers of its own: caching after them pays
        head = parent
    return head


def head_only(design: Design, options) -> tuple[Design, str, str]:
    """(design for the run, head path, what the run does in plain words) for head-only training.

    Everything outside the head is frozen for this run only: the run gets a copy of the design
    whose recipe ends with those freezes (same model object); the design itself is unchanged.
    The features are computed once in eval mode, so augmentation and BatchNorm settings cannot
    change them: augmentation is simply not used."""
    ts.apply_policy(design, design.model, "full")  # the design's own freezing
    classifier = design.classifier_path
    if not classifier:
        raise DesignerError("Head-only training needs a classifier, and this network has none that "
                            "NetSurgeon can find.", hint="Replace the classifier, or train in 'full' mode.")
    trainable = [n for n, p in design.model.named_parameters() if p.requires_grad]
    in_classifier = [n for n in trainable if _under(n, classifier)]
    if not in_classifier:
        raise DesignerError(f"Nothing to train: the classifier '{classifier}' is frozen in the design.",
                            hint="Unfreeze the classifier.")
    head = head_path(design.model, classifier, in_classifier)
    outside = [n for n in trainable if not _under(n, head)]
    run_design = replace(design,
                         recipe=design.recipe.with_ops(*(Freeze(n) for n in outside))) if outside else design
    ts.apply_policy(run_design, run_design.model, "full")
    notes = [f"Head only: the classifier '{head}' is trained on features of the rest of the network, "
             + "computed once."]
    if outside:
        notes.append(f"The design trains {len(outside)} weight tensors before it; they are frozen for this "
                     "run only (the design is unchanged).")
    if options.augment.active:
        notes.append("Augmentation is not used: the features are computed once, from the plain images.")
    return run_design, head, " ".join(notes)


def _check_head_output(model: nn.Module, head: str, x: torch.Tensor) -> bool:
    """Does the model's output equal head(captured input)? Returns whether to flatten it."""
    captured = []
    handle = model.get_submodule(head).register_forward_pre_hook(lambda m, a: captured.append(a[0]))
    try:
        with torch.no_grad():
            ref = ts.logits(model(x))
            got = ts.logits(model.get_submodule(head)(captured[0])) if len(captured) == 1 else None
    finally:
        handle.remove()
    flatten = got is not None and got.shape != ref.shape and got.numel() == ref.numel()
    if got is not None and flatten:
        got = got.reshape(ref.shape)
    if got is None or got.shape != ref.shape or not torch.allclose(got, ref, rtol=1e-4, atol=1e-5):
        raise DesignerError(f"This network does more after its classifier '{head}' (or calls it twice), "
                            "so the classifier cannot be trained on cached features.",
                            hint="Train in 'full' mode.")
    return flatten


# --- extraction and the cache -------------------------------------------------------------


class _Captured(Exception):
    """Raised by the hook to skip the rest of the forward once the features are in hand."""


def extract(model, layer, samples, transform, batch_size=64, device="cpu", cancel=None, pool=False,
            workers=0):
    """Generator: yields (batch, batches) progress; returns a ``FeatureSet`` (None if cancelled).

    Features are the input of module ``layer`` in eval mode, averaged over H, W if ``pool``.
    """
    loader = make_loader(samples, transform, batch_size, workers=workers)
    captured: list[torch.Tensor] = []

    def hook(module, args):
        captured.append(args[0].detach())
        raise _Captured

    handle = model.get_submodule(layer).register_forward_pre_hook(hook)
    was_training = model.training
    model.eval()
    feats, labels, paths, failed = [], [], [], []
    device = torch.device(device)
    try:
        with torch.no_grad(), ts.fast_layout(model, device) as fmt:
            for i, batch in enumerate(loader, 1):
                if is_cancelled(cancel):
                    return None
                failed += batch.failed
                if batch.labels.numel():
                    captured.clear()
                    with contextlib.suppress(_Captured):  # the hook ends the pass at the layer
                        model(ts.to_device(batch.images, device, fmt))
                    if len(captured) != 1:
                        raise DesignerError(f"Layer '{layer}' is not used by this network's forward pass.")
                    f = captured[0].float()
                    feats.append((f.mean((2, 3)) if pool and f.dim() == 4 else f).cpu())
                    labels.append(batch.labels)
                    paths += [samples[int(k)][0] for k in batch.indices]
                yield i, len(loader)
    finally:
        handle.remove()
        model.train(was_training)
    if not feats:
        raise DesignerError("No image could be loaded to compute features.", hint="Check the data folder.")
    return FeatureSet(torch.cat(feats), torch.cat(labels), paths, failed)


def weights_digest(model: nn.Module, layer: str) -> str:
    """Hash of every weight and buffer outside ``layer`` (what the features before it depend on)."""
    h = hashlib.sha256()
    for name, t in model.state_dict().items():
        if not layer or not _under(name, layer):
            t = t.detach().cpu().contiguous()
            h.update(f"{name}{t.dtype}{tuple(t.shape)}".encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def feature_key(model: nn.Module, layer: str, samples, transform, pool: bool = False, digest=None) -> str:
    """Hash of what the features depend on: the weights before ``layer``, the transform, the files."""
    h = hashlib.sha256(f"{layer}|{pool}|{transform!r}|{digest or weights_digest(model, layer)}".encode())
    for path, label in samples:
        p = Path(path)
        stat = p.stat() if p.exists() else None
        h.update(f"{path}|{label}|{stat and stat.st_size}|{stat and stat.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _remember(key: str, fs: FeatureSet) -> None:
    with _LOCK:
        _MEMORY[key] = fs
        _MEMORY.move_to_end(key)
        while len(_MEMORY) > 1 and sum(v.features.nbytes for v in _MEMORY.values()) > MEMORY_CACHE_BYTES:
            _MEMORY.popitem(last=False)


def _load_cached(key: str, cache_dir) -> FeatureSet | None:
    with _LOCK:
        if key in _MEMORY:
            _MEMORY.move_to_end(key)
            return _MEMORY[key]
    path = Path(cache_dir or "") / f"features-{key[:20]}.pt"
    try:
        data = torch.load(path, map_location="cpu", weights_only=True) if cache_dir and path.is_file() else {}
    except Exception:  # noqa: BLE001 -- a damaged cache file is rebuilt, never an error
        data = {}
    if not _well_formed(data, key):  # a cache file from elsewhere may hold anything: rebuild it
        return None
    fs = FeatureSet(data["features"], data["labels"], list(data["paths"]), [tuple(f) for f in data["failed"]])
    _remember(key, fs)
    return fs


def _well_formed(data, key: str) -> bool:
    if not isinstance(data, dict) or data.get("key") != key:
        return False
    features, labels, paths, failed = (data.get(k) for k in ("features", "labels", "paths", "failed"))
    return (isinstance(features, torch.Tensor) and isinstance(labels, torch.Tensor) and features.dim() >= 1
            and labels.dim() == 1 and len(features) == len(labels) and features.is_floating_point()
            and isinstance(paths, list) and all(isinstance(p, str) for p in paths)
            and isinstance(failed, list)
            and all(isinstance(f, (list, tuple)) and len(f) == 2 for f in failed))


def _store(key: str, fs: FeatureSet, cache_dir) -> None:
    _remember(key, fs)
    if cache_dir:
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        ts.save_checkpoint({"key": key, "features": fs.features, "labels": fs.labels, "paths": fs.paths,
                            "failed": [list(f) for f in fs.failed]},
                           Path(cache_dir) / f"features-{key[:20]}.pt")


def cached_features(design: Design, layer, sample_lists, options, cache_dir=None, cancel=None, pool=False):
    """Generator over several sample lists: yields (done, total) batches; returns [FeatureSet] or None."""
    device = ts.resolve_device(options.device)
    design.model.to(device)
    transform = make_transform(design)
    digest = weights_digest(design.model, layer)
    keys = [feature_key(design.model, layer, s, transform, pool, digest) if s else "" for s in sample_lists]
    found = [_load_cached(k, cache_dir) if s else None for k, s in zip(keys, sample_lists, strict=True)]
    # No gradients: on a GPU bigger batches are cheaper per image. On a CPU they are not (Lite0 at 64x64,
    # one thread: 1.3 ms an image at batch 32, 1.75 at 64, 4.9 at 256), so 32 there.
    bs = max(options.batch_size, 64) if device.type != "cpu" else 32
    total = sum(math.ceil(len(s) / bs) for s, f in zip(sample_lists, found, strict=True) if s and f is None)
    done, out = 0, []
    for key, samples, fs in zip(keys, sample_lists, found, strict=True):
        if fs is None and samples:
            gen = extract(design.model, layer, samples, transform, bs, device, cancel, pool, options.workers)
            try:
                while True:
                    step, _ = next(gen)
                    yield done + step, total
            except StopIteration as stop:
                fs = stop.value
            if fs is None:
                return None
            done += math.ceil(len(samples) / bs)
            _store(key, fs, cache_dir)
        out.append(fs)
    return out


# --- head-only training on cached features -------------------------------------------------


def _steps(n: int, bs: int) -> int:
    drop_last = n > bs and n % bs == 1  # the engine's rule: a batch of 1 breaks BatchNorm
    return max(1, n // bs if drop_last else math.ceil(n / bs))


def _feature_loaders(train_fs: FeatureSet, val_fs: FeatureSet | None, options):
    """Loaders over features that shuffle exactly like ``training.train``'s image loader."""
    n, bs, device = len(train_fs.labels), options.batch_size, ts.resolve_device(options.device)
    g = torch.Generator()
    g.manual_seed(options.seed)
    train = torch.utils.data.DataLoader(_FeatureData(train_fs, device), batch_size=bs, shuffle=True,
                                        generator=g,
                                        drop_last=n > bs and n % bs == 1, collate_fn=_FeatureData.collate)
    val = None
    if val_fs is not None:
        val = torch.utils.data.DataLoader(_FeatureData(val_fs, device), batch_size=max(bs, 256),
                                          collate_fn=_FeatureData.collate)
    return train, val


def train_cached_head(design: Design, split, options, run_dir, cancel=None, resume=None, cache_dir=None):
    """Train only the head on cached backbone features; yields ``training`` events.

    Raises DesignerError before ``start`` when the design cannot be (see ``head_only``).
    ``cache_dir``: where the feature file goes (default: the run folder); share one across runs.
    """
    ts.check_split(design, split)
    design, head, plan = head_only(design, options)
    run_dir, t0 = Path(run_dir), time.perf_counter()
    start_epoch = int(ts.load_checkpoint(resume)["epoch"]) + 1 if resume else 1
    yield start_event(design, options, split, _steps(len(split.train), options.batch_size), options.epochs,
                      run_dir, start_epoch, plan=plan)
    model = design.model
    try:
        device = ts.resolve_device(options.device)
        model.to(device)
        x0 = make_transform(design)(Image.new("RGB", (8, 8), (90, 140, 200)))  # any image of the right shape
        flatten = _check_head_output(model.eval(), head, torch.stack([x0, -x0]).to(device))
        gen = cached_features(design, head, [split.train, split.val], options, cache_dir or run_dir, cancel)
        result = yield from progress_events(gen, t0, len(split.train) + len(split.val))
    except Exception as exc:  # noqa: BLE001 -- after start, problems are events
        yield failed_event(exc, run_dir, options)
        return
    if result is None:
        yield stopped_before_training(design, run_dir, options, split.classes, t0)
        return
    yield from _train_head(design, head, flatten, result, split, options, run_dir, cancel, resume, plan)


def _train_head(design: Design, head, flatten, feature_sets, split, options, run_dir, cancel, resume,
                plan=""):
    train_fs, val_fs = feature_sets
    module = design.model.get_submodule(head)

    def head_forward(features):
        out = module(features)
        return out.flatten(1) if flatten else out

    train, val = _feature_loaders(train_fs, val_fs, options)
    skipped = [list(f) for f in sorted(set(train_fs.failed + (val_fs.failed if val_fs else [])))]
    design.model.forward = head_forward  # the instance attribute shadows the class's forward
    try:
        # the engine runs "full" on features; the head keeps this mode's LR (a new head: the from-scratch one)
        engine_options = replace(options, mode="full", lr=options.resolved_lr)
        events = train_loaders(design, train, val, engine_options, run_dir, cancel, resume,
                               plan=plan, classes=split.classes,
                               class_counts=list(split.class_counts("train").values()))
        for event in events:
            if hasattr(event, "skipped"):
                event.skipped = skipped  # files that failed while caching, not in the feature loader
            if event.kind in ("finished", "stopped", "failed"):
                _relabel_history(Path(run_dir), options, skipped)
            if event.kind != "start":  # ours went out before the features were computed
                yield event
    finally:
        del design.model.forward


def _relabel_history(run_dir: Path, options, skipped) -> None:
    """The engine ran in 'full' mode on features; the run's files should say what it really was."""
    path = run_dir / "history.json"
    data = read_json(path)
    if data:
        write_json(path, {**data, "options": options.to_dict(), "skipped": skipped})

