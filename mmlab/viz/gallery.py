"""Image grids and search galleries (a query and its neighbours)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._validate import (
    check_float,
    check_int,
    describe,
)
from ._common import (
    PALETTE,
    _as_image,
    _draw_text_panel,
    _image_list,
    _is_image,
    _labels,
    _plt,
    _scores,
    _shorten,
    _wrap,
)

# -------------------------------------------------------------------------- image_grid


def image_grid(
    images,
    titles: Sequence[str] | None = None,
    *,
    ncols: int = 8,
    title: str = "Images",
    cell_size: float = 1.4,
    title_width: int = 16,
):
    """Show images in a grid, each with an optional caption.

    Args:
        images: a list of PIL images or (H, W), (H, W, 3), (H, W, 4) arrays
            (uint8, or floats in [0, 1]); a 4-D array is taken as a batch.
        titles: one caption per image, or None.
        ncols: the number of columns (fewer when there are fewer images).
        title: the figure title (the panels have no axes, so the figure carries it).
        cell_size: inches per panel.
        title_width: captions are wrapped at this many characters (two lines at most).
    Returns:
        ``(fig, axes)``: axes is a 1-D array with one Axes per image (unused cells are removed).
    """
    imgs = _image_list(images, "images")
    caps = _labels(titles, "titles", len(imgs)) if titles is not None else None
    ncols = check_int(ncols, "ncols", low=1)
    cell_size = check_float(cell_size, "cell_size", low=0.2)
    if not isinstance(title, str):
        raise TypeError(f"title: expected a string, got {describe(title)}")
    ncols = min(ncols, len(imgs))
    nrows = -(-len(imgs) // ncols)
    plt = _plt()
    extra = 0.35 if caps else 0.0
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * cell_size, nrows * (cell_size + extra) + 0.5),
                             squeeze=False)
    flat = axes.ravel()
    for i, ax in enumerate(flat):
        if i >= len(imgs):
            fig.delaxes(ax)
            continue
        im = imgs[i]
        ax.imshow(im, cmap="gray" if im.ndim == 2 else None, vmin=0 if im.ndim == 2 else None,
                  vmax=(1.0 if np.issubdtype(im.dtype, np.floating) else 255) if im.ndim == 2 else None)
        ax.set_axis_off()
        if caps:
            ax.set_title(_wrap(caps[i], title_width, max_lines=2), fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig, flat[: len(imgs)]


# ---------------------------------------------------------------------- show_neighbours


def show_neighbours(
    query,
    neighbours,
    scores,
    *,
    neighbour_titles: Sequence[str] | None = None,
    query_title: str = "query",
    title: str = "Nearest neighbours",
    score_name: str = "cosine",
    cell_size: float = 1.5,
):
    """A gallery of search results: the query, then each neighbour with its score.

    Works for any pairing of images and texts: an image or text query, and image results
    (drawn as a row of pictures) or text results (drawn as a bar chart of scores).

    Args:
        query: a PIL image / pixel array, or a string.
        neighbours: K results, best first: a list of images, or a list of strings.
        scores: (K,) similarity of each result to the query.
        neighbour_titles: K captions for image results (e.g. names); ignored for text results.
        query_title: the caption of the query panel.
        title: the figure title.
        score_name: what the score is, used in captions and the bar chart's axis label.
        cell_size: inches per image panel.
    Returns:
        ``(fig, axes)``: for image results, 1-D array of K + 1 axes (query first); for text
        results, the query axes (None for a text query) and the bar-chart axes.
    """
    if isinstance(neighbours, (str, bytes)) or neighbours is None:
        raise TypeError(f"neighbours: expected a list of images or of strings, got {describe(neighbours)}")
    if _is_image(neighbours) and not (isinstance(neighbours, np.ndarray) and neighbours.ndim == 4):
        raise TypeError(f"neighbours: expected a list of images or of strings, got {describe(neighbours)}")
    neighbours = list(neighbours)
    if not neighbours:
        raise ValueError("neighbours: expected at least one result, got an empty list")
    k = len(neighbours)
    s = _scores(scores, "scores", k)
    if not isinstance(query, str):
        query_img = _as_image(query, "query") if _is_image(query) else None
        if query_img is None:
            raise TypeError(f"query: expected a PIL image, a pixel array or a string, got {describe(query)}")
    else:
        query_img = None
    text_results = all(isinstance(x, str) for x in neighbours)
    if not text_results and any(isinstance(x, str) for x in neighbours):
        raise TypeError("neighbours: expected all images or all strings, got a mix")
    cell_size = check_float(cell_size, "cell_size", low=0.2)
    plt = _plt()

    if text_results:
        bar_h = 0.32 * k + 1.2
        if query_img is not None:
            fig, (ax_q, ax) = plt.subplots(1, 2, figsize=(8, max(bar_h, 2.4)), gridspec_kw={"width_ratios": [1, 3]})
            ax_q.imshow(query_img)
            ax_q.set_axis_off()
            ax_q.set_title(_wrap(query_title, 20, 2), fontsize=9)
        else:
            fig, ax = plt.subplots(figsize=(7, bar_h))
            ax_q = None
        y = np.arange(k)
        ax.barh(y, s, color=PALETTE[0])
        ax.set_yticks(y)
        ax.set_yticklabels([_shorten(t, 40) for t in neighbours], fontsize=8)
        ax.invert_yaxis()  # best result on top
        for yi, v in zip(y, s):
            ax.text(v, yi, f" {v:.2f}", va="center", ha="left" if v >= 0 else "right", fontsize=7)
        lo = min(0.0, float(s.min()))
        ax.set_xlim(lo * 1.15, max(float(s.max()), 0.0) * 1.15 + 1e-6)
        ax.set_xlabel(f"{score_name} similarity to the query")
        ax.set_ylabel("result (best first)")
        if isinstance(query, str):
            fig.suptitle(f"{title}\nquery: {_shorten(query, 60)!r}", fontsize=11)
        else:
            fig.suptitle(title)
        fig.tight_layout()
        return fig, (ax_q, ax)

    imgs = [_as_image(im, f"neighbours[{i}]") for i, im in enumerate(neighbours)]
    caps = _labels(neighbour_titles, "neighbour_titles", k) if neighbour_titles is not None else [""] * k
    fig, axes = plt.subplots(1, k + 1, figsize=((k + 1) * cell_size, cell_size + 1.0), squeeze=False)
    axes = axes.ravel()
    ax_q = axes[0]
    if query_img is not None:
        ax_q.imshow(query_img)
        ax_q.set_xticks([])
        ax_q.set_yticks([])
    else:
        _draw_text_panel(ax_q, query)
    # A coloured frame marks the query apart from the results.
    for spine in ax_q.spines.values():
        spine.set_edgecolor(PALETTE[1])
        spine.set_linewidth(3)
    ax_q.set_title(_wrap(query_title, 16, 2), fontsize=8, fontweight="bold")
    for i, (ax, im) in enumerate(zip(axes[1:], imgs)):
        ax.imshow(im)
        ax.set_axis_off()
        caption = f"{i + 1}. {caps[i]}".rstrip(". ") if caps[i] else f"{i + 1}."
        ax.set_title(f"{_wrap(caption, 16, 2)}\n{score_name} {s[i]:.2f}", fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig, axes


