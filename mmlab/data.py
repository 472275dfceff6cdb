"""The data sets that ship with mmlab, and a loader for your own photos.

- ``load_emoji()``: ~1,870 emoji images (Noto Color Emoji) with names, groups, subgroups.
- ``load_spoken_names()``: the names of the animal and food emoji, spoken by espeak-ng.
- ``split_by_id()``: a train/test split that puts an emoji on the same side everywhere.
- ``sample_photos()``: the natural photos shipped inside scikit-image and scikit-learn.
- ``load_image_folder()``: your own folder of images, skipping broken files with a warning.

Everything loads offline from ``data/`` (or the folder named by ``MMLAB_DATA``); how each
file was made, and its licence, is in ``data/README.md``.
"""
from __future__ import annotations

import csv
import hashlib
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from ._validate import check_float, check_int, check_str_list, describe

__all__ = [
    "EMOJI_GROUPS", "SPOKEN_GROUPS", "EmojiSet", "SpokenNames", "ImageFolder",
    "load_emoji", "load_spoken_names", "split_by_id", "sample_photos", "load_image_folder",
    "data_dir",
]

#: The nine emoji groups of Unicode's emoji-test.txt, in its order ("Component" is left out).
EMOJI_GROUPS: tuple[str, ...] = (
    "Smileys & Emotion", "People & Body", "Animals & Nature", "Food & Drink",
    "Travel & Places", "Activities", "Objects", "Symbols", "Flags",
)
#: The groups whose names are spoken in ``load_spoken_names()``.
SPOKEN_GROUPS: tuple[str, ...] = ("Animals & Nature", "Food & Drink")

# Decoded archives, kept for the life of the process: the first load decodes the PNG /
# FLAC, later loads only wrap arrays (every call returns fresh lists and images, so a
# learner who edits what they got cannot corrupt the next load).
_CACHE: dict[str, object] = {}


def data_dir() -> Path:
    """The folder the shipped data are read from (``$MMLAB_DATA`` or the repo's ``data/``)."""
    env = os.environ.get("MMLAB_DATA")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "data"


def _data_file(name: str) -> Path:
    path = data_dir() / name
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing. It ships with the mmlab repository (data/); run from a full "
            f"checkout, or set MMLAB_DATA to the folder that holds it."
        )
    return path


def _check_indices(indices, n: int, name: str = "indices") -> np.ndarray:
    """Integer positions (or a boolean mask of length n) -> int array, range-checked."""
    if isinstance(indices, (str, bytes, dict, set)) or indices is None:
        raise TypeError(f"{name}: expected a list or array of integer positions, got {describe(indices)}")
    arr = np.asarray(indices)
    if arr.dtype == bool:
        if arr.shape != (n,):
            raise ValueError(f"{name}: a boolean mask must have shape ({n},), got {arr.shape}")
        return np.flatnonzero(arr)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name}: expected a 1-D list or array of integer positions, got {describe(arr)}")
    if arr.min() < -n or arr.max() >= n:
        raise ValueError(f"{name}: positions must lie in [-{n}, {n - 1}], got min {arr.min()} and max {arr.max()}")
    return arr.astype(np.int64)


# --------------------------------------------------------------------------- emoji

