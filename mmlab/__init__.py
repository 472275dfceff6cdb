"""mmlab: helpers for a notebook suite on multimodal embeddings.

Submodules are imported lazily (``mm.models`` loads torch only when first used),
so ``import mmlab as mm`` stays fast.
"""
from __future__ import annotations

import importlib
import os
import random
import sys

__version__ = "0.1.0"

# torch and FAISS run their loops with OpenMP, whose idle threads spin by default. On a
# laptop that is also running a browser (or a 2-core machine running anything else) the
# spinning threads steal the cores from the working ones: EfficientNet-Lite0 was measured
# at 13 images/s with spinning threads against 75 images/s with passive waits, on the same
# busy 2-core machine. Passive waiting costs little on an idle machine. It only takes
# effect if set before torch or FAISS load, hence here; a value the user set wins.
#: True when torch's OpenMP runtime was already loaded with spinning waits when mmlab was
#: imported (torch imported first); mmlab.search then runs FAISS builds on one thread.
TORCH_SPINS: bool = "torch" in sys.modules and os.environ.get("OMP_WAIT_POLICY", "").upper() != "PASSIVE"
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

#: The one seed every notebook and helper starts from (override with MMLAB_SEED).
SEED: int = int(os.environ.get("MMLAB_SEED", "0"))

_SUBMODULES = (
    "embeddings", "cache", "models", "data", "fusion", "losses", "train", "lit",
    "zeroshot", "search", "viz", "checks", "student",
)

__all__ = ["SEED", "seed_everything", "__version__", *_SUBMODULES]


def seed_everything(seed: int | None = None) -> int:
    """Seed Python, NumPy and (if it is imported) torch from one place.

    Args:
        seed: the seed; ``None`` uses ``mmlab.SEED``.
    Returns:
        The seed that was used.
    """
    import numpy as np

    if seed is None:
        seed = SEED
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed: expected an int, got {type(seed).__name__}")
    if not 0 <= seed < 2**32:  # numpy's legacy seeding accepts exactly this range
        raise ValueError(f"seed: expected an int in [0, 2**32 - 1], got {seed}")
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
