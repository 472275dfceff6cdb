"""Where the shipped data files are read from, and the helpers every loader shares."""
from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._paths import shipped_dir
from .._validate import check_str_list, describe

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




def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


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


