"""Fusing modalities: one embedding by concatenation, and three ways to classify.

Every strategy shares one small interface (like a scikit-learn classifier whose
``X`` is a dict of per-modality feature arrays):

    model.fit(features_by_modality, y, present=None) -> model
    model.predict_proba(features_by_modality, present=None) -> (N, C), rows sum to 1
    model.predict(features_by_modality, present=None) -> (N,) labels from model.classes_

``features_by_modality`` maps a modality name to an (N, D_m) array of finite numbers;
all arrays share the same N rows (row i of every array is the same sample).

**Missing modalities.** A sample may lack a modality (an emoji with no spoken name).
NaN rows are *not* used to say so (NaN is rejected as a bug, as everywhere in mmlab).
Instead, pass ``present``: a dict mapping a modality to an (N,) bool mask, True where
that row is real. The feature values of absent rows must still be finite (zeros are
customary) and are ignored. A modality left out of ``present`` is present for every
row; a modality left out of ``features_by_modality`` at predict time is absent for
every row. What each strategy does with an absent modality:

- ``EarlyFusion``: by default an error naming the modality (one classifier over the
  concatenation cannot run without a block); with ``missing="zeros"`` or ``"mean"``
  the block is filled in (zeros, or the training mean of that block).
- ``LateFusion``: combines the classifiers of the modalities present in each row
  (weights renormalised over them).
- ``IntermediateFusion``: masks the absent encoder: its hidden state is zero in
  ``combine="concat"`` and excluded from the softmax in ``combine="attention"``.
  ``modality_dropout`` during training teaches the model to expect this.

Late and intermediate fusion need at least one present modality in every row.
Fitted models expose ``classes_``, ``modalities_``, ``n_parameters_`` (learned
numbers) and ``fit_seconds_`` (wall-clock training time).
"""
from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np

from ._validate import as_array, check_choice, check_float, check_int, describe

__all__ = [
    "EarlyFusion",
    "IntermediateFusion",
    "LateFusion",
    "concat_embeddings",
    "evaluate",
]

# Rows shorter than this cannot be normalised (they have no direction).
_ZERO_NORM = 1e-12


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
                f"{name}: has a mask for modality {key!r}, which is not in features_by_modality "
                f"(modalities given: {sorted(arrays)})"
            )
        mask = np.asarray(value)
        if mask.dtype != bool:
            raise TypeError(f"{name}[{key!r}]: expected a bool mask, got dtype {mask.dtype}")
        if mask.shape != (n,):
            raise ValueError(f"{name}[{key!r}]: expected shape ({n},) like the features, got {mask.shape}")
        masks[key] = mask.copy()
    return masks


