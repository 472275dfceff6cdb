"""The RAG pipeline as small stages: retrieve -> rerank -> build_prompt -> generate -> filter.

``Retriever`` holds the documents (ids and index texts) in a Milvus collection with three
views: BM25 over the text, dense text vectors (MiniLM) and dense image vectors (the joint
model, so a text query can hit a picture, and a photo can hit both). ``answer()`` runs every
stage and returns the text with the sources it was allowed to cite; each stage is also a
function of its own, so a notebook can measure it alone.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._validate import check_images, check_int, describe
from ..embeddings import l2_normalize
from .prompts import _check_question, build_prompt, filter_output, hyde_prompt, rewrite_prompt
from .reranker import score_pairs

__all__ = [
    "Answer",
    "Retriever",
    "answer",
    "build_retriever",
    "generate",
    "hyde_query",
    "rerank",
    "retrieve",
    "rewrite_query",
]

VIEWS = ("bm25", "text", "image", "hybrid")


@dataclass
class Retriever:
    """Documents in a ``mmlab.search.MilvusStore`` plus the encoders that embed queries.

    Attributes:
        store: the collection (fields "text_vec", "image_vec", BM25 over "text").
        ids: document id of each position ("2615").
        texts: index text of each position.
        text_encoder: embeds text queries for "text_vec" (MiniLM).
        joint_encoder: embeds text queries and photos for "image_vec" (CLIP or ConSE).
    """

    store: Any
    ids: list[str]
    texts: list[str]
    text_encoder: Any
    joint_encoder: Any

    def __len__(self) -> int:
        return len(self.ids)

    def positions(self, ids: Sequence[str]) -> list[int]:
        """Document ids -> positions; an unknown id is a ValueError naming it."""
        where = {d: i for i, d in enumerate(self.ids)}
        unknown = [d for d in ids if d not in where]
        if unknown:
            raise ValueError(f"ids: unknown document id(s) {unknown[:5]}; expected ids of this retriever "
                             f"(e.g. {self.ids[:3]})")
        return [where[d] for d in ids]

    def search(self, queries: Sequence[str], k: int = 10, view: str = "hybrid", *, candidates: int = 50,
               images=None) -> np.ndarray:
        """Search Q text queries in one view (and optionally Q photos alongside).

        Args:
            queries: Q query strings.
            k: results per query, 1..len(self).
            view: "bm25", "text" (MiniLM), "image" (joint model, text -> picture) or "hybrid"
                (all three fused by RRF inside Milvus).
            candidates: results each search passes to the fusion (hybrid only).
            images: Q photos (PIL) added to a hybrid search: each photo searches the image
                vectors and, through the joint model's text side, nothing else is needed.
        Returns:
            (Q, k) int64 document positions, best first, -1 padded.
        """
        if isinstance(queries, str) or not isinstance(queries, Sequence) or not queries:
            raise TypeError(f"queries: expected a non-empty list of strings, got {describe(queries)}")
        for i, q in enumerate(queries):
            if not isinstance(q, str) or not q.strip():
                raise ValueError(f"queries[{i}]: expected a non-empty string, got {q!r}")
        k = check_int(k, "k", low=1, high=len(self))
        if view not in VIEWS:
            raise ValueError(f"view: expected one of {list(VIEWS)}, got {view!r}")
        queries = list(queries)
        if view == "bm25":
            return self.store.search_text(queries, k=k)[1]
        if view == "text":
            return self.store.search(self.text_encoder.encode_text(queries, progress=False), k=k, field="text_vec")[1]
        if view == "image":
            return self.store.search(self.joint_encoder.encode_text(queries, progress=False), k=k,
                                     field="image_vec")[1]
        dense = {"text_vec": self.text_encoder.encode_text(queries, progress=False)}
        joint_q = self.joint_encoder.encode_text(queries, progress=False)
        if images is not None:
            images = check_images(images, "images")
            if len(images) != len(queries):
                raise ValueError(f"images: expected one photo per query ({len(queries)}), got {len(images)}")
            # the photo and the question both point into the image space: average them there
            photo = self.joint_encoder.encode_image(images, progress=False)
            joint_q = l2_normalize(joint_q + photo, name="question + photo")  # (Q, D)
        dense["image_vec"] = joint_q
        return self.store.hybrid_search(k=k, dense=dense, text=queries, candidates=max(k, candidates))[1]


def build_retriever(ids: Sequence[str], texts: Sequence[str], text_vectors, image_vectors, *,
                    text_encoder, joint_encoder, uri: str, collection: str = "rag") -> Retriever:
    """Put documents into a fresh Milvus collection (BM25 + two dense views, exact search).

    Args:
        ids: N document ids.
        texts: N index texts (BM25 reads these).
        text_vectors: (N, d_text) MiniLM vectors of the texts.
        image_vectors: (N, d_joint) joint-model vectors of the documents' pictures.
        text_encoder, joint_encoder: the encoders that made them (to embed queries).
        uri: a Milvus Lite file ("rag.db") or a server URI.
        collection: the collection name (overwritten).
    Returns:
        A ``Retriever``.
    """
    from ..search import MilvusStore

    ids, texts = list(ids), list(texts)
    if len(ids) != len(texts) or len(ids) == 0:
        raise ValueError(f"ids, texts: expected the same non-zero length, got {len(ids)} and {len(texts)}")
    tv, iv = np.asarray(text_vectors, np.float32), np.asarray(image_vectors, np.float32)
    store = MilvusStore(uri, collection, dim={"text_vec": tv.shape[1], "image_vec": iv.shape[1]},
                        fields=["doc_id", "text"], bm25_field="text", overwrite=True)
    store.insert(np.arange(len(ids)), {"text_vec": tv, "image_vec": iv}, {"doc_id": ids, "text": texts})
    return Retriever(store, ids, texts, text_encoder, joint_encoder)


# --------------------------------------------------------------------------- stages

def _check_generator(generator) -> None:
    if not callable(getattr(generator, "generate", None)):
        raise TypeError(f"generator: expected an object with generate(prompt, max_new_tokens=...) -> str "
                        f"(e.g. mmlab.rag.load_generator()), got {describe(generator)}")


def retrieve(retriever: Retriever, question: str, k: int = 10, *, image=None, candidates: int = 50) -> np.ndarray:
    """Hybrid retrieval for one question (and optionally one photo).

    Returns:
        (k,) int64 document positions, best first (-1 where fewer were found).
    """
    question = _check_question(question)
    images = None
    if image is not None:
        images = check_images([image], "image")
    return retriever.search([question], k=k, view="hybrid", candidates=candidates, images=images)[0]


def rerank(reranker, question: str, positions, texts: Sequence[str], k: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Rescore candidates with a cross-encoder and keep the best k.

    Args:
        reranker: a ``CrossEncoder`` (see ``mmlab.rag.reranker``).
        question: the query.
        positions: candidate document positions, best first (-1 entries are ignored).
        texts: document texts by position.
        k: how many to keep, >= 1.
    Returns:
        (positions (<=k,) int64, scores (<=k,) float32), best first.
    """
    question = _check_question(question)
    k = check_int(k, "k", low=1)
    cand = np.asarray(positions, dtype=np.int64).reshape(-1)
    cand = cand[cand >= 0]
    if cand.size and cand.max() >= len(texts):
        raise ValueError(f"positions: expected document positions in [0, {len(texts) - 1}], got {int(cand.max())}")
    scores = score_pairs(reranker, question, [texts[int(i)] for i in cand])
    order = np.argsort(-scores, kind="stable")[:k]
    return cand[order], scores[order]


