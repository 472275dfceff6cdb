"""Late fusion: one classifier per modality, their probabilities combined."""
from __future__ import annotations

import time

import numpy as np

from .._validate import check_choice, check_float, check_int, describe, resolve_seed
from ..embeddings import l2_normalize
from ._base import _fit_logistic, _Fusion, _labels, _proba_in_classes

__all__ = ["LateFusion", "mean_of_present"]


def mean_of_present(probas, present, weights=None) -> np.ndarray:
    """Late fusion over the modalities present: per row, the weighted mean of their probabilities.

    Row i is ``sum_m w_m p_m[i] / sum_m w_m`` over the modalities m present in row i, so the
    weights are renormalised over what is there and every row still sums to 1. The rows of an
    absent modality are ignored whatever they hold (``LateFusion.predict_proba_by_modality``
    marks them NaN). A row whose present modalities all weigh 0 gets their plain mean.

    Args:
        probas: dict modality -> (N, C) class probabilities.
        present: dict modality -> (N,) bool mask, True where that modality is present; a
            modality left out is present in every row.
        weights: dict modality -> weight >= 0; None for equal weights.
    Returns:
        (N, C) float64.
    """
    from ._base import _check_present, _check_weights

    if not isinstance(probas, dict) or not probas:
        raise TypeError(f"probas: expected a non-empty dict modality -> (N, C) probabilities, got {describe(probas)}")
    mods = list(probas)
    arrays = {m: np.asarray(p, dtype=np.float64) for m, p in probas.items()}
    shape = arrays[mods[0]].shape
    if len(shape) != 2 or any(a.shape != shape for a in arrays.values()):
        raise ValueError(f"probas: expected (N, C) arrays of one shape, got {[a.shape for a in arrays.values()]}")
    masks = _check_present(present, arrays)
    w = _check_weights(weights, mods)
    if not np.any(np.stack([masks[m] for m in mods]), axis=0).all():
        raise ValueError("present: expected at least one modality in every row")
    stacked = np.stack([np.where(masks[m][:, None], arrays[m], 0.0) for m in mods])  # (M, N, C), absent -> 0
    return LateFusion._combine(stacked, np.stack([masks[m] for m in mods]).astype(np.float64),
                               np.array([w[m] for m in mods]))


class LateFusion(_Fusion):
    """Late fusion: one logistic regression per modality, probabilities averaged.

    Args:
        combine: ``"mean"`` (equal weights) or ``"weighted"``: weights that minimise the
            log-loss of the combination on a held-out validation split of the training
            data (the per-modality classifiers are then refit on all of it).
        val_fraction: the share of training rows held out to fit the weights.
        C: inverse L2 regularisation strength of each logistic regression.
        max_iter: iterations of each solver.
        min_weight: with ``"weighted"``, the least weight any modality gets. Without a floor
            a weak modality's weight can sink to 1e-60: it then counts for nothing even when
            it is the only one left (a modality missing at test time renormalises the rest).
        seed: seeds the validation split; None uses ``mmlab.SEED``.
    """

    def __init__(self, combine: str = "mean", *, val_fraction: float = 0.25, C: float = 10.0,
                 max_iter: int = 2000, min_weight: float = 0.01, seed: int | None = None):
        self.combine = check_choice(combine, "combine", ["mean", "weighted"])
        self.val_fraction = check_float(val_fraction, "val_fraction", low=0.0, high=0.9, low_inclusive=False)
        self.C = check_float(C, "C", low=0.0, low_inclusive=False)
        self.max_iter = check_int(max_iter, "max_iter", low=1)
        self.min_weight = check_float(min_weight, "min_weight", low=0.0, high=0.3)
        self.seed = None if seed is None else check_int(seed, "seed")

    def _params(self) -> dict:
        return {"combine": self.combine, "C": self.C, "min_weight": self.min_weight}

    def _fit_one(self, m: str, x: np.ndarray, mask: np.ndarray, y_idx: np.ndarray):
        if not mask.any():
            raise ValueError(f"present[{m!r}]: expected at least one row with this modality, got none")
        if len(np.unique(y_idx[mask])) < 2:
            raise ValueError(
                f"present[{m!r}]: the rows that have modality {m!r} hold a single class; "
                f"a classifier for it cannot be trained"
            )
        x = l2_normalize(x, name=f"features_by_modality[{m!r}]", present=mask)[mask]
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
                x = l2_normalize(arrays[m], name=f"features_by_modality[{m!r}]", present=mask)[mask]
                probas[i, mask] = _proba_in_classes(clfs[m], x, n_classes)
        return probas, np.stack([masks[m] for m in mods]).astype(np.float64)

    def _fit_weights(self, arrays, masks, y_idx, n_classes) -> np.ndarray:
        """Weights (each >= min_weight, summing to 1) minimising validation log-loss of the combination."""
        from scipy.optimize import minimize
        from scipy.special import softmax

        seed = resolve_seed(self.seed)
        n = len(y_idx)
        order = np.random.default_rng(seed).permutation(n)
        n_val = max(1, round(self.val_fraction * n))
        val, tr = order[:n_val], order[n_val:]
        clfs = {m: self._fit_one(m, arrays[m][tr], masks[m][tr], y_idx[tr]) for m in arrays}
        probas, pmask = self._probas(clfs, {m: a[val] for m, a in arrays.items()},
                                     {m: k[val] for m, k in masks.items()}, n_classes)
        rows = np.arange(len(val))
        floor = self.min_weight if self.min_weight * len(arrays) < 1 else 0.0

        def weights(theta):  # the floored simplex: each weight in [floor, 1 - (M-1) floor]
            return floor + (1 - floor * len(arrays)) * softmax(theta)

        def loss(theta):
            fused = self._combine(probas, pmask, weights(theta))
            return -np.log(fused[rows, y_idx[val]] + 1e-9).mean()

        theta = minimize(loss, np.zeros(len(arrays)), method="Nelder-Mead",
                         options={"xatol": 1e-3, "fatol": 1e-5, "maxiter": 400}).x
        return weights(theta)

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
        classes, y_idx = _labels(y, len(next(iter(arrays.values()))))
        self._require_some_modality(masks)
        if self.combine == "weighted" and len(arrays) > 1:
            w = self._fit_weights(arrays, masks, y_idx, len(classes))
        else:
            w = np.full(len(arrays), 1.0 / len(arrays))
        self.clfs_ = {m: self._fit_one(m, arrays[m], masks[m], y_idx) for m in arrays}
        self.weights_ = {m: float(v) for m, v in zip(arrays, w)}
        n_parameters = (sum(c.coef_.size + c.intercept_.size for c in self.clfs_.values())
                        + (len(arrays) if self.combine == "weighted" else 0))  # + one weight per modality
        self._record_fit(classes, arrays, n_parameters, start)
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

