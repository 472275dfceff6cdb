"""The RAG pipeline of notebook 06, stage by stage: is one ``answer()`` under 5 s, and does batching pay?

Measured with the models loaded (as in the notebook after section 4) and the embedding cache
off (so every query is really encoded):
- one ``mm.rag.answer()`` end to end (retrieve, prompt, generate 20 tokens, filter), median of
  several questions, with the time of each stage;
- generation of 8 grounded prompts one after the other vs one padded batch of 8
  (``Generator.generate_many(batch_size=8)``): the peer is the plain loop;
- reranking 20 candidates with the notebook's cross-encoder (if it is in the cache).

    .venv/bin/python benchmarks/bench_rag.py [--quick]

Writes benchmarks/results/rag.md. The load average at the start is recorded: on a busy machine
every number grows, the batch / loop ratio much less.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MMLAB_JOINT_MODEL", "conse")

import mmlab as mm

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 questions instead of 8")
    args = parser.parse_args()
    n_questions = 3 if args.quick else 8
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")

    emoji = mm.data.load_emoji(groups=list(mm.rag.GROUPS))
    texts = mm.rag.index_texts(emoji)
    minilm, joint = mm.models.load("minilm"), mm.models.load_clip()
    retriever = mm.rag.build_retriever(emoji.ids, texts, minilm.encode_text(texts, progress=False),
                                       joint.encode_image(emoji.images, progress=False), text_encoder=minilm,
                                       joint_encoder=joint, uri=f"{tempfile.mkdtemp()}/rag.db")
    generator = mm.rag.load_generator()
    questions = [q for q, _ in mm.data.load_rag_questions()][:n_questions]
    generator.generate("warm up", max_new_tokens=2, progress=False)

    totals, stages = [], {"retrieve": [], "generate": []}
    with mm.cache.disabled():
        for q in questions:
            start = time.perf_counter()
            result = mm.rag.answer(q, retriever=retriever, generator=generator, k=5, max_new_tokens=20)
            totals.append(time.perf_counter() - start)
            for stage in stages:
                stages[stage].append(result.seconds[stage])

    prompts = [mm.rag.build_prompt(q, [(emoji.ids[j], texts[j]) for j in mm.rag.retrieve(retriever, q, k=5).ids])
               for q in questions]
    prompts = (prompts * 8)[:8]
    start = time.perf_counter()
    loop = [generator.generate(p, max_new_tokens=20, progress=False) for p in prompts]
    loop_s = time.perf_counter() - start
    start = time.perf_counter()
    batch = generator.generate_many(prompts, max_new_tokens=20, batch_size=8)
    batch_s = time.perf_counter() - start
    same = sum(a == b for a, b in zip(loop, batch))

    rerank_line = "not in the cache (make install trains it): skipped"
    try:
        reranker = mm.rag.keyword_reranker(progress=False)
        if reranker.mmlab_info["from_cache"]:
            cand = mm.rag.retrieve(retriever, questions[0], k=20).ids
            start = time.perf_counter()
            for q in questions:
                mm.rag.rerank(reranker, q, cand, texts, k=20)
            rerank_line = f"{1000 * (time.perf_counter() - start) / len(questions):.0f} ms per query"
    except Exception as exc:  # a benchmark reports, it does not fail
        rerank_line = f"{type(exc).__name__}: {exc}"

    median = statistics.median(totals)
    lines = [
        "# RAG pipeline (notebook 06)",
        "",
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}; "
        f"load average at start {load:.1f}; embedding cache off; generator {generator.name}",
        "",
        "| measure | value |",
        "|---|---|",
        f"| one `answer()` (k=5, 20 new tokens), median of {len(totals)} | {median:.2f} s (max {max(totals):.2f} s) |",
        f"| of which retrieve (median) | {1000 * statistics.median(stages['retrieve']):.0f} ms |",
        f"| of which generate (median) | {statistics.median(stages['generate']):.2f} s |",
        f"| 8 prompts, loop of generate() | {loop_s:.1f} s |",
        f"| 8 prompts, one padded batch (generate_many) | {batch_s:.1f} s (batch / loop = {batch_s / loop_s:.2f}; "
        f"{same} of 8 answers identical) |",
        f"| rerank 20 candidates (notebook 06's cross-encoder) | {rerank_line} |",
        "",
        f"Target: one answer() < 5 s: {'met' if median < 5 else 'NOT met'} (median {median:.2f} s).",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / ("rag_quick.md" if args.quick else "rag.md")).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
