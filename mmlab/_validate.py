"""Input checks shared by every public function.

Each check raises ``TypeError`` (wrong kind of thing) or ``ValueError`` (right kind,
wrong value) with a message that names the argument, what was expected and what
was given, so a learner's mistake is reported where it was made.
"""
from __future__ import annotations

import numbers
import os
from collections.abc import Iterable, Sequence

import numpy as np


def describe(x) -> str:
    """A short description of ``x`` for error messages: type, shape and dtype."""
    shape = getattr(x, "shape", None)
    dtype = getattr(x, "dtype", None)
    if shape is not None:
        return f"{type(x).__name__} of shape {tuple(shape)} and dtype {dtype}"
    if isinstance(x, (list, tuple)):
        return f"{type(x).__name__} of length {len(x)}"
    text = repr(x)
    return f"{type(x).__name__} {text[:60]}{'...' if len(text) > 60 else ''}"


def is_torch_tensor(x) -> bool:
    """True for a torch tensor, without importing torch."""
    return type(x).__module__.startswith("torch") and hasattr(x, "detach")


def as_array(
    x,
    name: str,
    *,
    ndim: int | tuple[int, ...] | None = 2,
    dtype=np.float32,
    allow_empty: bool = False,
    finite: bool = True,
) -> np.ndarray:
    """Convert array-like ``x`` to a numpy array and check rank, emptiness and values.

    Accepts numpy arrays, torch tensors (detached and moved to the CPU) and nested
    lists of numbers. Strings, dicts, None and ragged lists raise ``TypeError``.

    Args:
        x: the value to check.
        name: the argument's name, used in error messages.
        ndim: the allowed rank(s); ``None`` allows any.
        dtype: the dtype of the returned array (``None`` keeps it).
        allow_empty: whether a zero-size array is acceptable.
        finite: whether to reject NaN and inf.
    Returns:
        The array, with the requested dtype.
    """
    if x is None or isinstance(x, (str, bytes, dict, set)):
        raise TypeError(f"{name}: expected an array of numbers, got {describe(x)}")
    if is_torch_tensor(x):
        x = x.detach().cpu()
        if str(x.dtype) == "torch.bfloat16":
            x = x.float()
        x = x.numpy()
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as exc:  # ragged nested lists
        raise TypeError(f"{name}: expected an array of numbers, got {describe(x)} ({exc})") from None
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise TypeError(f"{name}: expected numeric values, got an array of dtype {arr.dtype}")
    if np.iscomplexobj(arr):
        raise TypeError(f"{name}: expected real numbers, got complex dtype {arr.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(f"{d}-D" for d in allowed)
            raise ValueError(f"{name}: expected a {want} array, got {arr.ndim}-D with shape {arr.shape}")
    if not allow_empty and arr.size == 0:
        raise ValueError(f"{name}: expected a non-empty array, got shape {arr.shape}")
    if dtype is not None:
        arr = arr.astype(dtype, copy=False)
    if finite and arr.size and np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).sum())
        raise ValueError(f"{name}: expected finite values, got {bad} NaN/inf entries in shape {arr.shape}")
    return arr


def check_int(value, name: str, *, low: int | None = None, high: int | None = None) -> int:
    """Check that ``value`` is an integer in ``[low, high]`` and return it as ``int``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an int, got {describe(value)}")
    value = int(value)
    if low is not None and value < low:
        raise ValueError(f"{name}: expected an int >= {low}, got {value}")
    if high is not None and value > high:
        raise ValueError(f"{name}: expected an int <= {high}, got {value}")
    return value


def check_float(value, name: str, *, low: float | None = None, high: float | None = None,
                low_inclusive: bool = True) -> float:
    """Check that ``value`` is a finite real number in range and return it as ``float``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a number, got {describe(value)}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name}: expected a finite number, got {value}")
    if low is not None and (value < low or (not low_inclusive and value == low)):
        op = ">=" if low_inclusive else ">"
        raise ValueError(f"{name}: expected a number {op} {low}, got {value}")
    if high is not None and value > high:
        raise ValueError(f"{name}: expected a number <= {high}, got {value}")
    return value


def check_choice(value, name: str, choices: Iterable[str]) -> str:
    """Check that ``value`` is one of ``choices`` (strings) and return it."""
    choices = list(choices)
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected one of {choices}, got {describe(value)}")
    if value not in choices:
        raise ValueError(f"{name}: expected one of {choices}, got {value!r}")
    return value


def check_str_list(values, name: str, *, allow_empty: bool = False) -> list[str]:
    """Check that ``values`` is a list/tuple of strings (a lone string is rejected)."""
    if isinstance(values, str):
        raise TypeError(f"{name}: expected a list of strings, got a single string {values[:40]!r}; wrap it in a list")
    if not isinstance(values, Sequence) and not (hasattr(values, "__iter__") and hasattr(values, "__len__")):
        raise TypeError(f"{name}: expected a list of strings, got {describe(values)}")
    values = list(values)
    if not values and not allow_empty:
        raise ValueError(f"{name}: expected a non-empty list of strings, got an empty list")
    for i, v in enumerate(values):
        if not isinstance(v, str):
            raise TypeError(f"{name}[{i}]: expected a string, got {describe(v)}")
    return values