@dataclass(repr=False)
class EmojiSet:
    """Emoji images with their names and labels; every list has one entry per emoji.

    Attributes:
        ids: code points in uppercase hex joined by "-" ("1F431", "1F408-200D-2B1B").
        chars: the emoji characters.
        names: CLDR short names ("cat face").
        groups: one of ``EMOJI_GROUPS`` ("Animals & Nature").
        subgroups: finer labels ("animal-mammal").
        images: PIL RGB images on a white background, square.
    """

    ids: list[str]
    chars: list[str]
    names: list[str]
    groups: list[str]
    subgroups: list[str]
    images: list[Image.Image] = field(default_factory=list)

    def __post_init__(self):
        n = len(self.ids)
        for attr in ("chars", "names", "groups", "subgroups", "images"):
            if len(getattr(self, attr)) != n:
                raise ValueError(f"EmojiSet.{attr}: expected {n} entries (one per id), got {len(getattr(self, attr))}")

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        size = f", {self.images[0].size[0]} px" if self.images else ""
        return f"EmojiSet({len(self)} emoji, {len(set(self.groups))} groups{size})"

    def subset(self, indices) -> EmojiSet:
        """A new EmojiSet holding the emoji at ``indices`` (int positions or a boolean mask)."""
        idx = _check_indices(indices, len(self))
        pick = lambda values: [values[i] for i in idx]  # noqa: E731
        return EmojiSet(pick(self.ids), pick(self.chars), pick(self.names), pick(self.groups),
                        pick(self.subgroups), pick(self.images))


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _emoji_archive() -> tuple[list[dict[str, str]], np.ndarray]:
    """(metadata rows, (N, S, S, 3) uint8 tiles), decoded once per process."""
    if "emoji" not in _CACHE:
        rows = _read_csv(_data_file("emoji.csv"))
        with Image.open(_data_file("emoji.png")) as sheet:
            size = int(sheet.info["tile_size"])
            columns = int(sheet.info["columns"])
            pixels = np.asarray(sheet.convert("RGB"))
        n_rows = pixels.shape[0] // size
        # (rows*S, cols*S, 3) -> (rows, S, cols, S, 3) -> (rows, cols, S, S, 3) -> (rows*cols, S, S, 3)
        tiles = pixels.reshape(n_rows, size, columns, size, 3).transpose(0, 2, 1, 3, 4)
        tiles = np.ascontiguousarray(tiles.reshape(n_rows * columns, size, size, 3))
        tiles = tiles[[int(r["index"]) for r in rows]]
        tiles.setflags(write=False)
        _CACHE["emoji"] = (rows, tiles)
    return _CACHE["emoji"]


def _check_groups(groups, valid: Sequence[str]) -> list[str] | None:
    if groups is None:
        return None
    if isinstance(groups, str):
        groups = [groups]
    groups = check_str_list(groups, "groups")
    unknown = [g for g in groups if g not in valid]
    if unknown:
        raise ValueError(f"groups: unknown group(s) {unknown}; expected some of {list(valid)}")
    return groups


def load_emoji(groups: str | Sequence[str] | None = None, size: int | None = None) -> EmojiSet:
    """Load the emoji images and labels that ship in ``data/``.

    Args:
        groups: keep only these groups (a name or a list of names from ``EMOJI_GROUPS``);
            ``None`` keeps all nine.
        size: side of the returned square images in pixels (8..512, Lanczos resampling);
            ``None`` keeps the shipped size (72 px).
    Returns:
        An ``EmojiSet`` in Unicode's order (grouped, similar emoji next to each other).
    """
    wanted = _check_groups(groups, EMOJI_GROUPS)
    if size is not None:
        size = check_int(size, "size", low=8, high=512)
    rows, tiles = _emoji_archive()
    keep = [i for i, r in enumerate(rows) if wanted is None or r["group"] in wanted]
    images = []
    for i in keep:
        image = Image.fromarray(tiles[i])  # a fresh image over the read-only tile: copy on write
        if size is not None and size != image.size[0]:
            image = image.resize((size, size), Image.Resampling.LANCZOS)
        else:
            image = image.copy()
        images.append(image)
    return EmojiSet(
        ids=[rows[i]["id"] for i in keep],
        chars=[rows[i]["char"] for i in keep],
        names=[rows[i]["name"] for i in keep],
        groups=[rows[i]["group"] for i in keep],
        subgroups=[rows[i]["subgroup"] for i in keep],
        images=images,
    )


# --------------------------------------------------------------------------- splits

def split_by_id(ids: Sequence[str], test_fraction: float = 0.25,
                seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Split positions into train and test by hashing each id, not by shuffling.

    The side an id lands on depends only on the id string and the seed, so an emoji is on
    the same side in every notebook, and its image, name and spoken clips all travel
    together (a spoken-names list repeats each id once per voice).

    Args:
        ids: one id per item (repeats allowed).
        test_fraction: the expected share of ids in the test side, in (0, 1).
        seed: changes the split; ``None`` uses ``mmlab.SEED``.
    Returns:
        (train_idx, test_idx): sorted int64 positions into ``ids``, disjoint, covering all.
    """
    ids = check_str_list(ids, "ids")
    test_fraction = check_float(test_fraction, "test_fraction", low=0.0, high=1.0, low_inclusive=False)
    if test_fraction >= 1.0:
        raise ValueError(f"test_fraction: expected a number in (0, 1), got {test_fraction}")
    if seed is None:
        from . import SEED as seed
    seed = check_int(seed, "seed")

    def unit(text: str) -> float:
        # sha256 (not hash(), which Python salts per process) -> a uniform number in [0, 1)
        digest = hashlib.sha256(f"{seed}:{text}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    is_test = np.array([unit(i) < test_fraction for i in ids])
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)
