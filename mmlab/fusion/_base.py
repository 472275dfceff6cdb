"""Shared pieces of the fusion strategies: input checks, the common interface, evaluation."""
from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np

from .._threads import single_threaded
from .._validate import as_array, check_float, check_labels, describe

# --------------------------------------------------------------------------- inputs

def _check_features(features_by_modality, name: str = "features_by_modality") -> dict[str, np.ndarray]:
    """Check the dict of (N, D_m) arrays: string keys, 2-D finite arrays, one N."""
    if not isinstance(features_by_modality, Mapping):
        raise TypeError(
            f"{name}: expected a dict mapping modality name -> (N, D) array, got {describe(features_by_modality)}"
        )
    if not features_by_modality:
        raise ValueError(f"{name}: expected at least one modality, got an empty dict")
    arrays: dict[str, np.ndarray] = {}
    n = None
    for key, value in features_by_modality.items():
        if not isinstance(key, str) or not key:
            raise TypeError(f"{name}: expected non-empty string keys (modality names), got key {key!r}")
        arr = as_array(value, f"{name}[{key!r}]", ndim=2)
        if n is None:
            n, first = len(arr), key
        elif len(arr) != n:
            raise ValueError(
                f"{name}: expected the same number of rows for every modality, got {n} for {first!r} "
                f"and {len(arr)} for {key!r}"
            )
        arrays[key] = arr
    return arrays


def _check_present(present, arrays: dict[str, np.ndarray], name: str = "present") -> dict[str, np.ndarray]:
    """Turn ``present`` into one (N,) bool mask per modality in ``arrays``."""
    n = len(next(iter(arrays.values())))
    masks = {m: np.ones(n, dtype=bool) for m in arrays}
    if present is None:
        return masks
    if not isinstance(present, Mapping):
        raise TypeError(f"{name}: expected None or a dict mapping modality -> (N,) bool mask, got {describe(present)}")
    for key, value in present.items():
        if key not in arrays:
            raise ValueError(
                f"{name}: expected masks only for modalities in features_by_modality {sorted(arrays)}, "
                f"got a mask for modality {key!r}, which is not in features_by_modality"
            )
        mask = np.asarray(value)
        if mask.dtype != bool:
            raise TypeError(f"{name}[{key!r}]: expected a bool mask, got dtype {mask.dtype}")
        if mask.shape != (n,):
            raise ValueError(f"{name}[{key!r}]: expected shape ({n},) like the features, got {mask.shape}")
        masks[key] = mask.copy()
    return masks


def _check_weights(weights, modalities, name: str = "weights") -> dict[str, float]:
    """Per-modality non-negative weights (None -> all 1), not all zero."""
    if weights is None:
        return {m: 1.0 for m in modalities}
    if not isinstance(weights, Mapping):
        raise TypeError(f"{name}: expected None or a dict modality -> weight, got {describe(weights)}")
    unknown = sorted(set(weights) - set(modalities))
    if unknown:
        raise ValueError(f"{name}: expected weights only for the known modalities {list(modalities)}, got unknown {unknown}")
    out = {m: check_float(weights.get(m, 1.0), f"{name}[{m!r}]", low=0.0) for m in modalities}
    if sum(out.values()) <= 0:
        raise ValueError(f"{name}: expected at least one positive weight, got {out}")
    return out


