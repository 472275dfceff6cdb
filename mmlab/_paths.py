"""Where the shipped files live: a checkout of the repository, or inside the installed package.

In a checkout (an editable install, or ``import mmlab`` from the repo) the sources at the
top of the repository are read: ``data/`` and ``notebooks/``. A wheel carries copies of
them inside the package as ``mmlab/_data`` and ``mmlab/_notebooks`` (setup.py puts them
there at build time), which are read when there is no checkout.
"""
from __future__ import annotations

from pathlib import Path

__all__ = ["PACKAGE_DIR", "checkout_root", "shipped_dir"]

PACKAGE_DIR = Path(__file__).resolve().parent


def checkout_root() -> Path | None:
    """The repository folder holding this package, or None for an installed wheel.

    A checkout is recognised by ``pyproject.toml`` next to the package folder: an installed
    package sits in site-packages, where neither that file nor our ``data/`` lives (a stray
    top-level ``data`` folder from another distribution must not be mistaken for ours).
    """
    root = PACKAGE_DIR.parent
    return root if (root / "pyproject.toml").is_file() and (root / "mmlab").is_dir() else None


def shipped_dir(name: str) -> Path:
    """The folder of ``name`` ("data" or "notebooks"): the checkout's, else the package's copy.

    Args:
        name: "data" or "notebooks".
    Returns:
        ``<checkout>/<name>`` when running from a checkout that has it, else
        ``mmlab/_<name>`` inside the installed package (which may be missing, e.g. in a
        wheel built without it; callers say so when a file is not found).
    """
    root = checkout_root()
    if root is not None and (root / name).is_dir():
        return root / name
    return PACKAGE_DIR / f"_{name}"
