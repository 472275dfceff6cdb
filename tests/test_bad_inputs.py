"""A sweep of wrong inputs over every public function of mmlab.

Each case passes one wrong thing (type, shape, rank, dimension, emptiness, NaN/inf, k out
of range, unknown name, wrong modality, wrong sample rate, non-image) and checks that
mmlab refuses it *where the learner made the mistake*: a ValueError or TypeError (never
an error from deep inside torch, FAISS or scikit-learn, never a silent NaN result) whose
message names the argument and says what was expected.

Cases are tables of ``case(id, call, error type, argument name)``; ``call`` receives a
lazily built context (``Ctx``) so real models and the Milvus Lite store load once per
module and only when a case needs them. Hypothesis drives random shapes and dtypes
through ``exact_topk``, ``cosine_similarity``, ``l2_normalize`` and ``recall_at_k``:
each draw gives either the right answer or a clean ValueError/TypeError.
"""
from __future__ import annotations

import collections
import math
import re
import warnings
from functools import cached_property

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

import mmlab as mm
import mmlab.cache
from mmlab import (
    data,
    embeddings,
    fusion,
    losses,
    search,
    student,
    train,
    viz,
    zeroshot,
)

# --------------------------------------------------------------------------- context


class Ctx:
    """Everything a case may need, built on first use and shared by the whole module."""

    def __init__(self, tmp_path_factory):
        self._tmp = tmp_path_factory
        self.rng = np.random.default_rng(0)
        self.X = self.rng.standard_normal((12, 6)).astype(np.float32)  # (N, D) generic embeddings
        self.img = Image.new("RGB", (40, 30), (200, 120, 40))
        self.wave = (0.1 * np.sin(np.linspace(0, 400, 8000))).astype(np.float32)  # 0.5 s at 16 kHz

    # real models (offline)
    @cached_property
    def minilm(self):
        return mm.models.load("minilm")

    @cached_property
    def effnet(self):
        return mm.models.load("effnet-lite0")

    @cached_property
    def mfcc(self):
        return mm.models.load("mfcc")

    @cached_property
    def conse(self):
        return mm.models.load("conse")

    # fitted things
    @cached_property
    def fusion_data(self):
        rng = np.random.default_rng(1)
        feats = {"image": rng.standard_normal((30, 5)), "text": rng.standard_normal((30, 4))}
        y = np.array(["a", "b", "c"] * 10)
        return feats, y

    @cached_property
    def late(self):
        feats, y = self.fusion_data
        return fusion.LateFusion().fit(feats, y)

    @cached_property
    def early(self):
        feats, y = self.fusion_data
        return fusion.EarlyFusion().fit(feats, y)

    @cached_property
    def intermediate(self):
        feats, y = self.fusion_data
        return fusion.IntermediateFusion(hidden=4, epochs=1).fit(feats, y)

    @cached_property
    def tmpdir(self):
        return self._tmp.mktemp("bad_inputs_files")

    @cached_property
    def flat(self):
        return search.build_index("flat", self.rng.standard_normal((100, 8)))

    @cached_property
    def ivf(self):
        return search.build_index("ivf", self.rng.standard_normal((400, 8)), nlist=4)

    @cached_property
    def heads(self):
        from mmlab import lit

        return lit.ProjectionHeads(6, 4, dim=3)

    @cached_property
    def store(self):
        path = self._tmp.mktemp("bad_inputs_milvus") / "bad.db"
        s = search.MilvusStore(str(path), "items", dim=4, fields=["name"])
        s.insert([0, 1, 2], np.eye(3, 4, dtype=np.float32), {"name": ["a", "b", "c"]})
        self._store = s
        return s

    def close(self):
        if "store" in self.__dict__:
            self.store.close()


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    c = Ctx(tmp_path_factory)
    yield c
    c.close()


def case(id, call, error, arg, *, xfail: str | None = None):
    """One row of a table: ``call(ctx)`` must raise ``error`` whose message names ``arg``."""
    marks = [pytest.mark.xfail(reason=xfail, strict=True)] if xfail else []
    return pytest.param(call, error, arg, id=id, marks=marks)


# Words that say what was expected ("expected a 2-D array", "needs non-zero vectors", "must be
# a file"), or what is allowed instead ("unknown model 'bert'; known models: ...", "it accepts [...]").
# A message that only says what went wrong ("no such thing", "not a number") is not enough.
_EXPECTS = re.compile(
    r"\b(expected|expects|needs?|must|requires?|accepts|known|choose from|one of|at least|at most)\b", re.IGNORECASE)


