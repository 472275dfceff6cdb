"""The natural photos shipped inside scikit-image and scikit-learn."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from . import _files
from .folders import _to_rgb

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
    if "photos" not in _files._CACHE:
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
        _files._CACHE["photos"] = photos
    return _files._CACHE["photos"]


def sample_photos() -> dict[str, Image.Image]:
    """The natural photos that ship inside scikit-image and scikit-learn, as RGB images.

    Returns:
        name -> PIL RGB image: "chelsea" (a tabby cat), "coffee", "astronaut", "rocket",
        "camera" (a cameraman, greyscale), "horse" (a silhouette), "coins", "moon",
        "motorcycle", "hubble_deep_field", "immunohistochemistry", "retina", "clock",
        "grass", "gravel", "brick" (skimage.data) and "china", "flower" (scikit-learn).
    """
    return {name: Image.fromarray(np.array(arr)) for name, arr in _photo_arrays().items()}
