"""Vector search: exact top-k, recall, FAISS indexes by name, and a Milvus Lite store.

Exact search is a matrix product plus a partial sort, done block by block over the
corpus so the (Q, N) score matrix never exists whole. It is the ground truth that the
approximate indexes (HNSW, IVF, PQ, ...) are measured against with ``recall_at_k``.

``MilvusStore`` wraps ``pymilvus.MilvusClient``: a local path ending in ``.db`` is an
embedded Milvus Lite database (one process per file), an ``http://host:19530`` URI is
a Milvus server; the code that uses the store is the same.
"""
from __future__ import annotations

import numbers
import os
import re
import threading
from collections.abc import Mapping, Sequence

import numpy as np

from .._validate import (
    as_array,
    check_choice,
    check_int,
    check_same_length,
    check_str_list,
    describe,
)
from ..embeddings import l2_normalize
from .exact import METRICS

# FAISS runs its loops with OpenMP; mmlab/__init__.py sets passive OpenMP waits before
# torch or FAISS load (idle spinning threads made small PQ k-means 50x slower on a busy
# machine). If torch was imported before mmlab, its runtime still spins and competes with
# FAISS's (k-means measured 4x slower), so FAISS builds then run on one thread
# (mmlab.TORCH_SPINS, see _faiss_threads).

__all__ = ["MilvusStore", "filter_expression"]


# --------------------------------------------------------------------------- Milvus filters

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# The escapes both Milvus Lite and the Milvus server understand inside a "..." literal.
_STRING_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _literal(value, where: str) -> str:
    """One Python value as a Milvus expression literal; strings are quoted and escaped."""
    if isinstance(value, str):
        return '"' + "".join(_STRING_ESCAPES.get(ch, ch) for ch in value) + '"'
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        if not np.isfinite(float(value)):
            raise ValueError(f"{where}: expected a finite number, got {value}")
        return repr(float(value))
    raise TypeError(f"{where}: expected a str, int, float or bool (or a list of them), got {describe(value)}")


def filter_expression(where: Mapping | None, fields: Sequence[str] | None = None) -> str:
    """Turn ``{"field": value, ...}`` into a Milvus boolean expression, quoting every value.

    A scalar means equality, a list/tuple means membership; several keys are joined with
    ``and``. Values are never pasted in raw, so ``'x" or id > 0 or "'`` matches only a
    field holding exactly that text.

    Args:
        where: a mapping from field name to a value or a non-empty list of values; None
            or {} means no filter.
        fields: if given, the field names that exist (others are rejected).
    Returns:
        The expression, e.g. ``group in ["Food & Drink", "Animals & Nature"]``; "" for no filter.
    """
    if where is None:
        return ""
    if not isinstance(where, Mapping):
        raise TypeError(f"where: expected a filter dict like {{'group': 'Food & Drink'}}, got {describe(where)}")
    parts = []
    for key, value in where.items():
        if not isinstance(key, str):
            raise TypeError(f"where: expected field names as strings, got the key {describe(key)}")
        if not _IDENTIFIER.match(key):
            raise ValueError(f"where: {key!r} is not a valid field name (letters, digits and _, not starting with a digit)")
        if fields is not None and key not in fields:
            raise ValueError(f"where: unknown field {key!r}; this collection can filter on {list(fields)}")
        if isinstance(value, (list, tuple, np.ndarray)):
            values = list(value)
            if not values:
                raise ValueError(f"where[{key!r}]: expected a non-empty list of values, got an empty list (it would match nothing)")
            literals = ", ".join(_literal(v, f"where[{key!r}][{i}]") for i, v in enumerate(values))
            parts.append(f"{key} in [{literals}]")
        elif isinstance(value, (set, frozenset, dict)):
            raise TypeError(f"where[{key!r}]: expected a value or a list of values, got {describe(value)}")
        else:
            parts.append(f"{key} == {_literal(value, f'where[{key!r}]')}")
    return " and ".join(parts)


# --------------------------------------------------------------------------- Milvus store

_OPEN_LOCK = threading.Lock()
_OPEN_COUNT: dict[str, int] = {}  # embedded database path -> open MilvusStore objects in this process
_STARTED_HERE: set[str] = set()  # embedded servers this module started (and so may stop)
_LOCAL_METRICS = {"cosine": "COSINE", "ip": "IP", "l2": "L2"}
_INDEX_TYPES = ("FLAT", "HNSW", "IVF_FLAT", "IVF_SQ8", "HNSW_SQ", "AUTOINDEX")
_INSERT_BATCH = 4096