def _check_labels(y, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Check labels (strings or integers) and return ``(classes, y_index)``."""
    if y is None or isinstance(y, (str, bytes, dict, set)):
        raise TypeError(f"y: expected a 1-D sequence of class labels, got {describe(y)}")
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"y: expected a 1-D array of labels, got shape {arr.shape}")
    if len(arr) != n:
        raise ValueError(f"y: expected one label per row of the features ({n}), got {len(arr)}")
    if arr.dtype == object or np.issubdtype(arr.dtype, np.floating):
        if np.issubdtype(arr.dtype, np.floating):
            if not np.isfinite(arr).all():
                raise ValueError("y: expected finite labels, got NaN/inf")
        elif any(v is None for v in arr):
            raise ValueError("y: expected a label for every row, got None")
    classes, index = np.unique(arr, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(f"y: expected at least 2 classes to learn from, got {len(classes)} ({classes.tolist()})")
    return classes, index.astype(np.int64)


def _normalise_present(x: np.ndarray, mask: np.ndarray, name: str) -> np.ndarray:
    """L2-normalise the present rows of ``x``; absent rows become zeros."""
    out = np.zeros_like(x, dtype=np.float32)
    norms = np.linalg.norm(x[mask], axis=1, keepdims=True)  # (P, 1)
    if (norms < _ZERO_NORM).any():
        raise ValueError(
            f"{name}: expected non-zero rows where the modality is present, got "
            f"{int((norms < _ZERO_NORM).sum())} all-zero row(s); mark missing rows with `present` instead"
        )
    out[mask] = x[mask] / norms
    return out


def _check_weights(weights, modalities, name: str = "weights") -> dict[str, float]:
    """Per-modality non-negative weights (None -> all 1), not all zero."""
    if weights is None:
        return {m: 1.0 for m in modalities}
    if not isinstance(weights, Mapping):
        raise TypeError(f"{name}: expected None or a dict modality -> weight, got {describe(weights)}")
    unknown = sorted(set(weights) - set(modalities))
    if unknown:
        raise ValueError(f"{name}: has weights for unknown modalities {unknown} (modalities: {list(modalities)})")
    out = {m: check_float(weights.get(m, 1.0), f"{name}[{m!r}]", low=0.0) for m in modalities}
    if sum(out.values()) <= 0:
        raise ValueError(f"{name}: expected at least one positive weight, got {out}")
    return out


# --------------------------------------------------------------- the classic embedding

def concat_embeddings(features_by_modality, weights=None, *, normalize: bool = True) -> np.ndarray:
    """One multimodal embedding: normalise each modality, weight it, concatenate.

    Each block m is L2-normalised and multiplied by ``sqrt(w_m / sum(w))``, so the
    fused vector has unit length and the dot product of two fused vectors is the
    weighted mean of the per-modality cosine similarities:
    ``fused(a) . fused(b) = sum_m w_m cos_m(a, b) / sum_m w_m``.

    Args:
        features_by_modality: dict modality -> (N, D_m) array; concatenated in dict order.
        weights: dict modality -> weight >= 0 (missing keys weigh 1); None for equal weights.
        normalize: L2-normalise each block first (turn off only to see why it matters).
    Returns:
        (N, sum_m D_m) float32; unit rows when ``normalize``.
    """
    arrays = _check_features(features_by_modality)
    w = _check_weights(weights, list(arrays))
    total = sum(w.values())
    blocks = []
    for m, x in arrays.items():
        if normalize:
            x = _normalise_present(x, np.ones(len(x), dtype=bool), f"features_by_modality[{m!r}]")
        blocks.append(x * np.float32(np.sqrt(w[m] / total)))  # (N, D_m)
    return np.concatenate(blocks, axis=1).astype(np.float32)  # (N, sum D_m)


# ---------------------------------------------------------------------- base class

class _one_thread:
    """Run torch and the BLAS under numpy/scikit-learn on one thread inside the block.

    These matrices are so small that synchronising threads costs more than it saves:
    10-50x slower on a busy 2-core machine (measured), never faster on an idle one.
    """

    def __enter__(self):
        import sys

        from threadpoolctl import threadpool_limits

        self._torch = sys.modules.get("torch")  # never import torch just for this
        if self._torch is not None:
            self._before = self._torch.get_num_threads()
            self._torch.set_num_threads(1)
        self._limits = threadpool_limits(1)
        return self

    def __exit__(self, *exc):
        self._limits.unregister()
        if self._torch is not None:
            self._torch.set_num_threads(self._before)


class _Fusion:
    """Shared validation and predict/score for the three strategies."""

    classes_: np.ndarray
    modalities_: tuple[str, ...]
    dims_: dict[str, int]

    def _inputs(self, features_by_modality, present, *, fitting: bool):
        """Validate inputs; at predict time also check modalities and dims against training."""
        arrays = _check_features(features_by_modality)
        if not fitting:
            self._check_fitted()
            unknown = [m for m in arrays if m not in self.modalities_]
            if unknown:
                raise ValueError(
                    f"features_by_modality: modality {unknown[0]!r} was not seen in fit "
                    f"(trained on {list(self.modalities_)})"
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

    with _one_thread():
        return LogisticRegression(C=C, max_iter=max_iter).fit(x.astype(np.float64), y)


def _proba_in_classes(clf, x: np.ndarray, n_classes: int) -> np.ndarray:
    """``clf.predict_proba`` placed into the columns of all classes (clf may know fewer)."""
    out = np.zeros((len(x), n_classes), dtype=np.float64)
    with _one_thread():
        out[:, clf.classes_] = clf.predict_proba(x.astype(np.float64))
    return out / out.sum(axis=1, keepdims=True)  # float32 inputs give float32-accurate sums


# ---------------------------------------------------------------------- early fusion

class EarlyFusion(_Fusion):
    """Early fusion: normalise and weight each modality, concatenate, one logistic regression.

    Args:
        weights: dict modality -> weight >= 0 applied as in ``concat_embeddings``; None for equal.
        normalize: L2-normalise each modality first (off: raw scales compete).
        missing: what to do with an absent modality (see module docstring):
            ``"error"`` (default), ``"zeros"`` or ``"mean"`` (the training mean of the block).
        C: inverse L2 regularisation strength of the logistic regression.
        max_iter: iterations of the solver.
    """

    def __init__(self, weights=None, *, normalize: bool = True, missing: str = "error",
                 C: float = 10.0, max_iter: int = 2000):
        self.weights = weights
        self.normalize = bool(normalize)
        self.missing = check_choice(missing, "missing", ["error", "zeros", "mean"])
        self.C = check_float(C, "C", low=0.0, low_inclusive=False)
        self.max_iter = check_int(max_iter, "max_iter", low=1)

    def _params(self) -> dict:
        return {"weights": self.weights, "normalize": self.normalize, "missing": self.missing, "C": self.C}

    def _design(self, arrays, masks, *, fitting: bool) -> np.ndarray:
        """The fused (N, sum D_m) design matrix, with absent blocks handled per ``missing``."""
        blocks = []
        total = sum(self.weights_.values())
        for m, x in arrays.items():
            mask = masks[m]
            if not mask.all() and self.missing == "error":
                raise ValueError(
                    f"EarlyFusion needs modality {m!r} for every row, but it is missing in "
                    f"{int((~mask).sum())} of {len(mask)} rows; pass it, or use "
                    f"EarlyFusion(missing='zeros' or 'mean'), or LateFusion"
                )
            name = f"features_by_modality[{m!r}]"
            block = _normalise_present(x, mask, name) if self.normalize else np.where(mask[:, None], x, 0.0)
            block = block * np.float32(np.sqrt(self.weights_[m] / total))  # (N, D_m)
            if fitting:
                self.fill_[m] = block[mask].mean(axis=0) if mask.any() else np.zeros(x.shape[1], np.float32)
            if self.missing == "mean":
                block[~mask] = self.fill_[m]
            blocks.append(block)
        return np.concatenate(blocks, axis=1).astype(np.float32)

    def fit(self, features_by_modality, y, present=None) -> EarlyFusion:
        """Fit the classifier on the fused features.

        Args:
            features_by_modality: dict modality -> (N, D_m) array.
            y: (N,) class labels (strings or integers).
            present: optional dict modality -> (N,) bool mask.
        Returns:
            self, with ``classes_``, ``modalities_``, ``n_parameters_``, ``fit_seconds_``.
        """
        start = time.perf_counter()
        arrays, masks = self._inputs(features_by_modality, present, fitting=True)
        classes, y_idx = _check_labels(y, len(next(iter(arrays.values()))))
        self.weights_ = _check_weights(self.weights, list(arrays))
        self.fill_: dict[str, np.ndarray] = {}
        X = self._design(arrays, masks, fitting=True)  # (N, sum D_m)
        self.clf_ = _fit_logistic(X, y_idx, self.C, self.max_iter)
        self.classes_ = classes
        self.modalities_ = tuple(arrays)
        self.dims_ = {m: x.shape[1] for m, x in arrays.items()}
        self.n_parameters_ = int(self.clf_.coef_.size + self.clf_.intercept_.size)
        self.fit_seconds_ = time.perf_counter() - start
        return self

    def predict_proba(self, features_by_modality, present=None) -> np.ndarray:
        """Class probabilities.

        Args:
            features_by_modality: dict modality -> (N, D_m); every training modality
                unless ``missing`` fills it in.
            present: optional dict modality -> (N,) bool mask.
        Returns:
            (N, C) float64, rows sum to 1, columns in the order of ``classes_``.
        """
        self._check_fitted()
        arrays, masks = self._inputs(features_by_modality, present, fitting=False)
        X = self._design(arrays, masks, fitting=False)
        return _proba_in_classes(self.clf_, X, len(self.classes_))


# ----------------------------------------------------------------------- late fusion

class LateFusion(_Fusion):
    """Late fusion: one logistic regression per modality, probabilities averaged.

    Args:
        combine: ``"mean"`` (equal weights) or ``"weighted"``: weights that minimise the
            log-loss of the combination on a held-out validation split of the training
            data (the per-modality classifiers are then refit on all of it).
        val_fraction: the share of training rows held out to fit the weights.
        C: inverse L2 regularisation strength of each logistic regression.
        max_iter: iterations of each solver.
        seed: seeds the validation split; None uses ``mmlab.SEED``.
    """

    def __init__(self, combine: str = "mean", *, val_fraction: float = 0.25, C: float = 10.0,
                 max_iter: int = 2000, seed: int | None = None):
        self.combine = check_choice(combine, "combine", ["mean", "weighted"])
        self.val_fraction = check_float(val_fraction, "val_fraction", low=0.0, high=0.9, low_inclusive=False)
        self.C = check_float(C, "C", low=0.0, low_inclusive=False)
        self.max_iter = check_int(max_iter, "max_iter", low=1)
        self.seed = None if seed is None else check_int(seed, "seed")

    def _params(self) -> dict:
        return {"combine": self.combine, "C": self.C}

    def _fit_one(self, m: str, x: np.ndarray, mask: np.ndarray, y_idx: np.ndarray):
        if not mask.any():
            raise ValueError(f"present[{m!r}]: expected at least one row with this modality, got none")
        if len(np.unique(y_idx[mask])) < 2:
            raise ValueError(
                f"present[{m!r}]: the rows that have modality {m!r} hold a single class; "
                f"a classifier for it cannot be trained"
            )
        x = _normalise_present(x, mask, f"features_by_modality[{m!r}]")[mask]
        return _fit_logistic(x, y_idx[mask], self.C, self.max_iter)

    @staticmethod
    def _combine(probas: np.ndarray, masks: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Weighted mean over the present modalities: probas (M, N, C), masks (M, N), weights (M,)."""
        w = weights[:, None] * masks  # (M, N), zero where absent
        # rows whose present modalities all weigh 0 fall back to their plain mean
        w = np.where(w.sum(axis=0) > 0, w, masks)
        fused = np.einsum("mn,mnc->nc", w, probas) / w.sum(axis=0)[:, None]  # (N, C)
        return fused / fused.sum(axis=1, keepdims=True)

    def _probas(self, clfs, arrays, masks, n_classes) -> tuple[np.ndarray, np.ndarray]:
        """Per-modality probabilities (M, N, C) (zeros where absent) and masks (M, N)."""
        mods = list(arrays)
        n = len(next(iter(arrays.values())))
        probas = np.zeros((len(mods), n, n_classes))
        for i, m in enumerate(mods):
            mask = masks[m]
            if mask.any():
                x = _normalise_present(arrays[m], mask, f"features_by_modality[{m!r}]")[mask]
                probas[i, mask] = _proba_in_classes(clfs[m], x, n_classes)
        return probas, np.stack([masks[m] for m in mods]).astype(np.float64)

    def _fit_weights(self, arrays, masks, y_idx, n_classes) -> np.ndarray:
        """Weights on the simplex minimising validation log-loss of the combination."""
        from scipy.optimize import minimize
        from scipy.special import softmax

        import mmlab

        seed = mmlab.SEED if self.seed is None else self.seed
        n = len(y_idx)
        order = np.random.default_rng(seed).permutation(n)
        n_val = max(1, round(self.val_fraction * n))
        val, tr = order[:n_val], order[n_val:]
        clfs = {m: self._fit_one(m, arrays[m][tr], masks[m][tr], y_idx[tr]) for m in arrays}
        probas, pmask = self._probas(clfs, {m: a[val] for m, a in arrays.items()},
                                     {m: k[val] for m, k in masks.items()}, n_classes)
        rows = np.arange(len(val))

        def loss(theta):
            fused = self._combine(probas, pmask, softmax(theta))
            return -np.log(fused[rows, y_idx[val]] + 1e-9).mean()

        theta = minimize(loss, np.zeros(len(arrays)), method="Nelder-Mead",
                         options={"xatol": 1e-3, "fatol": 1e-5, "maxiter": 400}).x
        return softmax(theta)

    def fit(self, features_by_modality, y, present=None) -> LateFusion:
        """Fit one classifier per modality (on the rows where it is present) and the weights.

        Args:
            features_by_modality: dict modality -> (N, D_m) array.
            y: (N,) class labels.
            present: optional dict modality -> (N,) bool mask.
        Returns:
            self, with ``weights_`` (dict modality -> weight, summing to 1) among the fitted attributes.
        """
        start = time.perf_counter()
        arrays, masks = self._inputs(features_by_modality, present, fitting=True)
        classes, y_idx = _check_labels(y, len(next(iter(arrays.values()))))
        self._require_some_modality(masks)
        if self.combine == "weighted" and len(arrays) > 1:
            w = self._fit_weights(arrays, masks, y_idx, len(classes))
        else:
            w = np.full(len(arrays), 1.0 / len(arrays))
        self.clfs_ = {m: self._fit_one(m, arrays[m], masks[m], y_idx) for m in arrays}
        self.weights_ = {m: float(v) for m, v in zip(arrays, w)}
        self.classes_ = classes
        self.modalities_ = tuple(arrays)
        self.dims_ = {m: x.shape[1] for m, x in arrays.items()}
        self.n_parameters_ = int(sum(c.coef_.size + c.intercept_.size for c in self.clfs_.values())
                                 + (len(arrays) if self.combine == "weighted" else 0))
        self.fit_seconds_ = time.perf_counter() - start
        return self

    def predict_proba(self, features_by_modality, present=None) -> np.ndarray:
        """Class probabilities from the modalities present in each row.

        Args:
            features_by_modality: dict modality -> (N, D_m); any non-empty subset of the
                training modalities.
            present: optional dict modality -> (N,) bool mask.
        Returns:
            (N, C) float64, rows sum to 1.
        """
        self._check_fitted()
        arrays, masks = self._inputs(features_by_modality, present, fitting=False)
        self._require_some_modality(masks)
        probas, pmask = self._probas(self.clfs_, arrays, masks, len(self.classes_))
        w = np.array([self.weights_[m] for m in self.modalities_])
        return self._combine(probas, pmask, w)

    def predict_proba_by_modality(self, features_by_modality, present=None) -> dict[str, np.ndarray]:
        """Each modality's own class probabilities (N, C); rows of absent modalities are NaN."""
        self._check_fitted()
        arrays, masks = self._inputs(features_by_modality, present, fitting=False)
        probas, pmask = self._probas(self.clfs_, arrays, masks, len(self.classes_))
        return {m: np.where(pmask[i][:, None] > 0, probas[i], np.nan) for i, m in enumerate(self.modalities_)}


# --------------------------------------------------------------- intermediate fusion

def _build_net(dims: list[int], hidden: int, n_classes: int, combine: str, dropout: float):
    """Per-modality encoders (Linear+ReLU), a fusion step, and a linear head."""
    import torch
    from torch import nn

    class FusionNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoders = nn.ModuleList(
                nn.Sequential(nn.Linear(d, hidden), nn.ReLU(), nn.Dropout(dropout)) for d in dims
            )
            if combine == "attention":
                # one relevance score per modality, from that modality's own hidden state
                self.scorers = nn.ModuleList(nn.Linear(hidden, 1) for _ in dims)
                self.head = nn.Linear(hidden, n_classes)
            else:
                self.head = nn.Linear(hidden * len(dims), n_classes)

        def modality_weights(self, hs, mask):
            """Softmax over the present modalities: hs list of (B, H), mask (B, M) -> (B, M)."""
            scores = torch.cat([s(h) for s, h in zip(self.scorers, hs)], dim=1)  # (B, M)
            scores = scores.masked_fill(~mask, float("-inf"))
            return torch.softmax(scores, dim=1)

        def forward(self, xs, mask):
            # xs: list of M tensors (B, D_m); mask: (B, M) bool, True where present
            hs = [enc(x) * mask[:, i:i + 1] for i, (enc, x) in enumerate(zip(self.encoders, xs))]  # M x (B, H)
            if combine == "attention":
                a = self.modality_weights(hs, mask)  # (B, M)
                fused = (torch.stack(hs, dim=1) * a[:, :, None]).sum(dim=1)  # (B, H)
            else:
                fused = torch.cat(hs, dim=1)  # (B, M*H)
            return self.head(fused)  # (B, C) logits

    return FusionNet()


class IntermediateFusion(_Fusion):
    """Intermediate fusion: per-modality encoders, hidden states combined, trained jointly.

    Each modality is L2-normalised, then encoded by Linear(D_m, hidden) + ReLU; the
    hidden states are concatenated (``combine="concat"``) or summed with attention
    weights from a softmax over per-modality scores (``combine="attention"``); a linear
    head gives the class logits. Trained with cross-entropy by ``mmlab.train.fit``.

    Args:
        hidden: width of each modality's hidden state.
        combine: ``"concat"`` or ``"attention"``.
        modality_dropout: during training, hide each present modality of a row with this
            probability (never all of them), so the model learns to cope without it.
        dropout: ordinary dropout on the hidden states.
        epochs, batch_size, lr, weight_decay: passed to ``mmlab.train.fit``.
        seed: seeds the initial weights and training; None uses ``mmlab.SEED``.
        progress: show a progress bar while training.
    """

    def __init__(self, hidden: int = 64, *, combine: str = "concat", modality_dropout: float = 0.0,
                 dropout: float = 0.1, epochs: int = 60, batch_size: int = 64, lr: float = 3e-3,
                 weight_decay: float = 1e-3, seed: int | None = None, progress: bool = False):
        self.hidden = check_int(hidden, "hidden", low=1)
        self.combine = check_choice(combine, "combine", ["concat", "attention"])
        self.modality_dropout = check_float(modality_dropout, "modality_dropout", low=0.0, high=0.95)
        self.dropout = check_float(dropout, "dropout", low=0.0, high=0.95)
        self.epochs = check_int(epochs, "epochs", low=1)
        self.batch_size = check_int(batch_size, "batch_size", low=1)
        self.lr = check_float(lr, "lr", low=0.0, low_inclusive=False)
        self.weight_decay = check_float(weight_decay, "weight_decay", low=0.0)
        self.seed = None if seed is None else check_int(seed, "seed")
        self.progress = bool(progress)

    def _params(self) -> dict:
        return {"hidden": self.hidden, "combine": self.combine, "modality_dropout": self.modality_dropout}

    def _tensors(self, arrays, masks):
        import torch

        xs = [torch.from_numpy(_normalise_present(arrays[m], masks[m], f"features_by_modality[{m!r}]"))
              for m in arrays]
        mask = torch.from_numpy(np.stack([masks[m] for m in arrays], axis=1))  # (N, M) bool
        return xs, mask

    def fit(self, features_by_modality, y, present=None) -> IntermediateFusion:
        """Train the encoders, the fusion step and the head jointly.

        Args:
            features_by_modality: dict modality -> (N, D_m) array.
            y: (N,) class labels.
            present: optional dict modality -> (N,) bool mask.
        Returns:
            self, with ``history_`` (loss per epoch) among the fitted attributes.
        """
        import torch
        import torch.nn.functional as F

        import mmlab

        from .train import fit as train_fit

        start = time.perf_counter()
        arrays, masks = self._inputs(features_by_modality, present, fitting=True)
        classes, y_idx = _check_labels(y, len(next(iter(arrays.values()))))
        self._require_some_modality(masks)
        seed = mmlab.SEED if self.seed is None else self.seed
        torch.manual_seed(seed)  # the initial weights come from the seed too
        net = _build_net([x.shape[1] for x in arrays.values()], self.hidden, len(classes),
                         self.combine, self.dropout)
        xs, mask = self._tensors(arrays, masks)
        p_drop = self.modality_dropout

        def loss_fn(model, *batch):
            *bx, bmask, by = batch
            if p_drop > 0:
                keep = bmask & (torch.rand(bmask.shape) >= p_drop)  # (B, M)
                # a row may not lose every modality: keep what it had
                keep = torch.where(keep.any(dim=1, keepdim=True), keep, bmask)
                bmask = keep
            return F.cross_entropy(model(bx, bmask), by)

        with _one_thread():
            self.history_ = train_fit(
                net, loss_fn, [*xs, mask, torch.from_numpy(y_idx)], epochs=self.epochs,
                batch_size=self.batch_size, lr=self.lr, weight_decay=self.weight_decay, seed=seed,
                progress=self.progress, desc=f"intermediate fusion ({self.combine})",
            )
        self.net_ = net.eval()
        self.classes_ = classes
        self.modalities_ = tuple(arrays)
        self.dims_ = {m: x.shape[1] for m, x in arrays.items()}
        self.n_parameters_ = int(sum(p.numel() for p in net.parameters()))
        self.fit_seconds_ = time.perf_counter() - start
        return self

    def predict_proba(self, features_by_modality, present=None) -> np.ndarray:
        """Class probabilities; absent modalities are masked (see the module docstring).

        Args:
            features_by_modality: dict modality -> (N, D_m); any non-empty subset of the
                training modalities.
            present: optional dict modality -> (N,) bool mask.
        Returns:
            (N, C) float64, rows sum to 1.
        """
        import torch

        self._check_fitted()
        arrays, masks = self._inputs(features_by_modality, present, fitting=False)
        self._require_some_modality(masks)
        xs, mask = self._tensors(arrays, masks)
        with torch.no_grad(), _one_thread():
            proba = torch.softmax(self.net_(xs, mask).double(), dim=1).numpy()  # (N, C)
        return proba / proba.sum(axis=1, keepdims=True)

    def modality_weights(self, features_by_modality, present=None) -> np.ndarray:
        """The attention weight of each modality per row (``combine="attention"`` only).

        Returns:
            (N, M) float64, columns in the order of ``modalities_``, rows sum to 1, zero where absent.
        """
        import torch

        self._check_fitted()
        if self.combine != "attention":
            raise ValueError(f"modality_weights: needs combine='attention', this model uses {self.combine!r}")
        arrays, masks = self._inputs(features_by_modality, present, fitting=False)
        self._require_some_modality(masks)
        xs, mask = self._tensors(arrays, masks)
        with torch.no_grad(), _one_thread():
            hs = [enc(x) * mask[:, i:i + 1] for i, (enc, x) in enumerate(zip(self.net_.encoders, xs))]
            return self.net_.modality_weights(hs, mask).double().numpy()


# ------------------------------------------------------------------------ evaluation

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
