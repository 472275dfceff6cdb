"""Training and evaluation curves."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .._validate import (
    as_array,
    describe,
)
from ._common import MARKERS, PALETTE, _plt

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
