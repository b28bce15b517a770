"""What duplicates across the split do to the reported validation accuracy.

A network that trained on an image predicts its copy in validation with the training copy's label
(fine-tuning memorises its training set). So the accuracy a run reports is about

    (right answers on the clean validation images + crossing copies whose training twin carries the
    same label) / all validation images,

while the honest figure is the accuracy on the clean validation images alone. The clean images'
right answers come from a logistic head fitted on the training images' features (the recommended
mode's stage 1), so the estimate costs one fit, not a training run."""

from __future__ import annotations

import warnings

import numpy as np

from designer.audit.report import DuplicateGroup, LeakEstimate


def _twin_labels(groups: list[DuplicateGroup], index: dict[str, int], split_of: dict[str, str],
                 labels: np.ndarray) -> dict[int, set[int]]:
    """Validation row -> the labels of its training copies, for every group that crosses the split."""
    twins: dict[int, set[int]] = {}
    for group in groups:
        if not group.crosses_split:
            continue
        train_labels = {int(labels[index[p]]) for p in group.paths
                        if split_of.get(p) == "train" and p in index}
        for p in group.paths:
            if split_of.get(p) == "val" and p in index and train_labels:
                twins[index[p]] = train_labels
    return twins


def estimate_leak(features: np.ndarray, labels: np.ndarray, paths: list[str], split_of: dict[str, str],
                  groups: list[DuplicateGroup], prepared: np.ndarray | None = None) -> LeakEstimate | None:
    """The estimate above; None without validation images or with fewer than two training classes.
    ``prepared``: the features already normalised for a logistic head (``labels._prepare``)."""
    from sklearn.linear_model import LogisticRegression

    from designer.audit.labels import C, _prepare

    x = prepared if prepared is not None else _prepare(features)
    where = np.array([split_of.get(p, "train") for p in paths])
    train, val = np.nonzero(where == "train")[0], np.nonzero(where == "val")[0]
    if not len(val) or len(set(labels[train].tolist())) < 2:
        return None
    twins = _twin_labels(groups, {p: i for i, p in enumerate(paths)}, split_of, labels)
    clean = np.array([i for i in val if i not in twins], dtype=int)
    head = LogisticRegression(C=C, max_iter=500)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        head.fit(x[train], labels[train])
    right_clean = int((head.predict(x[clean]) == labels[clean]).sum()) if len(clean) else 0
    right_copies = sum(int(labels[i]) in twin for i, twin in twins.items())
    with_copies = (right_clean + right_copies) / len(val)
    without = right_clean / len(clean) if len(clean) else 0.0
    return LeakEstimate(len(val), len(twins), round(with_copies, 4), round(without, 4),
                        round(with_copies - without, 4))
