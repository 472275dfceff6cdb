"""Approximate nearest neighbours: recall@10 against queries/s, build time and bytes per vector.

FAISS HNSW (sweeping efSearch), IVF and IVF-PQ (sweeping nprobe), plus exhaustive PQ and
SQ8, on a corpus derived from real embeddings, with ``mm.search.exact_topk`` as the ground
truth. Writes benchmarks/results/bench_ann.md and bench_ann.png (bench_ann_quick.* with --quick).

The corpus: the ~1,870 emoji images and their names embedded by the offline joint model
(conse, 384-d), expanded to N vectors by random convex combinations of two of them plus
a little Gaussian noise, then L2-normalised. It keeps the real data's uneven, clustered
structure (which decides how well IVF and HNSW do) at any N. The same functions build
the corpora of bench_search.py.

Usage: python benchmarks/bench_ann.py [--quick] [--n N] [--queries Q]
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MMLAB_JOINT_MODEL", "conse")

import numpy as np

import mmlab as mm
from mmlab.search import build_index, exact_topk, recall_at_k

# --------------------------------------------------------------------------- shared helpers


def real_embeddings(verbose: bool = True) -> tuple[np.ndarray, str]:
    """The emoji image and name embeddings of the offline joint model, (2 * ~1,870, 384); or a stand-in.

    Returns:
        (M, 384) float32 L2-normalised base vectors, and a one-line description of where they came from.
    """
    try:
        emoji = mm.data.load_emoji()
        model = mm.models.load_clip(verbose=False)
        images = model.encode_image(emoji.images, progress=verbose)
        names = model.encode_text(emoji.names, progress=verbose)
        return np.vstack([images, names]).astype(np.float32), (
            f"{len(emoji)} emoji images + names embedded by {model.name} ({model.dim}-d)")
    except Exception as exc:
        rng = np.random.default_rng(0)
        centres = rng.standard_normal((60, 384)).astype(np.float32)
        base = centres[rng.integers(0, 60, 3740)] + 0.5 * rng.standard_normal((3740, 384)).astype(np.float32)
        base /= np.linalg.norm(base, axis=1, keepdims=True)
        return base, f"SYNTHETIC clustered stand-in (real embeddings unavailable: {type(exc).__name__}: {exc})"


def derived_corpus(base: np.ndarray, n: int, dim: int | None = None, *, seed: int = 0,
                   noise: float = 0.25, chunk: int = 100_000) -> np.ndarray:
    """N vectors from real ones: w * a + (1 - w) * b + noise, w ~ U(0.6, 1), L2-normalised.

    Args:
        base: (M, D0) real embeddings.
        n: how many vectors to make.
        dim: output dimension; if it differs from D0, the base is first mapped by a fixed
            random Gaussian matrix (D0, dim), which keeps its geometry up to a distortion.
        seed: the random seed (the corpus and the queries use different seeds).
        noise: total norm of the added Gaussian noise, relative to unit vectors.
    Returns:
        (n, dim) float32, L2-normalised rows.
    """
    rng = np.random.default_rng(seed)
    if dim is not None and dim != base.shape[1]:
        proj = np.random.default_rng(1234).standard_normal((base.shape[1], dim)).astype(np.float32)
        base = base @ proj
        base /= np.linalg.norm(base, axis=1, keepdims=True)
    d = base.shape[1]
    out = np.empty((n, d), np.float32)
    for start in range(0, n, chunk):  # in chunks: temporaries stay small even for 1M x 512
        m = min(chunk, n - start)
        a = base[rng.integers(0, len(base), m)]
        b = base[rng.integers(0, len(base), m)]
        w = rng.uniform(0.6, 1.0, (m, 1)).astype(np.float32)
        v = w * a + (1 - w) * b + (noise / np.sqrt(d)) * rng.standard_normal((m, d), dtype=np.float32)
        out[start:start + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def machine_info() -> str:
    """CPU, cores, load and which BLAS kernels numpy and FAISS actually run (threadpoolctl)."""
    import faiss
    from threadpoolctl import threadpool_info

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    blas = []
    for lib in threadpool_info():
        where = "faiss" if "faiss" in lib["filepath"] else ("numpy" if "numpy" in lib["filepath"] else Path(lib["filepath"]).name)
        if lib["user_api"] == "blas":
            blas.append(f"{where}: {lib['internal_api']} {lib['version']} kernel {lib.get('architecture')} x{lib['num_threads']} threads")
    env = {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OMP_NUM_THREADS", "OMP_WAIT_POLICY")}
    return "\n".join([
        f"- CPU: {cpu}, {os.cpu_count()} logical cores; load average (1/5/15 min) at start: {load}",
        f"- numpy {np.__version__}, faiss {faiss.__version__}, python {platform.python_version()}",
        *[f"- BLAS {line}" for line in blas],
        "- env: " + ", ".join(f"{k}={v}" for k, v in env.items()),
    ])


def best_time(fn, *, repeats: int = 3, budget: float = 2.0) -> float:
    """Shortest wall time of up to ``repeats`` calls (fewer if the budget in seconds runs out)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
        if sum(times) > budget:
            break
    return min(times)


# --------------------------------------------------------------------------- the ANN benchmark