def assert_clean_error(call, ctx, error, arg):
    """``call(ctx)`` raises exactly ``error`` (a ValueError/TypeError), naming ``arg``, saying what it expects."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = call(ctx)
        except Exception as exc:
            err = exc
        else:
            pytest.fail(f"no error; returned {type(result).__name__}"
                        + (f" with NaN: {np.isnan(result).any()}" if isinstance(result, np.ndarray) else ""))
    allowed = (ValueError, TypeError) if not issubclass(error, OSError) else (error,)
    assert isinstance(err, allowed), f"{type(err).__module__}.{type(err).__name__} leaked out: {err}"
    assert isinstance(err, error), f"expected {error.__name__}, got {type(err).__name__}: {err}"
    msg = str(err)
    assert arg in msg, f"the message does not name {arg!r}: {msg!r}"
    assert _EXPECTS.search(msg), f"the message does not say what was expected: {msg!r}"


# Shared bad values.
NAN2 = np.array([[1.0, np.nan], [0.5, 0.5]], np.float32)
INF2 = np.array([[1.0, np.inf], [0.5, 0.5]], np.float32)
ZERO_ROW = np.array([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]], np.float32)
RAGGED = [[1.0, 2.0], [3.0]]
EMPTY = np.zeros((0, 3), np.float32)
CUBE = np.ones((2, 2, 2), np.float32)
COMPLEX = np.ones((2, 3), np.complex64)
STRINGS = np.array([["a", "b"], ["c", "d"]])


def feats(n=4, d=3, seed=0):
    return np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)


def t(n=4, d=3, seed=0):
    return torch.nn.functional.normalize(torch.from_numpy(feats(n, d, seed)), dim=1)


# --------------------------------------------------------------------------- embeddings, seed

EMBEDDINGS = [
    case("l2_normalize-str", lambda c: embeddings.l2_normalize("abc"), TypeError, "x"),
    case("l2_normalize-None", lambda c: embeddings.l2_normalize(None), TypeError, "x"),
    case("l2_normalize-zero-row", lambda c: embeddings.l2_normalize(ZERO_ROW), ValueError, "x"),
    case("l2_normalize-3d", lambda c: embeddings.l2_normalize(CUBE), ValueError, "x"),
    case("l2_normalize-nan", lambda c: embeddings.l2_normalize(NAN2), ValueError, "x"),
    case("l2_normalize-empty", lambda c: embeddings.l2_normalize(EMPTY), ValueError, "x"),
    case("l2_normalize-ragged", lambda c: embeddings.l2_normalize(RAGGED), TypeError, "x"),
    case("l2_normalize-complex", lambda c: embeddings.l2_normalize(COMPLEX), TypeError, "x"),
    case("cosine-dim-mismatch", lambda c: embeddings.cosine_similarity(feats(2, 3), feats(2, 4)), ValueError, "a and b"),
    case("cosine-inf-a", lambda c: embeddings.cosine_similarity(INF2, feats(2, 2)), ValueError, "a"),
    case("cosine-str-b", lambda c: embeddings.cosine_similarity(feats(2, 3), "b"), TypeError, "b"),
    case("cosine-3d-a", lambda c: embeddings.cosine_similarity(CUBE, feats(2, 2)), ValueError, "a"),
    case("cosine-empty-a", lambda c: embeddings.cosine_similarity(EMPTY, feats(2, 3)), ValueError, "a"),
    case("cosine-zero-row-b", lambda c: embeddings.cosine_similarity(feats(2, 3), ZERO_ROW), ValueError, "b"),
    case("cosine-strings-b", lambda c: embeddings.cosine_similarity(feats(2, 2), STRINGS), TypeError, "b"),
    case("cosine-object-a", lambda c: embeddings.cosine_similarity(np.array([[object()]]), feats(1, 1)), TypeError, "a"),
    case("seed_everything-str", lambda c: mm.seed_everything("1"), TypeError, "seed"),
    case("seed_everything-float", lambda c: mm.seed_everything(1.5), TypeError, "seed"),
    case("seed_everything-bool", lambda c: mm.seed_everything(True), TypeError, "seed"),
    case("seed_everything-negative", lambda c: mm.seed_everything(-1), ValueError, "seed"),
    case("seed_everything-too-big", lambda c: mm.seed_everything(2**40), ValueError, "seed"),
]

# --------------------------------------------------------------------------- search

Q, C = feats(3, 4, 1), feats(10, 4, 2)

SEARCH = [
    case("exact_topk-k-0", lambda c: search.exact_topk(Q, C, 0), ValueError, "k"),
    case("exact_topk-k-negative", lambda c: search.exact_topk(Q, C, -3), ValueError, "k"),
    case("exact_topk-k-above-N", lambda c: search.exact_topk(Q, C, 11), ValueError, "k"),
    case("exact_topk-k-float", lambda c: search.exact_topk(Q, C, 2.5), TypeError, "k"),
    case("exact_topk-k-bool", lambda c: search.exact_topk(Q, C, True), TypeError, "k"),
    case("exact_topk-k-None", lambda c: search.exact_topk(Q, C, None), TypeError, "k"),
    case("exact_topk-metric-unknown", lambda c: search.exact_topk(Q, C, 2, metric="euclid"), ValueError, "metric"),
    case("exact_topk-metric-None", lambda c: search.exact_topk(Q, C, 2, metric=None), TypeError, "metric"),
    case("exact_topk-dim-mismatch", lambda c: search.exact_topk(feats(3, 5), C, 2), ValueError, "queries and corpus"),
    case("exact_topk-nan-queries", lambda c: search.exact_topk(NAN2, feats(5, 2), 2), ValueError, "queries"),
    case("exact_topk-inf-corpus", lambda c: search.exact_topk(feats(2, 2), np.vstack([INF2, INF2]), 1, metric="ip"),
         ValueError, "corpus"),
    case("exact_topk-nan-corpus-cosine", lambda c: search.exact_topk(feats(2, 2), np.vstack([NAN2, NAN2]), 1),
         ValueError, "corpus"),
    case("exact_topk-empty-corpus", lambda c: search.exact_topk(Q, np.zeros((0, 4)), 1), ValueError, "corpus"),
    case("exact_topk-empty-queries", lambda c: search.exact_topk(np.zeros((0, 4)), C, 1), ValueError, "queries"),
    case("exact_topk-3d-queries", lambda c: search.exact_topk(CUBE, C, 1), ValueError, "queries"),
    case("exact_topk-1d-corpus", lambda c: search.exact_topk(Q, C[0], 1), ValueError, "corpus"),
    case("exact_topk-zero-query-cosine", lambda c: search.exact_topk(ZERO_ROW, feats(4, 3), 1), ValueError, "queries"),
    case("exact_topk-zero-corpus-row-cosine", lambda c: search.exact_topk(feats(1, 3), ZERO_ROW, 1), ValueError, "corpus"),
    case("exact_topk-string-corpus", lambda c: search.exact_topk(feats(1, 2), STRINGS, 1), TypeError, "corpus"),
    case("exact_topk-bool-corpus", lambda c: search.exact_topk(feats(1, 2), np.ones((3, 2), bool), 1), TypeError,
         "corpus"),
    case("exact_topk-overflowing-corpus-cosine", lambda c: search.exact_topk(np.ones((2, 3)), np.full((4, 3), 3e38), 2),
         ValueError, "corpus"),
    case("exact_topk-overflowing-corpus-l2", lambda c: search.exact_topk(np.ones((2, 3)), np.full((4, 3), 3e38), 2,
                                                                         metric="l2"), ValueError, "corpus"),
    case("exact_topk-overflowing-corpus-ip", lambda c: search.exact_topk(np.ones((2, 3)), np.full((4, 3), 3e38), 2,
                                                                         metric="ip"), ValueError, "corpus"),
    case("exact_topk-block_size-0", lambda c: search.exact_topk(Q, C, 1, block_size=0), ValueError, "block_size"),
    case("recall-float-ids", lambda c: search.recall_at_k(np.ones((2, 3)), np.ones((2, 3), int), 1), TypeError,
         "found_ids"),
    case("recall-length-mismatch", lambda c: search.recall_at_k(np.ones((2, 3), int), np.ones((3, 3), int), 1),
         ValueError, "found_ids and true_ids"),
    case("recall-k-0", lambda c: search.recall_at_k(np.ones((2, 3), int), np.ones((2, 3), int), 0), ValueError, "k"),
    case("recall-k-above-columns", lambda c: search.recall_at_k(np.ones((2, 3), int), np.ones((2, 5), int), 4),
         ValueError, "found_ids"),
    case("recall-string-true", lambda c: search.recall_at_k(np.ones((2, 2), int), STRINGS, 1), TypeError, "true_ids"),
    case("recall-3d", lambda c: search.recall_at_k(np.ones((2, 2, 2), int), np.ones((2, 2), int), 1), ValueError,
         "found_ids"),
    case("build_index-kind-unknown", lambda c: search.build_index("annoy", feats(50, 4)), ValueError, "kind"),
    case("build_index-metric-unknown", lambda c: search.build_index("flat", feats(50, 4), metric="dot"), ValueError,
         "metric"),
    case("build_index-nan", lambda c: search.build_index("flat", NAN2), ValueError, "vectors"),
    case("build_index-1d", lambda c: search.build_index("flat", np.ones(4)), ValueError, "vectors"),
    case("build_index-empty", lambda c: search.build_index("flat", EMPTY), ValueError, "vectors"),
    case("build_index-unknown-param", lambda c: search.build_index("ivf", feats(50, 4), nprobe=3), TypeError, "nprobe"),
    case("build_index-nlist-above-N", lambda c: search.build_index("ivf", feats(50, 4), nlist=60), ValueError, "nlist"),
    case("build_index-m-not-divisor", lambda c: search.build_index("pq", feats(300, 6), m=4, nbits=4), ValueError, "m"),
    case("build_index-nbits-9", lambda c: search.build_index("pq", feats(300, 4), m=2, nbits=9), ValueError, "nbits"),
    case("build_index-seed-negative", lambda c: search.build_index("ivf", feats(50, 4), seed=-1), ValueError, "seed"),
    case("build_index-hnsw-M-1", lambda c: search.build_index("hnsw", feats(50, 4), M=1), ValueError, "M"),
    case("build_index-zero-row-cosine", lambda c: search.build_index("flat", ZERO_ROW), ValueError, "vectors"),
    case("faiss.search-k-0", lambda c: c.flat.search(feats(2, 8), 0), ValueError, "k"),
    case("faiss.search-k-above-ntotal", lambda c: c.flat.search(feats(2, 8), 101), ValueError, "k"),
    case("faiss.search-dim-mismatch", lambda c: c.flat.search(feats(2, 7), 1), ValueError, "queries"),
    case("faiss.search-nan", lambda c: c.flat.search(np.full((1, 8), np.nan), 1), ValueError, "queries"),
    case("faiss.search-nprobe-on-flat", lambda c: c.flat.search(feats(1, 8), 1, nprobe=2), ValueError, "nprobe"),
    case("faiss.search-nprobe-above-nlist", lambda c: c.ivf.search(feats(1, 8), 1, nprobe=5), ValueError, "nprobe"),
    case("faiss.search-ef_search-on-ivf", lambda c: c.ivf.search(feats(1, 8), 1, ef_search=8), ValueError, "ef_search"),
    case("filter-not-a-dict", lambda c: search.filter_expression("group == 'a'"), TypeError, "where"),
    case("filter-None-value", lambda c: search.filter_expression({"group": None}), TypeError, "where"),
    case("filter-empty-list", lambda c: search.filter_expression({"group": []}), ValueError, "where"),
    case("filter-set-value", lambda c: search.filter_expression({"group": {"a"}}), TypeError, "where"),
    case("filter-int-key", lambda c: search.filter_expression({1: "a"}), TypeError, "where"),
    case("filter-injection-key", lambda c: search.filter_expression({"group or 1": "a"}), ValueError, "where"),
    case("filter-nan-value", lambda c: search.filter_expression({"w": float("nan")}), ValueError, "where"),
    case("filter-object-in-list", lambda c: search.filter_expression({"g": ["a", object()]}), TypeError, "where"),
    case("filter-unknown-field", lambda c: search.filter_expression({"colour": "red"}, ["name"]), ValueError, "where"),
    # The same problems, with the prefix the module uses today (so the checks themselves are held).
    case("filter-not-a-dict-prefix", lambda c: search.filter_expression(["group"]), TypeError, "filter"),
    case("filter-unknown-field-prefix", lambda c: search.filter_expression({"colour": "red"}, ["name"]), ValueError,
         "colour"),
]

STORE = [
    case("store-uri-None", lambda c: search.MilvusStore(None, dim=4), TypeError, "uri"),
    case("store-uri-missing-folder", lambda c: search.MilvusStore("/nonexistent/dir/x.db", dim=4), ValueError, "uri"),
    case("store-uri-no-db-suffix", lambda c: search.MilvusStore(str(c.tmpdir / "mystore"), dim=4), ValueError, "uri"),
    case("store-collection-bad-name", lambda c: search.MilvusStore(c.store.uri, "my items", dim=4), ValueError,
         "collection"),
    case("store-metric-unknown", lambda c: search.MilvusStore(c.store.uri, "other", dim=4, metric="dot"), ValueError,
         "metric"),
    case("store-dim-0", lambda c: search.MilvusStore(c.store.uri, "other", dim=0), ValueError, "dim"),
    case("store-dim-mismatch-existing", lambda c: search.MilvusStore(c.store.uri, "items", dim=5), ValueError, "dim"),
    case("store-fields-reserved", lambda c: search.MilvusStore(c.store.uri, "other", dim=4, fields=["id"]), ValueError,
         "fields"),
    case("store-max_length-0", lambda c: search.MilvusStore(c.store.uri, "other", dim=4, max_length=0), ValueError,
         "max_length"),
    case("store.insert-dim-mismatch", lambda c: c.store.insert([10], np.ones((1, 3))), ValueError, "vectors"),
    case("store.insert-float-ids", lambda c: c.store.insert([1.5], np.ones((1, 4))), TypeError, "ids"),
    case("store.insert-duplicate-ids", lambda c: c.store.insert([10, 10], np.ones((2, 4))), ValueError, "ids"),
    case("store.insert-existing-ids", lambda c: c.store.insert([0], np.ones((1, 4))), ValueError, "ids"),
    case("store.insert-length-mismatch", lambda c: c.store.insert([10, 11], np.ones((1, 4))), ValueError, "ids"),
    case("store.insert-nan", lambda c: c.store.insert([10], np.full((1, 4), np.nan)), ValueError, "vectors"),
    case("store.insert-zero-vector-cosine", lambda c: c.store.insert([10], np.zeros((1, 4))), ValueError, "vectors"),
    case("store.insert-metadata-not-dict", lambda c: c.store.insert([10], np.ones((1, 4)), ["a"]), TypeError,
         "metadata"),
    case("store.insert-metadata-unknown-field", lambda c: c.store.insert([10], np.ones((1, 4)), {"colour": ["r"]}),
         ValueError, "metadata"),
    case("store.insert-metadata-int", lambda c: c.store.insert([10], np.ones((1, 4)), {"name": [3]}), TypeError,
         "metadata"),
    case("store.insert-metadata-too-long", lambda c: c.store.insert([10], np.ones((1, 4)), {"name": ["x" * 600]}),
         ValueError, "metadata"),
    case("store.insert-metadata-wrong-length", lambda c: c.store.insert([10], np.ones((1, 4)), {"name": ["a", "b"]}),
         ValueError, "metadata"),
    case("store.upsert-dim-mismatch", lambda c: c.store.upsert([0], np.ones((1, 5))), ValueError, "vectors"),
    case("store.search-dim-mismatch", lambda c: c.store.search(np.ones((1, 3))), ValueError, "queries"),
    case("store.search-k-0", lambda c: c.store.search(np.ones((1, 4)), k=0), ValueError, "k"),
    case("store.search-k-huge", lambda c: c.store.search(np.ones((1, 4)), k=10**6), ValueError, "k"),
    case("store.search-nan", lambda c: c.store.search(np.full((1, 4), np.nan)), ValueError, "queries"),
    case("store.search-ef_search-on-flat", lambda c: c.store.search(np.ones((1, 4)), ef_search=8), ValueError,
         "ef_search"),
    case("store.get-fields-unknown", lambda c: c.store.get([0], fields=["colour"]), ValueError, "fields"),
    case("store.search-where-unknown-field", lambda c: c.store.search(np.ones((1, 4)), where={"colour": "r"}),
         ValueError, "where"),
    case("store.search_text-no-bm25", lambda c: c.store.search_text(["tea"]), ValueError, "text"),
    case("store.delete-float-ids", lambda c: c.store.delete([0.5]), TypeError, "ids"),
    case("store.get-float-ids", lambda c: c.store.get([0.5]), TypeError, "ids"),
    case("store.delete-neither", lambda c: c.store.delete(), ValueError, "ids"),
    case("store.delete-empty-where", lambda c: c.store.delete(where={}), ValueError, "where"),
    case("store.create_index-unknown", lambda c: c.store.create_index("ANNOY"), ValueError, "kind"),
]

# --------------------------------------------------------------------------- losses

LOSSES = [
    case("clip_loss-shape-mismatch", lambda c: losses.clip_loss(t(4, 3), t(5, 3), 10.0), ValueError,
         "image_features and text_features"),
    case("clip_loss-1d", lambda c: losses.clip_loss(t(4, 3)[0], t(4, 3)[0], 10.0), ValueError, "image_features"),
    case("clip_loss-nan", lambda c: losses.clip_loss(torch.full((2, 3), float("nan")), t(2, 3), 10.0), ValueError,
         "image_features"),
    case("clip_loss-int-tensor", lambda c: losses.clip_loss(torch.ones(2, 3, dtype=torch.long), t(2, 3), 10.0),
         TypeError, "image_features"),
    case("clip_loss-list", lambda c: losses.clip_loss([[1.0, 0.0]], t(1, 2), 10.0), TypeError, "image_features"),
    case("clip_loss-empty", lambda c: losses.clip_loss(torch.zeros(0, 3), torch.zeros(0, 3), 10.0), ValueError,
         "image_features"),
    case("clip_loss-scale-0", lambda c: losses.clip_loss(t(), t(), 0.0), ValueError, "logit_scale"),
    case("clip_loss-scale-negative", lambda c: losses.clip_loss(t(), t(), -1.0), ValueError, "logit_scale"),
    case("clip_loss-scale-str", lambda c: losses.clip_loss(t(), t(), "10"), TypeError, "logit_scale"),
    case("clip_loss-scale-vector", lambda c: losses.clip_loss(t(), t(), torch.ones(2)), ValueError, "logit_scale"),
    case("clip_loss-scale-inf", lambda c: losses.clip_loss(t(), t(), float("inf")), ValueError, "logit_scale"),
    case("clip_loss-mixed-dtypes", lambda c: losses.clip_loss(t(), t().double(), 10.0), TypeError,
         "image_features and text_features"),
    case("clip_logits-shape-mismatch", lambda c: losses.clip_logits(t(4, 3), t(4, 2), 10.0), ValueError,
         "image_features and text_features"),
    case("siglip-bias-nan", lambda c: losses.siglip_loss(t(), t(), 10.0, float("nan")), ValueError, "logit_bias"),
    case("siglip-bias-str", lambda c: losses.siglip_loss(t(), t(), 10.0, "-10"), TypeError, "logit_bias"),
    case("siglip-bias-vector", lambda c: losses.siglip_loss(t(), t(), 10.0, torch.zeros(4)), ValueError, "logit_bias"),
    case("triplet-margin-negative", lambda c: losses.triplet_loss(t(), t(), t(), margin=-1), ValueError, "margin"),
    case("triplet-distance-unknown", lambda c: losses.triplet_loss(t(), t(), t(), distance="manhattan"), ValueError,
         "distance"),
    case("triplet-reduction-unknown", lambda c: losses.triplet_loss(t(), t(), t(), reduction="avg"), ValueError,
         "reduction"),
    case("triplet-negative-broadcast", lambda c: losses.triplet_loss(t(4, 3), t(4, 3), t(1, 3)), ValueError,
         "anchor and negative"),
    case("pairwise_distance-dim-mismatch", lambda c: losses.pairwise_distance(t(2, 3), t(2, 4)), ValueError, "a and b"),
    case("pairwise_distance-distance-unknown", lambda c: losses.pairwise_distance(t(), t(), "l1"), ValueError,
         "distance"),
    case("hardest_negatives-one-candidate", lambda c: losses.hardest_negatives(t(2, 3), t(1, 3), [0, 0]), ValueError,
         "candidates"),
    case("hardest_negatives-ids-shape", lambda c: losses.hardest_negatives(t(2, 3), t(4, 3), [0, 1, 2]), ValueError,
         "positive_ids"),
    case("hardest_negatives-ids-out-of-range", lambda c: losses.hardest_negatives(t(2, 3), t(4, 3), [0, 4]),
         ValueError, "positive_ids"),
    case("hardest_negatives-ids-float", lambda c: losses.hardest_negatives(t(2, 3), t(4, 3), [0.0, 1.0]), ValueError,
         "positive_ids"),
    case("hardest_negatives-ids-strings", lambda c: losses.hardest_negatives(t(2, 3), t(4, 3), ["0", "1"]),
         TypeError, "positive_ids"),
    case("hardest_negatives-mask-shape", lambda c: losses.hardest_negatives(t(2, 3), t(4, 3), [0, 1],
                                                                            mask=torch.zeros(2, 3, dtype=torch.bool)),
         ValueError, "mask"),
    case("hardest_negatives-dim-mismatch", lambda c: losses.hardest_negatives(t(2, 3), t(4, 2), [0, 1]), ValueError,
         "anchor and candidates"),
    case("batch_hard-one-pair", lambda c: losses.batch_hard_triplet_loss(t(1, 3), t(1, 3)), ValueError, "anchor"),
]

# --------------------------------------------------------------------------- fusion


def _f(n=6, seed=0):
    rng = np.random.default_rng(seed)
    return {"image": rng.standard_normal((n, 5)), "text": rng.standard_normal((n, 4))}


Y6 = np.array(["a", "b"] * 3)

FUSION = [
    case("concat-not-dict", lambda c: fusion.concat_embeddings([feats()]), TypeError, "features_by_modality"),
    case("concat-empty-dict", lambda c: fusion.concat_embeddings({}), ValueError, "features_by_modality"),
    case("concat-int-key", lambda c: fusion.concat_embeddings({1: feats()}), TypeError, "features_by_modality"),
    case("concat-row-mismatch", lambda c: fusion.concat_embeddings({"a": feats(4), "b": feats(5)}), ValueError,
         "features_by_modality"),
    case("concat-nan", lambda c: fusion.concat_embeddings({"a": NAN2}), ValueError, "features_by_modality['a']"),
    case("concat-1d", lambda c: fusion.concat_embeddings({"a": np.ones(3)}), ValueError, "features_by_modality['a']"),
    case("concat-zero-row", lambda c: fusion.concat_embeddings({"a": ZERO_ROW}), ValueError,
         "features_by_modality['a']"),
    case("concat-weight-negative", lambda c: fusion.concat_embeddings({"a": feats()}, {"a": -1}), ValueError,
         "weights['a']"),
    case("concat-weight-unknown", lambda c: fusion.concat_embeddings({"a": feats()}, {"b": 1}), ValueError, "weights"),
    case("concat-weights-all-zero", lambda c: fusion.concat_embeddings({"a": feats()}, {"a": 0}), ValueError,
         "weights"),
    case("EarlyFusion-missing-unknown", lambda c: fusion.EarlyFusion(missing="drop"), ValueError, "missing"),
    case("EarlyFusion-C-0", lambda c: fusion.EarlyFusion(C=0), ValueError, "C"),
    case("EarlyFusion-max_iter-0", lambda c: fusion.EarlyFusion(max_iter=0), ValueError, "max_iter"),
    case("LateFusion-combine-unknown", lambda c: fusion.LateFusion(combine="max"), ValueError, "combine"),
    case("LateFusion-val_fraction-1", lambda c: fusion.LateFusion(val_fraction=1.0), ValueError, "val_fraction"),
    case("LateFusion-min_weight-too-big", lambda c: fusion.LateFusion("weighted", min_weight=0.5), ValueError,
         "min_weight"),
    case("Intermediate-hidden-0", lambda c: fusion.IntermediateFusion(hidden=0), ValueError, "hidden"),
    case("Intermediate-combine-unknown", lambda c: fusion.IntermediateFusion(combine="sum"), ValueError, "combine"),
    case("Intermediate-modality_dropout-1", lambda c: fusion.IntermediateFusion(modality_dropout=1.0), ValueError,
         "modality_dropout"),
    case("Intermediate-epochs-0", lambda c: fusion.IntermediateFusion(epochs=0), ValueError, "epochs"),
    case("Intermediate-lr-nan", lambda c: fusion.IntermediateFusion(lr=float("nan")), ValueError, "lr"),
    case("fit-y-wrong-length", lambda c: fusion.EarlyFusion().fit(_f(), Y6[:5]), ValueError, "y"),
    case("fit-y-one-class", lambda c: fusion.LateFusion().fit(_f(), ["a"] * 6), ValueError, "y"),
    case("fit-y-2d", lambda c: fusion.EarlyFusion().fit(_f(), Y6[:, None]), ValueError, "y"),
    case("fit-y-None", lambda c: fusion.EarlyFusion().fit(_f(), None), TypeError, "y"),
    case("fit-y-nan", lambda c: fusion.EarlyFusion().fit(_f(), [0.0, 1.0, np.nan, 0.0, 1.0, 0.0]), ValueError, "y"),
    case("fit-present-not-bool", lambda c: fusion.LateFusion().fit(_f(), Y6, present={"text": np.ones(6)}),
         TypeError, "present"),
    case("fit-present-wrong-shape", lambda c: fusion.LateFusion().fit(_f(), Y6, present={"text": np.ones(5, bool)}),
         ValueError, "present"),
    case("fit-present-unknown-modality", lambda c: fusion.LateFusion().fit(_f(), Y6, present={"audio": np.ones(6, bool)}),
         ValueError, "present"),
    case("fit-present-row-with-nothing", lambda c: fusion.LateFusion().fit(
        _f(), Y6, present={"image": np.r_[False, np.ones(5, bool)], "text": np.r_[False, np.ones(5, bool)]}),
         ValueError, "present"),
    case("Intermediate-fit-nan", lambda c: fusion.IntermediateFusion(epochs=1).fit({"a": NAN2}, ["x", "y"]),
         ValueError, "features_by_modality['a']"),
    case("predict-unknown-modality", lambda c: c.late.predict_proba({"audio": feats(3, 5)}), ValueError,
         "features_by_modality"),
    case("predict-wrong-dim", lambda c: c.late.predict_proba({"image": feats(3, 6)}), ValueError,
         "features_by_modality['image']"),
    case("early-predict-missing-modality", lambda c: c.early.predict_proba({"image": feats(3, 5)}), ValueError, "text"),
    case("late.predict_proba_by_modality-wrong-dim", lambda c: c.late.predict_proba_by_modality({"text": feats(3, 2)}),
         ValueError, "features_by_modality['text']"),
    case("modality_weights-on-concat-model", lambda c: c.intermediate.modality_weights(c.fusion_data[0]), ValueError,
         "combine"),
    case("score-y-shape", lambda c: c.late.score(c.fusion_data[0], c.fusion_data[1][:5]), ValueError, "y"),
    case("evaluate-not-a-model", lambda c: fusion.evaluate("model", _f(), Y6), TypeError, "model"),
]

# --------------------------------------------------------------------------- train.fit

LIN = torch.nn.Linear(3, 1)
X3, Y3 = torch.randn(8, 3), torch.randn(8, 1)


def mse(model, x, y):
    return ((model(x) - y) ** 2).mean()


TRAIN = [
    case("fit-model-not-module", lambda c: train.fit(lambda x: x, mse, [X3, Y3], progress=False), TypeError, "model"),
    case("fit-loss_fn-not-callable", lambda c: train.fit(LIN, "mse", [X3, Y3], progress=False), TypeError, "loss_fn"),
    case("fit-tensors-empty", lambda c: train.fit(LIN, mse, [], progress=False), TypeError, "tensors"),
    case("fit-tensors-a-tensor", lambda c: train.fit(LIN, mse, X3, progress=False), TypeError, "tensors"),
    case("fit-tensors-numpy", lambda c: train.fit(LIN, mse, [X3.numpy(), Y3], progress=False), TypeError,
         "tensors[0]"),
    case("fit-tensors-row-mismatch", lambda c: train.fit(LIN, mse, [X3, Y3[:5]], progress=False), ValueError,
         "tensors[1]"),
    case("fit-tensors-no-rows", lambda c: train.fit(LIN, mse, [X3[:0], Y3[:0]], progress=False), ValueError, "tensors"),
    case("fit-epochs-0", lambda c: train.fit(LIN, mse, [X3, Y3], epochs=0, progress=False), ValueError, "epochs"),
    case("fit-batch_size-0", lambda c: train.fit(LIN, mse, [X3, Y3], batch_size=0, progress=False), ValueError,
         "batch_size"),
    case("fit-lr-0", lambda c: train.fit(LIN, mse, [X3, Y3], lr=0.0, progress=False), ValueError, "lr"),
    case("fit-lr-nan", lambda c: train.fit(LIN, mse, [X3, Y3], lr=float("nan"), progress=False), ValueError, "lr"),
    case("fit-weight_decay-negative", lambda c: train.fit(LIN, mse, [X3, Y3], weight_decay=-1.0, progress=False),
         ValueError, "weight_decay"),
    case("fit-drop_last-batch-too-big", lambda c: train.fit(LIN, mse, [X3, Y3], batch_size=9, drop_last=True,
                                                            progress=False), ValueError, "batch_size"),
    case("fit-seed-str", lambda c: train.fit(LIN, mse, [X3, Y3], seed="0", progress=False), TypeError, "seed"),
    case("fit-tensors-0d", lambda c: train.fit(LIN, mse, [torch.tensor(1.0)], progress=False), TypeError, "tensors[0]"),
    case("fit-tensors-nan", lambda c: train.fit(LIN, mse, [torch.full((8, 3), float("nan")), Y3], epochs=1,
                                                progress=False), ValueError, "tensors[0]"),
    case("fit-loss-not-scalar", lambda c: train.fit(LIN, lambda m, x, y: (m(x) - y) ** 2, [X3, Y3], epochs=1,
                                                    progress=False), ValueError, "loss_fn"),
    case("fit-loss-not-tensor", lambda c: train.fit(LIN, lambda m, x, y: 1.0, [X3, Y3], epochs=1, progress=False),
         TypeError, "loss_fn"),
]

# --------------------------------------------------------------------------- viz

VIZ = [
    case("plot_embeddings-two-rows", lambda c: viz.plot_embeddings(feats(2, 4), method="pca"), ValueError, "X"),
    case("plot_embeddings-nan", lambda c: viz.plot_embeddings(np.vstack([NAN2, NAN2]), method="pca"), ValueError, "X"),
    case("plot_embeddings-1d", lambda c: viz.plot_embeddings(np.ones(5), method="pca"), ValueError, "X"),
    case("plot_embeddings-method-unknown", lambda c: viz.plot_embeddings(feats(5), method="mds"), ValueError, "method"),
    case("plot_embeddings-labels-length", lambda c: viz.plot_embeddings(feats(5), ["a"] * 4, method="pca"), ValueError,
         "labels"),
    case("plot_embeddings-labels-float", lambda c: viz.plot_embeddings(feats(5), [0.5] * 5, method="pca"), TypeError,
         "labels[0]"),
    case("plot_embeddings-labels-str", lambda c: viz.plot_embeddings(feats(5), "abcde", method="pca"), TypeError,
         "labels"),
    case("plot_embeddings-metric-unknown", lambda c: viz.plot_embeddings(feats(5), metric="l1"), ValueError, "metric"),
    case("plot_embeddings-n_neighbors-1", lambda c: viz.plot_embeddings(feats(5), n_neighbors=1), ValueError,
         "n_neighbors"),
    case("plot_embeddings-seed-negative", lambda c: viz.plot_embeddings(feats(5), seed=-1), ValueError, "seed"),
    case("plot_embeddings-order-missing-label", lambda c: viz.plot_embeddings(feats(5), list("aabbc"), method="pca",
                                                                                order=["a", "b"]), ValueError, "order"),
    case("plot_embeddings-zero-row-cosine", lambda c: viz.plot_embeddings(np.vstack([ZERO_ROW, ZERO_ROW]), method="pca"),
         ValueError, "X"),
    case("plot_embeddings-legend-unknown", lambda c: viz.plot_embeddings(feats(5), legend="top"), ValueError, "legend"),
    case("heatmap-dim-mismatch", lambda c: viz.similarity_heatmap(feats(2, 3), feats(2, 4), ["a", "b"], ["c", "d"]),
         ValueError, "A and B"),
    case("heatmap-row_labels-length", lambda c: viz.similarity_heatmap(feats(2, 3), None, ["a"]), ValueError,
         "row_labels"),
    case("heatmap-col_labels-missing", lambda c: viz.similarity_heatmap(feats(2, 3), feats(3, 3), ["a", "b"]),
         TypeError, "col_labels"),
    case("heatmap-vmax-below-vmin", lambda c: viz.similarity_heatmap(feats(2, 3), None, ["a", "b"], vmin=0.5, vmax=0.1),
         ValueError, "vmax"),
    case("heatmap-inf", lambda c: viz.similarity_heatmap(INF2, None, ["a", "b"]), ValueError, "A"),
    case("heatmap-B-1d", lambda c: viz.similarity_heatmap(feats(2, 3), np.ones(3), ["a", "b"], ["c"]), ValueError, "B"),
    case("image_grid-single-image", lambda c: viz.image_grid(c.img), TypeError, "images"),
    case("image_grid-empty", lambda c: viz.image_grid([]), ValueError, "images"),
    case("image_grid-titles-length", lambda c: viz.image_grid([c.img, c.img], ["one"]), ValueError, "titles"),
    case("image_grid-5-channels", lambda c: viz.image_grid([np.zeros((4, 4, 5), np.uint8)]), ValueError, "images[0]"),
    case("image_grid-float-out-of-range", lambda c: viz.image_grid([np.full((4, 4, 3), 2.0)]), ValueError, "images[0]"),
    case("image_grid-path-string", lambda c: viz.image_grid(["cat.png"]), TypeError, "images[0]"),
    case("image_grid-ncols-0", lambda c: viz.image_grid([c.img], ncols=0), ValueError, "ncols"),
    case("show_neighbours-string-neighbours", lambda c: viz.show_neighbours("q", "abc", [1.0]), TypeError,
         "neighbours"),
    case("show_neighbours-empty", lambda c: viz.show_neighbours("q", [], []), ValueError, "neighbours"),
    case("show_neighbours-scores-length", lambda c: viz.show_neighbours("q", ["a", "b"], [1.0]), ValueError, "scores"),
    case("show_neighbours-scores-nan", lambda c: viz.show_neighbours("q", ["a"], [np.nan]), ValueError, "scores"),
    case("show_neighbours-mixed", lambda c: viz.show_neighbours("q", ["a", c.img], [1.0, 0.5]), TypeError,
         "neighbours"),
    case("show_neighbours-query-int", lambda c: viz.show_neighbours(3, ["a"], [1.0]), TypeError, "query"),
    case("plot_curves-empty", lambda c: viz.plot_curves({}), ValueError, "curves"),
    case("plot_curves-nan", lambda c: viz.plot_curves([1.0, np.nan]), ValueError, "curves"),
    case("plot_curves-logy-zero", lambda c: viz.plot_curves({"loss": [1.0, 0.0]}, logy=True), ValueError,
         "curves['loss']"),
    case("plot_curves-2d", lambda c: viz.plot_curves({"loss": [[1.0, 2.0]]}), ValueError, "curves['loss']"),
    case("plot_curves-int-name", lambda c: viz.plot_curves({1: [1.0, 2.0]}), TypeError, "curves"),
]

# --------------------------------------------------------------------------- zero-shot


class FakeJoint:
    """A stand-in joint encoder for argument checks that never reach a real model."""

    name, dim, modalities, logit_scale = "fake", 3, ("text", "image"), 10.0

    def encode_text(self, texts, progress=False):
        return np.ones((len(texts), 3), np.float32)

    def encode_image(self, images, progress=False):
        return np.ones((len(images), 3), np.float32)


FAKE = FakeJoint()

ZEROSHOT = [
    case("get_templates-unknown", lambda c: zeroshot.get_templates("fancy"), ValueError, "name"),
    case("get_templates-int", lambda c: zeroshot.get_templates(3), TypeError, "name"),
    case("build_classifier-no-modalities", lambda c: zeroshot.build_classifier(object(), ["cat"]), TypeError, "model"),
    case("build_classifier-classnames-str", lambda c: zeroshot.build_classifier(FAKE, "cat"), TypeError, "classnames"),
    case("build_classifier-classnames-empty", lambda c: zeroshot.build_classifier(FAKE, []), ValueError, "classnames"),
    case("build_classifier-classnames-duplicate", lambda c: zeroshot.build_classifier(FAKE, ["cat", "cat"]), ValueError,
         "classnames"),
    case("build_classifier-classnames-blank", lambda c: zeroshot.build_classifier(FAKE, ["cat", " "]), ValueError,
         "classnames[1]"),
    case("build_classifier-classnames-int", lambda c: zeroshot.build_classifier(FAKE, ["cat", 2]), TypeError,
         "classnames[1]"),
    case("build_classifier-templates-str", lambda c: zeroshot.build_classifier(FAKE, ["cat"], "a {}"), TypeError,
         "templates"),
    case("build_classifier-templates-empty", lambda c: zeroshot.build_classifier(FAKE, ["cat"], []), ValueError,
         "templates"),
    case("build_classifier-template-no-slot", lambda c: zeroshot.build_classifier(FAKE, ["cat"], ["a photo"]),
         ValueError, "templates[0]"),
    case("build_classifier-template-int", lambda c: zeroshot.build_classifier(FAKE, ["cat"], [3]), TypeError,
         "templates[0]"),
    case("build_classifier-text-model-wrong-modality", lambda c: zeroshot.classify(c.minilm, [c.img], ["cat"]),
         ValueError, "model"),
    case("classify-audio-model", lambda c: zeroshot.build_classifier(c.mfcc, ["cat"]), ValueError, "model"),
    case("classify-single-image", lambda c: zeroshot.classify(FAKE, c.img, ["cat"]), TypeError, "images"),
    case("classify-no-images", lambda c: zeroshot.classify(FAKE, [], ["cat"]), ValueError, "images"),
    case("classify-path-not-image", lambda c: zeroshot.classify(FAKE, ["cat.png"], ["cat"]), TypeError, "images[0]"),
    case("predict_proba-dim-mismatch", lambda c: zeroshot.predict_proba(feats(2, 3), feats(4, 5), 10.0), ValueError,
         "image_features and classifier"),
    case("predict_proba-scale-0", lambda c: zeroshot.predict_proba(feats(2, 3), feats(4, 3), 0), ValueError,
         "logit_scale"),
    case("predict_proba-nan", lambda c: zeroshot.predict_proba(NAN2, feats(4, 2), 10.0), ValueError, "image_features"),
    case("predict_proba-1d", lambda c: zeroshot.predict_proba(np.ones(3), feats(4, 3), 10.0), ValueError,
         "image_features"),
    case("predict_proba-zero-row", lambda c: zeroshot.predict_proba(ZERO_ROW, feats(4, 3), 10.0), ValueError,
         "image_features"),
    case("predict_proba-zero-classifier-row", lambda c: zeroshot.predict_proba(feats(2, 3), ZERO_ROW, 10.0), ValueError,
         "classifier"),
    case("accuracy-labels-float", lambda c: zeroshot.zero_shot_accuracy(feats(2, 3), [0.0, 1.0], feats(4, 3)),
         TypeError, "labels"),
    case("accuracy-labels-out-of-range", lambda c: zeroshot.zero_shot_accuracy(feats(2, 3), [0, 4], feats(4, 3)),
         ValueError, "labels"),
    case("accuracy-length-mismatch", lambda c: zeroshot.zero_shot_accuracy(feats(2, 3), [0, 1, 2], feats(4, 3)),
         ValueError, "image_features and labels"),
    case("sample_k-k-0", lambda c: zeroshot.sample_k_per_class([0, 1, 1], 0), ValueError, "k"),
    case("sample_k-labels-str", lambda c: zeroshot.sample_k_per_class(["a", "b"], 1), TypeError, "labels"),
    case("linear_probe-dim-mismatch", lambda c: zeroshot.linear_probe(feats(6, 3), [0, 1] * 3, feats(2, 4), [0, 1], 1),
         ValueError, "train_features and test_features"),
    case("linear_probe-one-class", lambda c: zeroshot.linear_probe(feats(6, 3), [0] * 6, feats(2, 3), [0, 0], 1),
         ValueError, "train_labels"),
    case("linear_probe-repeats-0", lambda c: zeroshot.linear_probe(feats(6, 3), [0, 1] * 3, feats(2, 3), [0, 1], 1,
                                                                   repeats=0), ValueError, "repeats"),
]

# --------------------------------------------------------------------------- lit


def _lit():
    from mmlab import lit

    return lit


def _write(path, raw: bytes):
    path.write_bytes(raw)
    return path


LIT = [
    case("ProjectionHeads-dim_a-0", lambda c: _lit().ProjectionHeads(0, 4), ValueError, "dim_a"),
    case("ProjectionHeads-hidden-negative", lambda c: _lit().ProjectionHeads(3, 4, hidden=-1), ValueError, "hidden"),
    case("ProjectionHeads-init-above-max", lambda c: _lit().ProjectionHeads(3, 4, init_scale=200.0), ValueError,
         "init_scale"),
    case("ProjectionHeads-max_scale-0", lambda c: _lit().ProjectionHeads(3, 4, max_scale=0.0), ValueError,
         "max_scale"),
    case("transform-side-unknown", lambda c: c.heads.transform(feats(2, 6), "c"), ValueError, "side"),
    case("transform-wrong-dim", lambda c: c.heads.transform(feats(2, 5), "a"), ValueError, "x"),
    case("transform-nan", lambda c: c.heads.transform(np.full((1, 4), np.nan), "b"), ValueError, "x"),
    case("train_heads-row-mismatch", lambda c: _lit().train_heads(feats(5, 3), feats(4, 2), progress=False), ValueError,
         "a_feats and b_feats"),
    case("train_heads-one-pair", lambda c: _lit().train_heads(feats(1, 3), feats(1, 2), progress=False), ValueError,
         "a_feats"),
    case("train_heads-batch-too-big", lambda c: _lit().train_heads(feats(4, 3), feats(4, 2), batch_size=5,
                                                                   progress=False), ValueError, "batch_size"),
    case("train_heads-batch-1", lambda c: _lit().train_heads(feats(4, 3), feats(4, 2), batch_size=1, progress=False),
         ValueError, "batch_size"),
    case("train_heads-loss-unknown", lambda c: _lit().train_heads(feats(4, 3), feats(4, 2), batch_size=4, loss="mse",
                                                                  progress=False), ValueError, "loss"),
    case("train_heads-margin-negative", lambda c: _lit().train_heads(feats(4, 3), feats(4, 2), batch_size=4,
                                                                     margin=-0.1, progress=False), ValueError, "margin"),
    case("train_heads-nan", lambda c: _lit().train_heads(np.vstack([NAN2, NAN2]), feats(4, 2), batch_size=4,
                                                         progress=False), ValueError, "a_feats"),
    case("train_heads-dim-0", lambda c: _lit().train_heads(feats(4, 3), feats(4, 2), batch_size=4, dim=0,
                                                           progress=False), ValueError, "dim"),
    case("train_heads-epochs-0", lambda c: _lit().train_heads(feats(4, 3), feats(4, 2), batch_size=4, epochs=0,
                                                              progress=False), ValueError, "epochs"),
    case("save_heads-not-heads", lambda c: _lit().save_heads("heads", "/tmp/x.pt"), TypeError, "heads"),
    case("LitModel-not-heads", lambda c: _lit().LitModel({"a": 1}), TypeError, "heads"),
    case("load_lit_emoji-missing-file", lambda c: _lit().load_lit_emoji(c.tmpdir / "none.pt"), FileNotFoundError,
         "path"),
    case("load_heads-text-file", lambda c: _lit().load_heads(_write(c.tmpdir / "notes.pt", b"not weights")),
         ValueError, "path"),
    case("load_heads-empty-file", lambda c: _lit().load_heads(_write(c.tmpdir / "empty.pt", b"")), ValueError, "path"),
    case("retrieval_recall-dim-mismatch", lambda c: _lit().retrieval_recall(feats(3, 3), feats(3, 4)), ValueError,
         "queries and corpus"),
    case("retrieval_recall-targets-None-lengths", lambda c: _lit().retrieval_recall(feats(3, 3), feats(4, 3)),
         ValueError, "targets"),
    case("retrieval_recall-targets-out-of-range", lambda c: _lit().retrieval_recall(feats(2, 3), feats(4, 3), [0, 4]),
         ValueError, "targets"),
    case("retrieval_recall-targets-float", lambda c: _lit().retrieval_recall(feats(2, 3), feats(4, 3), [0.0, 1.0]),
         ValueError, "targets"),
    case("retrieval_recall-k-above-N", lambda c: _lit().retrieval_recall(feats(2, 3), feats(4, 3), [0, 1], ks=(5,)),
         ValueError, "ks"),
    case("retrieval_recall-ks-int", lambda c: _lit().retrieval_recall(feats(2, 3), feats(4, 3), [0, 1], ks=5),
         TypeError, "ks"),
]


def test_load_heads_rejects_a_file_that_is_not_a_heads_file(tmp_path):
    lit = _lit()
    not_heads = tmp_path / "other.pt"
    torch.save({"weights": torch.ones(2)}, not_heads)
    with pytest.raises(ValueError, match=r"path: expected a heads file .*other\.pt is not one"):
        lit.load_heads(not_heads)
    with pytest.raises(FileNotFoundError, match=r"path: expected a heads file"):
        lit.load_heads(tmp_path / "missing.pt")


# --------------------------------------------------------------------------- models

BLANK = Image.new("RGB", (0, 0))
MODELS = [
    case("load-int", lambda c: mm.models.load(3), TypeError, "name"),
    case("load-unknown", lambda c: mm.models.load("bert"), ValueError, "name"),
    case("load-clip-without-tag", lambda c: mm.models.load("clip:ViT-B-32"), ValueError, "name"),
    case("load-clip-unknown-tag", lambda c: mm.models.load("clip:ViT-B-32/nope"), ValueError, "name"),
    case("minilm.encode_text-str", lambda c: c.minilm.encode_text("a cat"), TypeError, "texts"),
    case("minilm.encode_text-None", lambda c: c.minilm.encode_text(None), TypeError, "texts"),
    case("minilm.encode_text-empty", lambda c: c.minilm.encode_text([]), ValueError, "texts"),
    case("minilm.encode_text-int-item", lambda c: c.minilm.encode_text(["cat", 3]), TypeError, "texts[1]"),
    case("minilm.encode_text-batch_size-0", lambda c: c.minilm.encode_text(["cat"], batch_size=0), ValueError,
         "batch_size"),
    case("minilm.encode_text-batch_size-str", lambda c: c.minilm.encode_text(["cat"], batch_size="8"), TypeError,
         "batch_size"),
    case("minilm.encode_image-wrong-modality", lambda c: c.minilm.encode_image([c.img]), ValueError, "image"),
    case("minilm.encode_audio-wrong-modality", lambda c: c.minilm.encode_audio([c.wave], 16000), ValueError, "audio"),
    case("effnet.encode_image-single", lambda c: c.effnet.encode_image(c.img), TypeError, "images"),
    case("effnet.encode_image-empty", lambda c: c.effnet.encode_image([]), ValueError, "images"),
    case("effnet.encode_image-array", lambda c: c.effnet.encode_image([np.zeros((8, 8, 3), np.uint8)]), TypeError,
         "images[0]"),
    case("effnet.encode_image-batch-array", lambda c: c.effnet.encode_image(np.zeros((2, 8, 8, 3), np.uint8)),
         TypeError, "images"),
    case("effnet.encode_image-path", lambda c: c.effnet.encode_image(["cat.png"]), TypeError, "images[0]"),
    case("effnet.encode_image-bytes", lambda c: c.effnet.encode_image([b"\x89PNG"]), TypeError, "images[0]"),
    case("effnet.encode_image-zero-size", lambda c: c.effnet.encode_image([BLANK]), ValueError, "images[0]"),
    case("effnet.encode_image-batch_size-0", lambda c: c.effnet.encode_image([c.img], batch_size=0), ValueError,
         "batch_size"),
    case("effnet.encode_text-wrong-modality", lambda c: c.effnet.encode_text(["cat"]), ValueError, "text"),
    case("effnet.classify-top_k-0", lambda c: c.effnet.classify([c.img], top_k=0), ValueError, "top_k"),
    case("effnet.classify-top_k-1001", lambda c: c.effnet.classify([c.img], top_k=1001), ValueError, "top_k"),
    case("effnet.classify-top_k-str", lambda c: c.effnet.classify([c.img], top_k="5"), TypeError, "top_k"),
    case("effnet.classify-single-image", lambda c: c.effnet.classify(c.img), TypeError, "images"),
    case("mfcc.encode_audio-single-array", lambda c: c.mfcc.encode_audio(c.wave, 16000), TypeError, "waveforms"),
    case("mfcc.encode_audio-empty", lambda c: c.mfcc.encode_audio([], 16000), ValueError, "waveforms"),
    case("mfcc.encode_audio-rate-too-low", lambda c: c.mfcc.encode_audio([c.wave], 100), ValueError, "sample_rate"),
    case("mfcc.encode_audio-rate-too-high", lambda c: c.mfcc.encode_audio([c.wave], 10**6), ValueError, "sample_rate"),
    case("mfcc.encode_audio-rate-float", lambda c: c.mfcc.encode_audio([c.wave], 16000.5), TypeError, "sample_rate"),
    case("mfcc.encode_audio-rate-None", lambda c: c.mfcc.encode_audio([c.wave], None), TypeError, "sample_rate"),
    case("mfcc.encode_audio-stereo", lambda c: c.mfcc.encode_audio([np.zeros((2, 800), np.float32)], 16000),
         ValueError, "waveforms[0]"),
    case("mfcc.encode_audio-int16", lambda c: c.mfcc.encode_audio([np.zeros(800, np.int16)], 16000), TypeError,
         "waveforms[0]"),
    case("mfcc.encode_audio-nan", lambda c: c.mfcc.encode_audio([np.full(800, np.nan, np.float32)], 16000),
         ValueError, "waveforms[0]"),
    case("mfcc.encode_audio-empty-clip", lambda c: c.mfcc.encode_audio([np.zeros(0, np.float32)], 16000), ValueError,
         "waveforms[0]"),
    case("mfcc.encode_audio-str", lambda c: c.mfcc.encode_audio("clip.wav", 16000), TypeError, "waveforms"),
    case("mfcc.encode_text-wrong-modality", lambda c: c.mfcc.encode_text(["cat"]), ValueError, "text"),
    case("conse.encode_audio-wrong-modality", lambda c: c.conse.encode_audio([c.wave], 16000), ValueError, "audio"),
    case("conse.encode_image-not-image", lambda c: c.conse.encode_image([np.zeros((8, 8, 3))]), TypeError, "images[0]"),
    case("conse.encode_text-str", lambda c: c.conse.encode_text("cat"), TypeError, "texts"),
    case("effnet.predict_proba-empty", lambda c: c.effnet.predict_proba([]), ValueError, "images"),
    case("effnet.image_features-array", lambda c: c.effnet.image_features([np.zeros((8, 8, 3))]), TypeError,
         "images[0]"),
    case("EffNetLite0Encoder-image_size-16", lambda c: mm.models.EffNetLite0Encoder(image_size=16), ValueError,
         "image_size"),
    case("ConSEEncoder-top_t-0", lambda c: mm.models.ConSEEncoder(c.effnet, c.minilm, top_t=0), ValueError, "top_t"),
    case("ConSEEncoder-prompt-no-slot", lambda c: mm.models.ConSEEncoder(c.effnet, c.minilm, prompt="a photo"),
         ValueError, "prompt"),
    case("ConSEEncoder-logit_scale-negative", lambda c: mm.models.ConSEEncoder(c.effnet, c.minilm, logit_scale=-1.0),
         ValueError, "logit_scale"),
    case("CLIPEncoder-preprocess-not-callable", lambda c: mm.models.CLIPEncoder(None, 3, str), TypeError, "preprocess"),
    case("clip_weights_path-unknown-arch", lambda c: mm.models.clip_weights_path("NoSuchNet", "x"), ValueError, "name"),
    case("fetch-a-string", lambda c: mm.models.fetch("clip"), TypeError, "names"),
    case("cache.put_many-wrong-shape", lambda c: mm.cache.EmbeddingCache("k/v1", 4, root=c.tmpdir).put_many(
        ["a", "b"], np.ones((2, 3))), ValueError, "vectors"),
    case("conse.embed_probabilities-wrong-columns", lambda c: c.conse.embed_probabilities(np.ones((2, 10)) / 10),
         ValueError, "probs"),
]

def encoded(out, n: int, dim: int) -> bool:
    """A finite (n, dim) float32 result with unit rows: what every encoder promises."""
    out = np.asarray(out)
    return (out.shape == (n, dim) and out.dtype == np.float32 and np.isfinite(out).all()
            and np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-4))


MODES = ["1", "L", "P", "RGB", "RGBA", "CMYK", "YCbCr", "LAB", "HSV", "I", "F", "LA", "PA", "I;16", "I;16B", "RGBa",
         "La"]


@pytest.mark.parametrize("mode", MODES)
def test_every_pil_mode_is_encoded(ctx, mode):
    """Every PIL mode is converted to RGB and encoded (none is refused)."""
    out = ctx.effnet.encode_image([ctx.img, Image.new(mode, (9, 7))], progress=False)
    assert encoded(out, 2, ctx.effnet.dim)


@pytest.mark.parametrize("mode", MODES)
def test_the_folder_loader_converts_every_pil_mode_to_rgb(mode):
    rgb = data.folders._to_rgb(Image.new(mode, (9, 7)))  # what load_image_folder applies to each decoded file
    assert rgb.mode == "RGB" and rgb.size == (9, 7)


@pytest.mark.parametrize("text", ["", " ", "\x00", "a" * 20_000, "🐱" * 300, "tab\tnew\nline"],
                         ids=["empty", "space", "nul", "long", "emoji", "control"])
def test_any_utf8_string_is_encoded(ctx, text):
    """Empty, control characters, very long (truncated by the tokenizer) and emoji text: all encoded."""
    assert encoded(ctx.minilm.encode_text(["cat", text], progress=False), 2, ctx.minilm.dim)


def test_a_lone_surrogate_is_refused_naming_the_item(ctx):
    with pytest.raises(ValueError, match=r"texts\[1\].*UTF-8"):
        ctx.minilm.encode_text(["cat", "\ud800"], progress=False)


# --------------------------------------------------------------------------- data, student

DATA = [
    case("load_emoji-group-unknown", lambda c: data.load_emoji(groups="Animals"), ValueError, "groups"),
    case("load_emoji-group-int", lambda c: data.load_emoji(groups=[1]), TypeError, "groups[0]"),
    case("load_emoji-size-4", lambda c: data.load_emoji(size=4), ValueError, "size"),
    case("load_emoji-size-float", lambda c: data.load_emoji(size=32.5), TypeError, "size"),
    case("load_emoji-size-str", lambda c: data.load_emoji(size="64"), TypeError, "size"),
    case("split_by_id-str", lambda c: data.split_by_id("1F431"), TypeError, "ids"),
    case("split_by_id-empty", lambda c: data.split_by_id([]), ValueError, "ids"),
    case("split_by_id-ints", lambda c: data.split_by_id([1, 2]), TypeError, "ids[0]"),
    case("split_by_id-fraction-0", lambda c: data.split_by_id(["a"], 0.0), ValueError, "test_fraction"),
    case("split_by_id-fraction-1", lambda c: data.split_by_id(["a"], 1.0), ValueError, "test_fraction"),
    case("split_by_id-fraction-nan", lambda c: data.split_by_id(["a"], float("nan")), ValueError, "test_fraction"),
    case("split_by_id-fraction-str", lambda c: data.split_by_id(["a"], "0.25"), TypeError, "test_fraction"),
    case("split_by_id-seed-float", lambda c: data.split_by_id(["a"], seed=1.5), TypeError, "seed"),
    case("load_spoken_names-group-unknown", lambda c: data.load_spoken_names(groups="Flags"), ValueError, "groups"),
    case("load_spoken_names-voice-unknown", lambda c: data.load_spoken_names(voices="robot"), ValueError, "voices"),
    case("load_spoken_names-voice-int", lambda c: data.load_spoken_names(voices=[3]), TypeError, "voices[0]"),
    case("subset-str", lambda c: data.load_emoji(groups="Flags").subset("abc"), TypeError, "indices"),
    case("subset-out-of-range", lambda c: data.load_emoji(groups="Flags").subset([10**6]), ValueError, "indices"),
    case("subset-mask-length", lambda c: data.load_emoji(groups="Flags").subset(np.ones(3, bool)), ValueError,
         "indices"),
    case("subset-floats", lambda c: data.load_emoji(groups="Flags").subset([1.5]), TypeError, "indices"),
    case("subset-2d", lambda c: data.load_emoji(groups="Flags").subset([[0, 1]]), TypeError, "indices"),
    case("SpokenNames.subset-out-of-range", lambda c: data.load_spoken_names(voices="en-us").subset([10**6]),
         ValueError, "indices"),
    case("EmojiSet-mismatched-lists", lambda c: data.EmojiSet(["1F431"], ["x"], ["cat"], [], ["s"], []), ValueError,
         "EmojiSet.groups"),
    case("load_image_folder-None", lambda c: data.load_image_folder(None), TypeError, "path"),
    case("load_image_folder-int", lambda c: data.load_image_folder(3), TypeError, "path"),
    case("load_image_folder-bool", lambda c: data.load_image_folder(True), TypeError, "path"),
    case("load_image_folder-missing", lambda c: data.load_image_folder("/nonexistent/photos"), FileNotFoundError,
         "path"),
    case("load_image_folder-a-file", lambda c: data.load_image_folder(__file__), NotADirectoryError, "path"),
    case("load_image_folder-recursive-str", lambda c: data.load_image_folder(".", recursive="yes"), TypeError,
         "recursive"),
    case("load_image_folder-max_pixels-0", lambda c: data.load_image_folder(".", max_pixels=0), ValueError,
         "max_pixels"),
    case("load_image_folder-max_side-0", lambda c: data.load_image_folder(".", max_side=0), ValueError, "max_side"),
    case("strip_solutions-unclosed", lambda c: student.strip_solutions("### BEGIN SOLUTION\nx = 1"), ValueError,
         "BEGIN SOLUTION"),
    case("strip_solutions-end-without-begin", lambda c: student.strip_solutions("x\n### END SOLUTION"), ValueError,
         "END SOLUTION"),
    case("strip_solutions-nested", lambda c: student.strip_solutions("### BEGIN SOLUTION\n### BEGIN SOLUTION"),
         ValueError, "BEGIN SOLUTION"),
    case("student.main-missing-notebook", lambda c: student.main([str(c.tmpdir / "missing.ipynb")], str(c.tmpdir)),
         FileNotFoundError, "notebooks"),
    case("make_student_notebook-not-a-notebook", lambda c: student.make_student_notebook("nb.ipynb"), TypeError, "nb"),
    case("strip_solutions-None", lambda c: student.strip_solutions(None), TypeError, "source"),
    case("strip_solutions-notebook-cell-dict", lambda c: student.strip_solutions({"source": "x"}), TypeError, "source"),
]


ALL_CASES = EMBEDDINGS + SEARCH + STORE + LOSSES + FUSION + TRAIN + VIZ + ZEROSHOT + LIT + MODELS + DATA


@pytest.mark.parametrize("call, error, arg", ALL_CASES)
def test_bad_input_is_refused_clearly(ctx, call, error, arg):
    import matplotlib.pyplot as plt

    try:
        assert_clean_error(call, ctx, error, arg)
    finally:
        plt.close("all")


@pytest.mark.parametrize("kwargs, arg", [({"torch": "yes"}, "torch"), ({"blas": 1}, "blas")])
def test_single_threaded_refuses_non_bool_switches(kwargs, arg):
    with pytest.raises(TypeError, match=arg), mm.single_threaded(**kwargs):
        pass


def test_every_public_module_has_cases():
    """The sweep covers every module a learner calls (a new module needs a table here)."""
    tables = {
        "cache": [c for c in MODELS if "cache" in c.id],
        "student": [c for c in DATA if "strip" in c.id or "student" in c.id],
        "embeddings": EMBEDDINGS, "search": SEARCH + STORE, "losses": LOSSES, "fusion": FUSION, "train": TRAIN,
        "viz": VIZ, "zeroshot": ZEROSHOT, "lit": LIT, "models": MODELS, "data": DATA,
    }
    modules = [name for name in mm.__all__ if name not in ("SEED", "seed_everything", "single_threaded", "__version__")]
    for module in modules:
        if module in ("checks", "exercises"):  # checks take learner answers: tests/test_checks_nb*.py
            continue
        if module == "rag":  # its bad inputs live beside its behaviour, in tests/test_rag*.py
            continue
        assert tables.get(module), f"no bad-input cases for mmlab.{module}"
    assert len(ALL_CASES) >= 100


# --------------------------------------------------------------------------- property-based

# Shapes of rank 0..3 with small sides (0 included: empty inputs), and many dtypes.
DTYPES = st.sampled_from([np.float16, np.float32, np.float64, np.int8, np.int32, np.int64, np.uint8, np.bool_,
                          np.complex64])
ELEMENTS = st.floats(-1e4, 1e4, width=32) | st.sampled_from([0.0, np.nan, np.inf, -np.inf, 1e30])


FINITE = st.floats(-1e4, 1e4, width=32)
# Finite and away from zero, so a well-formed row is rarely all zeros (which normalising refuses).
NONZERO = FINITE.filter(lambda v: abs(v) > 1e-3)
FLOATS = st.sampled_from([np.float32, np.float64])


@st.composite
def arrays(draw, max_rank=3, max_side=5):
    """Anything array-like: half the draws clean (finite floats), half with any dtype and specials."""
    clean = draw(st.booleans())
    dtype = draw(FLOATS if clean else DTYPES)
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=max_rank, min_side=0, max_side=max_side))
    values = draw(hnp.arrays(np.float64, shape, elements=FINITE if clean else ELEMENTS))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if np.issubdtype(dtype, np.integer) or dtype is np.bool_:
            values = np.nan_to_num(values, nan=0, posinf=0, neginf=0).clip(-100, 100)
        return values.astype(dtype)


@st.composite
def matching_pair(draw):
    """Mostly well-formed (N, D) and (M, D) pairs of finite floats, sometimes anything at all."""
    if draw(st.integers(0, 3)) == 0:
        return draw(arrays()), draw(arrays())
    d = draw(st.integers(1, 4))
    a = draw(hnp.arrays(np.float32, (draw(st.integers(1, 5)), d), elements=NONZERO))
    b = draw(hnp.arrays(np.float32, (draw(st.integers(1, 6)), d), elements=NONZERO))
    return a, b


@st.composite
def id_pair(draw):
    """Mostly (Q, k) found ids and (Q, t) true ids, sometimes anything at all."""
    if draw(st.integers(0, 3)) == 0:
        return draw(arrays()), draw(arrays())
    q = draw(st.integers(1, 4))
    ids = st.integers(-1, 20)
    found = draw(hnp.arrays(np.int64, (q, draw(st.integers(1, 6))), elements=ids))
    true = draw(hnp.arrays(np.int64, (q, draw(st.integers(1, 6))), elements=st.integers(0, 20)))
    return found, true


@st.composite
def modality_blocks(draw):
    """Mostly 1-3 blocks with the same number of rows, sometimes any list of arrays."""
    if draw(st.integers(0, 3)) == 0:
        return draw(st.lists(arrays(max_rank=3), min_size=0, max_size=3))
    n = draw(st.integers(1, 5))
    return [draw(hnp.arrays(np.float32, (n, draw(st.integers(1, 4))), elements=NONZERO))
            for _ in range(draw(st.integers(1, 3)))]


FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


_ACCEPTED: collections.Counter = collections.Counter()


def _outcome(fn, *args, **kwargs):
    """The result, or None when fn refused the input with a clean ValueError/TypeError."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = fn(*args, **kwargs)
        except (ValueError, TypeError) as exc:
            assert str(exc).split(":")[0].strip(), "an error message must start with the argument's name"
            return None
    _ACCEPTED[getattr(fn, "__qualname__", repr(fn))] += 1
    return result