def _embedded_servers() -> dict:
    try:
        from milvus_lite.server_manager import server_manager_instance
    except ImportError:  # pragma: no cover - milvus-lite is a dependency
        return {}
    return getattr(server_manager_instance, "_servers", {})


def _in_use_elsewhere(path: str) -> bool:
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


def _busy_message(path: str) -> str:
    return (
        f"uri: the Milvus Lite database {path!r} is already open in another process. Milvus Lite "
        "allows one process per database file: close it there (store.close(), or restart that "
        "notebook's kernel), use another file, or run a Milvus server and connect to it with "
        "uri='http://localhost:19530' from every process."
    )


class MilvusStore:
    """A collection of vectors plus metadata in Milvus (embedded Milvus Lite file or a server).

    The URI decides where the data lives: a path ending in ``.db`` is a Milvus Lite
    database directory on this machine (one process at a time), ``http://host:19530`` is a
    Milvus standalone or cluster server. Every method is the same for both.

    Args:
        uri: "path/to/file.db" (its folder must exist) or "http://host:port".
        collection: the collection's name.
        dim: vector dimension; required to create a collection, checked against an existing one.
        metric: "cosine", "ip" or "l2"; None means the existing collection's metric (or cosine).
        fields: metadata fields (VARCHAR) for a new collection; None means
            ("name", "group", "subgroup", "modality"), or the existing collection's.
        overwrite: drop an existing collection of that name first.
        max_length: the longest metadata string a new collection accepts.
    """

    DEFAULT_FIELDS = ("name", "group", "subgroup", "modality")

    def __init__(self, uri: str, collection: str = "items", *, dim: int | None = None,
                 metric: str | None = None, fields: Sequence[str] | None = None,
                 overwrite: bool = False, max_length: int = 512) -> None:
        if not isinstance(uri, (str, os.PathLike)):
            raise TypeError(f"uri: expected a path ending in .db or an http(s):// address, got {describe(uri)}")
        uri = os.fspath(uri)
        if not isinstance(collection, str) or not _IDENTIFIER.match(collection):
            raise ValueError(f"collection: expected a name of letters, digits and _, got {collection!r}")
        if metric is not None:
            metric = check_choice(metric, "metric", METRICS)
        if dim is not None:
            dim = check_int(dim, "dim", low=1)
        if fields is not None:
            fields = check_str_list(fields, "fields", allow_empty=True)
            for f in fields:
                if not _IDENTIFIER.match(f) or f in ("id", "vector"):
                    raise ValueError(f"fields: {f!r} cannot be a metadata field name (letters, digits, _; not id/vector)")
        self.max_length = check_int(max_length, "max_length", low=1, high=65535)
        self.uri = uri
        self.collection = collection
        self.local = uri.endswith(".db")
        if not self.local and not re.match(r"^(https?|tcp|grpcs?)://", uri):
            raise ValueError(f"uri: expected a path ending in .db (Milvus Lite) or a server address like "
                             f"'http://localhost:19530', got {uri!r}")
        self._path = os.path.abspath(uri) if self.local else None
        self._client = None
        self._connect()
        try:
            self._open_collection(dim, metric, fields, overwrite)
        except BaseException:
            self.close()
            raise

    # -- connection ---------------------------------------------------------------
    def _connect(self) -> None:
        from pymilvus import MilvusClient

        if self.local:
            path = self._path
            if not os.path.isdir(os.path.dirname(path)):
                raise ValueError(f"uri: the folder {os.path.dirname(path)!r} does not exist; create it first")
            if os.path.isfile(path):
                raise ValueError(
                    f"uri: {path!r} is a file; Milvus Lite 3 keeps a database in a folder named *.db "
                    "(a file of that name may come from milvus-lite 2.x): pick another name"
                )
            with _OPEN_LOCK:
                open_here = _OPEN_COUNT.get(path, 0) > 0 or path in _embedded_servers()
                if not open_here and _in_use_elsewhere(path):
                    raise RuntimeError(_busy_message(path))
                try:
                    self._client = MilvusClient(uri=path)
                except Exception as exc:
                    if _in_use_elsewhere(path):
                        raise RuntimeError(_busy_message(path)) from None
                    raise RuntimeError(f"uri: could not open the Milvus Lite database {path!r}: {exc}") from exc
                if not open_here:
                    _STARTED_HERE.add(path)
                _OPEN_COUNT[path] = _OPEN_COUNT.get(path, 0) + 1
        else:
            try:
                self._client = MilvusClient(uri=self.uri)
            except Exception as exc:
                raise ConnectionError(f"uri: could not connect to the Milvus server at {self.uri!r}: {exc}") from exc

    def close(self) -> None:
        """Disconnect; for a Milvus Lite file, the last store to close releases it for other processes."""
        client, self._client = self._client, None
        if client is None:
            return
        try:
            client.close()
        finally:
            if self.local:
                with _OPEN_LOCK:
                    left = _OPEN_COUNT.get(self._path, 1) - 1
                    if left > 0:
                        _OPEN_COUNT[self._path] = left
                    else:
                        _OPEN_COUNT.pop(self._path, None)
                        if self._path in _STARTED_HERE:
                            _STARTED_HERE.discard(self._path)
                            from milvus_lite.server_manager import (
                                server_manager_instance,
                            )

                            server_manager_instance.release_server(self._path)  # flushes and unlocks

    def __enter__(self) -> MilvusStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._client is None else f"{self.count()} rows"
        return f"MilvusStore({self.uri!r}, collection={self.collection!r}, dim={self.dim}, metric={self.metric!r}, {state})"

    @property
    def client(self):
        """The underlying ``pymilvus.MilvusClient`` (for anything this class does not wrap)."""
        if self._client is None:
            raise RuntimeError("this MilvusStore is closed; open a new one with the same uri")
        return self._client

    # -- schema ---------------------------------------------------------------------
    def _open_collection(self, dim, metric, fields, overwrite: bool) -> None:
        client = self.client
        name = self.collection
        if overwrite and client.has_collection(name):
            client.drop_collection(name)
        if client.has_collection(name):
            info = client.describe_collection(name)
            by_name = {f["name"]: f for f in info["fields"]}
            have_dim = int(by_name["vector"]["params"]["dim"])
            if dim is not None and dim != have_dim:
                raise ValueError(f"dim: the existing collection {name!r} holds {have_dim}-d vectors, got dim={dim}")
            have_fields = [f for f in by_name if f not in ("id", "vector")]
            if fields is not None and list(fields) != have_fields:
                raise ValueError(f"fields: the existing collection {name!r} has {have_fields}, got {list(fields)}")
            index = client.describe_index(name, "vector")
            have_metric = str(index.get("metric_type", "COSINE")).lower()
            if metric is not None and metric != have_metric:
                raise ValueError(f"metric: the existing collection {name!r} uses {have_metric!r}, got {metric!r}")
            self.dim, self.metric, self.fields = have_dim, have_metric, tuple(have_fields)
            self.index_type = str(index.get("index_type", "FLAT"))
            client.load_collection(name)
            return
        if dim is None:
            raise ValueError(f"dim: the collection {name!r} does not exist yet; give dim= to create it")
        from pymilvus import DataType

        self.dim, self.metric = dim, metric or "cosine"
        self.fields = tuple(self.DEFAULT_FIELDS if fields is None else fields)
        schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        for f in self.fields:
            schema.add_field(f, DataType.VARCHAR, max_length=self.max_length)
        client.create_collection(name, schema=schema, index_params=self._index_params("FLAT", {}))
        self.index_type = "FLAT"

    def _index_params(self, index_type: str, params: dict):
        index_params = self.client.prepare_index_params()
        index_params.add_index(field_name="vector", index_name="vector", index_type=index_type,
                               metric_type=_LOCAL_METRICS[self.metric], params=params)
        return index_params

    def create_index(self, index_type: str = "HNSW", **params) -> None:
        """Replace the vector index, e.g. ``create_index("HNSW", M=16, efConstruction=64)``.

        Args:
            index_type: "FLAT" (exact), "HNSW", "IVF_FLAT" (``nlist=``), "IVF_SQ8", "HNSW_SQ"
                or "AUTOINDEX".
            **params: the index's build parameters, passed to Milvus as they are.
        """
        index_type = check_choice(index_type, "index_type", _INDEX_TYPES)
        client, name = self.client, self.collection
        client.flush(name)  # rows still in the write buffer would be searched by brute force
        client.release_collection(name)
        for existing in client.list_indexes(name):
            client.drop_index(name, existing)
        client.create_index(name, self._index_params(index_type, params))
        client.load_collection(name)
        self.index_type = index_type

    # -- rows -------------------------------------------------------------------------
    def _rows(self, ids, vectors, metadata) -> list[dict]:
        id_arr = as_array(ids, "ids", ndim=1, dtype=None)
        if not np.issubdtype(id_arr.dtype, np.integer):
            raise TypeError(f"ids: expected integer ids, got dtype {id_arr.dtype}")
        if len(np.unique(id_arr)) != len(id_arr):
            raise ValueError("ids: expected unique ids, got duplicates")
        vecs = as_array(vectors, "vectors", ndim=2)  # (N, D) float32
        if vecs.shape[1] != self.dim:
            raise ValueError(f"vectors: expected dimension {self.dim} (the collection's), got shape {vecs.shape}")
        check_same_length(id_arr, vecs, "ids", "vectors")
        if self.metric == "cosine":
            l2_normalize(vecs, name="vectors")  # only to reject zero vectors with a clear message
        metadata = {} if metadata is None else metadata
        if not isinstance(metadata, Mapping):
            raise TypeError(f"metadata: expected a dict of field -> list of str, got {describe(metadata)}")
        columns = {}
        for key, values in metadata.items():
            if not isinstance(key, str):
                raise TypeError(f"metadata: expected field names as strings, got the key {describe(key)}")
            if key not in self.fields:
                raise ValueError(f"metadata: unknown field {key!r}; this collection has {list(self.fields)}")
            values = check_str_list(values, f"metadata[{key!r}]", allow_empty=True)
            check_same_length(values, id_arr, f"metadata[{key!r}]", "ids")
            longest = max((len(v.encode()) for v in values), default=0)
            if longest > self.max_length:
                raise ValueError(f"metadata[{key!r}]: values may be at most {self.max_length} bytes, got one of {longest}")
            columns[key] = values
        n = len(id_arr)
        blank = [""] * n  # metadata fields not given are stored as ""
        cols = [columns.get(f, blank) for f in self.fields]
        return [
            {"id": int(id_arr[i]), "vector": vecs[i], **{f: col[i] for f, col in zip(self.fields, cols)}}
            for i in range(n)
        ]

    def insert(self, ids, vectors, metadata: Mapping[str, Sequence[str]] | None = None) -> int:
        """Add rows. Ids must be new (use ``upsert`` to replace).

        Args:
            ids: (N,) int ids (the primary key).
            vectors: (N, dim) array-like.
            metadata: field -> (N,) list of str, e.g. {"name": [...], "group": [...]}; fields
                left out are stored as "".
        Returns:
            The number of rows inserted.
        """
        rows = self._rows(ids, vectors, metadata)
        existing = []
        for start in range(0, len(rows), 16384):
            existing += self.get([r["id"] for r in rows[start:start + 16384]], output_fields=[])
        if existing:
            raise ValueError(f"ids: {len(existing)} id(s) already exist (first {existing[0]['id']}); use upsert to replace rows")
        return self._write(self.client.insert, rows)

    def upsert(self, ids, vectors, metadata: Mapping[str, Sequence[str]] | None = None) -> int:
        """Insert rows, replacing any with the same id. Same arguments as ``insert``."""
        return self._write(self.client.upsert, self._rows(ids, vectors, metadata))

    def _write(self, method, rows: list[dict]) -> int:
        done = 0
        for start in range(0, len(rows), _INSERT_BATCH):
            result = method(self.collection, rows[start:start + _INSERT_BATCH])
            done += int(result.get("insert_count", result.get("upsert_count", 0)))
        return done

    def delete(self, ids=None, *, where: Mapping | None = None) -> int:
        """Delete rows by id or by a metadata filter (exactly one of the two).

        Returns:
            How many rows were deleted.
        """
        if (ids is None) == (where is None):
            raise ValueError("delete: give exactly one of ids=[...] or where={...}")
        before = self.count()
        if ids is not None:
            id_arr = as_array(ids, "ids", ndim=1, dtype=None, allow_empty=True)
            if id_arr.size and not np.issubdtype(id_arr.dtype, np.integer):
                raise TypeError(f"ids: expected integer ids, got dtype {id_arr.dtype}")
            if id_arr.size:
                self.client.delete(self.collection, ids=[int(i) for i in id_arr])
        else:
            expr = filter_expression(where, self.fields)
            if not expr:
                raise ValueError("where: expected a non-empty filter; to delete everything use overwrite=True when opening")
            self.client.delete(self.collection, filter=expr)
        return before - self.count()

    def count(self) -> int:
        """The number of rows in the collection."""
        result = self.client.query(self.collection, filter="", output_fields=["count(*)"])
        return int(result[0]["count(*)"])

    def get(self, ids, output_fields: Sequence[str] | None = None) -> list[dict]:
        """The rows with these ids (missing ids are skipped), as dicts of id and metadata."""
        id_arr = as_array(ids, "ids", ndim=1, dtype=None, allow_empty=True)
        if id_arr.size == 0:
            return []
        if not np.issubdtype(id_arr.dtype, np.integer):
            raise TypeError(f"ids: expected integer ids, got dtype {id_arr.dtype}")
        fields = self._output_fields(output_fields)
        rows = self.client.get(self.collection, ids=[int(i) for i in id_arr], output_fields=fields)
        return [dict(r) for r in rows]

    def _output_fields(self, output_fields) -> list[str]:
        if output_fields is None:
            return list(self.fields)
        output_fields = check_str_list(output_fields, "output_fields", allow_empty=True)
        for f in output_fields:
            if f not in self.fields and f != "vector":
                raise ValueError(f"output_fields: unknown field {f!r}; this collection has {list(self.fields)}")
        return output_fields

    # -- search -----------------------------------------------------------------------
    def search(self, queries, k: int = 10, *, where: Mapping | None = None,
               params: Mapping | None = None, output_fields: Sequence[str] | None = None) -> list[list[dict]]:
        """The k most similar rows of each query, optionally only among rows matching a filter.

        Args:
            queries: (Q, dim) array-like (or one (dim,) vector).
            k: results per query (fewer if fewer rows match).
            where: metadata filter as a dict, e.g. {"group": "Food & Drink"} or
                {"group": ["Food & Drink", "Activities"]}; see ``filter_expression``.
            params: index search parameters, e.g. {"ef": 64} (HNSW) or {"nprobe": 8} (IVF).
            output_fields: metadata to return (default: all fields).
        Returns:
            One list per query of dicts {"id", "score", <fields>}, best first; "score" is the
            similarity for cosine/ip and the (squared) distance for l2, as Milvus reports it.
        """
        q = np.atleast_2d(as_array(queries, "queries", ndim=(1, 2)))
        if q.shape[1] != self.dim:
            raise ValueError(f"queries: expected dimension {self.dim} (the collection's), got shape {q.shape}")
        k = check_int(k, "k", low=1, high=16384)
        expr = filter_expression(where, self.fields)
        fields = self._output_fields(output_fields)
        if params is not None and not isinstance(params, Mapping):
            raise TypeError(f"params: expected a dict such as {{'ef': 64}}, got {describe(params)}")
        search_params = {"metric_type": _LOCAL_METRICS[self.metric], "params": dict(params or {})}
        result = self.client.search(self.collection, data=q, limit=k, filter=expr,
                                    output_fields=fields, search_params=search_params)
        return [
            [{"id": int(hit["id"]), "score": float(hit["distance"]), **dict(hit.get("entity", {}))} for hit in hits]
            for hits in result
        ]

    def search_ids(self, queries, k: int = 10, *, where: Mapping | None = None,
                   params: Mapping | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Like ``search`` but as arrays: scores (Q, k) float32 and ids (Q, k) int64 (-1 / NaN padding)."""
        hits = self.search(queries, k, where=where, params=params, output_fields=[])
        scores = np.full((len(hits), k), np.nan, np.float32)
        ids = np.full((len(hits), k), -1, np.int64)
        for i, row in enumerate(hits):
            ids[i, : len(row)] = [h["id"] for h in row]
            scores[i, : len(row)] = [h["score"] for h in row]
        return scores, ids
