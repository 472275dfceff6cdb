"""Exercise checks for notebook 05, vector search (re-exported by mmlab.checks).

Each check runs the learner's function on its own small data, chosen so that the mistakes
learners really make change the answer (rows of very different lengths, k near N / 2,
codebooks whose centroids differ in length, values with quotes, backslashes, carriage
returns and non-ASCII text), and names the mistake it recognises.
"""
from __future__ import annotations

import re

import numpy as np

from ._feedback import (
    CheckResult,
    call_learner,
    is_empty,
    library_used,
    report,
    shape_problem,
)
from ._feedback import names_used as _names_used
from ._nb05_cases import _LIBRARIES, _CountingBooks, _names_deep, _near_tie_order, _sorts_whole_rows

__all__: list[str] = [
    "nb05_ivf_cost",
    "nb05_pq_encode",
    "nb05_pq_scores",
    "nb05_quote",
    "nb05_topk",
]




# The library's private helpers that do an exercise's work (mm.search.exact._k_best_columns,
# mm.search.filters._literal): called by attribute or imported, they are the library's answer too.
_PRIVATE_HELPERS = frozenset({"_k_best_columns", "_partition_columns", "_block_scores", "_literal"})


def _library_call(fn, helpers: frozenset[str], numpy_only: bool = True) -> str | None:
    """The library function a learner's answer is, or calls (by name, or anything from faiss, torch, sklearn,
    scipy or sentence_transformers when ``numpy_only``), instead of doing the work; else None."""
    module = (getattr(fn, "__module__", None) or "").split(".")[0]
    if module in ("mmlab", "faiss", "torch", "sklearn", "scipy", "sentence_transformers"):
        return getattr(fn, "__qualname__", None) or repr(fn)
    used = _names_deep(fn)
    scope = getattr(fn, "__globals__", None) or {}
    private = {name for name in used & _PRIVATE_HELPERS       # a learner's own function of that name is theirs
               if (getattr(scope.get(name), "__module__", None) or "mmlab").startswith("mmlab")}
    found = sorted((used & helpers) | private)
    return found[0] if found else (library_used(fn, _LIBRARIES) if numpy_only else None)


# --------------------------------------------------------------------------- exercise 1: top-k by hand

_TOPK_HELPERS = frozenset({"exact_topk", "NearestNeighbors", "kneighbors", "semantic_search", "IndexFlatIP",
                           "knn", "build_index"})


def _check_data(seed: int = 5):
    rng = np.random.default_rng(seed)
    # Rows of very different lengths: forgetting to normalise changes the answer.
    corpus = rng.standard_normal((300, 16)).astype(np.float32) * rng.uniform(0.2, 5.0, (300, 1)).astype(np.float32)
    queries = rng.standard_normal((6, 16)).astype(np.float32) * rng.uniform(0.5, 3.0, (6, 1)).astype(np.float32)
    return queries, corpus


