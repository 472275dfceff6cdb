"""The emoji set: ~1,870 Noto Color Emoji images with names, groups and subgroups; a split by id."""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from .._validate import check_float, check_int, check_str_list, resolve_seed
from . import _files
from ._files import _check_groups, _check_indices, _data_file, _read_csv

#: The nine emoji groups of Unicode's emoji-test.txt, in its order ("Component" is left out).
EMOJI_GROUPS: tuple[str, ...] = (
    "Smileys & Emotion", "People & Body", "Animals & Nature", "Food & Drink",
    "Travel & Places", "Activities", "Objects", "Symbols", "Flags",
)



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
        """A new EmojiSet holding the emoji at ``indices`` (int positions or a boolean mask).

        The lists are new; the PIL images are shared (PIL operations return new images).
        """
        idx = _check_indices(indices, len(self))
        return EmojiSet(*([values[i] for i in idx] for values in (
            self.ids, self.chars, self.names, self.groups, self.subgroups, self.images)))


def _emoji_archive() -> tuple[list[dict[str, str]], np.ndarray]:
    """(metadata rows, (N, S, S, 3) uint8 tiles), decoded once per process."""
    if "emoji" not in _files._CACHE:
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
        _files._CACHE["emoji"] = (rows, tiles)
    return _files._CACHE["emoji"]


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
    side = tiles.shape[1]
    images = []
    for i in keep:
        image = Image.frombytes("RGB", (side, side), tiles[i].tobytes())  # a fresh copy
        if size is not None and size != side:
            image = image.resize((size, size), Image.Resampling.LANCZOS)
        images.append(image)
    return EmojiSet(
        ids=[rows[i]["id"] for i in keep],
        chars=[rows[i]["char"] for i in keep],
        names=[rows[i]["name"] for i in keep],
        groups=[rows[i]["group"] for i in keep],
        subgroups=[rows[i]["subgroup"] for i in keep],
        images=images,
    )



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
    seed = resolve_seed(seed)

    def unit(text: str) -> float:
        # sha256 (not hash(), which Python salts per process) -> a uniform number in [0, 1)
        digest = hashlib.sha256(f"{seed}:{text}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    is_test = np.array([unit(i) < test_fraction for i in ids])
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)
