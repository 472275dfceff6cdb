"""``python -m mmlab._jail [options] -- COMMAND``: hide a folder, set limits, drop to another user, exec.

The launcher of a grading kernel (see ``mmlab.sandbox``). It runs as the first process of the
kernel, so what it sets applies to the kernel and everything it starts. ``--hide`` needs a
private mount namespace (``unshare --mount``): a tmpfs is laid over the folder (the teacher's
home) and only the ``--keep`` folders inside it (where Python lives) are mounted back.
"""
from __future__ import annotations

import argparse
import os
import sys


def main(argv: list[str]) -> int:
    if "--" not in argv:
        print("usage: python -m mmlab._jail [--memory B] [--file-size B] [--processes N] [--uid U] [--hide DIR "
              "--keep DIR ...] [--loopback] [--init] -- COMMAND",
              file=sys.stderr)
        return 2
    split = argv.index("--")
    p = argparse.ArgumentParser(prog="python -m mmlab._jail")
    p.add_argument("--memory", type=int)
    p.add_argument("--file-size", type=int)
    p.add_argument("--processes", type=int)
    p.add_argument("--uid", type=int)
    p.add_argument("--hide")
    p.add_argument("--keep", action="append", default=[])
    p.add_argument("--loopback", action="store_true", help="bring up the loopback of a new network namespace")
    p.add_argument("--init", action="store_true", help="stay as the first process of a PID namespace")
    args = p.parse_args(argv[:split])
    command = argv[split + 1:]
    import resource

    if args.loopback:
        _loopback_up()
    if args.hide:
        _hide(args.hide, args.keep)
    if args.init:
        # ipykernel shuts down when its parent is process 1 (it takes that for "the parent
        # exited") if told to watch its parent: here the namespace does that job.
        os.environ.pop("JPY_PARENT_PID", None)
        if os.fork() != 0:
            return _wait_as_init()
    for limit, value in ((resource.RLIMIT_AS, args.memory), (resource.RLIMIT_FSIZE, args.file_size),
                         (resource.RLIMIT_NPROC, args.processes)):
        if value:
            resource.setrlimit(limit, (value, value))
    if args.uid is not None:
        os.setgroups([])
        os.setgid(args.uid)
        os.setuid(args.uid)
    os.execvp(command[0], command)
    return 0  # not reached


def _wait_as_init() -> int:
    """Be the first process of the kernel's PID namespace until the kernel (our one child) ends.

    The launcher stays root and does not exec: a process that drops to another user loses
    ``unshare --kill-child``'s parent-death signal, so the kernel itself cannot be the first
    process. When this one ends, for whatever reason, the system kills every process left in
    the namespace: nothing a hand-in started outlives its grading. Interrupts reach the kernel
    directly (Jupyter signals the whole process group); they are ignored here.
    """
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            pid, status = os.wait()  # orphans of the namespace are reparented here: reap them too
        except ChildProcessError:
            return 0
        if pid != 0 and os.waitstatus_to_exitcode(status) is not None and _is_kernel(pid):
            code = os.waitstatus_to_exitcode(status)
            return code if code >= 0 else 128 - code


def _is_kernel(pid: int) -> bool:
    """Whether ``pid`` is the kernel: in the namespace, the first child of process 1 is process 2."""
    return pid == 2


def _loopback_up() -> None:
    """Bring up ``lo``: a new network namespace starts with it down, and Milvus Lite's local server needs it."""
    import fcntl
    import socket
    import struct

    get_flags, set_flags, up = 0x8913, 0x8914, 0x1  # SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP (linux/sockios.h, if.h)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        request = struct.pack("16sH22x", b"lo", 0)  # struct ifreq: name, flags, padding to 40 bytes
        flags = struct.unpack("16sH22x", fcntl.ioctl(s, get_flags, request))[1]
        fcntl.ioctl(s, set_flags, struct.pack("16sH22x", b"lo", flags | up))


def _hide(folder: str, keep: list[str]) -> None:
    """Lay an empty tmpfs over ``folder``, then mount each of ``keep`` (inside it) back in place."""
    import subprocess
    import tempfile

    def mount(*args: str) -> None:
        subprocess.run(["mount", *args], check=True)

    mount("--make-rprivate", "/")
    parked = tempfile.mkdtemp(prefix="mmlab-jail-")
    spots = []
    for i, path in enumerate(keep):
        spot = os.path.join(parked, str(i))
        os.mkdir(spot)
        mount("--rbind", path, spot)
        spots.append((spot, path))
    mount("-t", "tmpfs", "-o", "mode=755,size=1m", "tmpfs", folder)
    for spot, path in spots:
        os.makedirs(path, exist_ok=True)
        mount("--move", spot, path)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