def _reference_cosine(a, b):
    a = np.atleast_2d(np.asarray(a, np.float64))
    b = np.atleast_2d(np.asarray(b, np.float64))
    return (a / np.linalg.norm(a, axis=1, keepdims=True)) @ (b / np.linalg.norm(b, axis=1, keepdims=True)).T


@FUZZ
@given(matching_pair())
def _cosine_similarity_is_right_or_refuses(pair):
    a, b = pair
    sim = _outcome(embeddings.cosine_similarity, a, b)
    if sim is None:
        return
    want = _reference_cosine(a.astype(np.float32), b.astype(np.float32))
    assert sim.dtype == np.float32 and sim.shape == want.shape
    assert np.isfinite(sim).all()
    np.testing.assert_allclose(sim, np.clip(want, -1, 1), atol=1e-3)


@FUZZ
@given(st.one_of(arrays(), matching_pair().map(lambda pair: pair[0])))
def _l2_normalize_is_right_or_refuses(x):
    out = _outcome(embeddings.l2_normalize, x)
    if out is None:
        return
    assert out.shape == x.shape and np.isfinite(out).all()
    np.testing.assert_allclose(np.linalg.norm(out, axis=-1), 1.0, atol=1e-3)


@FUZZ
@given(matching_pair(), st.integers(-1, 7), st.integers(1, 6), st.booleans(), st.sampled_from(["cosine", "ip", "l2"]))
def _exact_topk_is_right_or_refuses(pair, any_k, small_k, in_range, metric):
    queries, corpus = pair
    # Half the draws take any k; the others a k the corpus can satisfy.
    k = min(small_k, len(corpus)) if in_range and np.ndim(corpus) == 2 and len(corpus) else any_k
    got = _outcome(search.exact_topk, queries, corpus, k, metric=metric)
    if got is None:
        return
    scores, ids = got
    q = np.atleast_2d(queries).astype(np.float64)
    c = np.asarray(corpus).astype(np.float64)
    assert 1 <= k <= len(c) and scores.shape == ids.shape == (len(q), k)
    assert np.isfinite(scores).all() and ids.min() >= 0 and ids.max() < len(c)
    if metric == "cosine":
        full = _reference_cosine(q, c)
    elif metric == "ip":
        full = q @ c.T
    else:
        full = -((q[:, None, :] - c[None]) ** 2).sum(-1)
    best = -np.sort(-full, axis=1)[:, :k]  # the k best true scores, best first
    sign = -1 if metric == "l2" else 1
    scale = 1e-3 * max(1.0, float(np.abs(full).max()))
    np.testing.assert_allclose(sign * scores, best, atol=scale, rtol=1e-3)
    np.testing.assert_allclose(np.take_along_axis(full, ids, axis=1), best, atol=scale, rtol=1e-3)
    assert all(len(set(row)) == k for row in ids.tolist())  # no id twice


