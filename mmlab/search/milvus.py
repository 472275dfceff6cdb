"""A vector database collection (Milvus Lite file or Milvus server) with the mmlab search contract.

API (every search returns ``SearchResult(scores, ids)``: scores (Q, k) float32 and ids (Q, k) int64,
best first, padded NaN / -1):

    store = MilvusStore("emoji.db", "items", dim={"text_vec": 384, "image_vec": 384},
                        fields=["name", "group", "text"], bm25_field="text")
    store.insert(ids, {"text_vec": T, "image_vec": I}, {"name": [...], "group": [...], "text": [...]})
    store.create_index("hnsw", field="text_vec", M=16, ef_construction=64)   # or "ivf", nlist=...
    scores, ids = store.search(q, k=10, field="text_vec", where={"group": "Food & Drink"}, ef_search=64)
    scores, ids = store.search_text(["hot drink"], k=10)          # BM25, higher is better
    scores, ids = store.hybrid_search(k=10, dense={"text_vec": q, "image_vec": qi}, text=["hot drink"],
                                      rrf_k=60, candidates=50)    # Milvus hybrid_search + RRFRanker
    rows = store.get(ids[0], fields=["name"])                     # metadata, in the order of the ids

``dim=384`` (an int) makes one vector field named "vector", and then ``vectors`` may be an
array and ``field`` may be left out. ``hybrid_search`` sends one request per dense field and
one BM25 request, each keeping its ``candidates`` best, and fuses them with reciprocal rank
fusion: score = sum of 1 / (rrf_k + rank), rank from 1 (the same as
``mm.search.reciprocal_rank_fusion`` over the per-request rankings; equal scores may come back
in either order). Milvus returns BM25 scores negated (more negative = better); ``search_text``
flips the sign so that higher is better, like every other score here.

Settings keep mmlab's names (``M``, ``ef_construction``, ``nlist``, ``ef_search``, ``nprobe``)
and are translated to Milvus's (``M``, ``efConstruction``, ``nlist``, ``ef``, ``nprobe``) here.

The same code runs against a Milvus server (``uri="http://host:19530"``, ``token=`` for
Zilliz Cloud or a server with authentication). What changes there:

* consistency: a server's default level is *Bounded* (a search may miss the writes of the last
  few seconds: a deleted row still found, an upserted row's old version returned). Collections
  mmlab creates are *Strong*, and every read (search, get, count) asks for ``consistency``
  (default "Strong"), so a read sees every write made before it. Strong waits for the server's
  next time tick (about 200 ms per request on a default server); ``consistency="Bounded"`` trades
  that for reads that may be a few seconds stale. Milvus Lite reads its own writes.
* versions: BM25 full-text search needs a Milvus server >= 2.5, ``hybrid_search`` >= 2.4; an
  older server gets a clear error naming the version it runs.
* index builds: a server builds the index on sealed segments of at least 1024 rows
  (``create_index`` flushes first, which seals the rows written so far); smaller segments, and
  rows written after that, are searched without it (exactly, or by a temporary index).
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .._validate import as_array, check_choice, check_int, check_same_length, check_str_list, describe
from ..embeddings import l2_normalize
from . import _milvus_lite, _milvus_server
from ._milvus_server import MILVUS_URI_ENV, SERVER_NEEDS, TOKEN_ENV, milvus_uri
from .exact import METRICS
from .filters import IDENTIFIER, filter_expression
from .result import SearchResult

__all__ = ["CONSISTENCY_LEVELS", "INDEX_TYPES", "MILVUS_URI_ENV", "SERVER_NEEDS", "TOKEN_ENV", "MilvusStore",
           "filter_expression", "milvus_uri"]

_MILVUS_METRICS = {"cosine": "COSINE", "ip": "IP", "l2": "L2"}
#: mmlab index kind -> (Milvus index type, the build settings it takes).
INDEX_TYPES = {"flat": ("FLAT", ()), "hnsw": ("HNSW", ("M", "ef_construction")), "ivf": ("IVF_FLAT", ("nlist",))}
_MILVUS_NAMES = {"M": "M", "ef_construction": "efConstruction", "nlist": "nlist"}
_MAX_K = 16384  # Milvus's largest limit per search
CONSISTENCY_LEVELS = ("Strong", "Session", "Bounded", "Eventually")
_INSERT_BATCH = 4096


# --------------------------------------------------------------------------- the store


def _check_name(name, what: str) -> str:
    if not isinstance(name, str) or not IDENTIFIER.match(name) or name == "id":
        raise ValueError(f"{what}: expected a name of letters, digits and _ (not 'id'), got {name!r}")
    return name


class MilvusStore:
    """A collection of vectors plus metadata in Milvus (a Milvus Lite folder or a server).

    Args:
        uri: "path/to/name.db" (Milvus Lite, one process at a time; its folder must exist)
            or "http://host:19530" (a Milvus server; the same code). ``milvus_uri(path)`` picks
            between the two with ``$MMLAB_MILVUS_URI``.
        collection: the collection's name.
        dim: to create a collection: an int (one vector field, "vector") or {field: dim}
            for several vector fields; checked against an existing collection.
        metric: "cosine", "ip" or "l2" for every vector field; None: the existing one's (or cosine).
        fields: metadata fields (strings) of a new collection; None: the existing one's (or none).
        bm25_field: one of ``fields`` to index for BM25 full-text search (``search_text``,
            ``hybrid_search``); its text is tokenised by Milvus's standard analyzer.
        overwrite: drop an existing collection of that name first.
        max_length: the longest metadata string (bytes) a new collection accepts.
        token: a server's credentials, passed to ``pymilvus.MilvusClient``: an API key (Zilliz
            Cloud) or "user:password" (a server with authentication). None: ``$MMLAB_MILVUS_TOKEN``
            if set, else none. Not for Milvus Lite. Never shown in repr or errors.
        consistency: the consistency level of a new collection and of every read: "Strong"
            (default: a read sees every write made before it), "Session", "Bounded" (a server's
            default: reads may miss the last seconds of writes) or "Eventually".
    """

    dims: dict[str, int]  # vector field -> dimension
    metric: str
    fields: tuple[str, ...]  # metadata fields (strings)
    bm25_field: str | None
    index_types: dict[str, str]  # vector field -> "flat", "hnsw" or "ivf"

    def __init__(self, uri: str, collection: str = "items", *, dim: int | Mapping[str, int] | None = None,
                 metric: str | None = None, fields: Sequence[str] | None = None, bm25_field: str | None = None,
                 overwrite: bool = False, max_length: int = 512, token: str | None = None,
                 consistency: str = "Strong") -> None:
        if not isinstance(uri, (str, os.PathLike)):
            raise TypeError(f"uri: expected a path ending in .db or an http(s):// address, got {describe(uri)}")
        self.uri = os.fspath(uri)
        self.local = self.uri.endswith(".db")
        if not self.local and not _milvus_server.SERVER_URI.match(self.uri):
            raise ValueError(f"uri: expected a path ending in .db (Milvus Lite) or a server address like "
                             f"'http://localhost:19530', got {self.uri!r}")
        self.collection = _check_name(collection, "collection")
        dims = self._check_dims(dim)
        metric = None if metric is None else check_choice(metric, "metric", METRICS)
        if fields is not None:
            fields = [_check_name(f, "fields") for f in check_str_list(fields, "fields", allow_empty=True)]
        if bm25_field is not None and (fields is None or bm25_field not in fields):
            raise ValueError(f"bm25_field: expected one of fields={fields}, got {bm25_field!r}")
        self.max_length = check_int(max_length, "max_length", low=1, high=65535)
        self.consistency = check_choice(consistency, "consistency", CONSISTENCY_LEVELS)
        if token is not None and not isinstance(token, str):
            raise TypeError(f"token: expected a str (an API key or 'user:password'), got {describe(token)}")
        if token is not None and self.local:
            raise ValueError("token: expected no token for Milvus Lite (a path ending in .db); a token is for a server")
        self._path = os.path.abspath(self.uri) if self.local else None
        self._client: Any = None
        self._version: str | None = None
        if self._path is not None:
            self._client = _milvus_lite.open_client(self._path)
        else:
            self._client = _milvus_server.open_client(self.uri, token)
        try:
            self._open_collection(dims, metric, fields, bm25_field, overwrite)
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _check_dims(dim) -> dict[str, int] | None:
        if dim is None:
            return None
        if isinstance(dim, Mapping):
            if not dim:
                raise ValueError("dim: expected at least one vector field, got an empty dict")
            return {_check_name(f, "dim"): check_int(d, f"dim[{f!r}]", low=1) for f, d in dim.items()}
        return {"vector": check_int(dim, "dim", low=1)}

    # -- connection ---------------------------------------------------------------
    def close(self) -> None:
        """Disconnect; for Milvus Lite, the last store to close releases the database for other processes."""
        client, self._client = self._client, None
        if client is None:
            return
        if self._path is not None:
            _milvus_lite.release(self._path, client)
        else:
            client.close()

    def __enter__(self) -> MilvusStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:  # no I/O: count() asks the database
        state = "closed" if self._client is None else "open"
        return (f"MilvusStore({self.uri!r}, collection={self.collection!r}, dim={self.dims}, metric={self.metric!r}, "
                f"fields={list(self.fields)}, bm25_field={self.bm25_field!r}, {state})")

    @property
    def client(self) -> Any:
        """The underlying ``pymilvus.MilvusClient`` (for anything this class does not wrap)."""
        if self._client is None:
            raise RuntimeError("this MilvusStore is closed; open a new one with the same uri")
        return self._client

    @property
    def server_version(self) -> str:
        """The version the server reports, e.g. "v2.5.4" (asked once); "milvus_lite-3.2.2" for Milvus Lite."""
        if self._version is None:
            self._version = str(self.client.get_server_version())
        return self._version

    def _require(self, feature: str) -> None:
        """Raise a clear error when a server is older than ``SERVER_NEEDS[feature]`` (Lite has everything)."""
        if not self.local:
            _milvus_server.require(feature, self.server_version, self.uri)

    @property
    def dim(self) -> int:
        """The dimension of the first (usually the only) vector field."""
        return next(iter(self.dims.values()))

    # -- schema ---------------------------------------------------------------------
    def _open_collection(self, dims, metric, fields, bm25_field, overwrite: bool) -> None:
        from pymilvus import DataType, Function, FunctionType

        client, name = self.client, self.collection
        if overwrite and client.has_collection(name):
            client.drop_collection(name)
        if client.has_collection(name):
            self._read_schema(client.describe_collection(name))
            for what, want, have in (("dim", dims, self.dims), ("metric", metric, self.metric),
                                     ("fields", fields, list(self.fields)), ("bm25_field", bm25_field, self.bm25_field)):
                if want is not None and want != have:
                    raise ValueError(f"{what}: expected {have!r} like the existing collection {name!r}, got {want!r}")
            client.load_collection(name)
            return
        if dims is None:
            raise ValueError(f"dim: the collection {name!r} does not exist yet; give dim= to create it")
        if bm25_field is not None:
            self._require("BM25 full-text search (bm25_field)")  # before anything is created
        self.dims, self.metric = dims, metric or "cosine"
        self.fields, self.bm25_field = tuple(fields or ()), bm25_field
        clash = set(self.dims) & set(self.fields)
        if clash:
            raise ValueError(f"fields: expected names other than the vector fields, got {sorted(clash)} in both")
        schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        for f, d in self.dims.items():
            schema.add_field(f, DataType.FLOAT_VECTOR, dim=d)
        for f in self.fields:
            schema.add_field(f, DataType.VARCHAR, max_length=self.max_length, enable_analyzer=f == bm25_field)
        index_params = client.prepare_index_params()
        for f in self.dims:
            index_params.add_index(field_name=f, index_name=f, index_type="FLAT", metric_type=_MILVUS_METRICS[self.metric])
        if bm25_field is not None:
            schema.add_field(self._sparse, DataType.SPARSE_FLOAT_VECTOR)
            schema.add_function(Function(name=f"{bm25_field}_bm25_fn", function_type=FunctionType.BM25,
                                         input_field_names=[bm25_field], output_field_names=[self._sparse]))
            index_params.add_index(field_name=self._sparse, index_name=self._sparse,
                                   index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        client.create_collection(name, schema=schema, index_params=index_params, consistency_level=self.consistency)
        self.index_types = dict.fromkeys(self.dims, "flat")

    def _read_schema(self, info: dict) -> None:
        """Fill dims, fields, bm25_field, metric and index types from an existing collection."""
        vector_type, text_type = 101, 21  # DataType.FLOAT_VECTOR, DataType.VARCHAR
        self.dims = {f["name"]: int(f["params"]["dim"]) for f in info["fields"] if int(f["type"]) == vector_type}
        self.fields = tuple(f["name"] for f in info["fields"] if int(f["type"]) == text_type)
        functions = info.get("functions") or []
        self.bm25_field = functions[0]["input_field_names"][0] if functions else None
        self.index_types = {}
        for f in self.dims:
            index = self.client.describe_index(self.collection, f)
            self.metric = str(index.get("metric_type", "COSINE")).lower()
            kind = str(index.get("index_type", "FLAT"))
            self.index_types[f] = next((k for k, (t, _) in INDEX_TYPES.items() if t == kind), kind.lower())

    @property
    def _sparse(self) -> str:
        return f"{self.bm25_field}_bm25"

    def _field(self, field: str | None) -> str:
        if field is None:
            if len(self.dims) > 1:
                raise ValueError(f"field: expected one of the vector fields {list(self.dims)}, got None "
                                 "(this collection has several)")
            return next(iter(self.dims))
        if field not in self.dims:
            raise ValueError(f"field: expected one of the vector fields {list(self.dims)}, got {field!r}")
        return field

    def create_index(self, kind: str = "hnsw", *, field: str | None = None, **settings) -> None:
        """Replace the index of a vector field.

        Args:
            kind: "flat" (exact), "hnsw" (settings ``M``, ``ef_construction``) or "ivf" (``nlist``).
            field: the vector field (None when there is only one).
            **settings: the build settings above, under mmlab's names (as in ``build_index``).
        """
        kind = check_choice(kind, "kind", INDEX_TYPES)
        field = self._field(field)
        index_type, allowed = INDEX_TYPES[kind]
        unknown = sorted(set(settings) - set(allowed))
        if unknown:
            raise TypeError(f"{kind} index: unknown setting(s) {unknown}; expected some of {list(allowed) or 'none'}")
        params = {_MILVUS_NAMES[key]: check_int(v, key, low=1) for key, v in settings.items() if v is not None}
        client, name = self.client, self.collection
        client.flush(name)  # rows still in the write buffer would be searched by brute force
        client.release_collection(name)
        client.drop_index(name, field)
        index_params = client.prepare_index_params()
        index_params.add_index(field_name=field, index_name=field, index_type=index_type,
                               metric_type=_MILVUS_METRICS[self.metric], params=params)
        client.create_index(name, index_params)
        client.load_collection(name)
        self.index_types[field] = kind

    # -- rows -------------------------------------------------------------------------
    def _rows(self, ids, vectors, metadata) -> list[dict]:
        id_arr = as_array(ids, "ids", ndim=1, dtype=None)
        if not np.issubdtype(id_arr.dtype, np.integer):
            raise TypeError(f"ids: expected integer ids, got dtype {id_arr.dtype}")
        if len(np.unique(id_arr)) != len(id_arr):
            raise ValueError("ids: expected unique ids, got duplicates")
        if not isinstance(vectors, Mapping):
            vectors = {self._field(None): vectors}
        if set(vectors) != set(self.dims):
            raise ValueError(f"vectors: expected a dict with every vector field {list(self.dims)}, got {list(vectors)}")
        columns: dict[str, Any] = {}
        for f, v in vectors.items():
            name = "vectors" if len(self.dims) == 1 else f"vectors[{f!r}]"
            vecs = as_array(v, name, ndim=2)  # (N, D) float32, finite
            if vecs.shape[1] != self.dims[f]:
                raise ValueError(f"{name}: expected dimension {self.dims[f]} (the collection's), got shape {vecs.shape}")
            check_same_length(id_arr, vecs, "ids", name)
            if self.metric == "cosine":
                l2_normalize(vecs, name=name)  # only to reject zero vectors with a clear message
            columns[f] = vecs
        metadata = {} if metadata is None else metadata
        if not isinstance(metadata, Mapping):
            raise TypeError(f"metadata: expected a dict of field -> list of str, got {describe(metadata)}")
        for key, values in metadata.items():
            if key not in self.fields:
                raise ValueError(f"metadata: unknown field {key!r}; expected some of {list(self.fields)}")
            values = check_str_list(values, f"metadata[{key!r}]", allow_empty=True)
            check_same_length(values, id_arr, f"metadata[{key!r}]", "ids")
            longest = max((len(v.encode()) for v in values), default=0)
            if longest > self.max_length:
                raise ValueError(f"metadata[{key!r}]: expected strings of at most {self.max_length} bytes, "
                                 f"got one of {longest}")
            columns[key] = values
        blank = [""] * len(id_arr)  # metadata fields not given are stored as ""
        for f in self.fields:
            columns.setdefault(f, blank)
        return [{"id": int(i), **{f: col[row] for f, col in columns.items()}} for row, i in enumerate(id_arr)]

    def insert(self, ids, vectors, metadata: Mapping[str, Sequence[str]] | None = None) -> int:
        """Add rows; ids must be new (``upsert`` replaces).

        Args:
            ids: (N,) int ids (the primary key).
            vectors: (N, dim) array-like, or {vector field: (N, dim)} when there are several.
            metadata: field -> (N,) list of str; fields left out are stored as "".
        Returns:
            The number of rows inserted.
        """
        rows = self._rows(ids, vectors, metadata)
        existing = []
        for start in range(0, len(rows), _MAX_K):
            existing += self.get([r["id"] for r in rows[start:start + _MAX_K]], fields=[])
        if existing:
            raise ValueError(f"ids: expected new ids, got {len(existing)} that already exist (first "
                             f"{existing[0]['id']}); use upsert to replace rows")
        return self._write(self.client.insert, rows)

    def upsert(self, ids, vectors, metadata: Mapping[str, Sequence[str]] | None = None) -> int:
        """Insert rows, replacing any with the same id (the whole row). Same arguments as ``insert``."""
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
            Milvus's own count of deleted rows. For a delete by id Milvus counts every id sent,
            including ids that were not stored.
        """
        if (ids is None) == (where is None):
            raise ValueError("delete: expected exactly one of ids=[...] or where={...}")
        if ids is not None:
            id_arr = as_array(ids, "ids", ndim=1, dtype=None, allow_empty=True)
            if id_arr.size and not np.issubdtype(id_arr.dtype, np.integer):
                raise TypeError(f"ids: expected integer ids, got dtype {id_arr.dtype}")
            if not id_arr.size:
                return 0
            result = self.client.delete(self.collection, ids=[int(i) for i in id_arr])
        else:
            expr = filter_expression(where, self.fields)
            if not expr:
                raise ValueError("where: expected a non-empty filter; to delete everything open with overwrite=True")
            result = self.client.delete(self.collection, filter=expr)
        # Milvus Lite answers with the deleted primary keys, a Milvus server with {"delete_count": n}.
        return len(result) if isinstance(result, list) else int(result.get("delete_count", 0))

    def count(self) -> int:
        """The number of rows in the collection (asks the database)."""
        result = self.client.query(self.collection, filter="", output_fields=["count(*)"],
                                   consistency_level=self.consistency)
        return int(result[0]["count(*)"])

    def get(self, ids, fields: Sequence[str] | None = None) -> list[dict]:
        """The rows with these ids, in that order (-1 and missing ids skipped), as dicts.

        Args:
            ids: (n,) int ids, e.g. one row of a search's ids.
            fields: the fields to return besides "id" (metadata or vector fields); None: all metadata.
        Returns:
            A list of {"id": ..., field: value, ...}.
        """
        id_arr = as_array(ids, "ids", ndim=1, dtype=None, allow_empty=True)
        if id_arr.size and not np.issubdtype(id_arr.dtype, np.integer):
            raise TypeError(f"ids: expected integer ids, got dtype {id_arr.dtype}")
        wanted = [int(i) for i in id_arr if i >= 0]
        if fields is None:
            fields = list(self.fields)
        fields = check_str_list(fields, "fields", allow_empty=True)
        for f in fields:
            if f not in self.fields and f not in self.dims:
                raise ValueError(f"fields: unknown field {f!r}; expected some of {list(self.fields) + list(self.dims)}")
        if not wanted:
            return []
        found = {int(r["id"]): dict(r) for r in self.client.get(self.collection, ids=wanted, output_fields=fields,
                                                                 consistency_level=self.consistency)}
        return [{"id": i, **{f: found[i][f] for f in fields}} for i in wanted if i in found]

    # -- search -----------------------------------------------------------------------
    def _queries(self, queries, field: str) -> np.ndarray:
        q = np.atleast_2d(as_array(queries, "queries", ndim=(1, 2)))
        if q.shape[1] != self.dims[field]:
            raise ValueError(f"queries: expected dimension {self.dims[field]} (the collection's {field!r}), "
                             f"got shape {q.shape}")
        return q

    def _params(self, field: str, ef_search, nprobe) -> dict:
        params = {}
        if ef_search is not None:
            if self.index_types.get(field) != "hnsw":
                raise ValueError(f"ef_search: expected an 'hnsw' index on {field!r}, it has {self.index_types.get(field)!r}")
            params["ef"] = check_int(ef_search, "ef_search", low=1, high=_MAX_K)
        if nprobe is not None:
            if self.index_types.get(field) != "ivf":
                raise ValueError(f"nprobe: expected an 'ivf' index on {field!r}, it has {self.index_types.get(field)!r}")
            params["nprobe"] = check_int(nprobe, "nprobe", low=1, high=65536)
        return {"metric_type": _MILVUS_METRICS[self.metric], "params": params}

    @staticmethod
    def _arrays(result, k: int, sign: float = 1.0) -> SearchResult:
        """Milvus hits -> SearchResult(scores (Q, k) float32, ids (Q, k) int64), padded NaN / -1."""
        scores = np.full((len(result), k), np.nan, np.float32)
        ids = np.full((len(result), k), -1, np.int64)
        for i, hits in enumerate(result):
            ids[i, : len(hits)] = [h["id"] for h in hits]
            scores[i, : len(hits)] = [sign * h["distance"] for h in hits]
        return SearchResult(scores, ids)

    def search(self, queries, k: int = 10, *, field: str | None = None, where: Mapping | None = None,
               ef_search: int | None = None, nprobe: int | None = None) -> SearchResult:
        """The k most similar rows of each query, optionally only among rows matching a filter.

        Args:
            queries: (Q, dim) array-like (or one (dim,) vector).
            k: results per query, 1 <= k <= 16384.
            field: the vector field to search (None when there is only one).
            where: a metadata filter dict, e.g. {"group": ["Food & Drink", "Activities"]}.
            ef_search: HNSW candidate list size (Milvus ``ef``; at least k).
            nprobe: IVF lists to visit.
        Returns:
            ``SearchResult(scores, ids)``: scores (Q, k) float32, best first (similarity for cosine/ip,
            squared distance for l2); ids (Q, k) int64; NaN / -1 where fewer than k rows matched or were found.
        """
        field = self._field(field)
        q = self._queries(queries, field)
        k = check_int(k, "k", low=1, high=_MAX_K)
        expr = filter_expression(where, self.fields)
        result = self.client.search(self.collection, data=q, limit=k, filter=expr, anns_field=field,
                                    output_fields=[], search_params=self._params(field, ef_search, nprobe),
                                    consistency_level=self.consistency)
        return self._arrays(result, k)

    def _texts(self, texts) -> list[str]:
        if self.bm25_field is None:
            raise ValueError("text: expected a collection made with bm25_field=..., this one has no BM25 field")
        texts = check_str_list(texts, "text")
        for i, t in enumerate(texts):
            if not t.strip():
                raise ValueError(f"text[{i}]: expected a non-empty query, got {t!r}")
        return texts

    def search_text(self, text: Sequence[str], k: int = 10, *,
                    where: Mapping | None = None) -> SearchResult:
        """BM25 full-text search over ``bm25_field``.

        Args:
            text: Q query strings.
            k: results per query.
            where: a metadata filter dict.
        Returns:
            scores (Q, k) float32 BM25 scores, higher is better (Milvus returns them negated);
            ids (Q, k) int64; NaN / -1 where fewer than k rows share a word with the query.
        """
        texts = self._texts(text)
        k = check_int(k, "k", low=1, high=_MAX_K)
        result = self.client.search(self.collection, data=texts, limit=k, anns_field=self._sparse,
                                    filter=filter_expression(where, self.fields), output_fields=[],
                                    search_params={"metric_type": "BM25"}, consistency_level=self.consistency)
        return self._arrays(result, k, sign=-1.0)

    def hybrid_search(self, k: int = 10, *, dense: Mapping[str, Any] | None = None, text: Sequence[str] | None = None,
                      where: Mapping | None = None, rrf_k: int = 60, candidates: int | None = None,
                      ef_search: int | None = None, nprobe: int | None = None) -> SearchResult:
        """Several searches of the same Q queries fused by reciprocal rank fusion, in Milvus.

        Args:
            k: results per query after fusion.
            dense: {vector field: (Q, dim) queries}, one dense search each.
            text: Q query strings for a BM25 search (needs ``bm25_field``).
            where: a metadata filter dict, applied to every search.
            rrf_k: the RRF constant: score = sum over searches of 1 / (rrf_k + rank), rank from 1.
            candidates: how many results each search passes to the fusion (default max(k, 50)).
            ef_search, nprobe: index settings for the dense searches (see ``search``).
        Returns:
            scores (Q, k) float32 fused RRF scores and ids (Q, k) int64, best first, NaN / -1 padded.
        """
        from pymilvus import AnnSearchRequest, RRFRanker

        self._require("hybrid_search")
        k = check_int(k, "k", low=1, high=_MAX_K)
        candidates = max(k, 50) if candidates is None else check_int(candidates, "candidates", low=1, high=_MAX_K)
        rrf_k = check_int(rrf_k, "rrf_k", low=1, high=_MAX_K - 1)  # Milvus's RRFRanker range
        if dense is not None and not isinstance(dense, Mapping):
            raise TypeError(f"dense: expected a dict {{vector field: queries}}, got {describe(dense)}")
        expr = filter_expression(where, self.fields)
        requests, n_queries = [], set()
        for field, queries in (dense or {}).items():
            field = self._field(field)
            q = self._queries(queries, field)
            n_queries.add(q.shape[0])
            requests.append(AnnSearchRequest(data=q, anns_field=field, param=self._params(field, ef_search, nprobe),
                                             limit=candidates, expr=expr))
        if text is not None:
            texts = self._texts(text)
            n_queries.add(len(texts))
            requests.append(AnnSearchRequest(data=texts, anns_field=self._sparse, param={"metric_type": "BM25"},
                                             limit=candidates, expr=expr))
        if not requests:
            raise ValueError("dense, text: expected at least one search (dense={field: queries} and/or text=[...])")
        if len(n_queries) > 1:
            raise ValueError(f"dense, text: expected the same number of queries in every search, got {sorted(n_queries)}")
        result = self.client.hybrid_search(self.collection, requests, ranker=RRFRanker(rrf_k), limit=k,
                                           output_fields=[], consistency_level=self.consistency)
        return self._arrays(result, k)