def check_same_dim(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    """Check that two 2-D arrays have the same number of columns."""
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(
            f"{name_a} and {name_b}: expected the same embedding dimension, got "
            f"{a.shape[-1]} ({name_a} shape {a.shape}) and {b.shape[-1]} ({name_b} shape {b.shape})"
        )


def check_same_length(a, b, name_a: str, name_b: str) -> None:
    """Check that two sequences/arrays have the same length (first dimension)."""
    if len(a) != len(b):
        raise ValueError(f"{name_a} and {name_b}: expected the same length, got {len(a)} and {len(b)}")


def resolve_seed(seed, name: str = "seed") -> int:
    """The seed to use: ``seed`` checked as an int in [0, 2**32 - 1], or ``mmlab.SEED`` when None."""
    if seed is None:
        import mmlab

        return mmlab.SEED
    return check_int(seed, name, low=0, high=2**32 - 1)


def check_images(images, name: str = "images") -> list:
    """Check that ``images`` is a non-empty list of PIL images with pixels; return it as a list."""
    from PIL import Image

    if isinstance(images, Image.Image):
        raise TypeError(f"{name}: expected a list of PIL images, got a single image; wrap it in a list: [image]")
    if isinstance(images, (str, bytes, np.ndarray)) or not isinstance(images, Sequence):
        raise TypeError(f"{name}: expected a list of PIL images, got {describe(images)}")
    images = list(images)
    if not images:
        raise ValueError(f"{name}: expected a non-empty list of PIL images, got an empty list")
    for i, im in enumerate(images):
        if not isinstance(im, Image.Image):
            hint = ""
            if isinstance(im, np.ndarray):
                hint = "; convert arrays with PIL.Image.fromarray(array)"
            elif isinstance(im, (str, os.PathLike)):
                hint = "; open files with PIL.Image.open(path) (or mm.data.load_image_folder)"
            raise TypeError(f"{name}[{i}]: expected a PIL.Image.Image, got {describe(im)}{hint}")
        if im.width < 1 or im.height < 1:
            raise ValueError(f"{name}[{i}]: expected an image with pixels, got size {im.size}")
    return images


#: Sample rates the audio encoders accept (Hz).
SAMPLE_RATE_RANGE = (4000, 192000)


def check_audio(waveforms, sample_rate, name: str = "waveforms") -> tuple[list[np.ndarray], int]:
    """Check a list of mono float waveforms and their sample rate.

    Returns:
        (list of 1-D float32 arrays, sample rate as int).
    """
    if isinstance(waveforms, np.ndarray):
        raise TypeError(f"{name}: expected a list of 1-D arrays, got an array of shape {waveforms.shape}; "
                        "wrap one clip in a list: [waveform]")
    if isinstance(waveforms, (str, bytes)) or not isinstance(waveforms, Sequence):
        raise TypeError(f"{name}: expected a list of 1-D float arrays, got {describe(waveforms)}")
    if not waveforms:
        raise ValueError(f"{name}: expected a non-empty list of 1-D arrays, got an empty list")
    low, high = SAMPLE_RATE_RANGE
    sample_rate = check_int(sample_rate, "sample_rate", low=low, high=high)
    out = []
    for i, w in enumerate(waveforms):
        w = as_array(w, f"{name}[{i}]", ndim=None, dtype=None)
        if w.ndim != 1:
            hint = "; average the channels first, e.g. w.mean(axis=0)" if w.ndim == 2 else ""
            raise ValueError(f"{name}[{i}]: expected a 1-D (mono) array, got shape {w.shape}{hint}")
        if not np.issubdtype(w.dtype, np.floating):
            raise TypeError(f"{name}[{i}]: expected float samples in [-1, 1], got dtype {w.dtype}; "
                            "convert 16-bit integers with w / 32768.0")
        out.append(w.astype(np.float32, copy=False))
    return out, sample_rate


def check_labels(labels, name: str = "labels", *, n: int | None = None,
                 n_classes: int | None = None, integer: bool = False) -> np.ndarray:
    """Check a 1-D sequence of class labels, one per row.

    Args:
        labels: class labels (strings or integers; with ``integer`` only integer indices).
        name: the argument's name in error messages.
        n: the number of rows the labels must match, if known.
        n_classes: with ``integer``, indices must lie in [0, n_classes).
        integer: require integer class indices (as zero-shot does) instead of any hashable label.
    Returns:
        (N,) array: int64 when ``integer``, otherwise the labels as given.
    """
    if labels is None or isinstance(labels, (str, bytes, dict, set)):
        raise TypeError(f"{name}: expected a 1-D sequence of class labels, got {describe(labels)}")
    arr = np.asarray(labels)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name}: expected a non-empty 1-D array of labels, got shape {arr.shape}")
    if n is not None and len(arr) != n:
        raise ValueError(f"{name}: expected one label per row ({n}), got {len(arr)}")
    if integer:
        if arr.dtype == object or not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"{name}: expected integer class indices, got dtype {arr.dtype}")
        if arr.min() < 0 or (n_classes is not None and arr.max() >= n_classes):
            raise ValueError(f"{name}: expected indices in [0, {n_classes}), got values from {arr.min()} to {arr.max()}")
        return arr.astype(np.int64)
    if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
        raise ValueError(f"{name}: expected finite labels, got NaN/inf")
    if arr.dtype == object and any(v is None for v in arr):
        raise ValueError(f"{name}: expected a label for every row, got None")
    return arr