@FUZZ
@given(id_pair(), st.integers(-1, 6))
def _recall_at_k_is_right_or_refuses(pair, k):
    found, true = pair
    r = _outcome(search.recall_at_k, found, true, k)
    if r is None:
        return
    assert isinstance(r, float) and 0.0 <= r <= 1.0 and not math.isnan(r)


TORCH_DTYPES = st.sampled_from([torch.float32, torch.float64, torch.float16, torch.int64, torch.bool])


@st.composite
def clip_loss_args(draw):
    """Mostly a well-formed batch (B, D) x (B, D) with a positive scale, sometimes anything."""
    if draw(st.integers(0, 2)) == 0:
        return (draw(st.integers(0, 4)), draw(st.integers(0, 4)), draw(st.integers(0, 4)), draw(st.integers(1, 3)),
                draw(TORCH_DTYPES), draw(st.sampled_from([1.0, 10.0, 100.0, 0.0, -1.0, float("nan")])),
                draw(st.booleans()))
    b, d = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    return b, b, d, 2, draw(st.sampled_from([torch.float32, torch.float64])), draw(st.sampled_from([1.0, 10.0, 100.0])), False


@FUZZ
@given(clip_loss_args())
def _clip_loss_is_finite_or_refuses(args):
    b1, b2, d, rank, dtype, scale, with_nan = args
    shape1, shape2 = (b1, d, 2)[:rank], (b2, d, 2)[:rank]
    a = torch.randn(shape1, generator=torch.Generator().manual_seed(b1)).to(dtype)
    b = torch.randn(shape2, generator=torch.Generator().manual_seed(b2 + 10)).to(dtype)
    if with_nan and dtype.is_floating_point and a.numel():
        a.view(-1)[0] = float("nan")
    loss = _outcome(losses.clip_loss, a, b, scale)
    if loss is None:
        return
    assert loss.ndim == 0 and torch.isfinite(loss)
    logits = scale * a.double() @ b.double().T
    target = torch.arange(len(a))
    want = (torch.nn.functional.cross_entropy(logits, target) + torch.nn.functional.cross_entropy(logits.T, target)) / 2
    torch.testing.assert_close(loss.double(), want, atol=5e-2 if dtype == torch.float16 else 1e-4, rtol=1e-2)


