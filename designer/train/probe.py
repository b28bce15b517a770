"""Linear probe: a linear classifier on the classifier's input, made the model's head.

``linear_probe`` fits logistic regression (``logistic``: features divided by one
RMS scale, L-BFGS; the recommended mode's stage 1) or a linear SVM (scikit-learn,
on standardised features) on the design's final ``nn.Linear`` input and copies it,
with the scaling folded in, into that Linear: the model is unchanged in
structure, so ``best.pt`` loads into the design, exports and reopens like any
other run. Only the classifier's input is offered as the probe layer: a probe on
an earlier layer would need the network cut after that layer, which torchvision's
forward code (residual joins, flattening) does not allow as a recipe edit.
``probe_layer_accuracy`` still scores any layer (global-average-pooled) to compare
layers, without making a model. Events are the training engine's; one "epoch"
per regularisation strength (the start event calls it a "fit"), epoch 0 batch
events are feature extraction. Only the Linear counts as trained.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from designer.base.errors import DesignerError
from designer.base.jobs import drain, is_cancelled
from designer.data.split import class_weights
from designer.model.build import Design
from designer.train import setup as ts
from designer.train.events import Best, CheckpointEvent, EpochEvent, FinishedEvent, StoppedEvent
from designer.train.features import FeatureSet, cached_features
from designer.train.logistic import L2_GRID
from designer.train.logistic import fit as fit_logistic
from designer.train.reporting import (
    failed_event,
    progress_events,
    start_event,
    stopped_before_training,
    write_history,
)

PROBE_CLASSIFIERS = ("logistic", "svm")
PROBE_C_VALUES = (0.01, 0.1, 1.0)  # the SVM's C: one fit per value; the best on validation data wins



def _estimator(kind: str, c: float, options):
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    weight = "balanced" if options.class_weights else None
    if kind == "logistic":
        return LogisticRegression(C=c, max_iter=2000, class_weight=weight)
    return LinearSVC(C=c, class_weight=weight, random_state=options.seed, max_iter=5000)


def probe_weights(estimator, mean: np.ndarray, std: np.ndarray,
                  num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(weight, bias) of an ``nn.Linear`` giving the estimator's decision on *unscaled* features:
    the standardisation (x - mean) / std is folded in, and a binary model becomes two logits."""
    coef, icpt = np.asarray(estimator.coef_, np.float64), np.asarray(estimator.intercept_, np.float64)
    if coef.shape[0] == 1:  # binary: softmax([-z/2, z/2]) == sigmoid(z)
        coef, icpt = np.vstack([-coef / 2, coef / 2]), np.array([-icpt[0] / 2, icpt[0] / 2])
    weight = np.zeros((num_classes, coef.shape[1]))
    bias = np.full(num_classes, icpt.min() - 10.0)  # a class absent from the training data never wins
    for row, label in enumerate(estimator.classes_):
        weight[int(label)], bias[int(label)] = coef[row] / std, icpt[row] - coef[row] @ (mean / std)
    return torch.tensor(weight, dtype=torch.float32), torch.tensor(bias, dtype=torch.float32)


def _score(weight: torch.Tensor, bias: torch.Tensor,
           fs: FeatureSet | None) -> tuple[float | None, float | None]:
    if fs is None or not len(fs.labels):
        return None, None
    logits = fs.features.flatten(1) @ weight.T + bias
    loss = nn.functional.cross_entropy(logits, fs.labels).item()
    return loss, int((logits.argmax(1) == fs.labels).sum()) / len(fs.labels)


def probe_layer(design: Design) -> str:
    """Path of the classifier's final Linear, whose input the probe learns from. Parameter-free
    layers before it in the head (Dropout) are fine; a hidden layer is not (it would stay random)."""
    head = design.model.get_submodule(design.classifier_path)
    linears = [p for p, m in head.named_modules() if isinstance(m, nn.Linear)]
    path = linears[-1] if linears else None
    prefix = f"{path}.".lstrip(".")
    other = [n for n, _ in head.named_parameters() if path is None or not n.startswith(prefix)]
    if path is None or other:
        kind = "a hidden layer" if path is not None else f"a {type(head).__name__}, not a Linear layer"
        raise DesignerError(f"A linear probe needs a plain Linear classifier, but '{design.classifier_path}' "
                            f"has {kind}.",
                            hint="Replace the classifier without a hidden layer, or use 'cached-head' mode.")
    return ".".join(filter(None, (design.classifier_path, path)))


