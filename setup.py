"""Build hook: copy the data sets and the numbered notebooks into the wheel.

Everything else about the package is declared in pyproject.toml. ``data/`` and
``notebooks/`` stay the sources at the top of the repository; package-data cannot reach
files outside the package folder, so ``build_py`` copies them into the build tree as
``mmlab/_data`` and ``mmlab/_notebooks`` (never into the source tree). An editable
install skips the copy: ``mmlab.data.data_dir()`` reads the checkout's ``data/`` directly.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
# The data files themselves and their README (provenance and licences); the build
# scripts stay in the repository.
DATA_SKIP = {".py", ".pyc"}
NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"


def _data_files() -> list[Path]:
    files = [p for p in sorted((ROOT / "data").glob("*"))
             if p.is_file() and p.suffix not in DATA_SKIP and not p.name.startswith(".")]
    if not any(p.suffix == ".csv" for p in files):
        raise SystemExit(f"mmlab build: no data sets found in {ROOT / 'data'}; build from a full "
                         "checkout (or an sdist that includes data/)")
    return files


def _notebook_files() -> list[Path]:
    files = sorted((ROOT / "notebooks").glob(NOTEBOOK_GLOB))
    if not files:
        raise SystemExit(f"mmlab build: no notebooks matching {NOTEBOOK_GLOB} in {ROOT / 'notebooks'}")
    sanitize = ROOT / "notebooks" / "sanitize.cfg"
    return files + ([sanitize] if sanitize.is_file() else [])


class BuildPyWithData(build_py):
    """``build_py`` that also copies data/ and the numbered notebooks into the package."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        for folder, files in (("_data", _data_files()), ("_notebooks", _notebook_files())):
            target = Path(self.build_lib) / "mmlab" / folder
            # Start empty, so a file deleted from the repo does not linger in a reused build/.
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir(parents=True)
            for src in files:
                shutil.copy2(src, target / src.name)


setup(cmdclass={"build_py": BuildPyWithData})