def test_every_submodule_is_reachable_as_an_attribute():
    # mmlab loads submodules lazily by name; one missing from the list is an AttributeError on mm.<name>.
    for name in ("lit", "search", "models", "rag", "exercises", "checks"):
        assert getattr(mm, name).__name__ == f"mmlab.{name}"


@FUZZ
@given(modality_blocks(),
       st.one_of(st.none(), st.dictionaries(st.sampled_from(["m0", "m1", "m2", "x"]),
                                            st.sampled_from([0.0, 0.5, 1.0, 2.0, -1.0, float("nan")]), max_size=3)))
def _concat_embeddings_is_unit_length_or_refuses(blocks, weights):
    features = {f"m{i}": b for i, b in enumerate(blocks)}
    fused = _outcome(fusion.concat_embeddings, features, weights)
    if fused is None:
        return
    n = len(blocks[0])
    assert fused.shape == (n, sum(b.shape[1] for b in blocks)) and np.isfinite(fused).all()
    np.testing.assert_allclose(np.linalg.norm(fused, axis=1), 1.0, atol=1e-3)


@FUZZ
@given(matching_pair(), st.lists(st.integers(-2, 8), max_size=3))
def _retrieval_recall_is_a_fraction_or_refuses(pair, ks):
    queries, corpus = pair
    # query i's target is item i mod M (targets=None would need as many queries as items)
    shapes_fit = getattr(queries, "ndim", 0) == 2 and getattr(corpus, "ndim", 0) == 2 and len(corpus) > 0
    targets = np.arange(len(queries)) % len(corpus) if shapes_fit else None
    found = _outcome(_lit().retrieval_recall, queries, corpus, targets, ks)
    if found is None:
        return
    assert set(found) == set(ks) and all(0.0 <= v <= 1.0 for v in found.values())


# Each fuzz run must see the function accept some draws: one that refused everything would
# pass a "right or refuses" test while being useless.
@pytest.mark.parametrize("run", [
    _cosine_similarity_is_right_or_refuses,
    _l2_normalize_is_right_or_refuses,
    _exact_topk_is_right_or_refuses,
    _recall_at_k_is_right_or_refuses,
    _clip_loss_is_finite_or_refuses,
    _concat_embeddings_is_unit_length_or_refuses,
    _retrieval_recall_is_a_fraction_or_refuses,
], ids=lambda f: f.__name__.lstrip("_"))
def test_fuzz_accepts_some_draws(run):
    _ACCEPTED.clear()
    run()
    assert sum(_ACCEPTED.values()) >= 5, f"accepted only {dict(_ACCEPTED)} draws"
