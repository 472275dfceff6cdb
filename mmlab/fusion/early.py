"""Early fusion: one embedding by concatenation, and one classifier on it."""
from __future__ import annotations

import time

import numpy as np

from .._validate import check_choice, check_float, check_int
from ..embeddings import l2_normalize
from ._base import _check_features, _check_weights, _fit_logistic, _Fusion, _labels, _proba_in_classes

__all__ = ["EarlyFusion", "concat_embeddings"]


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
            x = l2_normalize(x, name=f"features_by_modality[{m!r}]")
        blocks.append(x * np.float32(np.sqrt(w[m] / total)))  # (N, D_m)
    return np.concatenate(blocks, axis=1).astype(np.float32)  # (N, sum D_m)


class EarlyFusion(_Fusion):
    """Early fusion: normalise and weight each modality, concatenate, one classifier.

    The classifier is a logistic regression (``head="linear"``: its logits are a sum of one
    term per modality, so it is additive) or a small MLP (``head="mlp"``: Linear + ReLU +
    Linear on the whole concatenation, trained like ``IntermediateFusion``; its hidden units
    see every modality at once, so it can learn interactions).

    Args:
        weights: dict modality -> weight >= 0 applied as in ``concat_embeddings``; None for equal.
        normalize: L2-normalise each modality first (off: raw scales compete).
        missing: what to do with an absent modality (see module docstring):
            ``"error"`` (default), ``"zeros"`` or ``"mean"`` (the training mean of the block).
        C: inverse L2 regularisation strength of the logistic regression.
        max_iter: iterations of the solver.
        head: ``"linear"`` (logistic regression) or ``"mlp"``.
        mlp: with ``head="mlp"``, settings passed to ``IntermediateFusion`` (``hidden``,
            ``epochs``, ``dropout``, ``lr``, ``batch_size``, ``weight_decay``, ``seed``); its
            defaults otherwise.
    """

    def __init__(self, weights=None, *, normalize: bool = True, missing: str = "error",
                 C: float = 10.0, max_iter: int = 2000, head: str = "linear", mlp: dict | None = None):
        self.weights = weights
        self.normalize = bool(normalize)
        self.missing = check_choice(missing, "missing", ["error", "zeros", "mean"])
        self.C = check_float(C, "C", low=0.0, low_inclusive=False)
        self.max_iter = check_int(max_iter, "max_iter", low=1)
        self.head = check_choice(head, "head", ["linear", "mlp"])
        allowed = {"hidden", "epochs", "dropout", "lr", "batch_size", "weight_decay", "seed"}
        if mlp is not None and (not isinstance(mlp, dict) or set(mlp) - allowed):
            raise ValueError(f"mlp: expected None or a dict with keys among {sorted(allowed)}, got {mlp!r}")
        self.mlp = dict(mlp or {})

    def _params(self) -> dict:
        params = {"weights": self.weights, "normalize": self.normalize, "missing": self.missing}
        return {**params, "head": self.head} if self.head == "mlp" else {**params, "C": self.C}

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
            block = l2_normalize(x, name=name, present=mask) if self.normalize else np.where(mask[:, None], x, 0.0)
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
        classes, y_idx = _labels(y, len(next(iter(arrays.values()))))
        self.weights_ = _check_weights(self.weights, list(arrays))
        self.fill_: dict[str, np.ndarray] = {}
        X = self._design(arrays, masks, fitting=True)  # (N, sum D_m)
        if self.head == "mlp":
            from .intermediate import IntermediateFusion

            mlp = IntermediateFusion(normalize=False, **self.mlp).fit({"concatenation": X}, y)
            self.clf_ = mlp
            n_parameters = mlp.n_parameters_
        else:
            clf = _fit_logistic(X, y_idx, self.C, self.max_iter)
            self.clf_ = clf
            n_parameters = clf.coef_.size + clf.intercept_.size
        self._record_fit(classes, arrays, n_parameters, start)
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
        if self.head == "mlp":
            return self.clf_.predict_proba({"concatenation": X})
        return _proba_in_classes(self.clf_, X, len(self.classes_))

