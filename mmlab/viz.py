"""Pictures of embeddings: 2-D maps, similarity heatmaps, image grids and search galleries.

Every function draws with matplotlib, gives each figure a title and labelled axes (image
panels have their axes switched off and a figure title instead), uses a colour-blind-safe
palette, and returns the figure and axes so a notebook can adjust or save them.

``plot_embeddings`` and ``similarity_heatmap`` also return what they computed (the 2-D
coordinates, the similarity matrix) as a third item, so the picture and the numbers
behind it cannot drift apart::

    fig, ax, coords = mm.viz.plot_embeddings(X, labels, method="pca")
    fig, ax, sim = mm.viz.similarity_heatmap(A, B, row_labels, col_labels)
"""
from __future__ import annotations

import textwrap
import warnings
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np

from ._validate import (
    as_array,
    check_choice,
    check_float,
    check_int,
    check_str_list,
    describe,
    is_torch_tensor,
    resolve_seed,
)

__all__ = [
    "MARKERS",
    "PALETTE",
    "EmbeddingPlot",
    "HeatmapPlot",
    "image_grid",
    "plot_curves",
    "plot_embeddings",
    "show_neighbours",
    "similarity_heatmap",
]

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


# --------------------------------------------------------------------- plot_embeddings


def _project(X: np.ndarray, method: str, seed: int, n_neighbors: int, min_dist: float,
             perplexity: float, metric: str) -> tuple[np.ndarray, tuple[str, str]]:
    """(N, D) -> (N, 2) with the chosen method, plus the two axis labels."""
    n = X.shape[0]
    if method == "pca":
        from sklearn.decomposition import PCA

        if X.shape[1] < 2:
            raise ValueError(f"X: PCA to 2-D needs at least 2 columns, got shape {X.shape}")
        pca = PCA(n_components=2, random_state=seed)
        coords = pca.fit_transform(X)
        var = pca.explained_variance_ratio_ * 100
        return coords, (f"PC 1 ({var[0]:.0f}% of variance)", f"PC 2 ({var[1]:.0f}% of variance)")
    if method == "tsne":
        from sklearn.manifold import TSNE

        # t-SNE requires perplexity < N; about N/3 keeps tiny inputs meaningful.
        perp = float(min(perplexity, max((n - 1) / 3, 1.0)))
        tsne = TSNE(n_components=2, perplexity=perp, metric=metric, init="pca" if metric == "euclidean" else "random",
                    random_state=seed)
        return tsne.fit_transform(X), ("t-SNE 1", "t-SNE 2")
    import umap

    # UMAP's neighbour graph needs n_neighbors < N, and its spectral initialisation
    # fails on a handful of points, so tiny inputs start from a random layout.
    k = int(min(n_neighbors, n - 1))
    init = "spectral" if n > 10 else "random"
    reducer = umap.UMAP(n_components=2, n_neighbors=max(k, 2), min_dist=min_dist, metric=metric,
                        init=init, random_state=seed)
    with warnings.catch_warnings():
        # A fixed random_state makes UMAP single-threaded and it warns about that every time.
        warnings.filterwarnings("ignore", message=".*random_state.*", category=UserWarning)
        warnings.filterwarnings("ignore", message=".*n_jobs.*", category=UserWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        coords = reducer.fit_transform(X)
    return coords, ("UMAP 1", "UMAP 2")


def _group_styles(groups: list[str]) -> dict[str, tuple[str, str]]:
    """Colour and marker of each group, in order; colours repeat after 9 with a new marker."""
    styles = {}
    for i, g in enumerate(groups):
        colour = PALETTE[i % len(PALETTE)]
        marker = MARKERS[(i + i // len(PALETTE)) % len(MARKERS)]
        styles[g] = (colour, marker)
    return styles


def plot_embeddings(
    X,
    labels=None,
    method: str = "umap",
    *,
    ax=None,
    title: str | None = None,
    seed: int | None = None,
    order: Sequence[str] | None = None,
    annotations: Sequence[str] | None = None,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    perplexity: float = 30.0,
    metric: str = "cosine",
    point_size: float | None = None,
    alpha: float = 0.8,
    legend: str | None = "right",
) -> EmbeddingPlot:
    """Project embeddings to 2-D (UMAP, PCA or t-SNE) and scatter them, coloured by label.

    Args:
        X: (N, D) embeddings, N >= 3, finite.
        labels: N group labels (strings or ints) used for colour and marker, or None for one colour.
        method: "umap" (neighbourhoods), "pca" (the two directions of largest variance)
            or "tsne" (neighbourhoods, slower).
        ax: the axes to draw into; a new figure is made when None.
        title: the axes title; defaults to e.g. "UMAP of 1870 embeddings".
        seed: random seed for UMAP / t-SNE (None uses ``mmlab.SEED``); PCA is deterministic.
        order: the order of groups in the legend (and so their colours); defaults to first
            appearance. Every label must be in it.
        annotations: N short texts written next to the points (for small sets), or None.
        n_neighbors, min_dist: UMAP settings (n_neighbors is capped at N - 1).
        perplexity: t-SNE setting (capped for small N).
        metric: distance used by UMAP / t-SNE ("cosine" or "euclidean"); PCA is linear.
        point_size: marker area; chosen from N when None.
        alpha: marker opacity.
        legend: "right" (outside the axes), "below" (outside, under), "inside", or None.
            Left out when there are more than 20 groups.
    Returns:
        ``EmbeddingPlot(fig, ax, coords)`` with coords the (N, 2) float32 projected points.
    """
    X = as_array(X, "X", ndim=2)
    n = X.shape[0]
    if n < 3:
        raise ValueError(f"X: expected at least 3 rows to make a 2-D map, got shape {X.shape}")
    method = check_choice(method, "method", METHODS)
    metric = check_choice(metric, "metric", ("cosine", "euclidean"))
    if legend is not None:
        check_choice(legend, "legend", ("right", "below", "inside"))
    n_neighbors = check_int(n_neighbors, "n_neighbors", low=2)
    min_dist = check_float(min_dist, "min_dist", low=0.0)
    perplexity = check_float(perplexity, "perplexity", low=1.0)
    alpha = check_float(alpha, "alpha", low=0.0, high=1.0)
    seed = resolve_seed(seed)
    label_list = _labels(labels, "labels", n) if labels is not None else None
    if annotations is not None:
        annotations = _labels(annotations, "annotations", n)
    zero_rows = int((np.linalg.norm(X, axis=1) < 1e-12).sum())
    if metric == "cosine" and zero_rows:
        raise ValueError(f"X: expected rows with a non-zero length for the cosine distance, got {zero_rows} all-zero "
                         "rows; remove them or use metric='euclidean'")

    groups: list[str] = []
    if label_list is not None:
        if order is None:
            groups = list(dict.fromkeys(label_list))
        else:
            groups = check_str_list(order, "order")
            missing = sorted(set(label_list) - set(groups))
            if missing:
                raise ValueError(f"order: expected every label to be listed, missing {missing[:5]}")
            groups = [g for g in groups if g in set(label_list)]

    coords, (xlabel, ylabel) = _project(X, method, seed, n_neighbors, min_dist, perplexity, metric)
    coords = np.asarray(coords, dtype=np.float32)

    plt = _plt()
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.5, 5) if legend == "right" and label_list else (5.5, 5))
    else:
        fig = ax.figure
    size = point_size if point_size is not None else float(np.clip(8000 / n, 9, 60))

    if label_list is None:
        ax.scatter(coords[:, 0], coords[:, 1], s=size, c=PALETTE[0], alpha=alpha, linewidths=0)
    else:
        styles = _group_styles(groups)
        label_arr = np.asarray(label_list)
        for g in groups:
            idx = label_arr == g
            colour, marker = styles[g]
            ax.scatter(coords[idx, 0], coords[idx, 1], s=size, c=colour, marker=marker, alpha=alpha,
                       linewidths=0.3 if colour in ("#F0E442", "#999999") else 0,
                       edgecolors="#555555", label=f"{g} ({int(idx.sum())})")
        if legend is not None and len(groups) <= _MAX_LEGEND:
            kw = {"fontsize": 8, "markerscale": max(1.0, 30 / size) ** 0.5, "frameon": False, "handletextpad": 0.3}
            if legend == "right":
                ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, **kw)
            elif legend == "below":
                ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=min(3, len(groups)), **kw)
            else:
                ax.legend(loc="best", **kw)
    if annotations is not None:
        for (x, y), text in zip(coords, annotations):
            ax.annotate(_shorten(text, 30), (x, y), xytext=(3, 3), textcoords="offset points", fontsize=8)

    ax.set_title(title if title is not None else f"{method.upper() if method != 'tsne' else 't-SNE'} of {n} embeddings")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if method != "pca":
        # UMAP / t-SNE coordinates have no units: only who is near whom means anything.
        ax.set_xticks([])
        ax.set_yticks([])
    return EmbeddingPlot(fig, ax, coords)


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
    from .embeddings import cosine_similarity

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


