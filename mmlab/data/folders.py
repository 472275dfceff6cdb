"""Your own folder of images, skipping broken files with a warning."""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from .._validate import check_int, describe


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
