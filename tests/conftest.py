"""Shared test set-up: offline, the offline joint model, a headless matplotlib, one private cache.

The whole test run (unit tests, nbval's kernels and the student copies, which inherit this
process's environment) uses one temporary ``MMLAB_CACHE``, so what passes and how long it takes
do not depend on what the machine has cached before. Only the model folders that ``make install``
builds once (the converted generator; a trained reranker) are seeded into it, as hard links (or
copies across file systems) of the user's cache: building them again is slow and gives the same
files, and mmlab writes cache entries by atomic rename, never in place, so the run cannot change
the user's files through the links. Set ``MMLAB_TEST_CACHE`` to choose the folder instead (it is then kept).
"""
import atexit
import os
import shutil
import tempfile
from pathlib import Path

#: Top-level folders of the cache that hold models built at install time (see the Makefile).
SEEDED_MODEL_FOLDERS = ("generator", "reranker")


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:  # another file system, or links not allowed
        shutil.copy2(src, dst)


def _private_cache() -> Path:
    """Create the run's cache, seeded with the install-time model folders; removed at exit."""
    chosen = os.environ.get("MMLAB_TEST_CACHE")
    root = Path(chosen) if chosen else Path(tempfile.mkdtemp(prefix="mmlab-test-cache-"))
    if not chosen:
        atexit.register(shutil.rmtree, root, ignore_errors=True)
    user = os.environ.get("MMLAB_CACHE")
    source = Path(user) if user and user != "off" else Path.home() / ".cache" / "mmlab"
    for name in SEEDED_MODEL_FOLDERS:
        if (source / name).is_dir() and not (root / name).exists():
            shutil.copytree(source / name, root / name, copy_function=_link_or_copy)
    return root


os.environ["MMLAB_CACHE"] = str(_private_cache())
# Tests use Milvus Lite files (the server tests start their own server): a developer's server setting must not leak in.
os.environ.pop("MMLAB_MILVUS_URI", None)
os.environ.pop("MMLAB_MILVUS_TOKEN", None)

# Tests never reach a model hub, and always use the offline joint model, so every
# machine sees the same numbers (the Makefile sets the same variables).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MMLAB_JOINT_MODEL", "conse")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
import matplotlib  # noqa: E402  (after the environment above)

# mmlab sets its OpenMP policy on import (mmlab._threads); import it before any test
# module imports torch directly, so the policy is in force when torch loads.
import mmlab  # noqa: F401, E402

matplotlib.use("Agg")
