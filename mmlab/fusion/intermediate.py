"""Intermediate fusion: per-modality encoders whose hidden states are combined and trained jointly."""
from __future__ import annotations

import time

import numpy as np

from .._threads import single_threaded
from .._validate import check_choice, check_float, check_int, describe, resolve_seed
from ..embeddings import l2_normalize
from ._base import _Fusion, _labels

__all__ = ["IntermediateFusion", "product_fusion"]

COMBINES = ("concat", "attention", "product")


def product_fusion(factors, mask):
    """Multiplicative fusion: the elementwise product of ``1 + z_m`` over the modalities present.

    Expanding the product of ``(1 + z_image)(1 + z_text)`` gives ``1 + z_image + z_text +
    z_image * z_text``: one term per modality (what an additive model has) and one term per pair
    (the interaction). An absent modality contributes the factor 1, the neutral element of a
    product (0 would wipe out every other modality's term). This is low-rank multimodal fusion
    (Liu et al., 2018), the low-rank form of tensor fusion (Zadeh et al., 2017).

    Args:
        factors: list of M float tensors (B, R), one per modality (``z_m``).
        mask: (B, M) bool tensor, True where modality m of row b is present.
    Returns:
        (B, R) tensor; gradients flow to every present factor. The inputs are not modified.
    """
    import torch

    if not isinstance(factors, (list, tuple)) or not factors:
        raise TypeError(f"factors: expected a non-empty list of (B, R) tensors, got {describe(factors)}")
    if not all(isinstance(z, torch.Tensor) and z.ndim == 2 for z in factors):
        raise TypeError("factors: expected every element to be a 2-D torch tensor (B, R)")
    shape = factors[0].shape
    if any(z.shape != shape for z in factors):
        raise ValueError(f"factors: expected every tensor to have shape {tuple(shape)}, got "
                         f"{[tuple(z.shape) for z in factors]}")
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool or tuple(mask.shape) != (shape[0], len(factors)):
        raise ValueError(f"mask: expected a bool tensor of shape ({shape[0]}, {len(factors)}), got {describe(mask)}")
    fused = torch.ones_like(factors[0])
    for m, z in enumerate(factors):
        fused = fused * torch.where(mask[:, m:m + 1], 1 + z, torch.ones_like(z))  # absent: times 1
    return fused


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
            elif combine == "product":
                # one linear map per modality to a factor z_m (no bias: an absent modality gives z_m = 0)
                self.factors = nn.ModuleList(nn.Linear(hidden, hidden, bias=False) for _ in dims)
                for f in self.factors:
                    # the hidden states of unit-length inputs are small (about 0.05 each): with the
                    # default init a product z_image * z_text starts near 1e-3 and gets almost no
                    # gradient; weights of std 1 make each z_m of order 0.1-1 from the first step
                    nn.init.normal_(f.weight, std=1.0)
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
            elif combine == "product":
                fused = product_fusion([f(h) for f, h in zip(self.factors, hs)], mask)  # (B, H)
            else:
                fused = torch.cat(hs, dim=1)  # (B, M*H)
            return self.head(fused)  # (B, C) logits

    return FusionNet()


class IntermediateFusion(_Fusion):
    """Intermediate fusion: per-modality encoders, hidden states combined, trained jointly.

    Each modality is L2-normalised, then encoded by Linear(D_m, hidden) + ReLU; the
    hidden states are concatenated (``combine="concat"``), summed with attention
    weights from a softmax over per-modality scores (``combine="attention"``), or
    multiplied (``combine="product"``: each hidden state is mapped linearly to a factor
    ``z_m`` and the fused vector is the elementwise product of ``1 + z_m``, see
    :func:`product_fusion`); a linear head gives the class logits. Trained with
    cross-entropy by ``mmlab.train.fit``.

    With ``"concat"`` the logits are a sum of one term per modality (additive: no
    interaction between modalities can be learned); ``"product"`` adds pairwise (and
    higher) products of the modalities' terms, so it can learn "this name *and* that picture".

    Args:
        hidden: width of each modality's hidden state.
        combine: ``"concat"``, ``"attention"`` or ``"product"``.
        normalize: L2-normalise each modality's rows first (the default, as everywhere in
            ``mm.fusion``); ``EarlyFusion(head="mlp")`` passes its fused rows unchanged.
        modality_dropout: during training, hide each present modality of a row with this
            probability (never all of them), so the model learns to cope without it.
        dropout: ordinary dropout on the hidden states.
        epochs, batch_size, lr, weight_decay: passed to ``mmlab.train.fit``.
        seed: seeds the initial weights and training; None uses ``mmlab.SEED``.
        progress: show a progress bar while training.
    """

    def __init__(self, hidden: int = 64, *, combine: str = "concat", modality_dropout: float = 0.0,
                 dropout: float = 0.1, epochs: int = 60, batch_size: int = 64, lr: float = 3e-3,
                 weight_decay: float = 1e-3, seed: int | None = None, progress: bool = False,
                 normalize: bool = True):
        self.hidden = check_int(hidden, "hidden", low=1)
        self.combine = check_choice(combine, "combine", list(COMBINES))
        self.normalize = bool(normalize)
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

        def prepare(m):
            if self.normalize:
                return l2_normalize(arrays[m], name=f"features_by_modality[{m!r}]", present=masks[m])
            return np.where(masks[m][:, None], arrays[m], 0.0).astype(np.float32)

        xs = [torch.from_numpy(prepare(m)) for m in arrays]
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

        from ..train import fit as train_fit

        start = time.perf_counter()
        arrays, masks = self._inputs(features_by_modality, present, fitting=True)
        classes, y_idx = _labels(y, len(next(iter(arrays.values()))))
        self._require_some_modality(masks)
        seed = resolve_seed(self.seed)
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

        with single_threaded():
            self.history_ = train_fit(
                net, loss_fn, [*xs, mask, torch.from_numpy(y_idx)], epochs=self.epochs,
                batch_size=self.batch_size, lr=self.lr, weight_decay=self.weight_decay, seed=seed,
                progress=self.progress, desc=f"intermediate fusion ({self.combine})",
            )
        self.net_ = net.eval()
        self._record_fit(classes, arrays, sum(p.numel() for p in net.parameters()), start)
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
        with torch.no_grad(), single_threaded():
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
        with torch.no_grad(), single_threaded():
            hs = [enc(x) * mask[:, i:i + 1] for i, (enc, x) in enumerate(zip(self.net_.encoders, xs))]
            return self.net_.modality_weights(hs, mask).double().numpy()

