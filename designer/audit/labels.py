"""Label issues: out-of-fold probabilities from a logistic head on the cached features, then
cleanlab's confident learning picks the images whose given label disagrees with them.

Out-of-fold matters: a head that saw an image in training has memorised its (wrong) label, so each
image is scored by a head fitted on the other folds only."""

from __future__ import annotations

import warnings

import numpy as np

from designer.audit.report import LabelIssue

FOLDS = 5
C = 0.1  # strong regularisation: a head that fits every wrong label would hide it
PCA_DIMS = 128  # a 1280-wide feature fits in seconds after this; the label signal survives it


def _prepare(features: np.ndarray) -> np.ndarray:
    """Unit-length rows, reduced to ``PCA_DIMS`` when wider: k folds of L-BFGS stay seconds at 10,000."""
    from sklearn.decomposition import PCA

    x = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    if x.shape[1] > PCA_DIMS and x.shape[0] > PCA_DIMS:
        x = PCA(PCA_DIMS, random_state=0).fit_transform(x)
    return (x - x.mean(0)) / np.maximum(x.std(0), 1e-8)


def out_of_fold_probabilities(features: np.ndarray, labels: np.ndarray, num_classes: int,
                              seed: int = 0, cancel=None,
                              prepared: np.ndarray | None = None) -> np.ndarray | None:
    """(N, classes) probabilities, each row from a head that never saw that image; None if cancelled.
    ``prepared``: ``_prepare(features)`` when the caller has it already."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    from designer.base.jobs import is_cancelled

    x = prepared if prepared is not None else _prepare(features)
    probs = np.full((len(labels), num_classes), 1.0 / num_classes)
    smallest = np.bincount(labels, minlength=num_classes)
    folds = int(min(FOLDS, smallest[smallest > 0].min()))
    if folds < 2:
        return probs  # a class with one image: nothing to hold out
    for fit_idx, held_idx in StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, labels):
        if is_cancelled(cancel):
            return None
        head = LogisticRegression(C=C, max_iter=500)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence warnings: the probabilities are good enough
            head.fit(x[fit_idx], labels[fit_idx])
        probs[np.ix_(held_idx, head.classes_)] = head.predict_proba(x[held_idx])
    return probs


def label_issues(probs: np.ndarray, labels: np.ndarray, paths: list[str],
                 classes: list[str]) -> list[LabelIssue]:
    """Images cleanlab thinks are mislabelled, worst first, each with the label the head suggests."""
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    if len(set(labels.tolist())) < 2:
        return []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        flagged = find_label_issues(labels, probs, filter_by="prune_by_noise_rate",
                                    return_indices_ranked_by="self_confidence")
        quality = get_label_quality_scores(labels, probs)
    out = []
    for i in flagged:
        suggested = int(np.argmax(probs[i]))
        if suggested == labels[i]:
            continue  # cleanlab's rank can keep a borderline image whose best guess is its own label
        score = round(1.0 - float(quality[i]), 4)
        out.append(LabelIssue(paths[i], classes[labels[i]], classes[suggested], score))
    return out
