"""``python -m mmlab notebooks DEST``: copy the numbered notebooks into a folder of your own.

By default the copies are *student copies*: every exercise's solution replaced by a stub and
every output cleared, so a learner works the exercises instead of reading the answer key
(``make lab`` does this into ``my-notebooks/``). ``--solutions`` copies the solved reference
notebooks instead; one exercise's solution can be revealed after a try with
``python -m mmlab solution NAME`` (``mmlab.student.show_solution``).

The notebooks come from the checkout's ``notebooks/`` or, in an installed wheel, from the
copy inside the package (``mmlab/_notebooks``). A file in DEST that differs from what would
be written is the learner's work: it is kept unless ``force`` is given. A manifest in DEST
(``.mmlab-notebooks.json``) records what was written, so a notebook the learner never
touched is updated when mmlab is upgraded, while an edited one is kept.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ._paths import shipped_dir
from .cache import atomic_file

__all__ = ["MANIFEST", "NOTEBOOK_GLOB", "CopyReport", "copy_notebooks", "main", "notebooks_dir"]

#: The notebooks that are copied (and shipped in the wheel): 00_..., 01_..., and so on.
NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"
#: Written into DEST: file name -> sha256 of the bytes mmlab wrote there.
MANIFEST = ".mmlab-notebooks.json"


@dataclass
class CopyReport:
    """What ``copy_notebooks`` did with each notebook (file names)."""

    copied: list[str] = field(default_factory=list)     # new in DEST
    updated: list[str] = field(default_factory=list)    # replaced an untouched older copy
    replaced: list[str] = field(default_factory=list)   # replaced an edited file (force=True)
    unchanged: list[str] = field(default_factory=list)  # already identical
    kept: list[str] = field(default_factory=list)       # edited by the learner, left alone


def notebooks_dir() -> Path:
    """The folder the notebooks are copied from: the checkout's ``notebooks/``, else the wheel's."""
    return shipped_dir("notebooks")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _content(path: Path, student: bool) -> bytes:
    """The bytes to write for ``path``: the notebook itself, or its student copy."""
    if not student:
        return path.read_bytes()
    import nbformat

    from .student import make_student_notebook

    nb = make_student_notebook(nbformat.read(path, as_version=4))
    nbformat.validate(nb)
    text = nbformat.writes(nb)
    return (text if text.endswith("\n") else text + "\n").encode("utf-8")  # as nbformat.write


def _write_atomic(path: Path, data: bytes) -> None:
    # A half-written notebook would not open; write beside it, then rename over it.
    with atomic_file(path) as f:
        f.write(data)


def _read_manifest(dest: Path) -> dict[str, str]:
    try:
        data = json.loads((dest / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def copy_notebooks(dest: str | os.PathLike, *, student: bool = True, force: bool = False,
                   source: str | os.PathLike | None = None,
                   say: Callable[[str], None] = print) -> CopyReport:
    """Copy the numbered notebooks into ``dest``, keeping any file the learner has edited.

    Args:
        dest: the folder to copy into (created if missing; ``~`` is expanded).
        student: write student copies (solutions replaced by stubs, outputs cleared), the
            default; False copies the solved reference notebooks as they are.
        force: overwrite files that differ from what would be written (edits are lost).
        source: the folder to copy from (default: ``notebooks_dir()``).
        say: where progress lines go (``print`` by default).
    Returns:
        A ``CopyReport`` naming the files copied, updated, replaced, unchanged and kept.
    """
    if not isinstance(student, bool) or not isinstance(force, bool):
        raise TypeError(f"student, force: expected True or False, got {student!r}, {force!r}")
    if not isinstance(dest, (str, os.PathLike)) or not str(dest):
        raise TypeError(f"dest: expected a folder path (str or Path), got {dest!r}")
    src = Path(source) if source is not None else notebooks_dir()
    notebooks = sorted(src.glob(NOTEBOOK_GLOB))
    if not notebooks:
        raise FileNotFoundError(
            f"no notebooks ({NOTEBOOK_GLOB}) in {src}: this mmlab install carries none. "
            "Reinstall mmlab from its wheel, or run from a full checkout of the repository.")
    dest = Path(dest).expanduser()
    if dest.exists() and not dest.is_dir():
        raise NotADirectoryError(f"dest: expected a folder, but {dest} is a file")
    dest.mkdir(parents=True, exist_ok=True)

    manifest = _read_manifest(dest)
    report = CopyReport()
    for path in notebooks:
        data = _content(path, student)
        target = dest / path.name
        current = target.read_bytes() if target.is_file() else None
        if current == data:
            report.unchanged.append(path.name)
        elif current is None:
            _write_atomic(target, data)
            report.copied.append(path.name)
            say(f"copied    {target}")
        elif force:
            _write_atomic(target, data)
            report.replaced.append(path.name)
            say(f"replaced  {target} (--force: the previous contents are gone)")
        elif manifest.get(path.name) == _sha256(current):
            # Exactly what mmlab wrote last time: the learner never changed it.
            _write_atomic(target, data)
            report.updated.append(path.name)
            say(f"updated   {target} (you had not changed it)")
        else:
            report.kept.append(path.name)
            continue
        manifest[path.name] = _sha256(data)
    _write_atomic(dest / MANIFEST, (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode())

    kind = "student copies" if student else "notebooks"
    for name in report.kept:
        say(f"kept      {dest / name} (it differs from mmlab's copy: your edits, or outputs "
            "from running it)")
    if report.kept:
        say("          To get mmlab's version, rename or move the file first, or pass --force "
            "(its contents are lost).")
    n_new = len(report.copied) + len(report.updated) + len(report.replaced)
    say(f"{dest}: {n_new} written, {len(report.unchanged)} already up to date, "
        f"{len(report.kept)} kept ({kind} from {src})")
    return report


def main(dest: str, *, student: bool = True, force: bool = False) -> int:
    """The ``notebooks`` command: copy, print what happened, return 0 (kept files are not an error)."""
    try:
        report = copy_notebooks(dest, student=student, force=force)
    except (FileNotFoundError, NotADirectoryError, PermissionError) as exc:
        print(f"python -m mmlab notebooks: {exc}", file=sys.stderr)
        return 1
    if student:
        print("These are student copies: the exercises are empty for you to solve. After a real try, "
              "`python -m mmlab solution NAME` (NAME as in the check cell) shows one solution; "
              "--solutions copies the solved notebooks.")
    if report.copied or report.updated or report.replaced:
        print(f"Open them with: jupyter lab {Path(dest).expanduser()}")
    return 0
