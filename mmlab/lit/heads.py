"""Two small projection heads to a shared space with a learnable logit scale; saving and loading them."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._validate import as_array, check_float, check_int, describe

__all__ = ["INIT_SCALE", "MAX_SCALE", "ProjectionHeads", "load_heads", "save_heads"]

#: CLIP's choices: start at 1/0.07 and never let the multiplier exceed 100.
INIT_SCALE = 1 / 0.07
MAX_SCALE = 100.0


def _head(in_dim: int, out_dim: int, hidden: int) -> nn.Module:
    if hidden:
        return nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, out_dim))
    return nn.Linear(in_dim, out_dim)


class ProjectionHeads(nn.Module):
    """Two projection heads into one shared, L2-normalised space, and a learnable logit scale.

    Args:
        dim_a: input dimension of side a (e.g. 1280 for EfficientNet-Lite0 images).
        dim_b: input dimension of side b (e.g. 384 for MiniLM text).
        dim: the shared output dimension.
        hidden: 0 for a single Linear layer per side, else the width of a 2-layer MLP.
        init_scale: the starting logit scale (the multiplier, > 0).
        max_scale: the cap on the multiplier (CLIP: 100), so training cannot make the softmax
            arbitrarily sharp. As in open_clip, the parameter itself is clamped after each
            optimiser step (``clamp_scale_``); ``train_heads`` does that for you.
        learn_scale: whether the scale is trained or fixed at ``init_scale``.
        init_bias: the starting logit bias, used only by the SigLIP loss (its paper: -10).
    """

    def __init__(self, dim_a: int, dim_b: int, dim: int = 128, hidden: int = 0,
                 init_scale: float = INIT_SCALE, max_scale: float = MAX_SCALE, learn_scale: bool = True,
                 init_bias: float = -10.0):
        super().__init__()
        dim_a = check_int(dim_a, "dim_a", low=1)
        dim_b = check_int(dim_b, "dim_b", low=1)
        dim = check_int(dim, "dim", low=1)
        hidden = check_int(hidden, "hidden", low=0)
        max_scale = check_float(max_scale, "max_scale", low=0.0, low_inclusive=False)
        init_scale = check_float(init_scale, "init_scale", low=0.0, low_inclusive=False, high=max_scale)
        init_bias = check_float(init_bias, "init_bias")
        self.config: dict[str, Any] = {"dim_a": dim_a, "dim_b": dim_b, "dim": dim, "hidden": hidden, "init_scale": init_scale,
                       "max_scale": max_scale, "learn_scale": bool(learn_scale), "init_bias": init_bias}
        self.head_a = _head(dim_a, dim, hidden)
        self.head_b = _head(dim_b, dim, hidden)
        # CLIP learns log(scale): a multiplicative quantity, kept positive, updated in log space
        self.log_scale = nn.Parameter(torch.tensor(math.log(init_scale)), requires_grad=bool(learn_scale))
        self.logit_bias = nn.Parameter(torch.tensor(init_bias))

    @property
    def logit_scale(self) -> torch.Tensor:
        """The multiplier exp(log_scale) (0-d tensor, differentiable).

        No clamp here: a clamp inside the forward pass would pass zero gradient once the
        parameter is above the cap, so it could never come back. ``clamp_scale_`` clamps the
        parameter itself after each step instead, as open_clip's training loop does.
        """
        return self.log_scale.exp()

    @torch.no_grad()
    def clamp_scale_(self) -> ProjectionHeads:
        """Clamp ``log_scale`` in place at log(``max_scale``); call it after every optimiser step."""
        self.log_scale.clamp_(max=math.log(self.config["max_scale"]))
        return self

    def project_a(self, x: torch.Tensor) -> torch.Tensor:
        """(N, dim_a) -> (N, dim), L2-normalised."""
        return F.normalize(self.head_a(x), dim=-1)

    def project_b(self, x: torch.Tensor) -> torch.Tensor:
        """(N, dim_b) -> (N, dim), L2-normalised."""
        return F.normalize(self.head_b(x), dim=-1)

    def forward(self, a: torch.Tensor, b: torch.Tensor):
        """Both projections and the scale: ``(za (N, dim), zb (N, dim), logit_scale)``."""
        return self.project_a(a), self.project_b(b), self.logit_scale

    @torch.no_grad()
    def transform(self, x, side: str) -> np.ndarray:
        """Project numpy/tensor features of one side; returns (N, dim) float32, L2-normalised."""
        if side not in ("a", "b"):
            raise ValueError(f"side: expected 'a' or 'b', got {side!r}")
        want = self.config["dim_a" if side == "a" else "dim_b"]
        arr = as_array(x, "x")
        if arr.shape[1] != want:
            raise ValueError(f"x: expected (N, {want}) features for side {side!r}, got shape {arr.shape}")
        was_training = self.training
        self.eval()
        proj = self.project_a if side == "a" else self.project_b
        out = proj(torch.from_numpy(arr)).numpy().astype(np.float32)
        self.train(was_training)
        return out


def save_heads(heads: ProjectionHeads, path, **metadata) -> Path:
    """Save heads as a plain dict (state_dict, config, metadata) loadable with ``weights_only=True``.

    Args:
        heads: trained ``ProjectionHeads``.
        path: file to write (parents are created).
        **metadata: small extra facts (str, int, float, lists of them), e.g. encoder names.
    Returns:
        The path written.
    """
    if not isinstance(heads, ProjectionHeads):
        raise TypeError(f"heads: expected ProjectionHeads, got {describe(heads)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().clone() for k, v in heads.state_dict().items()}
    torch.save({"format": "mmlab-heads-1", "config": dict(heads.config), "state_dict": state,
                "metadata": dict(metadata)}, path)
    return path


def load_heads(path) -> tuple[ProjectionHeads, dict]:
    """Load heads written by ``save_heads`` (``torch.load(weights_only=True)``).

    Returns:
        ``(heads, metadata)`` with the heads in eval mode.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path: expected a heads file written by mmlab.lit.save_heads, found nothing at {path}")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"path: expected a heads file written by mmlab.lit.save_heads, but {path} is not one "
                         f"(torch.load failed: {type(exc).__name__})") from None
    if not isinstance(blob, dict) or blob.get("format") != "mmlab-heads-1":
        raise ValueError(f"path: expected a heads file written by mmlab.lit.save_heads, but {path} is not one")
    heads = ProjectionHeads(**blob["config"])
    heads.load_state_dict(blob["state_dict"])
    heads.eval()
    return heads, blob.get("metadata", {})
