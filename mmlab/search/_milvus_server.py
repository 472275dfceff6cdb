"""The Milvus server side of ``MilvusStore``, all in one place (as ``_milvus_lite`` is for Milvus Lite).

* where the data lives: ``milvus_uri`` (a Lite folder, or ``$MMLAB_MILVUS_URI``);
* connecting with a token (Zilliz Cloud, a server with authentication) that never shows in errors;
* the features an older server lacks, refused with the version it runs named.
"""
from __future__ import annotations

import os
import re
from typing import Any

from .._validate import describe

#: The environment variable that points notebooks (and ``milvus_uri``) at a Milvus server.
MILVUS_URI_ENV = "MMLAB_MILVUS_URI"
#: The environment variable a server's token is read from when ``token=`` is not given.
TOKEN_ENV = "MMLAB_MILVUS_TOKEN"
SERVER_URI = re.compile(r"^(https?|tcp|grpcs?)://")
#: The oldest Milvus server that has each feature (Milvus Lite 3 has them all).
SERVER_NEEDS = {"BM25 full-text search (bm25_field)": (2, 5), "hybrid_search": (2, 4)}


def milvus_uri(lite_file: str) -> str:
    """The Milvus address to use: ``$MMLAB_MILVUS_URI`` when it is set, else ``lite_file``.

    Notebooks write ``MilvusStore(mm.search.milvus_uri(path_to_db), ...)``: by default that is the
    embedded Milvus Lite database ``lite_file``; ``export MMLAB_MILVUS_URI=http://localhost:19530``
    runs the same cells against a Milvus server (see the README's server section).

    Args:
        lite_file: the Milvus Lite database to use when no server is configured (a path ending in .db).
    Returns:
        The environment variable's value (surrounding spaces removed) if set and non-empty, else ``lite_file``.
    Raises:
        ValueError: ``MMLAB_MILVUS_URI`` is set to something that is neither a server address
            (``http(s)://``, ``tcp://``, ``grpc(s)://``) nor a path ending in .db.
    """
    if not isinstance(lite_file, (str, os.PathLike)):
        raise TypeError(f"lite_file: expected a path ending in .db, got {describe(lite_file)}")
    configured = os.environ.get(MILVUS_URI_ENV, "").strip()
    if not configured:
        return os.fspath(lite_file)
    if not (SERVER_URI.match(configured) or configured.endswith(".db")):
        raise ValueError(f"{MILVUS_URI_ENV}: expected a server address like 'http://localhost:19530' (or a path "
                         f"ending in .db), got {configured!r}; unset it to use Milvus Lite")
    return configured


def open_client(uri: str, token: str | None) -> Any:
    """A ``MilvusClient`` on the server at ``uri``; ``token`` None: ``$MMLAB_MILVUS_TOKEN`` (or none)."""
    from pymilvus import MilvusClient

    if token is None:
        token = os.environ.get(TOKEN_ENV, "")
    try:
        return MilvusClient(uri=uri, token=token)
    except Exception as exc:
        message = str(exc).replace(token, "***") if token else str(exc)
        raise ConnectionError(f"uri: could not connect to the Milvus server at {uri!r}: {message}") from None


def require(feature: str, version: str, uri: str) -> None:
    """Raise a clear error when a server of ``version`` is older than ``SERVER_NEEDS[feature]``.

    An unreadable version (a cloud service's own wording) passes: the server answers for itself.
    """
    match = re.search(r"(\d+)\.(\d+)", version)
    need = SERVER_NEEDS[feature]
    if match and (int(match[1]), int(match[2])) < need:
        raise RuntimeError(f"{feature} needs a Milvus server >= {need[0]}.{need[1]}; the server at {uri!r} "
                           f"runs {version}. Upgrade the server, or use Milvus Lite (a path ending in .db), "
                           "which has it.")