def linear_probe(design: Design, split, options, run_dir, cancel=None, cache_dir=None,
                 classifier: str = "logistic",
                 strengths=None):
    """Fit a linear classifier on the classifier's input features and make it the model's head.

    One fit per regularisation strength in ``strengths`` (cancel between them): L2 strengths for
    logistic regression (default ``logistic.L2_GRID``), C values for the SVM (``PROBE_C_VALUES``).
    The best on validation data is kept in the model and in ``best.pt``. Augmentation is not used.
    """
    ts.check_split(design, split)
    if classifier not in PROBE_CLASSIFIERS:
        raise DesignerError(f"Unknown probe classifier '{classifier}'; choose logistic or svm.")
    layer = probe_layer(design)
    if design.model.get_submodule(layer).bias is None:
        raise DesignerError("A linear probe needs a classifier with a bias term.",
                            hint="Replace the classifier (it gets a bias), or use 'cached-head' mode.")
    strengths = tuple(strengths or (L2_GRID if classifier == "logistic" else PROBE_C_VALUES))
    run_dir, t0 = Path(run_dir), time.perf_counter()
    what = "logistic regression" if classifier == "logistic" else "a linear SVM"
    plan = (f"Linear probe: {what} on what the pretrained network sees in each image (features computed "
            f"once), fitted for {len(strengths)} regularisation strengths; the best on the validation images "
            "becomes the classifier. Nothing else is trained, and augmentation is not used.")
    yield start_event(design, options, split, 1, len(strengths), run_dir, trained=layer, plan=plan,
                      unit="fit", lr=0.0)
    try:
        gen = cached_features(design, layer, [split.train, split.val], options,
                              cache_dir or run_dir, cancel)
        result = yield from progress_events(gen, t0, len(split.train) + len(split.val))
        if result is None:
            yield stopped_before_training(design, run_dir, options, split.classes, t0)
            return
        yield from _ProbeFit(design, result, split, options, run_dir, cancel, classifier, t0).run(strengths)
    except Exception as exc:  # noqa: BLE001 -- after start, problems are events
        yield failed_event(exc, run_dir, options)


