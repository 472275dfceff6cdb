"""Similarity heatmaps between two sets of embeddings, optionally with thumbnails."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._validate import (
    as_array,
    check_float,
    check_int,
)
from ._common import HeatmapPlot, _image_list, _labels, _plt, _shorten

# ------------------------------------------------------------------ similarity_heatmap


def similarity_heatmap(
    A,
    B=None,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    *,
    ax=None,
    title: str = "Cosine similarity",
    xlabel: str = "",
    ylabel: str = "",
    annotate: bool | None = None,
    vmin: float | None = None,
    vmax: float = 1.0,
    cmap: str = "cividis",
    label_width: int = 40,
    row_images: Sequence | None = None,
) -> HeatmapPlot:
    """Heatmap of the cosine similarity between the rows of ``A`` and the rows of ``B``.

    Args:
        A: (N, D) embeddings (rows of the heatmap).
        B: (M, D) embeddings (columns); None compares ``A`` with itself.
        row_labels: N labels; col_labels: M labels (default: row_labels when B is None).
        ax: the axes to draw into; a new figure is made when None.
        title: the axes title.
        xlabel, ylabel: axis labels; default "columns (M)" / "rows (N)".
        annotate: write the value in each cell; default when the matrix has <= 150 cells.
        vmin, vmax: colour range; vmin defaults to min(0, smallest similarity).
        cmap: a perceptually uniform, colour-blind-safe colour map (default cividis).
        label_width: longer labels are shortened with an ellipsis.
        row_images: N images (PIL or arrays) drawn as thumbnails left of the rows, as in
            CLIP's "Interacting with CLIP" matrix of photos against captions; None for none.
    Returns:
        ``HeatmapPlot(fig, ax, similarity)`` with similarity the (N, M) float32 matrix.
    """
    from ..embeddings import cosine_similarity

    A = as_array(A, "A", ndim=2)
    B_arr = A if B is None else as_array(B, "B", ndim=2)
    if B is not None and A.shape[1] != B_arr.shape[1]:
        raise ValueError(
            f"A and B: expected the same embedding dimension, got {A.shape[1]} (A shape {A.shape}) "
            f"and {B_arr.shape[1]} (B shape {B_arr.shape}); vectors from different spaces cannot be compared"
        )
    rows = _labels(row_labels, "row_labels", A.shape[0])
    if col_labels is None and B is None:
        cols = rows
    else:
        cols = _labels(col_labels, "col_labels", B_arr.shape[0])
    label_width = check_int(label_width, "label_width", low=4)
    thumbs = None
    if row_images is not None:
        thumbs = _image_list(row_images, "row_images")
        if len(thumbs) != A.shape[0]:
            raise ValueError(f"row_images: expected {A.shape[0]} images (one per row of A), got {len(thumbs)}")
    sim = cosine_similarity(A, B_arr)  # (N, M)
    n, m = sim.shape
    if annotate is None:
        annotate = n * m <= 150
    lo = min(0.0, float(sim.min())) if vmin is None else check_float(vmin, "vmin")
    hi = check_float(vmax, "vmax")
    if hi <= lo:
        raise ValueError(f"vmax: expected a number > vmin ({lo}), got {hi}")

    plt = _plt()
    if ax is None:
        w = min(2.5 + 0.45 * m + 0.06 * max(map(len, rows)), 14)
        h = min(1.8 + 0.4 * n + 0.05 * max(map(len, cols)), 12)
        fig, ax = plt.subplots(figsize=(w, h))
    else:
        fig = ax.figure
    image = ax.imshow(sim, cmap=cmap, vmin=lo, vmax=hi, aspect="auto")
    ax.set_xticks(range(m))
    ax.set_xticklabels([_shorten(c, label_width) for c in cols], rotation=45, ha="right", rotation_mode="anchor",
                       fontsize=8)
    ax.set_yticks(range(n))
    ax.set_yticklabels([_shorten(r, label_width) for r in rows], fontsize=8)
    if annotate:
        cm = plt.get_cmap(cmap)
        for i in range(n):
            for j in range(m):
                # Dark text on the light end of the colour map, light text on the dark end.
                level = (sim[i, j] - lo) / (hi - lo)
                r, g, b, _ = cm(float(np.clip(level, 0, 1)))
                colour = "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white"
                ax.text(j, i, f"{sim[i, j]:.2f}", ha="center", va="center", fontsize=7, color=colour)
    if thumbs is not None:
        _row_thumbnails(ax, thumbs)
    fig.colorbar(image, ax=ax, label="cosine similarity", fraction=0.046, pad=0.03)
    ax.set_title(title)
    ax.set_xlabel(xlabel or f"columns ({m})")
    ax.set_ylabel(ylabel or f"rows ({n})")
    return HeatmapPlot(fig, ax, sim)


def _row_thumbnails(ax, images: list[np.ndarray]) -> None:
    """Draw one thumbnail per heatmap row, in a strip left of the axes (one cell high)."""
    from matplotlib.offsetbox import AnnotationBbox, OffsetImage

    fig = ax.figure
    fig.canvas.draw()  # the axes' size in pixels decides the zoom
    cell_px = ax.get_window_extent().height / len(images)
    # left of the row labels: their leftmost pixel, in axes coordinates
    renderer = fig.canvas.get_renderer()
    lefts = [t.get_window_extent(renderer).x0 for t in ax.get_yticklabels() if t.get_text()]
    x = ax.transAxes.inverted().transform((min(lefts), 0))[0] - 0.02 if lefts else -0.02
    for i, im in enumerate(images):
        zoom = 0.9 * cell_px / max(im.shape[0], im.shape[1])
        box = OffsetImage(im, zoom=zoom, cmap="gray" if im.ndim == 2 else None)
        # x in axes coordinates, y in data coordinates (row i)
        ab = AnnotationBbox(box, (0, i), xybox=(x, i), xycoords=("axes fraction", "data"),
                            boxcoords=("axes fraction", "data"), frameon=False, box_alignment=(1.0, 0.5))
        ax.add_artist(ab)


