"""2-D maps of embeddings: UMAP, PCA or t-SNE, coloured by group."""
from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from .._validate import (
    as_array,
    check_choice,
    check_float,
    check_int,
    check_str_list,
    resolve_seed,
)
from ._common import _MAX_LEGEND, MARKERS, METHODS, PALETTE, EmbeddingPlot, _labels, _plt, _shorten

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


