"""The spoken names of the animal and food emoji (espeak-ng, two voices)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .._validate import check_str_list
from . import _files
from ._files import _check_groups, _check_indices, _data_file, _read_csv

#: The groups whose names are spoken in ``load_spoken_names()``.
SPOKEN_GROUPS: tuple[str, ...] = ("Animals & Nature", "Food & Drink")



@dataclass(repr=False)
class SpokenNames:
    """Spoken emoji names (espeak-ng); every list has one entry per clip.

    Attributes:
        waveforms: 1-D float32 arrays in [-1, 1], silence trimmed, of varying length.
        sample_rate: samples per second of every waveform (16,000).
        voices: the espeak-ng voice of each clip ("en-us", "en-gb-f3").
        ids: the emoji id each clip speaks (joins with ``EmojiSet.ids``).
        names: the text that was spoken (the emoji's name).
        groups: the emoji group ("Animals & Nature" or "Food & Drink").
    """

    waveforms: list[np.ndarray]
    sample_rate: int
    voices: list[str]
    ids: list[str]
    names: list[str]
    groups: list[str]

    def __post_init__(self):
        n = len(self.ids)
        for attr in ("waveforms", "voices", "names", "groups"):
            if len(getattr(self, attr)) != n:
                raise ValueError(f"SpokenNames.{attr}: expected {n} entries (one per id), got {len(getattr(self, attr))}")

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        seconds = sum(len(w) for w in self.waveforms) / self.sample_rate
        return (f"SpokenNames({len(self)} clips, {len(set(self.ids))} emoji, "
                f"voices {sorted(set(self.voices))}, {seconds:.0f} s at {self.sample_rate} Hz)")

    def subset(self, indices) -> SpokenNames:
        """A new SpokenNames holding the clips at ``indices`` (int positions or a boolean mask).

        The waveforms are copied, so in-place numpy edits do not reach the original.
        """
        idx = _check_indices(indices, len(self))
        voices, ids, names, groups = ([values[i] for i in idx] for values in (
            self.voices, self.ids, self.names, self.groups))
        return SpokenNames([self.waveforms[i].copy() for i in idx], self.sample_rate,
                           voices, ids, names, groups)


def _speech_archive() -> tuple[list[dict[str, str]], np.ndarray, int]:
    """(clip rows, all samples as one read-only float32 array, sample rate), decoded once."""
    if "speech" not in _files._CACHE:
        import soundfile as sf

        rows = _read_csv(_data_file("speech.csv"))
        audio, rate = sf.read(_data_file("speech.flac"), dtype="float32")
        audio.setflags(write=False)
        _files._CACHE["speech"] = (rows, audio, int(rate))
    return _files._CACHE["speech"]


def load_spoken_names(groups: str | Sequence[str] | None = None,
                      voices: str | Sequence[str] | None = None) -> SpokenNames:
    """Load the spoken names of the animal and food emoji (espeak-ng, two voices).

    Args:
        groups: keep only these groups (from ``SPOKEN_GROUPS``); ``None`` keeps both.
        voices: keep only these voices ("en-us", "en-gb-f3"); ``None`` keeps all.
    Returns:
        A ``SpokenNames`` ordered emoji by emoji (as in ``load_emoji``), one clip per voice.
    """
    wanted_groups = _check_groups(groups, SPOKEN_GROUPS)
    rows, audio, rate = _speech_archive()
    all_voices = list(dict.fromkeys(r["voice"] for r in rows))
    if voices is not None:
        if isinstance(voices, str):
            voices = [voices]
        voices = check_str_list(voices, "voices")
        unknown = [v for v in voices if v not in all_voices]
        if unknown:
            raise ValueError(f"voices: unknown voice(s) {unknown}; expected some of {all_voices}")
    keep = [r for r in rows
            if (wanted_groups is None or r["group"] in wanted_groups)
            and (voices is None or r["voice"] in voices)]
    waveforms = [audio[int(r["start"]):int(r["start"]) + int(r["length"])].copy() for r in keep]
    return SpokenNames(waveforms, rate, [r["voice"] for r in keep], [r["id"] for r in keep],
                       [r["name"] for r in keep], [r["group"] for r in keep])
