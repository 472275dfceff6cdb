"""mmlab.viz: each plot has the expected points / cells / panels, titles and labels; bad input is rejected."""
import matplotlib
import matplotlib.colors as mcolors
import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image

from mmlab import viz


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _blobs(n_per=12, groups=3, dim=16, seed=0):
    """Well-separated clusters, so a 2-D map must keep them apart."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(groups, dim)) * 10
    X = np.concatenate([c + rng.normal(size=(n_per, dim)) for c in centres]).astype(np.float32)
    labels = [f"g{i}" for i in range(groups) for _ in range(n_per)]
    return X, labels


def _n_points(ax):
    return sum(len(c.get_offsets()) for c in ax.collections)


def _images(n, size=8):
    rng = np.random.default_rng(0)
    return [Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)) for _ in range(n)]


def test_backend_is_headless():
    assert matplotlib.get_backend().lower() == "agg"


def test_palette_is_distinct_and_covers_nine_groups():
    assert len(set(viz.PALETTE)) == len(viz.PALETTE) >= 9
    assert all(mcolors.is_color_like(c) for c in viz.PALETTE)


@pytest.mark.parametrize("method", ["pca", "umap", "tsne"])
def test_plot_embeddings_draws_every_point_and_keeps_clusters_apart(method):
    X, labels = _blobs()
    _fig, ax, coords = viz.plot_embeddings(X, labels, method=method, seed=0)
    assert _n_points(ax) == len(X) == len(coords)
    assert coords.shape == (len(X), 2) and coords.dtype == np.float32
    assert len(ax.collections) == 3  # one scatter per group
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts == ["g0 (12)", "g1 (12)", "g2 (12)"]
    # Each point's nearest neighbour in 2-D is from its own cluster.
    d = ((coords[:, None] - coords[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    lab = np.asarray(labels)
    assert (lab[d.argmin(1)] == lab).mean() > 0.9


def test_plot_embeddings_groups_get_distinct_colours_and_order_is_respected():
    X, labels = _blobs(n_per=4, groups=9)
    _, ax, _ = viz.plot_embeddings(X, labels, method="pca", order=[f"g{i}" for i in reversed(range(9))])
    colours = [mcolors.to_hex(c.get_facecolor()[0]) for c in ax.collections]
    assert len(set(colours)) == 9
    assert ax.get_legend().get_texts()[0].get_text().startswith("g8")


def test_plot_embeddings_is_deterministic_given_a_seed():
    X, labels = _blobs(n_per=8)
    a = viz.plot_embeddings(X, labels, method="umap", seed=3).coords
    b = viz.plot_embeddings(X, labels, method="umap", seed=3).coords
    np.testing.assert_allclose(a, b)


@pytest.mark.parametrize("method", ["umap", "tsne", "pca"])
def test_plot_embeddings_tiny_input(method):
    # UMAP needs n_neighbors < N and t-SNE needs perplexity < N: both are capped.
    X = np.random.default_rng(0).normal(size=(4, 5))
    _, ax, coords = viz.plot_embeddings(X, ["a", "b", "a", "b"], method=method, annotations=list("wxyz"))
    assert coords.shape == (4, 2) and np.isfinite(coords).all()
    assert [t.get_text() for t in ax.texts] == list("wxyz")


def test_plot_embeddings_without_labels_and_into_given_axes():
    X, _ = _blobs()
    fig, (ax1, ax2) = plt.subplots(1, 2)
    out = viz.plot_embeddings(X, method="pca", ax=ax2, title="mine")
    assert out.fig is fig and out.ax is ax2
    assert _n_points(ax2) == len(X) and _n_points(ax1) == 0
    assert ax2.get_title() == "mine" and ax2.get_legend() is None


def test_plot_embeddings_int_labels_and_many_groups_drop_the_legend():
    X = np.random.default_rng(0).normal(size=(60, 4))
    _, ax, _ = viz.plot_embeddings(X, list(range(30)) * 2, method="pca")
    assert ax.get_legend() is None
    assert _n_points(ax) == 60


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"X": np.ones(5)}, ValueError, "X: expected a 2-D"),
        ({"X": np.ones((2, 4))}, ValueError, "at least 3 rows"),
        ({"X": np.ones((0, 4))}, ValueError, "X"),
        ({"X": [[1.0, np.nan], [0, 1], [1, 1]]}, ValueError, "X: expected finite"),
        ({"X": np.ones((5, 3)), "labels": ["a"] * 4}, ValueError, "labels: expected 5 labels"),
        ({"X": np.ones((5, 3)), "labels": "aaaaa"}, TypeError, "labels"),
        ({"X": np.ones((3, 3)), "labels": [1.5, 2.0, 3.0]}, TypeError, r"labels\[0\]"),
        ({"X": np.ones((5, 3)), "method": "lda"}, ValueError, "method: expected one of"),
        ({"X": np.ones((5, 3)), "legend": "top"}, ValueError, "legend"),
        ({"X": np.ones((5, 3)), "labels": list("aabbc"), "order": ["a", "b"]}, ValueError, r"order.*\['c'\]"),
        ({"X": np.zeros((5, 3)), "method": "umap"}, ValueError, "all-zero rows"),
        ({"X": "cat"}, TypeError, "X"),
        ({"X": np.ones((5, 3)), "n_neighbors": 1}, ValueError, "n_neighbors"),
    ],
)
def test_plot_embeddings_rejects_bad_input(kwargs, exc, match):
    kwargs.setdefault("method", "pca")
    with pytest.raises(exc, match=match):
        viz.plot_embeddings(**kwargs)


def test_similarity_heatmap_cells_values_and_annotations():
    A = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    B = np.array([[1.0, 0.0], [-1.0, 0.0]])
    fig, ax, sim = viz.similarity_heatmap(A, B, ["x", "y", "xy"], ["right", "left"], title="t")
    assert sim.shape == (3, 2)
    np.testing.assert_allclose(sim, [[1, -1], [0, 0], [np.sqrt(0.5), -np.sqrt(0.5)]], atol=1e-6)
    shown = ax.images[0].get_array()
    assert shown.shape == (3, 2)
    assert len(ax.texts) == 6 and ax.texts[0].get_text() == "1.00"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["x", "y", "xy"]
    assert ax.get_title() == "t" and ax.get_xlabel() and ax.get_ylabel()
    assert len(fig.axes) == 2  # the heatmap and its colour bar


def test_similarity_heatmap_self_and_no_annotations_when_large():
    A = np.random.default_rng(0).normal(size=(20, 8))
    _, ax, sim = viz.similarity_heatmap(A, row_labels=[f"r{i} " * 20 for i in range(20)])
    assert sim.shape == (20, 20)
    np.testing.assert_allclose(np.diag(sim), 1.0, atol=1e-5)
    assert len(ax.texts) == 0
    assert max(len(t.get_text()) for t in ax.get_xticklabels()) <= 40  # long labels are shortened


@pytest.mark.parametrize(
    "args, kwargs, exc, match",
    [
        ((np.ones((2, 3)), np.ones((2, 4)), ["a", "b"], ["c", "d"]), {}, ValueError, "A and B.*3.*4"),
        ((np.ones((2, 3)), np.ones((2, 3)), ["a"], ["c", "d"]), {}, ValueError, "row_labels: expected 2"),
        ((np.ones((2, 3)), np.ones((2, 3)), ["a", "b"], None), {}, TypeError, "col_labels"),
        ((np.ones((2, 3)), None, None), {}, TypeError, "row_labels"),
        ((np.ones(3), None, ["a"]), {}, ValueError, "A: expected a 2-D"),
        ((np.array([[np.inf, 1.0]]), None, ["a"]), {}, ValueError, "finite"),
        ((np.ones((2, 3)), None, ["a", "b"]), {"vmin": 2.0}, ValueError, "vmax"),
    ],
)
def test_similarity_heatmap_rejects_bad_input(args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        viz.similarity_heatmap(*args, **kwargs)


def test_image_grid_panels_titles_and_formats():
    imgs = _images(5)
    imgs[1] = np.zeros((8, 8), dtype=np.float32)  # greyscale float
    imgs[2] = np.full((3, 8, 8), 200, dtype=np.uint8)  # channels-first
    imgs[3] = Image.new("RGBA", (8, 8))
    fig, axes = viz.image_grid(imgs, [f"name {i}" for i in range(5)], ncols=3, title="five")
    assert len(axes) == 5 and len(fig.axes) == 5  # the sixth cell of the 2x3 grid is removed
    assert fig.get_suptitle() == "five"
    assert [ax.get_title() for ax in axes] == [f"name {i}" for i in range(5)]
    assert all(len(ax.images) == 1 and not ax.axison for ax in axes)


def test_image_grid_accepts_a_batch_array():
    batch = np.zeros((4, 6, 6, 3), dtype=np.uint8)
    _fig, axes = viz.image_grid(batch)
    assert len(axes) == 4


@pytest.mark.parametrize(
    "images, kwargs, exc, match",
    [
        ([], {}, ValueError, "images: expected at least one"),
        (Image.new("RGB", (4, 4)), {}, TypeError, "list of images"),
        (np.zeros((4, 4, 3)), {}, TypeError, "list of images"),
        (["cat.png"], {}, TypeError, r"images\[0\]"),
        ([np.full((4, 4), 3.0)], {}, ValueError, r"images\[0\].*\[0, 1\]"),
        ([np.zeros((4, 4, 7))], {}, ValueError, r"images\[0\].*\(H, W, 3\)"),
        ([np.zeros((4, 4)), np.zeros((4, 4))], {"titles": ["one"]}, ValueError, "titles: expected 2"),
        ([np.zeros((4, 4))], {"ncols": 0}, ValueError, "ncols"),
    ],
)
def test_image_grid_rejects_bad_input(images, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        viz.image_grid(images, **kwargs)


def test_show_neighbours_image_query_image_results():
    fig, axes = viz.show_neighbours(_images(1)[0], _images(4), [0.9, 0.8, 0.5, 0.1],
                                    neighbour_titles=["a", "b", "c", "d"], query_title="cat face")
    assert len(axes) == 5
    assert axes[0].get_title() == "cat face"
    assert "0.90" in axes[1].get_title() and "a" in axes[1].get_title()
    assert fig.get_suptitle()


def test_show_neighbours_text_query_image_results():
    _fig, axes = viz.show_neighbours("a photo of a cat", _images(3), np.array([0.3, 0.2, 0.1]))
    assert len(axes) == 4
    assert "a photo of a cat" in axes[0].texts[0].get_text()


def test_show_neighbours_text_results_as_bars():
    texts = ["cat face", "dog face", "tiger"]
    fig, (ax_q, ax) = viz.show_neighbours("kitten", texts, [0.8, 0.6, -0.1])
    assert ax_q is None
    assert len(ax.patches) == 3
    np.testing.assert_allclose([p.get_width() for p in ax.patches], [0.8, 0.6, -0.1], atol=1e-6)
    assert [t.get_text() for t in ax.get_yticklabels()] == texts
    assert ax.get_xlabel() and ax.get_ylabel() and "kitten" in fig.get_suptitle()


def test_show_neighbours_image_query_text_results():
    _fig, (ax_q, ax) = viz.show_neighbours(_images(1)[0], ["cat", "dog"], [0.5, 0.4])
    assert len(ax_q.images) == 1 and len(ax.patches) == 2


@pytest.mark.parametrize(
    "query, neighbours, scores, exc, match",
    [
        ("q", ["a", "b"], [0.1], ValueError, "scores: expected 2"),
        ("q", [], [], ValueError, "neighbours: expected at least one"),
        ("q", "abc", [1, 2, 3], TypeError, "neighbours"),
        ("q", ["a", np.zeros((4, 4))], [1, 2], TypeError, "mix"),
        (3, ["a"], [1.0], TypeError, "query"),
        ("q", ["a"], [np.nan], ValueError, "scores: expected finite"),
        ("q", ["a", "b"], [[0.1, 0.2]], ValueError, "scores: expected a 1-D"),
    ],
)
def test_show_neighbours_rejects_bad_input(query, neighbours, scores, exc, match):
    with pytest.raises(exc, match=match):
        viz.show_neighbours(query, neighbours, scores)


def test_plot_curves_lines_and_labels():
    _fig, ax = viz.plot_curves({"train": [3, 2, 1], "test": [3.5, 2.5, 2.0]}, title="loss")
    assert len(ax.lines) == 2
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [3, 2, 1])
    assert ax.get_title() == "loss" and ax.get_xlabel() == "epoch" and ax.get_ylabel() == "loss"
    _, ax = viz.plot_curves([1.0, 0.5])
    assert len(ax.lines) == 1 and ax.get_legend() is None


@pytest.mark.parametrize(
    "curves, kwargs, match",
    [
        ({}, {}, "curves: expected at least one"),
        ({"a": []}, {}, r"curves\['a'\]"),
        ({"a": [1.0, np.nan]}, {}, "finite"),
        ({"a": [1.0, 0.0]}, {"logy": True}, "logy"),
    ],
)
def test_plot_curves_rejects_bad_input(curves, kwargs, match):
    with pytest.raises(ValueError, match=match):
        viz.plot_curves(curves, **kwargs)


def test_heatmap_row_images_draw_one_thumbnail_per_row():
    from matplotlib.offsetbox import AnnotationBbox

    A = np.eye(3, 4, dtype=np.float32)
    _fig, ax, sim = viz.similarity_heatmap(A, None, ["a", "b", "c"], row_images=_images(3))
    assert sim.shape == (3, 3)
    assert sum(isinstance(a, AnnotationBbox) for a in ax.get_children()) == 3


def test_heatmap_row_images_must_match_rows():
    A = np.eye(3, 4, dtype=np.float32)
    with pytest.raises(ValueError, match=r"row_images.*3 images"):
        viz.similarity_heatmap(A, None, ["a", "b", "c"], row_images=_images(2))
    with pytest.raises(TypeError, match="row_images"):
        viz.similarity_heatmap(A, None, ["a", "b", "c"], row_images=_images(1)[0])


def test_plot_embeddings_seed_is_checked():
    X, labels = _blobs()
    with pytest.raises(ValueError, match="seed"):
        viz.plot_embeddings(X, labels, method="pca", seed=-1)
