"""What every figure of mmlab.viz shares: the palette, result types and input helpers."""
from __future__ import annotations

import textwrap
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from .._validate import (
    as_array,
    describe,
    is_torch_tensor,
)

#: Okabe & Ito's colour-blind-safe palette (8 colours) plus a neutral grey: enough for
#: the nine emoji groups. Black is last but one so it is not the first group's colour.
PALETTE: tuple[str, ...] = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#D55E00",  # vermillion
    "#F0E442",  # yellow
    "#000000",  # black
    "#999999",  # grey
)
#: Marker shapes cycled together with the colours, so groups differ in shape as well as
#: hue (this also keeps groups apart in a greyscale print).
MARKERS: tuple[str, ...] = ("o", "s", "^", "D", "v", "P", "X", "*", "<")

METHODS = ("umap", "pca", "tsne")
# Legends with more entries than this would hide the plot; they are left out.
_MAX_LEGEND = 20


class EmbeddingPlot(NamedTuple):
    """What ``plot_embeddings`` returns: unpack as ``fig, ax, coords``."""

    fig: object
    ax: object
    coords: np.ndarray  # (N, 2) float32, the projected points in input order


class HeatmapPlot(NamedTuple):
    """What ``similarity_heatmap`` returns: unpack as ``fig, ax, similarity``."""

    fig: object
    ax: object
    similarity: np.ndarray  # (N, M) float32 cosine similarities


# --------------------------------------------------------------------------- helpers


def _plt():
    # Imported on first use so `import mmlab` stays light and a backend chosen by the
    # caller (Agg in tests, inline in notebooks) is respected.
    import matplotlib.pyplot as plt

    return plt


def _labels(values, name: str, n: int) -> list[str]:
    """Check a sequence of ``n`` labels (strings or numbers) and return them as strings."""
    if values is None or isinstance(values, (str, bytes, Mapping)):
        raise TypeError(f"{name}: expected a list of {n} labels, got {describe(values)}")
    if not hasattr(values, "__len__") or not hasattr(values, "__iter__"):
        raise TypeError(f"{name}: expected a list of {n} labels, got {describe(values)}")
    values = list(values.tolist() if isinstance(values, np.ndarray) else values)
    if len(values) != n:
        raise ValueError(f"{name}: expected {n} labels (one per row), got {len(values)}")
    out = []
    for i, v in enumerate(values):
        if isinstance(v, (str, np.str_)):
            out.append(str(v))
        elif isinstance(v, (int, np.integer)) and not isinstance(v, bool):
            out.append(str(int(v)))
        else:
            raise TypeError(f"{name}[{i}]: expected a string or an int label, got {describe(v)}")
    return out


def _shorten(text: str, width: int) -> str:
    """One line of at most ``width`` characters, ending in an ellipsis when cut."""
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: max(width - 1, 1)].rstrip() + "…"


def _wrap(text: str, width: int, max_lines: int = 3) -> str:
    lines = textwrap.wrap(" ".join(str(text).split()), width) or [""]
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = _shorten(lines[-1] + " …", width)
    return "\n".join(lines)


def _is_image(x) -> bool:
    from PIL import Image  # a dependency of mmlab

    return isinstance(x, (Image.Image, np.ndarray)) or is_torch_tensor(x)


def _as_image(x, name: str) -> np.ndarray:
    """Turn a PIL image or an (H, W), (H, W, 3) or (H, W, 4) array into something imshow takes."""
    from PIL import Image

    if isinstance(x, Image.Image):
        return np.asarray(x.convert("RGBA") if x.mode in ("P", "LA", "RGBA") else x.convert("RGB"))
    if is_torch_tensor(x) or isinstance(x, np.ndarray):
        arr = as_array(x, name, ndim=(2, 3), dtype=None)
        if arr.ndim == 3 and arr.shape[-1] not in (1, 3, 4):
            if arr.shape[0] in (1, 3):  # channels-first, as torchvision tensors are
                arr = np.moveaxis(arr, 0, -1)
            else:
                raise ValueError(
                    f"{name}: expected an image of shape (H, W), (H, W, 3) or (H, W, 4), got {arr.shape}"
                )
        if arr.ndim == 3 and arr.shape[-1] == 1:
            arr = arr[..., 0]
        if np.issubdtype(arr.dtype, np.floating):
            lo, hi = float(arr.min()), float(arr.max())
            if lo < -1e-6 or hi > 1 + 1e-6:
                raise ValueError(
                    f"{name}: expected float pixel values in [0, 1] (or uint8 in [0, 255]), "
                    f"got values from {lo:.3g} to {hi:.3g}"
                )
            arr = np.clip(arr, 0.0, 1.0)
        elif arr.dtype != np.uint8:
            if arr.min() < 0 or arr.max() > 255:
                raise ValueError(f"{name}: expected integer pixel values in [0, 255], got {arr.min()}..{arr.max()}")
            arr = arr.astype(np.uint8)
        return arr
    raise TypeError(f"{name}: expected a PIL image or a numpy array of pixels, got {describe(x)}")


def _image_list(images, name: str) -> list[np.ndarray]:
    if isinstance(images, np.ndarray) and images.ndim == 4:
        images = list(images)  # a batch (N, H, W, C)
    elif images is None or isinstance(images, (str, bytes, Mapping, np.ndarray)) or _is_image(images):
        # A single image instead of a list of images is a common slip: say so explicitly.
        raise TypeError(f"{name}: expected a list of images (PIL or arrays), got {describe(images)}")
    elif not hasattr(images, "__iter__"):
        raise TypeError(f"{name}: expected a list of images (PIL or arrays), got {describe(images)}")
    images = list(images)
    if len(images) == 0:
        raise ValueError(f"{name}: expected at least one image, got an empty list")
    return [_as_image(im, f"{name}[{i}]") for i, im in enumerate(images)]


def _scores(scores, name: str, n: int) -> np.ndarray:
    arr = as_array(scores, name, ndim=1, dtype=np.float32)
    if arr.shape[0] != n:
        raise ValueError(f"{name}: expected {n} scores (one per neighbour), got {arr.shape[0]}")
    return arr


def _draw_text_panel(ax, text: str, *, width: int = 18, fontsize: float = 9) -> None:
    ax.text(0.5, 0.5, _wrap(text, width, max_lines=5), ha="center", va="center", fontsize=fontsize,
            transform=ax.transAxes, wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])


