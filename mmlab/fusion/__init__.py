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
  (weights renormalised over them; ``mean_of_present`` is that step on its own).
- ``IntermediateFusion``: masks the absent encoder: its hidden state is zero in
  ``combine="concat"``, excluded from the softmax in ``combine="attention"``, and a
  factor of 1 in ``combine="product"`` (``product_fusion``).
  ``modality_dropout`` during training teaches the model to expect this.

Late and intermediate fusion need at least one present modality in every row.
Fitted models expose ``classes_``, ``modalities_``, ``n_parameters_`` (learned
numbers) and ``fit_seconds_`` (wall-clock training time).
"""
from __future__ import annotations

from ._base import evaluate
from .early import EarlyFusion, concat_embeddings
from .intermediate import IntermediateFusion, product_fusion
from .late import LateFusion, mean_of_present

# the public path, so messages that name a helper (mm.checks.fallback) print mm.fusion.concat_embeddings
for _helper in (concat_embeddings, product_fusion, mean_of_present, evaluate):
    _helper.__module__ = __name__
del _helper

__all__ = [
    "EarlyFusion",
    "IntermediateFusion",
    "LateFusion",
    "concat_embeddings",
    "evaluate",
    "mean_of_present",
    "product_fusion",
]
