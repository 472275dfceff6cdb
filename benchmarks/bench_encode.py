"""Encode throughput of each offline encoder, the cost of mmlab's pipeline, and the cache speedup.

For each offline model, three numbers (items per second):
- raw:      the model alone on ready inputs (tensors already preprocessed and tokenised;
            for mfcc the librosa feature function on arrays) - the peer we compare against;
- pipeline: ``mm.models`` end to end from PIL images / strings / waveforms, with the
            disk cache switched off (validation, preprocessing, batching, normalising);
- hit:      the same call again with every input already in the disk cache.
It reports pipeline overhead = raw / pipeline (1.0 = no overhead) and cache speedup =
hit / pipeline, plus the time to read ~1,900 cached emoji embeddings (a notebook re-run).

    .venv/bin/python benchmarks/bench_encode.py [--quick]

Writes benchmarks/results/encode.md and encode.json. Timings depend on how busy the
machine is; the ratios much less so.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch

import mmlab as mm
from mmlab import cache as mcache

RESULTS = ROOT / "benchmarks" / "results"


def timed(fn, repeats: int = 1) -> float:
    """Best wall time of ``repeats`` calls (seconds)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def with_cache(value: str):
    os.environ["MMLAB_CACHE"] = value


def bench_model(name, model, items, encode, raw, repeats):
    """pipeline (cache off), cache hit and raw throughput for one model on ``items``."""
    n = len(items)
    with_cache("off")
    encode(items)  # warm-up: lazy imports, first-call allocations
    t_pipe = timed(lambda: encode(items), repeats)
    with_cache(tempfile.mkdtemp(prefix="mmlab-bench-"))
    encode(items)  # fill the cache
    t_hit = timed(lambda: encode(items), max(repeats, 3))
    raw()
    t_raw = timed(raw, repeats)
    row = {"model": name, "items": n, "raw_per_s": n / t_raw, "pipeline_per_s": n / t_pipe,
           "hit_per_s": n / t_hit, "overhead": t_pipe / t_raw, "cache_speedup": t_pipe / t_hit}
    print(f"{name:14s} n={n:4d}  raw {row['raw_per_s']:8.1f}/s  pipeline {row['pipeline_per_s']:8.1f}/s  "
          f"hit {row['hit_per_s']:9.0f}/s  overhead x{row['overhead']:.2f}  cache x{row['cache_speedup']:.0f}",
          flush=True)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer items (a smoke run)")
    args = parser.parse_args()
    n_img, n_txt, n_aud, repeats = (16, 64, 16, 1) if args.quick else (64, 256, 64, 3)
    saved_cache = os.environ.get("MMLAB_CACHE")

    emoji = mm.data.load_emoji()
    speech = mm.data.load_spoken_names()
    images = emoji.images[:n_img]
    texts = emoji.names[:n_txt]
    waves, rate = speech.waveforms[:n_aud], speech.sample_rate
    rows = []

    minilm = mm.models.load("minilm")
    st = minilm.model
    bs = minilm.default_batch_size
    with warnings.catch_warnings():  # tokenize() is deprecated in sentence-transformers 6, still right here
        warnings.simplefilter("ignore")
        # ready tensors: tokenised once per batch (padded like the pipeline's), outside the timing
        batches = [st.tokenize(texts[s:s + bs]) for s in range(0, n_txt, bs)]

    def minilm_raw():
        with torch.inference_mode():
            for batch in batches:
                st(batch)

    rows.append(bench_model("minilm", minilm, texts,
                            lambda x: minilm.encode_text(x, progress=False), minilm_raw, repeats))

    effnet = mm.models.load("effnet-lite0")
    ready = torch.stack([effnet.preprocess(im) for im in images])  # (N, 3, 128, 128)

    def effnet_raw():
        with torch.inference_mode():
            for s in range(0, n_img, effnet.default_batch_size):
                effnet.model(ready[s:s + effnet.default_batch_size])

    rows.append(bench_model("effnet-lite0", effnet, images,
                            lambda x: effnet.encode_image(x, progress=False), effnet_raw, repeats))

    conse = mm.models.load("conse")

    def conse_raw():  # the classifier forward plus the ConSE mixing, on ready tensors
        with torch.inference_mode():
            for s in range(0, n_img, conse.default_batch_size):
                logits = effnet.model(ready[s:s + conse.default_batch_size])
                conse.embed_probabilities(logits.softmax(-1).numpy())

    rows.append(bench_model("conse (image)", conse, images,
                            lambda x: conse.encode_image(x, progress=False), conse_raw, repeats))

    mfcc = mm.models.load("mfcc")

    def mfcc_raw():
        for w in waves:
            mfcc._features(w, rate)

    rows.append(bench_model("mfcc", mfcc, waves,
                            lambda x: mfcc.encode_audio(x, rate, progress=False), mfcc_raw, repeats))

    # A notebook re-run: every emoji image already cached. Filling the cache for real would
    # mean encoding all ~1,900 emoji (minutes on a busy 2-core machine), so the entries are
    # written directly under the real keys; the timed read path is exactly encode_image's.
    with_cache(tempfile.mkdtemp(prefix="mmlab-bench-"))
    store = mcache.EmbeddingCache(f"{effnet.cache_key}/image", effnet.dim)  # the raw pooled features
    keys = [mcache.image_key(im) for im in emoji.images]
    rng = np.random.default_rng(0)
    store.put_many(keys, rng.normal(size=(len(keys), store.dim)).astype(np.float32))
    t_all = timed(lambda: effnet.encode_image(emoji.images, progress=False), 3)
    print(f"cache hit, all {len(keys)} emoji through effnet-lite0.encode_image: {t_all:.2f} s", flush=True)

    if saved_cache is None:
        os.environ.pop("MMLAB_CACHE", None)
    else:
        os.environ["MMLAB_CACHE"] = saved_cache

    RESULTS.mkdir(parents=True, exist_ok=True)
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "python": platform.python_version(),
            "torch": torch.__version__, "threads": torch.get_num_threads(), "cpus": os.cpu_count(),
            "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None, "quick": args.quick}
    (RESULTS / "encode.json").write_text(json.dumps(
        {"meta": meta, "rows": rows, "all_emoji_hit_seconds": t_all, "all_emoji": len(keys)}, indent=2))
    lines = [
        "# Encode throughput (items/s)",
        "",
        f"{meta['date']}, {meta['cpus']} CPUs, torch {meta['torch']} ({meta['threads']} threads), "
        f"load average at the end {tuple(round(x, 1) for x in meta['load_average'] or ())}.",
        "raw = model alone on ready tensors; pipeline = `mm.models` from PIL/str/waveforms, cache off; "
        "hit = every input already in the disk cache. overhead = pipeline time / raw time (1.0 = none).",
        "",
        "| model | items | raw /s | pipeline /s | cache hit /s | pipeline overhead | cache speedup |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['model']} | {r['items']} | {r['raw_per_s']:.1f} | {r['pipeline_per_s']:.1f} | "
                     f"{r['hit_per_s']:.0f} | x{r['overhead']:.2f} | x{r['cache_speedup']:.0f} |")
    lines += ["", f"Reading all {len(keys)} emoji embeddings from the cache (a notebook re-run): {t_all:.2f} s.", ""]
    (RESULTS / "encode.md").write_text("\n".join(lines))
    print(f"wrote {RESULTS / 'encode.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
