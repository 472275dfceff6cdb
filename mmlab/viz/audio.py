"""From a waveform to MFCCs, step by step: one column per clip, one row per step."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .._validate import as_array, check_int, describe
from ._common import PALETTE, _plt

#: The steps ``plot_audio_steps`` draws, in this order (rows): the waveform, its power
#: spectrogram in dB, the mel spectrogram in dB, the MFCCs.
AUDIO_STEPS: tuple[str, ...] = ("waveform", "spectrogram", "mel", "mfcc")

_ROW_TEXT = {  # step -> (row title, y label, colour-bar label)
    "waveform": ("waveform", "amplitude", ""),
    "spectrogram": ("power spectrogram", "frequency (Hz)", "power (dB)"),
    "mel": ("mel spectrogram", "mel band (low to high)", "power (dB)"),
    "mfcc": ("MFCCs", "coefficient", "MFCC value"),
}
_DB_RANGE = 80.0  # dB shown below the loudest cell of a row, as librosa.power_to_db(top_db=80) keeps


def _check_steps(steps) -> dict[str, dict[str, np.ndarray]]:
    if not isinstance(steps, Mapping) or not steps:
        raise TypeError("steps: expected a non-empty dict {clip label: {step: array}}, got " + describe(steps))
    checked: dict[str, dict[str, np.ndarray]] = {}
    names = None
    for label, clip in steps.items():
        if not isinstance(label, str):
            raise TypeError(f"steps: expected string clip labels, got {describe(label)}")
        if not isinstance(clip, Mapping) or not clip:
            raise TypeError(f"steps[{label!r}]: expected a dict {{step: array}}, got {describe(clip)}")
        unknown = [s for s in clip if s not in AUDIO_STEPS]
        if unknown:
            raise ValueError(f"steps[{label!r}]: unknown step {unknown[0]!r}; expected some of {list(AUDIO_STEPS)}")
        these = [s for s in AUDIO_STEPS if s in clip]
        if names is None:
            names = these
        elif these != names:
            raise ValueError(f"steps[{label!r}]: expected the same steps as the first clip ({names}), got {these}")
        checked[label] = {s: as_array(clip[s], f"steps[{label!r}][{s!r}]", ndim=1 if s == "waveform" else 2)
                          for s in these}
    return checked


def plot_audio_steps(steps, sample_rate: int, hop_length: int, *, first_coefficient: int = 1,
                     title: str | None = None):
    """Draw how a clip becomes MFCCs: waveform, spectrogram, mel spectrogram, MFCCs.

    Each row shares one colour scale across the clips, so two words can be compared cell by
    cell: the spectrograms show the 80 dB below the row's loudest cell, the MFCCs a scale
    symmetric around 0.

    Args:
        steps: ``{clip label: {step: array}}`` with the same steps for every clip, some of
            ``"waveform"`` (n_samples,), ``"spectrogram"`` (n_freqs, T) and ``"mel"``
            (n_mels, T) in dB, ``"mfcc"`` (n_coefficients, T); rows follow ``AUDIO_STEPS``.
        sample_rate: samples per second of the waveforms (the time and frequency axes).
        hop_length: samples between the starts of two frames (the time axis of the 2-D steps).
        first_coefficient: the number of the first MFCC row (1 when c0 was dropped).
        title: the figure title; None for none.
    Returns:
        ``(fig, axes)``, axes a (n_steps, n_clips) array.
    """
    clips = _check_steps(steps)
    sample_rate = check_int(sample_rate, "sample_rate", low=1)
    hop_length = check_int(hop_length, "hop_length", low=1)
    first_coefficient = check_int(first_coefficient, "first_coefficient", low=0)
    rows = [s for s in AUDIO_STEPS if s in next(iter(clips.values()))]
    plt = _plt()
    fig, axes = plt.subplots(len(rows), len(clips), figsize=(4.6 * len(clips) + 1.2, 2.1 * len(rows)),
                             layout="constrained", squeeze=False)
    for r, step in enumerate(rows):
        row_title, ylabel, bar_label = _ROW_TEXT[step]
        arrays = [clip[step] for clip in clips.values()]
        if step in ("spectrogram", "mel"):
            vmax = max(float(a.max()) for a in arrays)
            vmin, cmap = vmax - _DB_RANGE, "cividis"
        elif step == "mfcc":
            vmax = max(float(np.percentile(np.abs(a), 99)) for a in arrays) or 1.0
            vmin, cmap = -vmax, "PuOr_r"
        image = None
        for c, (label, arr) in enumerate(zip(clips, arrays)):
            ax = axes[r, c]
            if step == "waveform":
                ax.plot(np.arange(len(arr)) / sample_rate, arr, color=PALETTE[c % len(PALETTE)], lw=0.5)
            else:
                seconds = arr.shape[1] * hop_length / sample_rate
                if step == "spectrogram":
                    low, high = 0.0, sample_rate / 2
                elif step == "mel":
                    low, high = 0.5, arr.shape[0] + 0.5
                else:
                    low, high = first_coefficient - 0.5, first_coefficient + arr.shape[0] - 0.5
                image = ax.imshow(arr, aspect="auto", origin="lower", cmap=cmap, vmin=vmin, vmax=vmax,
                                  extent=(0.0, seconds, low, high), interpolation="nearest")
            ax.set_title(f"{label}: {row_title}", fontsize=10)
            ax.set_xlabel("time (s)")
            ax.set_ylabel(ylabel if c == 0 else "")
        if image is not None:
            fig.colorbar(image, ax=list(axes[r, :]), label=bar_label, pad=0.01)
    if title:
        fig.suptitle(title)
    return fig, axes
