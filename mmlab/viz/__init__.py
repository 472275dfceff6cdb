"""Pictures of embeddings: 2-D maps, similarity heatmaps, image grids and search galleries.

Every function draws with matplotlib, gives each figure a title and labelled axes (image
panels have their axes switched off and a figure title instead), uses a colour-blind-safe
palette, and returns the figure and axes so a notebook can adjust or save them.

``plot_embeddings`` and ``similarity_heatmap`` also return what they computed (the 2-D
coordinates, the similarity matrix) as a third item, so the picture and the numbers
behind it cannot drift apart::

    fig, ax, coords = mm.viz.plot_embeddings(X, labels, method="pca")
    fig, ax, sim = mm.viz.similarity_heatmap(A, B, row_labels, col_labels)

``plot_audio_steps`` draws a sound's way from waveform to MFCCs, one column per clip.
"""
from __future__ import annotations

from ._common import MARKERS, METHODS, PALETTE, EmbeddingPlot, HeatmapPlot
from .audio import AUDIO_STEPS, plot_audio_steps
from .curves import plot_curves
from .gallery import image_grid, show_neighbours
from .heatmap import similarity_heatmap
from .maps import plot_embeddings

__all__ = [
    "AUDIO_STEPS",
    "MARKERS",
    "METHODS",
    "PALETTE",
    "EmbeddingPlot",
    "HeatmapPlot",
    "image_grid",
    "plot_audio_steps",
    "plot_curves",
    "plot_embeddings",
    "show_neighbours",
    "similarity_heatmap",
]