def generate(generator, prompt: str, max_new_tokens: int = 48) -> str:
    """Call the generator (any object with ``generate(prompt, max_new_tokens=...)``)."""
    _check_generator(generator)
    return generator.generate(prompt, max_new_tokens=max_new_tokens)


def rewrite_query(generator, question: str, max_new_tokens: int = 12) -> str:
    """Ask the generator for a keyword query; falls back to the question if it returns nothing."""
    _check_generator(generator)
    text = generator.generate(rewrite_prompt(question), max_new_tokens=max_new_tokens)
    text = text.strip().splitlines()[0].strip(" .\"'") if text.strip() else ""
    return text or question


def hyde_query(generator, question: str, max_new_tokens: int = 16) -> str:
    """HyDE: the question followed by the generator's hypothetical answer, searched as one text."""
    _check_generator(generator)
    return f"{question} {generator.generate(hyde_prompt(question), max_new_tokens=max_new_tokens).strip()}"


@dataclass
class Answer:
    """The result of ``answer``.

    Attributes:
        question: the question asked.
        text: the filtered answer (citations of retrieved ids only, no links).
        sources: (id, text) of the documents given to the generator, best first.
        cited: ids cited in the answer (all among ``sources``).
        dropped: ids the model cited that were not retrieved (removed from ``text``).
        raw: the generator's unfiltered output.
        prompt: the prompt that was sent.
        seconds: time spent in each stage.
    """

    question: str
    text: str
    sources: list[tuple[str, str]]
    cited: list[str]
    dropped: list[str]
    raw: str
    prompt: str
    seconds: dict[str, float] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Answer({self.text!r}, cited={self.cited}, dropped={self.dropped})"