class _ProbeFit:
    def __init__(self, design: Design, feature_sets, split, options, run_dir, cancel, classifier, t0):
        self.design, self.options, self.run_dir, self.cancel = design, options, run_dir, cancel
        self.train_fs, self.val_fs = feature_sets
        self.classes, self.classifier, self.t0 = list(split.classes), classifier, t0
        linear = design.model.get_submodule(probe_layer(design))
        if not isinstance(linear, nn.Linear):  # probe_layer found one there; this says so to mypy
            raise DesignerError(f"The linear probe needs a Linear classifier, not a {type(linear).__name__}.")
        self.linear = linear
        self.history: list[dict] = []
        self.best: Best = {"val_acc": None, "epoch": 0}
        self.best_weights: tuple[torch.Tensor, torch.Tensor] | None = None
        failed = self.train_fs.failed + (self.val_fs.failed if self.val_fs else [])
        self.skipped = [list(f) for f in sorted(set(failed))]

    def run(self, strengths):
        fit = self._logistic if self.classifier == "logistic" else self._svm()
        for epoch, strength in enumerate(strengths, 1):
            if is_cancelled(self.cancel):
                yield self._end("stopped", epoch - 1)
                return
            t = time.perf_counter()
            weight, bias = fit(strength)
            yield self._epoch(epoch, strength, weight, bias, time.perf_counter() - t)
            yield self._checkpoint(epoch)
        yield self._end("finished", len(strengths))

    def _logistic(self, l2: float):
        weight = None
        if self.options.class_weights:
            counts = torch.bincount(self.train_fs.labels, minlength=self.design.num_classes).tolist()
            weight = torch.tensor(class_weights(counts), dtype=torch.float64)
        return fit_logistic(self.train_fs.features, self.train_fs.labels, self.design.num_classes, l2,
                            class_weight=weight)

    def _svm(self):
        x = self.train_fs.features.flatten(1).double().numpy()
        mean, std = x.mean(0), x.std(0)
        std[std < 1e-8] = 1.0  # constant features (dead units) stay as they are
        xs, y = (x - mean) / std, self.train_fs.labels.numpy()

        def fit(c: float):
            return probe_weights(_estimator("svm", c, self.options).fit(xs, y), mean, std,
                                 self.design.num_classes)
        return fit

    def _set(self, weight, bias) -> None:
        with torch.no_grad():
            self.linear.weight.copy_(weight)
            self.linear.bias.copy_(bias)

    def _epoch(self, epoch, c, weight, bias, seconds) -> EpochEvent:
        train_loss, train_acc = _score(weight, bias, self.train_fs)
        val_loss, val_acc = _score(weight, bias, self.val_fs)
        self._set(weight, bias)
        is_best = val_acc is None or self.best["val_acc"] is None or val_acc > self.best["val_acc"]
        if is_best:
            self.best, self.best_weights = {"val_acc": val_acc, "epoch": epoch}, (weight, bias)
            ts.save_checkpoint(self.design.model.state_dict(), self.run_dir / "best.pt")
        record = {"epoch": epoch, "train_loss": train_loss, "train_acc": train_acc, "val_loss": val_loss,
                  "val_acc": val_acc, "lr": 0.0, "epoch_time_s": seconds}
        strength = {"l2": c} if self.classifier == "logistic" else {"C": c}
        self.history.append({**record, **strength, "classifier": self.classifier})
        return EpochEvent(**record, best_val_acc=self.best["val_acc"], best_epoch=self.best["epoch"],
                          is_best=is_best, skipped=self.skipped)

    def _checkpoint(self, epoch: int) -> CheckpointEvent:
        state = {"model": self.design.model.state_dict(), "epoch": epoch, "best": dict(self.best),
                 "history": list(self.history), "options": self.options.to_dict(), "classes": self.classes}
        ts.save_checkpoint(state, self.run_dir / "last.pt")
        self._history("running")
        return CheckpointEvent(epoch=epoch, path=str(self.run_dir / "last.pt"),
                               best_path=str(self.run_dir / "best.pt"))

    def _history(self, status: str) -> None:
        write_history(self.run_dir, status, self.options, self.classes, self.history, self.best,
                       self.skipped, {"classifier": self.classifier})

    def _end(self, status: str, epochs_done: int):
        if self.best_weights is not None:  # else stopped before the first fit: no best.pt, no result
            self._set(*self.best_weights)
        self._history(status)
        common = {"best_val_acc": self.best["val_acc"], "best_epoch": self.best["epoch"],
                  "time_s": time.perf_counter() - self.t0, "skipped": self.skipped}
        if status == "finished":
            return FinishedEvent(epochs_done=epochs_done, run_dir=str(self.run_dir), **common)
        last = self.run_dir / "last.pt"
        return StoppedEvent(epoch=epochs_done, checkpoint=str(last) if last.is_file() else "", **common)


def probe_layer_accuracy(design: Design, split, layer: str, options, classifier: str = "logistic",
                         c: float = 0.1,
                         cache_dir=None) -> float | None:
    """Validation accuracy of a linear probe on any layer's input (pooled over H, W) -- to compare
    layers; the model is left unchanged (see the module docstring for why)."""
    gen = cached_features(design, layer, [split.train, split.val], options, cache_dir, pool=True)
    train_fs, val_fs = drain(gen)
    x = train_fs.features.flatten(1).double().numpy()
    mean, std = x.mean(0), np.where(x.std(0) < 1e-8, 1.0, x.std(0))
    est = _estimator(classifier, c, options).fit((x - mean) / std, train_fs.labels.numpy())
    return _score(*probe_weights(est, mean, std, len(split.classes)), val_fs)[1]