def nb05_topk(my_topk) -> CheckResult:
    """Write top-k cosine search: ``my_topk(queries, corpus, k) -> (Q, k)`` int ids, best first.

    Checked with k = 7 and with k = 150 of 300 rows: for k near N / 2, argpartition's first k
    come back unsorted, so a missing final sort shows (for small k they often look sorted).
    """
    helper = None if is_empty(my_topk) else _library_call(my_topk, _TOPK_HELPERS)
    if helper:
        return report(False, "", f"your function hands the search to a library ({helper}).",
                      "numpy only: normalise the rows, one matrix product, then a partial sort and a sort of the k best.")
    queries, corpus = _check_data()
    for k in (7, len(corpus) // 2):
        problem = _check_topk(my_topk, queries, corpus, k)
        if problem is not None:
            return problem
    # The answer is checked, not the route: a name test for np.argpartition let an unused call pass
    # next to a full sort (outside review 8). A function without it gets a note on the cost.
    full_sort = "argpartition" not in _names_deep(my_topk) or _sorts_whole_rows(my_topk, queries, corpus, 7)
    note = ("" if not full_sort else
            " Your function sorts all N scores of a query: that costs O(N log N) per query, while a partial "
            "sort finds the k best in O(N) and only those k need sorting.")
    return report(True, "Your top-k matches mm.search.exact_topk, also for k = 150 of 300 rows (best first)." + note)


def _check_topk(my_topk, queries, corpus, k: int) -> CheckResult | None:
    """None if ``my_topk`` is right for this k, else the report of what is wrong."""
    from ..search import exact_topk

    q_in, c_in = queries.copy(), corpus.copy()
    ids, problem = call_learner(my_topk, q_in, c_in, k)
    if problem:
        return report(False, "", problem, "the function gets (queries, corpus, k) and returns the ids array.")
    if not (np.array_equal(q_in, queries) and np.array_equal(c_in, corpus)):
        return report(False, "", "your function changed the caller's arrays in place (e.g. `queries /= ...`): "
                                 "the next search on them would get different data.",
                      "normalise into new arrays: q = queries / np.linalg.norm(queries, axis=1, keepdims=True).")
    if isinstance(ids, tuple) and len(ids) == 2:
        return report(False, "", "your function returned a pair (scores and ids?); return only the ids, shape (Q, k).",
                      "`return ids` at the end.")
    problem = shape_problem(ids, (len(queries), k))
    if problem:
        return report(False, "", f"with k={k}, the ids: {problem}", "one row per query and k columns: (Q, k).")
    ids = np.asarray(ids)
    if not np.issubdtype(ids.dtype, np.integer):
        if ids.dtype.kind == "f" and np.allclose(ids, np.round(ids)):
            return report(False, "", f"your ids are {ids.dtype} numbers, not integers: a float id cannot index a "
                                     "list (emoji.images[i] fails).",
                          "return the integer positions argpartition / argsort give you, without converting them.")
        return report(False, "", "your answer holds non-integer values: those look like scores, not row ids.",
                      "argpartition / argsort return positions (ids); keep those, not the scores.")
    _, want = exact_topk(queries, corpus, k, metric="cosine")
    if np.array_equal(ids, want):
        return None
    if np.array_equal(ids, exact_topk(queries, corpus, k, metric="ip")[1]):
        return report(False, "", "you ranked by the raw dot product: long corpus vectors win regardless of direction.",
                      "cosine similarity divides by the lengths: normalise the rows of both matrices first.")
    axis0 = corpus / np.linalg.norm(corpus, axis=0, keepdims=True)
    if np.array_equal(ids, exact_topk(queries, axis0, k, metric="ip")[1]) or np.array_equal(
            ids, exact_topk(queries, axis0, k, metric="cosine")[1]):
        return report(False, "", "you normalised the corpus along the wrong axis (each column, not each row).",
                      "every stored vector is a row: np.linalg.norm(corpus, axis=1, keepdims=True).")
    one_more = exact_topk(queries, corpus, k + 1, metric="cosine")[1] if k < len(corpus) else None
    if one_more is not None and np.array_equal(ids, one_more[:, 1:]):
        return report(False, "", "you dropped the best match of every query (the first column).",
                      "the queries are not in the corpus here: the most similar row is a real answer, keep it.")
    if all(set(a) == set(b) for a, b in zip(ids, want)):
        if np.array_equal(ids, want[:, ::-1]):
            return report(False, "", f"the right k ids, but worst first (k={k}).",
                          "sort by descending similarity (e.g. argsort of the negated scores).")
        if _near_tie_order(ids, queries, corpus):
            return report(False, "", f"the right k ids, out of order only where two scores differ by less than 0.01 "
                                     f"(k={k}): your scores are slightly off, not unsorted.",
                          "look for a change to the scores: an epsilon added to the norm, or a lower precision "
                          "(float16); divide by the exact norm, np.linalg.norm(x, axis=1, keepdims=True).")
        return report(False, "", f"the right k ids, but not in best-first order (k={k} of {len(corpus)} rows).",
                      "argpartition only splits the k best from the rest, in no particular order (for small k "
                      "they can look sorted by luck); sort those k by their scores afterwards.")
    _, worst = exact_topk(-queries, corpus, k, metric="cosine")
    if all(set(a) == set(b) for a, b in zip(ids, worst)):
        return report(False, "", "you returned the k *least* similar rows.",
                      "argpartition puts the smallest values first: partition the negated scores (or take the last k).")
    overlap = np.mean([len(set(a) & set(b)) / k for a, b in zip(ids, want)])
    return report(False, "", f"with k={k}, only {overlap:.0%} of your ids are among the true {k} nearest neighbours.",
                  "scores = normalised queries @ normalised corpus.T, shape (Q, N); then the k largest per row.")


# --------------------------------------------------------------------------- exercise 2: the cost of an IVF query

# (n, nlist, nprobe): one case where the lists dominate, one where the centroids do, one in between,
# and nprobe = 1, so that each term left out, or nprobe applied to the wrong term, shows.
# The last case has n / nlist = 33.3 lists of vectors, so rounding a list's size down or up is allowed
# (and only that: no additive slack, which would let nprobe counted once too often pass).
_IVF_CASES = [(1_000_000, 1000, 10), (20_000, 2000, 1), (20_000, 100, 8), (50_000, 50, 50), (10_000, 300, 4)]


def _ivf_want(n, nlist, nprobe) -> float:
    return nlist + nprobe * n / nlist


_IVF_MISTAKES = [
    (lambda n, nl, p: p * n / nl, "you counted only the vectors in the probed lists.",
     "to know which lists are closest, the query is first compared with every centroid: add those."),
    (lambda n, nl, p: nl + n / nl, "your count does not grow with nprobe.",
     "each of the nprobe lists holds about n / nlist vectors, and all of them are scanned."),
    (lambda n, nl, p: p + p * n / nl, "you counted only the nprobe centroids that were chosen.",
     "to find the nprobe closest centroids, the query is compared with all nlist of them."),
    (lambda n, nl, p: nl * p + n / nl, "nprobe multiplies the wrong term.",
     "the centroids are compared once per query; it is the list scan that happens nprobe times."),
    (lambda n, nl, p: float(n), "that is the cost of exact search (every vector), not of IVF.",
     "IVF compares the query with the nlist centroids, then only with the vectors of nprobe lists."),
    (lambda n, nl, p: nl + p * nl, "you multiplied nprobe by nlist instead of by the size of a list.",
     "a list holds about n / nlist vectors."),
    (lambda n, nl, p: nl + p + p * n / nl, "you counted the nprobe chosen centroids twice.",
     "the nlist centroid comparisons already include the nprobe chosen ones; add only the listed vectors."),
    # nlist - nprobe + nprobe * n / nlist and nlist + nprobe * (n / nlist - 1) are the same number.
    (lambda n, nl, p: nl - p + p * n / nl, "your count is nprobe short: you left out the nprobe chosen "
     "centroids, or one vector of each probed list.",
     "all nlist centroids are compared to find the closest nprobe, and all n / nlist vectors of a probed "
     "list are compared (the centroid is not one of them)."),
]


def nb05_ivf_cost(ivf_cost) -> CheckResult:
    """Write ``ivf_cost(n, nlist, nprobe)``: vectors one IVF query is compared with, on average."""
    answers = []
    for n, nlist, nprobe in _IVF_CASES:
        got, problem = call_learner(ivf_cost, n, nlist, nprobe)
        if problem:
            return report(False, "", problem, "ivf_cost(n, nlist, nprobe) gets three ints and returns one number.")
        if isinstance(got, (str, bytes)):
            return report(False, "", f"ivf_cost{(n, nlist, nprobe)} returned the text {got!r}, not a number.",
                          "return the number itself (an int or a float), not a string of it.")
        try:
            got = float(np.asarray(got, dtype=float))
        except (TypeError, ValueError):
            return report(False, "", f"ivf_cost{(n, nlist, nprobe)} returned {got!r}, expected one number.")
        if not np.isfinite(got):
            return report(False, "", f"ivf_cost{(n, nlist, nprobe)} returned {got}, expected a finite number.")
        answers.append(got)
    wants = [_ivf_want(*case) for case in _IVF_CASES]

    def off_by(formula) -> float:
        """The largest miss of the answers against a formula, where n / nlist may be rounded down or up.

        Negative when every answer matches the formula with n replaced by nlist * floor(n / nlist),
        n itself or nlist * ceil(n / nlist) (a list's size as a whole number).
        """
        def miss(a, n, nl, p):
            sizes = (n // nl, n / nl, -(-n // nl))
            return min(abs(a - formula(s * nl, nl, p)) for s in sizes) - 1e-6 * max(1.0, abs(formula(n, nl, p)))
        return max(miss(a, *case) for a, case in zip(answers, _IVF_CASES))

    # A list holds n / nlist vectors on average; rounding that down to a whole number is fine, and so is
    # a whole-number total (int, round, //) within less than 1 of the exact one. The nprobe = 1 case has a
    # whole-number total, so answers off by nprobe (at least 1) are still refused.
    def matches(formula) -> bool:
        return off_by(formula) < 0 or all(float(a).is_integer() and abs(a - formula(*case)) < 1 - 1e-9
                                          for a, case in zip(answers, _IVF_CASES))

    if matches(_ivf_want):
        return report(True, "The centroids (nlist, every query) plus the probed lists (nprobe x n / nlist). "
                            "The first term grows with nlist, the second shrinks with it: the cell below finds "
                            "where their sum is smallest.")
    for formula, problem, hint in _IVF_MISTAKES:
        if matches(formula):
            return report(False, "", problem, hint)
    worst = max(range(len(wants)), key=lambda i: abs(answers[i] - wants[i]) / wants[i])
    n, nlist, nprobe = _IVF_CASES[worst]
    return report(False, "", f"ivf_cost(n={n:,}, nlist={nlist}, nprobe={nprobe}) gave {answers[worst]:,.0f}, "
                             "which is not the number of vectors that query is compared with.",
                  "two stages: compare with every centroid, then with every vector in the nprobe closest lists.")


# --------------------------------------------------------------------------- exercise 3: product quantisation by hand

_PQ_HELPERS = frozenset({"compute_codes", "ProductQuantizer", "IndexPQ", "build_index", "compute_distance_tables",
                         "compute_distance_table", "sa_encode",
                         # vector quantisation itself, from scipy and sklearn (outside review 6)
                         "vq", "pairwise_distances_argmin", "pairwise_distances_argmin_min", "cdist", "KMeans",
                         "kmeans2", "NearestNeighbors", "kneighbors"})


def _pq_data(seed: int = 7):
    """Vectors (40, 12) and codebooks (3 sub-vectors, 16 centroids, 4 dims) whose centroids differ in length."""
    rng = np.random.default_rng(seed)
    m, ksub, dsub = 3, 16, 4
    codebooks = rng.standard_normal((m, ksub, dsub)).astype(np.float32)
    codebooks *= rng.uniform(0.3, 3.0, (m, ksub, 1)).astype(np.float32)  # long centroids win dot products
    x = rng.standard_normal((40, m * dsub)).astype(np.float32)
    queries = rng.standard_normal((5, m * dsub)).astype(np.float32)
    return x, queries, codebooks


def _pq_encode_ref(x, codebooks):
    m, _, dsub = codebooks.shape
    sub = x.reshape(len(x), m, dsub)                                         # (N, m, dsub): consecutive slices
    d2 = ((sub[:, :, None, :] - codebooks[None]) ** 2).sum(-1)               # (N, m, ksub)
    return d2.argmin(-1)                                                     # (N, m)


def _pq_scores_ref(queries, codes, codebooks):
    m, _, dsub = codebooks.shape
    tables = np.einsum("qjd,jcd->qjc", queries.reshape(len(queries), m, dsub), codebooks)  # (Q, m, ksub)
    return sum(tables[:, j, codes[:, j]] for j in range(m))                 # (Q, N)


def _as_codes(codes, x: np.ndarray, m: int):
    """The codes as an (N, m) int array and None, or None and the report of what is wrong with them."""
    if not is_empty(codes) and np.shape(codes) == x.shape:
        return None, report(False, "", f"pq_encode returned vectors of shape {x.shape}, not codes.",
                            "a code is the id of the nearest centroid of each sub-vector: (N, m) small ints.")
    problem = shape_problem(codes, (len(x), m))
    if problem:
        return None, report(False, "", f"pq_encode: {problem}", "one row per vector, one code per sub-vector: (N, m).")
    arr = np.asarray(codes)
    if not np.issubdtype(arr.dtype, np.integer):
        if arr.dtype.kind == "f" and np.array_equal(arr, np.round(arr)):
            return None, report(False, "", f"pq_encode returned {arr.dtype} codes, not integers: a code is an id "
                                           "that indexes a codebook (and is stored in one byte).",
                                "keep the integer ids argmin gives you (e.g. in an int or uint8 array).")
        return None, report(False, "", "pq_encode returned non-integer values: those look like distances, not "
                                       "centroid ids.", "argmin gives the position (id) of the nearest centroid.")
    return arr.astype(np.int64), None


def nb05_pq_encode(pq_encode) -> CheckResult:
    """Write ``pq_encode(x, codebooks) -> (N, m)``: each sub-vector's nearest centroid id."""
    helper = None if is_empty(pq_encode) else _library_call(pq_encode, _PQ_HELPERS)
    if helper:
        return report(False, "", f"your function hands the encoding to a library ({helper}).",
                      "numpy only: cut x into m sub-vectors, and find each one's nearest centroid (squared distances, argmin).")
    x, _, codebooks = _pq_data()
    m, _, dsub = codebooks.shape
    x_in, cb_in = x.copy(), codebooks.copy()
    codes, problem = call_learner(pq_encode, x_in, cb_in)
    if problem:
        return report(False, "", problem, "pq_encode(x, codebooks) gets (N, D) and (m, ksub, D / m) arrays.")
    if not (np.array_equal(x_in, x) and np.array_equal(cb_in, codebooks)):
        return report(False, "", "your function changed its input arrays in place.",
                      "work on new arrays (reshape gives a view: do not write into it).")
    codes, bad = _as_codes(codes, x, m)
    if bad is not None:
        return bad
    want = _pq_encode_ref(x, codebooks)
    if np.array_equal(codes, want):
        return report(True, f"Each of the {m} sub-vectors replaced by the id of its nearest centroid: "
                            f"{m} small numbers instead of {x.shape[1]} floats.")
    sub = x.reshape(len(x), m, dsub)
    by_dot = np.einsum("nmd,mcd->nmc", sub, codebooks).argmax(-1)
    interleaved = _pq_encode_ref(x.reshape(len(x), dsub, m).transpose(0, 2, 1).reshape(len(x), -1), codebooks)
    first_book = _pq_encode_ref(x, np.broadcast_to(codebooks[:1], codebooks.shape))
    if np.array_equal(codes, by_dot):
        return report(False, "", "you picked the centroid with the largest dot product, not the nearest one.",
                      "PQ replaces a sub-vector by its *nearest* centroid (smallest squared distance); with "
                      "centroids of different lengths, the longest one wins dot products.")
    if np.array_equal(codes, interleaved):
        return report(False, "", "your sub-vectors take every m-th dimension instead of consecutive slices.",
                      "sub-vector j is x[:, j * dsub:(j + 1) * dsub]: x.reshape(N, m, dsub), not (N, dsub, m).")
    if np.array_equal(codes, first_book):
        return report(False, "", "every sub-vector was encoded with the first codebook.",
                      "sub-vector j has its own codebook, codebooks[j].")
    if np.array_equal(codes, ((sub[:, :, None, :] - codebooks[None]) ** 2).sum(-1).argmax(-1)):
        return report(False, "", "you picked the farthest centroid.", "argmin of the distances, not argmax.")
    agree = float((codes == want).mean())
    return report(False, "", f"{agree:.0%} of your codes are the nearest centroid's id.",
                  "for each sub-vector j: squared distances to the ksub rows of codebooks[j], then argmin.")


# Names of a function that rebuilds the stored vectors from their codes instead of using lookup tables.
_DECODE_NAMES = frozenset({"concatenate", "hstack", "column_stack", "block", "decode", "sa_decode", "_pq_decode"})


def _pq_probe_data(seed: int = 11, m: int = 8, dsub: int = 32, n: int = 20_000, ksub: int = 64):
    """Many codes of long vectors (by default 20,000 x 256 dims, m = 8): decompressing them takes 20 MB, tables do not.

    With m = 1 and a long sub-vector (5,000 codes, dsub = 1024) rebuilding even one position's sub-vectors
    takes 20 MB, so decompressing position by position shows too (outside review 4)."""
    rng = np.random.default_rng(seed)
    codebooks = rng.standard_normal((m, ksub, dsub)).astype(np.float32)
    codes = rng.integers(0, ksub, (n, m))
    queries = rng.standard_normal((2, m * dsub)).astype(np.float32)
    return queries, codes, codebooks


def _codebook_reads(fn) -> tuple[int, int, int, str | None]:
    """How many codebook entries ``fn`` read on a probe of 2,000 codes of 256-d vectors (m = 8,
    64 centroids of 32 dims), how many operations touched the codebooks, N x D, and the call's problem."""
    queries, codes, codebooks = _pq_probe_data(seed=13, n=2_000, ksub=64)
    tally = [0, 0]
    books = codebooks.view(_CountingBooks)
    books._tally = tally
    _, problem = call_learner(fn, queries, codes, books)
    return tally[0], tally[1], codes.shape[0] * queries.shape[1], problem


def _peak_bytes(fn, *args):
    """The peak memory numpy and Python allocated while ``fn(*args)`` ran, and the call's problem (or None)."""
    import tracemalloc

    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        _, problem = call_learner(fn, *args)
        return tracemalloc.get_traced_memory()[1] - before, problem
    finally:
        if not was_tracing:
            tracemalloc.stop()


def nb05_pq_scores(pq_scores) -> CheckResult:
    """Write ``pq_scores(queries, codes, codebooks) -> (Q, N)``: inner products from lookup tables."""
    helper = None if is_empty(pq_scores) else _library_call(pq_scores, _PQ_HELPERS)
    if helper:
        return report(False, "", f"your function hands the scoring to a library ({helper}).",
                      "numpy only: one small table per sub-vector, then add up table entries.")
    x, queries, codebooks = _pq_data()
    m, _, dsub = codebooks.shape
    codes = _pq_encode_ref(x, codebooks)
    args = (queries.copy(), codes.copy(), codebooks.copy())
    got, problem = call_learner(pq_scores, *args)
    if problem:
        return report(False, "", problem, "pq_scores(queries, codes, codebooks) returns a (Q, N) array.")
    if not (np.array_equal(args[0], queries) and np.array_equal(args[1], codes)
            and np.array_equal(args[2], codebooks)):
        return report(False, "", "your function changed its input arrays in place.", "work on new arrays.")
    want = _pq_scores_ref(queries, codes, codebooks)
    if not is_empty(got) and np.asarray(got).shape == want.T.shape and want.shape[0] != want.shape[1]:
        return report(False, "", f"your scores have shape {np.asarray(got).shape}: one row per stored vector.",
                      "return (Q, N): one row per query, as exact search does.")
    problem = shape_problem(got, want.shape)
    if problem:
        return report(False, "", f"the scores: {problem}", "one row per query, one column per stored vector: (Q, N).")
    got = np.asarray(got, dtype=np.float64)
    if np.allclose(got, want, rtol=1e-4, atol=1e-4):
        tables_hint = ("build the (Q, m, ksub) tables (query sub-vectors . centroids) and, for each stored "
                       "vector, add up the m entries its codes pick (e.g. tables[:, j, codes[:, j]]).")
        rebuilt = sorted(_names_used(pq_scores) & _DECODE_NAMES)
        if rebuilt:
            return report(False, "", f"right numbers, but you decompressed the codes ({', '.join(rebuilt)}): "
                                     "every stored vector rebuilt, then exact inner products. That is the work "
                                     "the lookup tables exist to avoid.", tables_hint)
        # Behaviour, not names: on many long vectors, decompressing allocates an (N, D) array (or bigger).
        # The second probe has one position (m = 1) with 1024-d sub-vectors, so rebuilding position by
        # position is as big as rebuilding everything.
        peaks = []
        for probe in (_pq_probe_data(), _pq_probe_data(m=1, dsub=1024, n=5_000)):
            big_q, big_codes, big_books = probe
            n_big, d_big, m_big = len(big_codes), big_q.shape[1], big_books.shape[0]
            decoded_bytes = n_big * d_big * 4
            peak, problem = _peak_bytes(pq_scores, big_q, big_codes, big_books)
            if problem:
                return report(False, "", f"on {n_big:,} codes of {d_big}-d vectors (m = {m_big}): {problem}",
                              "pq_scores(queries, codes, codebooks) should work for any m, number of centroids and N.")
            if peak >= decoded_bytes / 2:
                per_position = (" With m = 1 one position's sub-vectors are the whole vectors, so rebuilding "
                                "codebooks[j][codes[:, j]] position by position (then a dot product) shows here."
                                if m_big == 1 else "")
                return report(False, "", f"right numbers, but on {n_big:,} codes of {d_big}-d vectors (m = {m_big}) "
                                         f"your function held {peak / 1e6:.0f} MB at once, on the scale of the "
                                         f"decompressed vectors ({n_big:,} x {d_big} floats = "
                                         f"{decoded_bytes / 1e6:.0f} MB): it rebuilt the stored vectors (or "
                                         "something as big) instead of looking scores up." + per_position +
                                         " That is the work and memory the lookup tables exist to avoid.",
                              tables_hint)
            peaks.append((peak, decoded_bytes))
        # Memory cannot see a rebuild in chunks or in a Python loop over the vectors (outside review 5):
        # the codebooks are handed over as an array that counts the entries copied out of it.
        reads, touched, n_by_d, problem = _codebook_reads(pq_scores)
        if problem:
            return report(False, "", f"on 2,000 codes of 256-d vectors (m = 8): {problem}",
                          "pq_scores(queries, codes, codebooks) should work for any m, number of centroids and N.")
        # Table answers read Q x m x ksub x dsub = 2 x 8 x 64 x 32 = 32,768 entries here (at most twice
        # that, a view then a product); any rebuild reads N x D = 512,000. The line sits between.
        if reads > n_by_d / 4:
            return report(False, "", f"right numbers, but on 2,000 codes of 256-d vectors (m = 8) your function "
                                     f"read {reads:,} entries of the codebooks, as many as rebuilding every "
                                     f"stored vector takes (2,000 x 256 = {n_by_d:,}), whether all at once, in "
                                     "chunks or one vector at a time in a loop. Lookup tables read each centroid "
                                     "once per query, then only add up table entries.", tables_hint)
        worst = max(p for p, _ in peaks)
        measured = (f"On two large probes (m = 8 and m = 1, 20 MB of decompressed vectors each) your function "
                    f"peaked at {worst / 1e6:.1f} MB at most")
        if not touched:
            # np.asarray / np.array turn the codebooks into a plain array without reading them through the
            # counter: a rebuild after it went unseen and passed (outside review 6). Refuse to guess.
            return report(False, "", "right numbers, but the check saw no reads of the codebooks (a copy made "
                                     "with np.asarray or np.array hides them), so it could not tell how your "
                                     "function reads them: a rebuild of every stored vector and a lookup table "
                                     "look the same from outside.",
                          "use codebooks as it is given (it is already a numpy array), then " + tables_hint)
        return report(True, f"The right scores, from lookup tables: on 2,000 codes of 256-d vectors your function "
                            f"read {reads:,} entries of the codebooks (a rebuild reads {n_by_d:,}), so each "
                            f"stored vector cost look-ups in a table of query-centroid products, not a rebuilt "
                            f"vector. {measured}.")
    decoded = np.concatenate([codebooks[j][codes[:, j]] for j in range(m)], axis=1)   # (N, D)
    l2 = ((queries[:, None, :] - decoded[None]) ** 2).sum(-1)
    if np.allclose(got, l2, rtol=1e-4, atol=1e-4) or np.allclose(got, -l2, rtol=1e-4, atol=1e-4):
        return report(False, "", "you computed squared distances; this index scores by inner product.",
                      "table[j, c] = query's sub-vector j . codebooks[j, c]; higher is better.")
    unit = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    if np.allclose(got, _pq_scores_ref(unit, codes, codebooks), rtol=1e-4, atol=1e-4):
        return report(False, "", "you normalised the queries: these are cosines with the decoded vectors, not the "
                                 "inner products the index ranks by.",
                      "use the queries as given; the stored vectors were not normalised either.")
    swapped = np.einsum("qjd,jcd->qjc", queries.reshape(len(queries), dsub, m).transpose(0, 2, 1), codebooks)
    if np.allclose(got, sum(swapped[:, j, codes[:, j]] for j in range(m)), rtol=1e-4, atol=1e-4):
        return report(False, "", "your query sub-vectors take every m-th dimension instead of consecutive slices.",
                      "cut the query exactly like the stored vectors: queries.reshape(Q, m, dsub).")
    tables = np.einsum("qjd,jcd->qjc", queries.reshape(len(queries), m, dsub), codebooks)
    for j in range(m):
        if np.allclose(got, tables[:, j, codes[:, j]], rtol=1e-4, atol=1e-4):
            return report(False, "", f"your scores use only sub-vector {j}.",
                          "the inner product is the sum over all m sub-vectors of their table entries.")
    close = float(np.mean(np.isclose(got, want, rtol=1e-4, atol=1e-4)))
    return report(False, "", f"{close:.0%} of your scores equal the inner product of the query with the "
                             "vector the codes stand for.",
                  "tables (Q, m, ksub) = query sub-vectors . centroids; score[q, n] = sum over j of "
                  "tables[q, j, codes[n, j]].")


# --------------------------------------------------------------------------- exercise 4: quote a filter value

# Values a filter meets in this course: '&' in a group, quotes and backslashes, the typographic
# apostrophe of 21 emoji names (44 names hold some non-ASCII character), an emoji written with
# zero-width joiners, a tab, a carriage return.
_QUOTE_CASES = ["Food & Drink", 'x" or id > 0 or "', "back\\slash", 'both \\" and "', "it's", "line\nbreak",
                "twelve o’clock", "piñata 🪅", "family: 👨\u200d👩\u200d👧", "tab\tand\rcarriage return",
                "back\x08space and \x1bescape"]


def _parse_literal(text: str):
    """The value of ``text`` if it is exactly one Milvus string literal, else None (and why)."""
    from milvus_lite.search.filter.exceptions import FilterParseError
    from milvus_lite.search.filter.tokens import TokenKind, tokenize

    try:
        tokens = [t for t in tokenize(text) if t.kind != TokenKind.EOF]
    except FilterParseError as exc:
        return None, f"Milvus cannot parse it ({str(exc).splitlines()[0]})"
    if len(tokens) != 1 or tokens[0].kind != TokenKind.STRING:
        kinds = ", ".join(t.kind.value for t in tokens[:6])
        return None, f"Milvus reads it as {len(tokens)} tokens ({kinds}), not one string"
    return tokens[0].value, None


def _quote_hint(value: str, text: str, parsed: str | None = None) -> str:
    """The hint for a literal that does not read back as ``value``: the mistake it shows."""
    bad = re.search(r"(?<!\\)(?:\\\\)*(\\[uxUbf])", text)          # an escape not preceded by an escaped \\
    if bad:
        return (f"Milvus Lite's filter parser rejects the escape {bad.group(1)} (json.dumps and repr write \\u, \\x, "
                "\\b or \\f escapes): keep every other character as itself, and escape only \\, \", newline "
                "and carriage return.")
    if parsed is not None and len(parsed) < len(value) and all(parsed.count(ch) <= value.count(ch) for ch in parsed):
        return ("your literal reads back shorter than the value: it removed characters (quotes, backslashes?) "
                "instead of escaping them, so the filter would compare with another value.")
    if "\r" in text:
        return "a raw carriage return ends a Milvus literal: write it as \\r (like the newline as \\n)."
    if "\n" in text:
        return "a raw newline ends a Milvus literal: write it as \\n."
    if not text.startswith('"'):
        return "put the value between double quotes."
    if "\\" in value or '"' in value:
        return ("escape the backslash first (\\ -> \\\\), then the double quote (\" -> \\\"): "
                "the other order doubles the backslash you put in front of each quote.")
    return "the value between double quotes, with \\, \", newline and carriage return escaped."


def nb05_quote(quote) -> CheckResult:
    """Write ``quote(value) -> str``: a Milvus string literal that means exactly ``value``."""
    helper = None if is_empty(quote) else _library_call(quote, frozenset({"filter_expression"}), numpy_only=False)
    if helper:
        return report(False, "", f"your function hands the quoting to a library ({helper}).",
                      "write it yourself with str.replace: that is the point of the exercise.")
    for value in _QUOTE_CASES:
        text, problem = call_learner(quote, value)
        if problem:
            return report(False, "", problem, "quote(value) gets one str and returns the quoted, escaped literal.")
        if not isinstance(text, str):
            return report(False, "", f"quote({value!r}) returned a {type(text).__name__}, expected a str.")
        parsed, why = _parse_literal(text)
        if parsed is None:
            return report(False, "", f"quote({value!r}) gave {text!r}: {why}.", _quote_hint(value, text))
        if parsed != value:
            return report(False, "", f"quote({value!r}) gave {text!r}, which Milvus reads as {parsed!r}.",
                          _quote_hint(value, text, parsed))
        if not text.startswith('"'):
            return report(False, "", f"quote({value!r}) gave {text!r}: single quotes.",
                          "the exercise asks for a double-quoted literal (what mm.search.filter_expression writes).")
    return report(True, "Every value, including 'x\" or id > 0 or \"', 'twelve o’clock' and an emoji with "
                        "zero-width joiners, reads back as exactly itself: the filter cannot be changed by the "
                        "data. mm.search.filter_expression does this for whole dicts.")
