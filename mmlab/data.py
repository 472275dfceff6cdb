"""The data sets that ship with mmlab, and a loader for your own photos.

- ``load_emoji()``: ~1,870 emoji images (Noto Color Emoji) with names, groups, subgroups.
- ``load_emoji_keywords()``, ``load_rag_questions()``: keyword and question views for notebook 06.
- ``load_spoken_names()``: the names of the animal and food emoji, spoken by espeak-ng.
- ``split_by_id()``: a train/test split that puts an emoji on the same side everywhere.
- ``sample_photos()``: the natural photos shipped inside scikit-image and scikit-learn.
- ``load_image_folder()``: your own folder of images, skipping broken files with a warning.

Everything loads offline from ``data_dir()``: ``MMLAB_DATA`` if set, else the checkout's
``data/``, else the copy inside the installed wheel. How each file was made, and its
licence, is in ``data/README.md`` (shipped beside the data).
"""
from __future__ import annotations

import csv
import hashlib
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ._paths import shipped_dir
from ._validate import check_float, check_int, check_str_list, describe, resolve_seed

__all__ = [
    "EMOJI_GROUPS",
    "SPOKEN_GROUPS",
    "EmojiSet",
    "ImageFolder",
    "SpokenNames",
    "data_dir",
    "load_emoji",
    "load_emoji_keywords",
    "load_image_folder",
    "load_rag_questions",
    "load_spoken_names",
    "sample_photos",
    "split_by_id",
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
_CACHE: dict[str, Any] = {}


def data_dir() -> Path:
    """The folder the shipped data are read from.

    Returns:
        ``$MMLAB_DATA`` when set; else the checkout's ``data/`` (an editable install or a
        clone); else the copy inside the installed wheel (``mmlab/_data``).
    """
    env = os.environ.get("MMLAB_DATA")
    return Path(env).expanduser() if env else shipped_dir("data")


def _data_file(name: str) -> Path:
    path = data_dir() / name
    if not path.is_file():
        where = ("MMLAB_DATA is set to that folder; unset it or point it at a folder holding the file"
                 if os.environ.get("MMLAB_DATA") else
                 "it ships in the repository's data/ and inside the mmlab wheel (mmlab/_data); "
                 "reinstall mmlab from a wheel or run from a full checkout, or set MMLAB_DATA "
                 "to a folder that holds it")
        raise FileNotFoundError(f"{path} is missing: {where}.")
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
        """A new EmojiSet holding the emoji at ``indices`` (int positions or a boolean mask).

        The lists are new; the PIL images are shared (PIL operations return new images).
        """
        idx = _check_indices(indices, len(self))
        return EmojiSet(*([values[i] for i in idx] for values in (
            self.ids, self.chars, self.names, self.groups, self.subgroups, self.images)))


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
    seed = resolve_seed(seed)

    def unit(text: str) -> float:
        # sha256 (not hash(), which Python salts per process) -> a uniform number in [0, 1)
        digest = hashlib.sha256(f"{seed}:{text}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    is_test = np.array([unit(i) < test_fraction for i in ids])
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)


# --------------------------------------------------------------------------- spoken names

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
    if "speech" not in _CACHE:
        import soundfile as sf

        rows = _read_csv(_data_file("speech.csv"))
        audio, rate = sf.read(_data_file("speech.flac"), dtype="float32")
        audio.setflags(write=False)
        _CACHE["speech"] = (rows, audio, int(rate))
    return _CACHE["speech"]


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


# --------------------------------------------------------------------------- photos

# name -> (package, file inside it, loader function used if the file has moved). All of these
# ship inside the scikit-image and scikit-learn wheels: no download. Reading the files with
# PIL directly skips importing scikit-learn (seconds), and gives the "horse" silhouette
# anti-aliased edges (skimage.data.horse() thresholds it to bool).
_PHOTO_FILES = {
    "chelsea": ("skimage", "data/chelsea.png", "chelsea"),
    "coffee": ("skimage", "data/coffee.png", "coffee"),
    "astronaut": ("skimage", "data/astronaut.png", "astronaut"),
    "rocket": ("skimage", "data/rocket.jpg", "rocket"),
    "camera": ("skimage", "data/camera.png", "camera"),
    "horse": ("skimage", "data/horse.png", "horse"),
    "coins": ("skimage", "data/coins.png", "coins"),
    "moon": ("skimage", "data/moon.png", "moon"),
    "motorcycle": ("skimage", "data/motorcycle_left.png", "stereo_motorcycle"),
    "hubble_deep_field": ("skimage", "data/hubble_deep_field.jpg", "hubble_deep_field"),
    "immunohistochemistry": ("skimage", "data/ihc.png", "immunohistochemistry"),
    "retina": ("skimage", "data/retina.jpg", "retina"),
    "clock": ("skimage", "data/clock_motion.png", "clock"),
    "grass": ("skimage", "data/grass.png", "grass"),
    "gravel": ("skimage", "data/gravel.png", "gravel"),
    "brick": ("skimage", "data/brick.png", "brick"),
    "china": ("sklearn", "datasets/images/china.jpg", "china.jpg"),
    "flower": ("sklearn", "datasets/images/flower.jpg", "flower.jpg"),
}


def _package_dir(package: str) -> Path | None:
    import importlib.util

    spec = importlib.util.find_spec(package)  # locates the package without importing it
    return Path(spec.origin).parent if spec and spec.origin else None


def _photo_from_library(package: str, loader: str) -> np.ndarray:
    if package == "sklearn":
        from sklearn.datasets import load_sample_images

        sample = load_sample_images()
        return sample.images[[Path(f).name for f in sample.filenames].index(loader)]
    import skimage.data

    image = getattr(skimage.data, loader)()
    image = image[0] if isinstance(image, tuple) else image  # stereo pair -> left
    return image.astype(np.uint8) * 255 if image.dtype == bool else image


def _photo_arrays() -> dict[str, np.ndarray]:
    if "photos" not in _CACHE:
        photos: dict[str, np.ndarray] = {}
        for name, (package, relpath, loader) in _PHOTO_FILES.items():
            base = _package_dir(package)
            try:
                if base is not None and (base / relpath).is_file():
                    with Image.open(base / relpath) as image:
                        arr = np.asarray(_to_rgb(image))
                else:
                    arr = _photo_from_library(package, loader)
                    arr = np.stack([arr] * 3, axis=-1) if arr.ndim == 2 else arr[..., :3]
            except Exception as exc:
                warnings.warn(f"sample_photos: {name!r} is not available offline ({exc}); left out",
                              stacklevel=3)
                continue
            arr.setflags(write=False)
            photos[name] = arr
        _CACHE["photos"] = photos
    return _CACHE["photos"]


def sample_photos() -> dict[str, Image.Image]:
    """The natural photos that ship inside scikit-image and scikit-learn, as RGB images.

    Returns:
        name -> PIL RGB image: "chelsea" (a tabby cat), "coffee", "astronaut", "rocket",
        "camera" (a cameraman, greyscale), "horse" (a silhouette), "coins", "moon",
        "motorcycle", "hubble_deep_field", "immunohistochemistry", "retina", "clock",
        "grass", "gravel", "brick" (skimage.data) and "china", "flower" (scikit-learn).
    """
    return {name: Image.fromarray(np.array(arr)) for name, arr in _photo_arrays().items()}


# --------------------------------------------------------------------------- keywords and questions

def load_emoji_keywords() -> dict[str, list[str]]:
    """CLDR's English keywords of each emoji (a second text view, for retrieval evaluation).

    Returns:
        emoji id -> its keywords ("2615" -> ["beverage", "coffee", "drink", ...]); ZWJ
        sequences, flags and keycaps have no entry (see data/README.md).
    """
    return {r["id"]: r["keywords"].split(" | ") for r in _read_csv(_data_file("emoji_keywords.csv"))}


def load_rag_questions() -> list[tuple[str, list[str]]]:
    """Hand-written conversational questions with the emoji that answer them (notebook 06).

    Returns:
        (question, relevant emoji ids) pairs, e.g. ("What could I drink when it is cold
        outside?", ["2615", "1F375", "1FAD6", "1F9C9"]).
    """
    return [(r["question"], r["relevant_ids"].split()) for r in _read_csv(_data_file("rag_questions.csv"))]


# --------------------------------------------------------------------------- your own folder

@dataclass(repr=False)
class ImageFolder:
    """Images read from a folder, and the files that were skipped.

    Attributes:
        images: PIL RGB images (transparent areas composited on white).
        paths: the file each image came from, aligned with ``images``.
        skipped: (path, reason) for each file that could not be used.
    """

    images: list[Image.Image]
    paths: list[Path]
    skipped: list[tuple[Path, str]]

    def __len__(self) -> int:
        return len(self.images)

    def __repr__(self) -> str:
        return f"ImageFolder({len(self)} images, {len(self.skipped)} skipped)"


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any PIL mode -> RGB; transparency becomes white, 16-bit and float are rescaled."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(image, dtype=np.float64)
        top = arr.max()
        arr = arr / top * 255 if top > 0 else arr
        image = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode == "La":  # premultiplied: PIL converts it only to "LA" (La -> RGBA raises)
        image = image.convert("LA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa"):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        white.alpha_composite(rgba)
        return white.convert("RGB")
    return image.convert("RGB")


def _read_image(path: Path, max_pixels: int, max_side: int | None) -> tuple[Image.Image | None, str | None]:
    """(image, None) or (None, why it was skipped). Never raises for a bad file."""
    from PIL import ImageOps, UnidentifiedImageError

    if path.stat().st_size == 0:
        return None, "empty file"
    try:
        with warnings.catch_warnings():
            # our own max_pixels check below decides; PIL's warning would only duplicate it
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size  # from the header: nothing decoded yet
                if width * height > max_pixels:
                    return None, (f"too large: {width} x {height} = {width * height:,} pixels "
                                  f"> max_pixels={max_pixels:,} (possible decompression bomb)")
                if max_side is not None:
                    image.draft("RGB", (max_side, max_side))  # JPEG: decode at reduced scale
                image.load()
                upright: Image.Image = ImageOps.exif_transpose(image)  # phone photos: honour the rotation tag
                if max_side is not None and max(upright.size) > max_side:
                    upright.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
                return _to_rgb(upright), None
    except Image.DecompressionBombError as exc:
        return None, f"too large: {exc}"
    except UnidentifiedImageError:
        return None, "not an image (PIL cannot identify the format)"
    except (OSError, SyntaxError, ValueError, EOFError) as exc:  # what PIL raises on broken data
        return None, f"corrupt or truncated ({type(exc).__name__}: {exc})"


def load_image_folder(path: str | os.PathLike, recursive: bool = True, max_pixels: int = 64_000_000,
                      max_side: int | None = 1024) -> ImageFolder:
    """Load every image in a folder as RGB, skipping (with one warning each) files that fail.

    Empty, non-image, corrupt, truncated and oversized files are skipped, never fatal:
    the size is read from the file header and checked against ``max_pixels`` before any
    pixel is decoded, so a decompression bomb costs nothing. Hidden files and folders
    (names starting with ".") are ignored silently.

    Args:
        path: the folder.
        recursive: also read sub-folders.
        max_pixels: skip images with more pixels than this (width x height).
        max_side: shrink larger images so their longer side is at most this many pixels
            (saves memory; encoders resize to ~224 px anyway); ``None`` keeps full size.
    Returns:
        An ``ImageFolder`` with ``images``, ``paths`` (sorted by path) and ``skipped``.
    """
    if isinstance(path, bool) or not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path: expected a folder path (str or pathlib.Path), got {describe(path)}")
    folder = Path(path).expanduser()
    if not folder.exists():
        raise FileNotFoundError(f"path: expected an existing folder of images, got {str(folder)!r}, which does not exist")
    if not folder.is_dir():
        raise NotADirectoryError(
            f"path: expected a folder of images, got the file {str(folder)!r}; pass the folder that holds it "
            f"(or open a single image with PIL.Image.open)")
    if not isinstance(recursive, bool):
        raise TypeError(f"recursive: expected True or False, got {describe(recursive)}")
    max_pixels = check_int(max_pixels, "max_pixels", low=1)
    if max_side is not None:
        max_side = check_int(max_side, "max_side", low=1)

    pattern = folder.rglob("*") if recursive else folder.glob("*")
    files = sorted(p for p in pattern
                   if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    images, paths, skipped = [], [], []
    for file in files:
        image, reason = _read_image(file, max_pixels, max_side)
        if image is None:
            skipped.append((file, reason or "unreadable"))
            warnings.warn(f"load_image_folder: skipped {file}: {reason}", stacklevel=2)
        else:
            images.append(image)
            paths.append(file)
    if not images:
        warnings.warn(f"load_image_folder: no readable images in {folder} "
                      f"({len(files)} files, {len(skipped)} skipped)", stacklevel=2)
    return ImageFolder(images, paths, skipped)
