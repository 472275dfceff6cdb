"""Containment for the kernels that run hand-ins (``python -m mmlab grade``).

A hand-in is code a teacher did not write. Each one runs in its own kernel with:

- an allow-listed environment (no tokens or keys of the teacher's), a throwaway ``HOME`` and
  its own ``MMLAB_CACHE``, seeded from a warm cache by hard links so grading stays fast (no
  copy of the ~0.7 GB of converted models): mmlab only ever replaces a cache file (a new file
  renamed into place), never writes into one, so what a hand-in caches never reaches the warm
  cache; run as ``nobody`` the links are also read-only to the kernel;
- limits on memory (address space), file size and, where they are enforced, processes;
- on Linux, no network (a network namespace through ``unshare --net``) and its own process
  namespace (``unshare --pid``: what it started dies with it) where the system allows them, and, when the grader runs as root, the kernel runs as ``nobody``: it cannot write outside
  its own folders or read the teacher's files that are not world-readable.

What could not be applied is listed in :attr:`Sandbox.notes`; the grader prints it in its
summary. The kernel talks to the grader over Unix sockets in its work folder (no TCP port,
so it works inside a network namespace).
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ENV_ALLOWED", "Limits", "Sandbox", "prepare"]

#: Variables of the teacher's environment a kernel keeps (everything else is dropped).
ENV_ALLOWED = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "SYSTEMROOT", "TMPDIR")
#: The user a root grader runs kernels as.
NOBODY = 65534
GiB = 1024 ** 3


@dataclass(frozen=True)
class Limits:
    """Resource limits of one kernel (bytes and counts)."""

    memory: int = 8 * GiB       # address space: torch plus the generator of notebook 06 fit in 8 GiB
    file_size: int = 1 * GiB    # the largest file the kernel may write (its log included)
    processes: int = 256        # processes and threads of the kernel's user (enforced for `nobody` only)

    def __post_init__(self) -> None:
        for name in ("memory", "file_size", "processes"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name}: expected a positive whole number, got {value!r}")


@dataclass
class Sandbox:
    """The folders, environment and launch command of one contained kernel."""

    root: Path
    work: Path
    home: Path
    cache: Path
    limits: Limits
    uid: int | None = None
    network_isolated: bool = False
    own_processes: bool = False  # a PID namespace: every process the kernel started dies with it
    notes: list[str] = field(default_factory=list)

    def env(self, extra: dict[str, str]) -> dict[str, str]:
        """The kernel's environment: the allow-list, its own HOME and cache, then ``extra``."""
        env = {k: os.environ[k] for k in ENV_ALLOWED if k in os.environ}
        env.update(HOME=str(self.home), MMLAB_CACHE=str(self.cache), PYTHONNOUSERSITE="1",
                   OMP_WAIT_POLICY="PASSIVE", XDG_CACHE_HOME=str(self.home / ".cache"),
                   MPLCONFIGDIR=str(self.home / ".matplotlib"), TMPDIR=str(self.root / "tmp"))
        env.update(extra)
        return env

    hide: Path | None = None
    keep: list[Path] = field(default_factory=list)

    def kernel_argv(self) -> list[str]:
        """The command that starts the kernel inside the limits (``{connection_file}`` filled by Jupyter)."""
        jail = [sys.executable, "-m", "mmlab._jail", "--memory", str(self.limits.memory),
                "--file-size", str(self.limits.file_size)]
        if self.uid is not None:
            jail += ["--processes", str(self.limits.processes), "--uid", str(self.uid)]
        if self.network_isolated:
            jail.append("--loopback")
        if self.own_processes:
            jail.append("--init")
        if self.hide is not None:
            jail += ["--hide", str(self.hide), *(a for k in self.keep for a in ("--keep", str(k)))]
        argv = [*jail, "--", sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        namespaces = ((["--net"] if self.network_isolated else []) + (["--mount"] if self.uid is not None else [])
                      + (["--pid", "--fork", "--kill-child"] if self.own_processes else []))
        return ["unshare", *namespaces, "--", *argv] if namespaces else argv


@functools.lru_cache(maxsize=4)
def _can_unshare(*flags: str) -> bool:
    """Whether ``unshare FLAGS`` works here (Linux, with root or user namespaces allowed)."""
    if not sys.platform.startswith("linux") or shutil.which("unshare") is None:
        return False
    try:
        return subprocess.run(["unshare", *flags, "--", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@functools.lru_cache(maxsize=4)
def _nobody_cannot_run(hide: str, keep: tuple[str, ...]) -> str:
    """Why the kernel's Python and mmlab cannot start as ``nobody`` behind the jail, or "" if they can.

    Python may sit where other users cannot reach it (a pyenv under a private home that is not
    the one hidden, a mode-700 folder on the way): tried once, as the kernel would be started.
    """
    jail = [sys.executable, "-m", "mmlab._jail", "--uid", str(NOBODY)]
    if hide:
        jail += ["--hide", hide, *(a for k in keep for a in ("--keep", k))]
    argv = ["unshare", "--mount", "--", *jail, "--", sys.executable, "-c", "import mmlab, ipykernel"]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd="/")
    except (OSError, subprocess.SubprocessError) as exc:
        return f"{type(exc).__name__}: {exc}"
    if proc.returncode == 0:
        return ""
    last = (proc.stderr.strip().splitlines() or ["exit code " + str(proc.returncode)])[-1]
    return last[:200]


def _python_folders_inside(home: Path) -> list[Path]:
    """The folders of this Python and of mmlab that lie inside ``home`` (they must stay visible to the kernel)."""
    from ._paths import PACKAGE_DIR, checkout_root

    found: list[Path] = []
    here = checkout_root() or PACKAGE_DIR  # a checkout also holds data/ that the notebooks read
    for p in {Path(sys.base_prefix), Path(sys.prefix), Path(sys.executable).resolve().parent.parent, here}:
        p = p.resolve()
        if p.is_relative_to(home) and p != home and not any(p.is_relative_to(f) for f in found):
            found = [f for f in found if not f.is_relative_to(p)] + [p]
    return sorted(found)


def _seed_cache(warm: Path | None, cache: Path) -> None:
    """Fill ``cache`` from the warm cache: hard links, or copies across file systems."""
    if warm is None or not warm.is_dir():
        cache.mkdir(parents=True, exist_ok=True)
        return

    def link_or_copy(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(warm, cache, symlinks=False, copy_function=link_or_copy,
                    dirs_exist_ok=True)


def prepare(root: str | os.PathLike, *, warm_cache: str | os.PathLike | None, limits: Limits | None = None,
            isolate_network: bool = True) -> Sandbox:
    """Make the folders of one contained kernel under ``root`` and decide what can be applied.

    Args:
        root: an empty temporary folder for this hand-in (removed by the caller).
        warm_cache: a cache of embeddings and converted models to seed the kernel's cache from,
            or None for an empty one.
        limits: the resource limits (default :class:`Limits`).
        isolate_network: cut the kernel off the network where the system allows it.
    Returns:
        The :class:`Sandbox`; its ``notes`` say what could not be applied here.
    """
    limits = Limits() if limits is None else limits
    if not isinstance(limits, Limits):
        raise TypeError(f"limits: expected mmlab.sandbox.Limits, got {type(limits).__name__}")
    root = Path(root)
    box = Sandbox(root=root, work=root / "work", home=root / "home", cache=root / "cache", limits=limits)
    as_root = (hasattr(os, "geteuid") and os.geteuid() == 0 and _can_unshare("--mount")
               and shutil.which("mount") is not None)
    for folder in (box.work, box.home, root / "tmp"):
        folder.mkdir(parents=True, exist_ok=True)
    _seed_cache(Path(warm_cache) if warm_cache else None, box.cache)
    hide: Path | None = None
    keep: list[Path] = []
    if as_root:
        home = Path.home().resolve()
        if home != Path("/") and home.is_dir():
            hide, keep = home, _python_folders_inside(home)
        problem = _nobody_cannot_run(str(hide) if hide else "", tuple(map(str, keep)))
        if problem:
            as_root = False
            box.notes.append(f"kernels cannot run as 'nobody' here ({problem}), so they run as the teacher's own "
                             "user: a hand-in can write wherever the teacher can, and the process limit is not "
                             "applied (make Python and mmlab readable by other users, e.g. not under a private "
                             "home folder)")
    if as_root:
        # The kernel runs as `nobody`, in a mount namespace where the teacher's home is hidden
        # (Python itself may live there, e.g. pyenv under /root: those folders stay visible).
        box.uid = NOBODY
        box.hide, box.keep = hide, keep
        for folder in (box.work, box.home, root / "tmp"):
            os.chown(folder, NOBODY, NOBODY)
        for dirpath, _dirs, _files in os.walk(box.cache):
            os.chown(dirpath, NOBODY, NOBODY)  # it may add entries; the seeded files stay root's, read-only
        os.chmod(root, 0o755)
    elif not box.notes:
        box.notes.append("kernels run as the teacher's own user (run the grader as root, or in a container, to "
                         "run them as 'nobody'): a hand-in can write wherever the teacher can, and the process "
                         "limit is not applied")
    if not hasattr(os, "fork"):
        box.notes.append("no resource limits on this operating system")
    if _can_unshare("--pid", "--fork", "--kill-child"):
        box.own_processes = True
    else:
        box.notes.append("processes a hand-in starts and leaves running are not stopped with its kernel "
                         "('unshare --pid' is not available or not permitted here)")
    if isolate_network and _can_unshare("--net"):
        box.network_isolated = True
    elif isolate_network:
        box.notes.append("the network could not be cut off for kernels ('unshare --net' is not available "
                         "or not permitted here)")
    return box
