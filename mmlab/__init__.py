"""mmlab: helpers for a notebook suite on multimodal embeddings.

Submodules are imported lazily (``mm.models`` loads torch only when first used),
so ``import mmlab as mm`` stays fast.
"""
from __future__ import annotations

import importlib
import os
import random
import sys
from importlib.metadata import PackageNotFoundError, version

try:  # the version is written once, in pyproject.toml
    __version__ = version("mmlab")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

from . import _threads
from ._threads import single_threaded

# Passive OpenMP waits must be asked for before torch or FAISS load; see mmlab._threads.
_threads.set_openmp_policy()

#: The one seed every notebook and helper starts from (override with MMLAB_SEED).
SEED: int = int(os.environ.get("MMLAB_SEED", "0"))

_SUBMODULES = (
    "embeddings", "cache", "models", "data", "fusion", "losses", "train", "lit",
    "zeroshot", "search", "rag", "viz", "checks", "exercises", "student",
)

__all__ = ["SEED", "seed_everything", "single_threaded", "__version__", *_SUBMODULES]


def seed_everything(seed: int | None = None) -> int:
    """Seed Python, NumPy and (if it is imported) torch from one place.

    Args:
        seed: the seed; ``None`` uses ``mmlab.SEED``.
    Returns:
        The seed that was used.
    """
    import numpy as np

    from ._validate import resolve_seed

    seed = resolve_seed(seed)  # numpy's legacy seeding accepts exactly [0, 2**32 - 1]
    random.seed(seed)
    np.random.seed(seed)
    if "torch" in sys.modules:  # seeding must not be the reason torch gets imported
        sys.modules["torch"].manual_seed(seed)
    return seed


def __getattr__(name: str):
    if name in _SUBMODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'mmlab' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBMODULES))