def sweep(args) -> tuple[list[dict], str]:
    base, source = real_embeddings(verbose=not args.quiet)
    corpus = derived_corpus(base, args.n, seed=0)
    queries = derived_corpus(base, args.queries, seed=1)
    k = 10
    t_exact = best_time(lambda: exact_topk(queries, corpus, k, metric="ip"), repeats=2)
    _, truth = exact_topk(queries, corpus, k, metric="ip")
    rows = [{"index": "exact_topk", "param": "-", "recall": 1.0, "qps": len(queries) / t_exact,
                 "build": 0.0, "bpv": 4.0 * corpus.shape[1], "code": 4 * corpus.shape[1]}]
    nlist = round(np.sqrt(args.n) * 2)  # ~2 sqrt(N): k-means training stays affordable here
    plans = [
        # One build setting changed at a time: M (links per node), then efConstruction (build effort).
        ("hnsw", {"M": 16, "ef_construction": 40}, "ef_search", [8, 16, 32, 64, 128, 256, 512, 1024]),
        ("hnsw", {"M": 32, "ef_construction": 40}, "ef_search", [8, 16, 32, 64, 128, 256, 512, 1024]),
        ("hnsw", {"M": 16, "ef_construction": 200}, "ef_search", [8, 16, 32, 64, 128, 256, 512, 1024]),
        ("ivf", {"nlist": nlist}, "nprobe", [1, 2, 4, 8, 16, 32, 64]),
        ("ivfpq", {"nlist": nlist, "m": 48, "nbits": 8}, "nprobe", [1, 2, 4, 8, 16, 32, 64]),
        ("pq", {"m": 48, "nbits": 8}, None, [None]),
        ("sq8", {}, None, [None]),
    ]
    for kind, params, knob, values in plans:
        index = build_index(kind, corpus, metric="ip", seed=0, **params)
        print(f"{kind} {params}: built in {index.build_seconds:.1f} s, {index.bytes_per_vector:.0f} B/vector", flush=True)
        for value in values:
            if knob == "nprobe" and value > index.params["nlist"]:
                continue
            kw = {} if knob is None else {knob: value}
            t = best_time(lambda index=index, kw=kw: index.search(queries, k, **kw), repeats=2)
            found = index.search(queries, k, **kw)[1]
            label = kind if kind != "hnsw" else f"hnsw M={params['M']} efC={params['ef_construction']}"
            rows.append({"index": label, "param": "-" if knob is None else f"{knob}={value}",
                             "recall": recall_at_k(found, truth, k), "qps": len(queries) / t,
                             "build": index.build_seconds, "bpv": index.bytes_per_vector, "code": index.code_bytes})
    return rows, source


def write(rows: list[dict], source: str, args, info: str) -> None:
    RESULTS.mkdir(exist_ok=True)
    lines = [
        "# ANN benchmark: recall@10 vs queries/s",
        "",
        (f"Corpus: N = {args.n:,} vectors, d = 384, derived from {source} "
        "(convex combinations of two real vectors + noise, normalised); "
        f"{args.queries} queries from the same distribution; inner product. "
        "Ground truth: `mm.search.exact_topk`. Queries/s for one batch of all queries."),
        "",
        info,
        "",
        "| index | search parameter | recall@10 | queries/s | build (s) | bytes/vector (serialised) | code bytes/vector |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['index']} | {r['param']} | {r['recall']:.3f} | {r['qps']:,.0f} | {r['build']:.1f} | "
                     f"{r['bpv']:,.1f} | {r['code']} |")
    stem = "bench_ann_quick" if args.quick else "bench_ann"
    (RESULTS / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines[-len(rows) - 2:]))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"hnsw M=16 efC=40": "#56B4E9", "hnsw M=32 efC=40": "#0072B2", "hnsw M=16 efC=200": "#CC79A7",
               "ivf": "#E69F00", "ivfpq": "#009E73", "pq": "#999999", "sq8": "#D55E00", "exact_topk": "#000000"}
    markers = {"hnsw M=16 efC=40": "o", "hnsw M=32 efC=40": "o", "hnsw M=16 efC=200": "o", "ivf": "s",
               "ivfpq": "^", "pq": "D", "sq8": "v", "exact_topk": "*"}
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for kind, colour in colours.items():
        pts = [r for r in rows if r["index"] == kind]
        if pts:
            ax.plot([p["recall"] for p in pts], [p["qps"] for p in pts], marker=markers[kind],
                    color=colour, label=kind, linestyle="-" if len(pts) > 1 else "none", markersize=7)
    ax.set_yscale("log")
    ax.set_xlabel("recall@10 (fraction of the exact top 10 found)")
    ax.set_ylabel("queries per second (log scale)")
    ax.set_title(f"Speed vs recall, N = {args.n:,}, d = 384 (up and right is better)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(title="index")
    fig.tight_layout()
    fig.savefig(RESULTS / f"{stem}.png", dpi=120)
    print(f"wrote {RESULTS / stem}.md and {stem}.png")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20k vectors, 200 queries")
    parser.add_argument("--n", type=int, default=None, help="corpus size (default 100,000; quick 20,000)")
    parser.add_argument("--queries", type=int, default=None, help="number of queries (default 1,000; quick 200)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    args.n = args.n or (20_000 if args.quick else 100_000)
    args.queries = args.queries or (200 if args.quick else 1_000)
    info = machine_info()
    print(info, flush=True)
    rows, source = sweep(args)
    write(rows, source, args, info)
    return 0


if __name__ == "__main__":
    sys.exit(main())
