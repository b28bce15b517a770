"""The audit as one job: features (cached, the recommended mode's stage 1), pixel checks, then the
findings. A generator that yields ``Progress`` and returns an ``AuditReport`` (None when cancelled)."""

from __future__ import annotations

import time

import numpy as np

from designer.audit.images import odd_images, pixel_facts, signatures
from designer.audit.labels import _prepare, label_issues, out_of_fold_probabilities
from designer.audit.leak import estimate_leak
from designer.audit.report import AuditReport, Imbalance
from designer.audit.similar import NEAR_COSINE, duplicate_groups, outliers, unit_rows
from designer.base.errors import DesignerError
from designer.base.jobs import Progress, is_cancelled
from designer.data.split import DatasetSplit, class_weights
from designer.model.build import Design
from designer.train.features import cached_features
from designer.train.probe import probe_layer

IMBALANCE_NOTE_RATIO = 1.5


def _split_of(split: DatasetSplit) -> dict[str, str]:
    return {p: which for which in ("train", "val", "test") for p, _ in split.subset(which)}


def _imbalance(split: DatasetSplit) -> Imbalance:
    counts = split.class_counts("train")
    weights = dict(zip(split.classes, class_weights(list(counts.values())), strict=True))
    ratio = split.imbalance_ratio("train")
    note = ""
    if ratio > IMBALANCE_NOTE_RATIO:
        big, small = max(counts, key=counts.__getitem__), min(counts, key=counts.__getitem__)
        note = (f"Classes are imbalanced: '{big}' has {counts[big]} training images, "
                f"'{small}' {counts[small]} "
                f"({ratio:.1f}x). Training with class weights counts each '{small}' image "
                f"{weights[small] / max(weights[big], 1e-12):.1f} times as much as a '{big}' image.")
    return Imbalance(counts, {k: round(v, 4) for k, v in weights.items()}, round(ratio, 3), note)


def _features(design: Design, split, options, cache_dir, cancel):
    """(features, labels, paths) of every image that loaded, train + val + test."""
    try:
        layer = probe_layer(design)  # the stage-1 features: their cache is shared with training
    except DesignerError:
        layer = design.classifier_path  # a head with a hidden layer: what goes into it
    if not layer:
        raise DesignerError("This network has no classifier NetSurgeon can find, so its features cannot be "
                            "used.",
                            hint="Replace the classifier on the Design tab first.")
    lists = [s for s in (split.train, split.val, split.test) if s]
    gen = cached_features(design, layer, lists, options, cache_dir, cancel)
    try:
        while True:
            done, total = next(gen)
            yield Progress(done, total, f"Looking at the images ({done} of {total} batches)…")
    except StopIteration as stop:
        sets = stop.value
    if sets is None:
        return None
    feats = np.concatenate([s.features.flatten(1).double().numpy() for s in sets])
    labels = np.concatenate([s.labels.numpy() for s in sets]).astype(int)
    return feats, labels, [p for s in sets for p in s.paths]


def audit(design: Design, split: DatasetSplit, options, cache_dir=None, cancel=None,
          near_cosine: float = NEAR_COSINE):
    """Check ``split``'s images with ``design``'s features. Generator: Progress items; returns the report."""
    t0 = time.perf_counter()
    found = yield from _features(design, split, options, cache_dir, cancel)
    if found is None:
        return None
    feats, labels, paths = found
    facts = []
    for k, path in enumerate(paths, 1):
        if is_cancelled(cancel):
            return None
        facts.append(pixel_facts(path))
        if k % 200 == 0 or k == len(paths):
            yield Progress(k, len(paths), f"Checking pixels ({k:,} of {len(paths):,} images)…")
    yield Progress(0, None, "Looking for wrong labels…")
    prepared = _prepare(feats)
    probs = out_of_fold_probabilities(feats, labels, len(split.classes), options.seed, cancel, prepared)
    if probs is None:
        return None
    split_of, unit = _split_of(split), unit_rows(feats)
    report = AuditReport(list(split.classes), split.root, len(paths), split_of=split_of)
    report.oof_accuracy = round(float((probs.argmax(1) == labels).mean()), 4)
    report.label_issues = label_issues(probs, labels, paths, split.classes)
    yield Progress(0, None, "Looking for duplicates and outliers…")
    report.duplicates = duplicate_groups(paths, unit, [f.digest for f in facts], split_of, near_cosine,
                                         signatures(facts))
    report.leak = estimate_leak(feats, labels, paths, split_of, report.duplicates, prepared)
    report.outliers = outliers(unit, labels, paths, split.classes)
    report.imbalance = _imbalance(split)
    report.odd_images = odd_images(paths, facts)
    report.seconds = round(time.perf_counter() - t0, 2)
    return report