def answer(question: str, *, retriever: Retriever, generator, reranker=None, image=None, k: int = 5,
           candidates: int = 30, max_new_tokens: int = 48, delimit: bool = True,
           documents: Sequence[tuple[str, str]] | None = None) -> Answer:
    """Retrieve, (rerank,) prompt, generate and filter: one grounded answer.

    Args:
        question: the user's question.
        retriever: where the documents are (``build_retriever``).
        generator: any object with ``generate(prompt, max_new_tokens=...) -> str``.
        reranker: a cross-encoder; ``None`` keeps the hybrid order.
        image: an optional photo (PIL) searched together with the question.
        k: documents given to the generator, 1..len(retriever).
        candidates: documents retrieved before reranking (>= k).
        max_new_tokens: the length limit of the answer.
        delimit: mark the documents as data in the prompt (see ``mmlab.rag.prompts``).
        documents: extra (id, text) documents put first (to study what a planted one does);
            their ids must be the retriever's.
    Returns:
        An ``Answer``.
    """
    question = _check_question(question)
    _check_generator(generator)
    k = check_int(k, "k", low=1, high=len(retriever))
    candidates = min(check_int(candidates, "candidates", low=k), len(retriever))  # a small corpus caps it
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    found = retrieve(retriever, question, k=candidates if reranker is not None else k, image=image,
                     candidates=candidates)
    seconds["retrieve"] = time.perf_counter() - start
    if reranker is not None:
        start = time.perf_counter()
        found, _ = rerank(reranker, question, found, retriever.texts, k=k)
        seconds["rerank"] = time.perf_counter() - start
    sources = [(retriever.ids[i], retriever.texts[i]) for i in found if i >= 0][:k]
    if documents is not None:
        extra = list(documents)
        retriever.positions([d for d, _ in extra])  # unknown ids -> a clear error
        sources = (extra + [s for s in sources if s[0] not in {d for d, _ in extra}])[:k]
    count = getattr(generator, "count_tokens", None)
    window = getattr(generator, "context_window", None)
    prompt = build_prompt(question, sources, delimit=delimit,
                          max_tokens=None if count is None or window is None else int(window) - max_new_tokens,
                          count_tokens=count)
    start = time.perf_counter()
    raw = generator.generate(prompt, max_new_tokens=max_new_tokens)
    seconds["generate"] = time.perf_counter() - start
    allowed = [sid for sid, _ in sources]
    filtered = filter_output(raw, allowed)
    return Answer(question=question, text=filtered.text, sources=sources, cited=filtered.cited,
                  dropped=filtered.dropped, raw=raw, prompt=prompt, seconds=seconds)
