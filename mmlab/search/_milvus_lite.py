"""Milvus Lite workarounds, all in one place: the rest of mmlab talks to ``pymilvus`` only.

Milvus Lite runs one embedded server per database folder and lets one process hold it.
Two things are missing from its public API, so this module supplies them:

* a clear error when another process holds the database (it would otherwise hang or fail
  with a low-level message): we probe the advisory lock on the folder's ``LOCK`` file;
* releasing the database when the last store closes, so another process (a second notebook,
  a test in a subprocess) can open it: ``MilvusClient.close`` keeps the embedded server
  running, so we stop it through ``milvus_lite.server_manager`` and count open stores.
"""
from __future__ import annotations

import os
import threading
from typing import Any

_LOCK = threading.Lock()
_OPEN: dict[str, int] = {}  # database folder -> stores open on it in this process


def busy_message(path: str) -> str:
    return (f"uri: the Milvus Lite database {path!r} is already open in another process. Milvus Lite "
            "allows one process per database: close it there (store.close(), or restart that notebook's "
            "kernel), use another path, or run a Milvus server and connect every process to "
            "uri='http://localhost:19530'.")


def _locked_elsewhere(path: str) -> bool:
    """Whether another process holds Milvus Lite's advisory lock on ``path``."""
    lock = os.path.join(path, "LOCK")
    if not os.path.exists(lock):
        return False
    try:
        import fcntl
    except ImportError:  # Windows: Milvus Lite locks with msvcrt; let it report
        return False
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def open_client(path: str) -> Any:
    """A ``MilvusClient`` on the Milvus Lite database folder ``path`` (absolute, ending in .db)."""
    from pymilvus import MilvusClient

    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        raise ValueError(f"uri: expected a path in an existing folder, got {path!r}: the folder {folder!r} "
                         "does not exist; create it first")
    if os.path.isfile(path):
        raise ValueError(f"uri: expected a Milvus Lite database folder, got the file {path!r} (Milvus Lite 3 keeps "
                         "a database in a folder named *.db; a file may come from milvus-lite 2.x): pick another name")
    with _LOCK:
        if not _OPEN.get(path) and _locked_elsewhere(path):
            raise RuntimeError(busy_message(path))
        try:
            client = MilvusClient(uri=path)
        except Exception as exc:
            if _locked_elsewhere(path):
                raise RuntimeError(busy_message(path)) from None
            raise RuntimeError(f"uri: could not open the Milvus Lite database {path!r}: {exc}") from exc
        _OPEN[path] = _OPEN.get(path, 0) + 1
    return client


def release(path: str, client: Any) -> None:
    """Close ``client``; the last store on ``path`` in this process stops its embedded server."""
    try:
        client.close()
    finally:
        with _LOCK:
            left = _OPEN.get(path, 1) - 1
            if left > 0:
                _OPEN[path] = left
            else:
                _OPEN.pop(path, None)
                from milvus_lite.server_manager import server_manager_instance

                server_manager_instance.release_server(path)  # flushes to disk and unlocks