def _labels(y, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Check labels (strings or integers), one per row; return ``(classes, y_index)``."""
    arr = check_labels(y, "y", n=n)
    classes, index = np.unique(arr, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(f"y: expected at least 2 classes to learn from, got {len(classes)} ({classes.tolist()})")
    return classes, index.astype(np.int64)


# ---------------------------------------------------------------------- base class

class _Fusion:
    """Shared validation and predict/score for the three strategies."""

    classes_: np.ndarray
    modalities_: tuple[str, ...]
    dims_: dict[str, int]
    n_parameters_: int
    fit_seconds_: float

    def _inputs(self, features_by_modality, present, *, fitting: bool):
        """Validate inputs; at predict time also check modalities and dims against training."""
        arrays = _check_features(features_by_modality)
        if not fitting:
            self._check_fitted()
            unknown = [m for m in arrays if m not in self.modalities_]
            if unknown:
                raise ValueError(
                    f"features_by_modality: expected the modalities seen in fit {list(self.modalities_)}, "
                    f"got modality {unknown[0]!r}, which was not seen in fit"
                )
            for m, x in arrays.items():
                if x.shape[1] != self.dims_[m]:
                    raise ValueError(
                        f"features_by_modality[{m!r}]: expected {self.dims_[m]} columns as in fit, "
                        f"got shape {x.shape}"
                    )
        masks = _check_present(present, arrays)
        if not fitting:
            n = len(next(iter(arrays.values())))
            for m in self.modalities_:  # a modality not passed is absent for every row
                if m not in arrays:
                    arrays[m] = np.zeros((n, self.dims_[m]), dtype=np.float32)
                    masks[m] = np.zeros(n, dtype=bool)
            arrays = {m: arrays[m] for m in self.modalities_}
            masks = {m: masks[m] for m in self.modalities_}
        return arrays, masks

    def _require_some_modality(self, masks: dict[str, np.ndarray]) -> None:
        any_present = np.any(np.stack(list(masks.values())), axis=0)  # (N,)
        if not any_present.all():
            first = int(np.flatnonzero(~any_present)[0])
            raise ValueError(
                f"present: expected at least one modality in every row, got {int((~any_present).sum())} "
                f"row(s) with none (first at index {first})"
            )

    def _record_fit(self, classes: np.ndarray, arrays: dict, n_parameters: int, start: float) -> None:
        """Store what every fitted strategy exposes: classes, modalities, their widths, size and time."""
        self.classes_ = classes
        self.modalities_ = tuple(arrays)
        self.dims_ = {m: x.shape[1] for m, x in arrays.items()}
        self.n_parameters_ = int(n_parameters)
        self.fit_seconds_ = time.perf_counter() - start

    def _check_fitted(self) -> None:
        if not hasattr(self, "classes_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted yet: call fit(features_by_modality, y) first")

    def predict_proba(self, features_by_modality, present=None) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def predict(self, features_by_modality, present=None) -> np.ndarray:
        """The most probable class of each row.

        Args:
            features_by_modality: dict modality -> (N, D_m) array.
            present: optional dict modality -> (N,) bool mask.
        Returns:
            (N,) labels taken from ``classes_``.
        """
        proba = self.predict_proba(features_by_modality, present)
        return self.classes_[proba.argmax(axis=1)]

    def score(self, features_by_modality, y, present=None) -> float:
        """Accuracy of ``predict`` against labels ``y`` (N,)."""
        pred = self.predict(features_by_modality, present)
        y = np.asarray(y)
        if y.shape != pred.shape:
            raise ValueError(f"y: expected shape {pred.shape} (one label per row), got {y.shape}")
        return float((pred == y).mean())

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self._params().items())
        return f"{type(self).__name__}({params})"

    def _params(self) -> dict:
        return {}


def _fit_logistic(x: np.ndarray, y: np.ndarray, C: float, max_iter: int):
    """A multinomial logistic regression on (N, D) features, fitted on one thread."""
    from sklearn.linear_model import LogisticRegression

    with single_threaded():
        return LogisticRegression(C=C, max_iter=max_iter).fit(x.astype(np.float64), y)


def _proba_in_classes(clf, x: np.ndarray, n_classes: int) -> np.ndarray:
    """``clf.predict_proba`` placed into the columns of all classes (clf may know fewer)."""
    out = np.zeros((len(x), n_classes), dtype=np.float64)
    with single_threaded():
        out[:, clf.classes_] = clf.predict_proba(x.astype(np.float64))
    return out / out.sum(axis=1, keepdims=True)  # float32 inputs give float32-accurate sums


def evaluate(model: _Fusion, features_by_modality, y, present=None) -> dict[str, float]:
    """Held-out accuracy and macro-F1 of a fitted model, with its size and training time.

    Args:
        model: a fitted EarlyFusion, LateFusion or IntermediateFusion.
        features_by_modality: dict modality -> (N, D_m) array.
        y: (N,) true labels.
        present: optional dict modality -> (N,) bool mask.
    Returns:
        dict with ``accuracy``, ``macro_f1`` (over the classes in ``y`` and the
        predictions), ``n_parameters`` and ``fit_seconds``.
    """
    from sklearn.metrics import f1_score

    if not isinstance(model, _Fusion):
        raise TypeError(f"model: expected an EarlyFusion, LateFusion or IntermediateFusion, got {describe(model)}")
    pred = model.predict(features_by_modality, present)
    y = np.asarray(y)
    if y.shape != pred.shape:
        raise ValueError(f"y: expected shape {pred.shape} (one label per row), got {y.shape}")
    return {
        "accuracy": float((pred == y).mean()),
        "macro_f1": float(f1_score(y, pred, average="macro")),
        "n_parameters": model.n_parameters_,
        "fit_seconds": model.fit_seconds_,
    }