# ------------------------------------------------------------------------- plot_curves


def plot_curves(
    curves,
    *,
    ax=None,
    title: str = "Training loss",
    xlabel: str = "epoch",
    ylabel: str = "loss",
    logy: bool = False,
):
    """Line plot of one or more series, e.g. the per-epoch losses ``mm.train.fit`` returns.

    Args:
        curves: a dict {name: sequence of numbers}, or a single sequence of numbers.
        ax: the axes to draw into; a new figure is made when None.
        title, xlabel, ylabel: the texts of the axes.
        logy: use a logarithmic y axis (all values must then be > 0).
    Returns:
        ``(fig, ax)``.
    """
    if not isinstance(curves, Mapping):
        curves = {"": curves}
    if not curves:
        raise ValueError("curves: expected at least one series, got an empty dict")
    series = {}
    for name, values in curves.items():
        if not isinstance(name, str):
            raise TypeError(f"curves: expected string names, got {describe(name)}")
        label = f"curves[{name!r}]" if name else "curves"
        arr = as_array(values, label, ndim=1, dtype=np.float64)
        if logy and (arr <= 0).any():
            raise ValueError(f"{label}: logy=True needs values > 0, got a minimum of {arr.min():.3g}")
        series[name] = arr
    plt = _plt()
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 3.5))
    else:
        fig = ax.figure
    for i, (name, arr) in enumerate(series.items()):
        x = np.arange(1, len(arr) + 1)
        ax.plot(x, arr, color=PALETTE[i % len(PALETTE)], marker=MARKERS[i % len(MARKERS)] if len(arr) <= 30 else None,
                markersize=4, label=name or None)
    if logy:
        ax.set_yscale("log")
    if any(series):
        ax.legend(fontsize=8, frameon=False)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    return fig, ax
