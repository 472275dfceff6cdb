"""The RAG pipeline as small stages: retrieve -> rerank -> build_prompt -> generate -> filter.

``Retriever`` holds the documents (ids and index texts) in a Milvus collection with three
views: BM25 over the text, dense text vectors (MiniLM) and dense image vectors (the joint
model, so a text query can hit a picture, and a photo can hit both). ``answer()`` runs every
stage and returns the text with the sources it was allowed to cite; each stage is also a
function of its own, so a notebook can measure it alone.
"""
from __future__ import annotations

import inspect
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._validate import check_images, check_int, describe
from ..embeddings import l2_normalize
from ..search.result import SearchResult
from .prompts import (
    Prompt,
    _check_layout,
    _check_question,
    build_prompt,
    filter_output,
    hyde_prompt,
    rewrite_prompt,
)
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

VIEWS = ("bm25", "text", "image")
#: The retrieval ``answer`` uses for a text question, measured in notebook 06 (offline models): dense
#: text alone beat every fusion on the conversational questions and lost to none on the keywords by
#: more than noise. A photo adds the image view (``retrieve``).
DEFAULT_VIEW = "text"


def _parse_view(view) -> tuple[str, ...]:
    """"bm25+text" -> ("bm25", "text"), in the order of VIEWS; each view at most once."""
    if not isinstance(view, str) or not view.strip():
        raise TypeError(f"view: expected a string such as 'text' or 'bm25+text', got {describe(view)}")
    parts = [p.strip() for p in view.split("+")]
    unknown = [p for p in parts if p not in VIEWS]
    if unknown or len(set(parts)) != len(parts):
        raise ValueError(f"view: expected one or more of {list(VIEWS)} joined by '+', each once "
                         f"(e.g. 'bm25+text'), got {view!r}")
    return tuple(v for v in VIEWS if v in parts)


def _encode_text(encoder, texts: list[str]) -> np.ndarray:
    """``encoder.encode_text(texts)``, as the encoder Protocol defines it; mmlab's own encoders
    also take ``progress=``, which turns their bar off for these small query batches."""
    method = encoder.encode_text
    try:
        quiet = "progress" in inspect.signature(method).parameters
    except (TypeError, ValueError):  # a builtin or C extension: call it as the Protocol says
        quiet = False
    return np.asarray(method(texts, progress=False) if quiet else method(texts), dtype=np.float32)


def _encode_image(encoder, images: list) -> np.ndarray:
    method = encoder.encode_image
    try:
        quiet = "progress" in inspect.signature(method).parameters
    except (TypeError, ValueError):
        quiet = False
    return np.asarray(method(images, progress=False) if quiet else method(images), dtype=np.float32)


@dataclass
class Retriever:
    """Documents in a ``mmlab.search.MilvusStore`` plus the encoders that embed queries.

    Attributes:
        store: the collection (fields "text_vec", "image_vec", BM25 over "text").
        ids: document id of each position ("2615").
        texts: index text of each position.
        text_encoder: embeds text queries for "text_vec" (MiniLM); any object with ``encode_text``.
        joint_encoder: embeds text queries and photos for "image_vec" (CLIP or ConSE).
        labels: what the generator is shown for each document ("hot beverage"); ``None`` shows
            the index text (which may carry search-only context such as the group).
    """

    store: Any
    ids: list[str]
    texts: list[str]
    text_encoder: Any
    joint_encoder: Any
    labels: list[str] | None = None

    def label(self, position: int) -> str:
        """The text the generator sees for the document at ``position``."""
        return self.labels[position] if self.labels is not None else self.texts[position]

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

    def search(self, queries: Sequence[str], k: int = 10, view: str = DEFAULT_VIEW, *, candidates: int = 50,
               rrf_k: int = 60, images=None) -> SearchResult:
        """Search Q text queries in one view, or in several fused by RRF inside Milvus.

        Args:
            queries: Q query strings.
            k: results per query, 1..len(self).
            view: "bm25", "text" (MiniLM), "image" (joint model: text -> picture), or several
                joined by "+" ("bm25+text", "bm25+text+image"): one Milvus ``hybrid_search``
                that fuses them by reciprocal rank fusion.
            candidates: results each view passes to the fusion (fused views only; at least k).
            rrf_k: the RRF constant (fused views only): score = sum of 1 / (rrf_k + rank).
            images: Q photos (PIL), one per query, searched in the image view (which ``view`` must
                include) together with the query text: the two joint-model vectors are averaged.
        Returns:
            ``SearchResult(scores, ids)``: (Q, k) scores (BM25, cosine or fused RRF; higher is
            better) and int64 document positions, best first, NaN / -1 padded.
        """
        if isinstance(queries, str) or not isinstance(queries, Sequence) or not queries:
            raise TypeError(f"queries: expected a non-empty list of strings, got {describe(queries)}")
        for i, q in enumerate(queries):
            if not isinstance(q, str) or not q.strip():
                raise ValueError(f"queries[{i}]: expected a non-empty string, got {q!r}")
        k = check_int(k, "k", low=1, high=len(self))
        views = _parse_view(view)
        queries = list(queries)
        joint_q = None
        if "image" in views:
            joint_q = _encode_text(self.joint_encoder, queries)
        if images is not None:
            if "image" not in views:
                raise ValueError(f"images: photos are searched in the image view; expected a view that includes "
                                 f"'image' (e.g. {'+'.join((*views, 'image'))!r}), got {view!r}")
            images = check_images(images, "images")
            if len(images) != len(queries):
                raise ValueError(f"images: expected one photo per query ({len(queries)}), got {len(images)}")
            # the photo and the question both point into the image space: average them there
            joint_q = l2_normalize(joint_q + _encode_image(self.joint_encoder, images), name="question + photo")
        dense = {}
        if "text" in views:
            dense["text_vec"] = _encode_text(self.text_encoder, queries)
        if joint_q is not None:
            dense["image_vec"] = joint_q
        if len(views) == 1:
            if views == ("bm25",):
                return SearchResult(*self.store.search_text(queries, k=k))
            field, vectors = next(iter(dense.items()))
            return SearchResult(*self.store.search(vectors, k=k, field=field))
        candidates = check_int(candidates, "candidates", low=1)
        return SearchResult(*self.store.hybrid_search(k=k, dense=dense, text=queries if "bm25" in views else None,
                                                      rrf_k=rrf_k, candidates=max(k, candidates)))


def build_retriever(ids: Sequence[str], texts: Sequence[str], text_vectors, image_vectors, *,
                    text_encoder, joint_encoder, uri: str, collection: str = "rag",
                    labels: Sequence[str] | None = None) -> Retriever:
    """Put documents into a fresh Milvus collection (BM25 + two dense views, exact search).

    Args:
        ids: N document ids.
        texts: N index texts (BM25 reads these).
        text_vectors: (N, d_text) MiniLM vectors of the texts.
        image_vectors: (N, d_joint) joint-model vectors of the documents' pictures.
        text_encoder, joint_encoder: the encoders that made them (to embed queries).
        uri: a Milvus Lite file ("rag.db") or a server URI (``mmlab.search.milvus_uri``).
        collection: the collection name (overwritten).
        labels: N short texts shown to the generator instead of the index texts (e.g. the names).
    Returns:
        A ``Retriever``.
    """
    import os

    from ..search import MilvusStore

    # gRPC's C core logs keepalive notices ("too_many_pings") straight to stderr, which lands in
    # notebook cells run while the connection idles (e.g. during generation); keep it quiet.
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    ids, texts = list(ids), list(texts)
    if len(ids) != len(texts) or len(ids) == 0:
        raise ValueError(f"ids, texts: expected the same non-zero length, got {len(ids)} and {len(texts)}")
    if labels is not None:
        labels = list(labels)
        if len(labels) != len(ids) or not all(isinstance(t, str) for t in labels):
            raise ValueError(f"labels: expected {len(ids)} strings, one per document, got {describe(labels)}")
    tv, iv = np.asarray(text_vectors, np.float32), np.asarray(image_vectors, np.float32)
    store = MilvusStore(uri, collection, dim={"text_vec": tv.shape[1], "image_vec": iv.shape[1]},
                        fields=["doc_id", "text"], bm25_field="text", overwrite=True)
    store.insert(np.arange(len(ids)), {"text_vec": tv, "image_vec": iv}, {"doc_id": ids, "text": texts})
    return Retriever(store, ids, texts, text_encoder, joint_encoder, labels)


# --------------------------------------------------------------------------- stages

MODES = ("write", "choose")


def _check_mode(mode, generator) -> None:
    """``mode`` is one of MODES, and the generator can do it."""
    if not isinstance(mode, str) or mode not in MODES:
        raise ValueError(f"mode: expected one of {list(MODES)}, got {mode!r}")
    if mode == "choose" and not callable(getattr(generator, "score_continuations", None)):
        raise TypeError(f"generator: mode=\"choose\" needs an object with score_continuations(prompt, continuations) "
                        f"(called with per_token=True; e.g. mmlab.rag.load_generator()), got {describe(generator)}")
    if mode == "write":
        _check_generator(generator)


def _choose(generator, prompt: Prompt, sources: Sequence[tuple[str, str]]) -> tuple[str, list[float]]:
    """Multiple choice by likelihood: the generator rates each source as the answer "text [id]".

    Args:
        generator: any object with ``score_continuations(prompt, continuations, per_token=True)``.
        prompt: the prompt (as built for writing).
        sources: k (id, text) documents that were in the prompt, best first.
    Returns:
        The chosen option "text [id]" (the highest mean log-probability per token; a tie goes to
        the better-ranked document) and the k per-token scores in source order ("" and [] for no
        sources).
    """
    if not sources:
        return "", []
    options = [f"{text} [{sid}]" for sid, text in sources]
    scores = [float(x) for x in np.asarray(generator.score_continuations(prompt, options, per_token=True),
                                           dtype=np.float64).reshape(-1)]
    if len(scores) != len(options):
        raise ValueError(f"generator: score_continuations returned {len(scores)} scores for {len(options)} options")
    return options[int(np.argmax(scores))], scores   # argmax: the first of equal maxima


def _check_generator(generator) -> None:
    if not callable(getattr(generator, "generate", None)):
        raise TypeError(f"generator: expected an object with generate(prompt, max_new_tokens=...) -> str "
                        f"(e.g. mmlab.rag.load_generator()), got {describe(generator)}")


def retrieve(retriever: Retriever, question: str, k: int = 10, *, view: str = DEFAULT_VIEW, image=None,
             candidates: int = 50, rrf_k: int = 60) -> SearchResult:
    """Retrieval for one question (and optionally one photo, which adds the image view).

    Args:
        retriever: where the documents are.
        question: the question.
        k: results, 1..len(retriever).
        view: the view(s) searched for the text ("text" by default, see ``DEFAULT_VIEW``).
        image: a photo (PIL); the image view is added to ``view`` to search it.
        candidates, rrf_k: fusion settings (see ``Retriever.search``).
    Returns:
        ``SearchResult`` of (k,) scores and document positions, best first (-1 where fewer were found).
    """
    question = _check_question(question)
    images = None
    views = _parse_view(view)
    if image is not None:
        images = check_images([image], "image")
        views = tuple(v for v in VIEWS if v in views or v == "image")
    found = retriever.search([question], k=k, view="+".join(views), candidates=candidates, rrf_k=rrf_k,
                             images=images)
    return SearchResult(found.scores[0], found.ids[0])


def rerank(reranker, question: str, positions, texts: Sequence[str], k: int = 10) -> SearchResult:
    """Rescore one question's candidates with a cross-encoder and keep the best k.

    Args:
        reranker: a ``CrossEncoder`` (see ``mmlab.rag.reranker``).
        question: the query.
        positions: candidate document positions, best first (-1 entries are ignored).
        texts: document texts by position.
        k: how many to keep, >= 1.
    Returns:
        ``SearchResult(scores, ids)``: (<=k,) float32 reranker scores and int64 positions, best
        first (equal scores keep the first stage's order).
    """
    question = _check_question(question)
    k = check_int(k, "k", low=1)
    cand = np.asarray(positions, dtype=np.int64).reshape(-1)
    cand = cand[cand >= 0]
    if cand.size and cand.max() >= len(texts):
        raise ValueError(f"positions: expected document positions in [0, {len(texts) - 1}], got {int(cand.max())}")
    scores = score_pairs(reranker, question, [texts[int(i)] for i in cand])
    order = np.argsort(-scores, kind="stable")[:k]
    return SearchResult(scores[order], cand[order])


def generate(generator, prompt: Prompt, max_new_tokens: int = 48) -> str:
    """Call the generator (any object with ``generate(prompt, max_new_tokens=...)``); mmlab's own
    ``Generator`` also takes ``progress=``, which turns its token bar off inside the pipeline."""
    _check_generator(generator)
    method = generator.generate
    try:
        quiet = "progress" in inspect.signature(method).parameters
    except (TypeError, ValueError):
        quiet = False
    if quiet:
        return method(prompt, max_new_tokens=max_new_tokens, progress=False)
    return method(prompt, max_new_tokens=max_new_tokens)


def generate_many(generator, prompts: Sequence[Prompt], max_new_tokens: int = 48) -> list[str]:
    """Several prompts at once: one batched call when the generator has ``generate_many``
    (``mmlab.rag.Generator`` pads them into one batch), else one ``generate`` call each."""
    _check_generator(generator)
    if isinstance(prompts, str) or not isinstance(prompts, Sequence) or not prompts:
        raise TypeError(f"prompts: expected a non-empty list of strings, got {describe(prompts)}")
    batched = getattr(generator, "generate_many", None)
    if callable(batched):
        return list(batched(list(prompts), max_new_tokens=max_new_tokens))
    return [generator.generate(p, max_new_tokens=max_new_tokens) for p in prompts]


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0].strip(" .\"'") if text.strip() else ""


def rewrite_query(generator, question: str, max_new_tokens: int = 16) -> str:
    """Ask the generator for a keyword query; falls back to the question if it returns nothing."""
    return rewrite_queries(generator, [question], max_new_tokens=max_new_tokens)[0]


def rewrite_queries(generator, questions: Sequence[str], max_new_tokens: int = 16) -> list[str]:
    """``rewrite_query`` for several questions in one batched generation."""
    outs = generate_many(generator, [rewrite_prompt(q) for q in questions], max_new_tokens=max_new_tokens)
    return [_first_line(o) or q for o, q in zip(outs, questions)]


def hyde_query(generator, question: str, max_new_tokens: int = 32) -> str:
    """HyDE (Gao et al., 2022): the generator writes a hypothetical document that would answer
    the question, and that text is searched instead of the question."""
    return hyde_queries(generator, [question], max_new_tokens=max_new_tokens)[0]


def hyde_queries(generator, questions: Sequence[str], max_new_tokens: int = 32) -> list[str]:
    """``hyde_query`` for several questions in one batched generation."""
    outs = generate_many(generator, [hyde_prompt(q) for q in questions], max_new_tokens=max_new_tokens)
    return [o.strip() or q for o, q in zip(outs, questions)]


@dataclass
class Answer:
    """The result of ``answer``.

    Attributes:
        question: the question asked.
        text: the filtered answer (citations of retrieved ids only; each link replaced by "[link removed]").
        sources: (id, text) of the documents given to the generator, best first.
        cited: ids cited in the answer (all among ``sources``).
        dropped: ids the model cited that were not retrieved (removed from ``text``).
        raw: the generator's unfiltered output (mode "choose": the chosen option "text [id]").
        prompt: the prompt that was sent (a string, or chat messages; ``mmlab.rag.prompt_text`` prints either).
        seconds: time spent in each stage ("generate", or "choose" in that mode).
        settings: what ran: the view searched, ``candidates`` as used (capped at the corpus
            size, see ``notes``), whether a reranker ran, the mode.
        notes: anything the pipeline changed from what was asked (e.g. a capped ``candidates``).
        choice_scores: mode "choose": the mean log-probability per token of each source's option,
            in source order; ``None`` in mode "write".
    """

    question: str
    text: str
    sources: list[tuple[str, str]]
    cited: list[str]
    dropped: list[str]
    raw: str
    prompt: Prompt
    seconds: dict[str, float] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    choice_scores: list[float] | None = None

    def __repr__(self) -> str:
        return f"Answer({self.text!r}, cited={self.cited}, dropped={self.dropped})"


def _sources(retriever: Retriever, question: str, *, reranker, image, k: int, candidates: int, view: str,
             rrf_k: int, documents, seconds: dict[str, float]) -> list[tuple[str, str]]:
    start = time.perf_counter()
    found = retrieve(retriever, question, k=candidates if reranker is not None else k, view=view, image=image,
                     candidates=candidates, rrf_k=rrf_k).ids
    seconds["retrieve"] = time.perf_counter() - start
    if reranker is not None:
        start = time.perf_counter()
        found = rerank(reranker, question, found, retriever.texts, k=k).ids
        seconds["rerank"] = time.perf_counter() - start
    sources = [(retriever.ids[i], retriever.label(int(i))) for i in found if i >= 0][:k]
    if documents is not None:  # (position, (id, text)): planted documents put at that rank
        for rank, doc in sorted(documents, key=lambda d: d[0]):
            sources.insert(min(rank, len(sources)), doc)
        sources = sources[:k]
    return sources


def _check_planted(documents) -> list[tuple[int, tuple[str, str]]] | None:
    if documents is None:
        return None
    if isinstance(documents, (str, bytes, dict)) or not isinstance(documents, Sequence):
        raise TypeError(f"documents: expected a list of (rank, (id, text)) pairs, got {describe(documents)}")
    out = []
    for i, item in enumerate(documents):
        ok = (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], int) and not isinstance(item[0], bool)
              and item[0] >= 0 and isinstance(item[1], tuple) and len(item[1]) == 2
              and all(isinstance(x, str) for x in item[1]))
        if not ok:
            raise TypeError(f"documents[{i}]: expected (rank from 0, (id, text)), got {describe(item)}")
        out.append(item)
    return out


def answer(question: str, *, retriever: Retriever, generator, reranker=None, image=None, k: int = 5,
           candidates: int | None = None, view: str = DEFAULT_VIEW, rrf_k: int = 60, max_new_tokens: int = 48,
           delimit: bool = True, instructions: str = "full", documents=None, mode: str = "write",
           example: str = "inline", doc_style: str = "tag") -> Answer:
    """Retrieve, (rerank,) prompt, generate (or choose) and filter: one grounded answer.

    Args:
        question: the user's question.
        retriever: where the documents are (``build_retriever``).
        generator: any object with ``generate(prompt, max_new_tokens=...) -> str`` (mode "write")
            or ``score_continuations(prompt, continuations, per_token=True)`` (mode "choose").
        reranker: a cross-encoder; ``None`` keeps the first stage's order.
        image: an optional photo (PIL), searched in the image view together with the question.
        k: documents given to the generator, 1..len(retriever).
        candidates: documents retrieved before reranking and passed to a fusion (>= k); ``None``
            means 20 (or the corpus size if smaller); a value given above the corpus size is
            capped, with a warning and a line in ``Answer.notes``.
        view: the retrieval for the text ("text" by default; "bm25+text" etc. fuse views).
        rrf_k: the RRF constant of a fused view.
        max_new_tokens: the length limit of the answer.
        delimit: mark the documents as data in the prompt (see ``mmlab.rag.prompts``).
        instructions: "full" or "short" (see ``mmlab.rag.build_prompt``).
        documents: planted (rank from 0, (id, text)) documents inserted at that rank of the
            retrieved list (to study prompt injection); their ids need not be in the corpus.
        mode: "write" (the generator writes the answer) or "choose" (it picks the likeliest of the
            sources as "text [id]", per token), since a small model that writes poorly can still
            rate; the answer then always cites one retrieved document.
        example: where the prompt's worked example sits, "inline" or "turn" (an earlier chat
            turn; see ``mmlab.rag.build_prompt``).
        doc_style: how the documents are shown, "tag" or "cited" (``hot beverage [2615]``).
    Returns:
        An ``Answer``.
    """
    return answer_many([question], retriever=retriever, generator=generator, reranker=reranker,
                       images=None if image is None else [image], k=k, candidates=candidates, view=view,
                       rrf_k=rrf_k, max_new_tokens=max_new_tokens, delimit=delimit, instructions=instructions,
                       documents=documents, mode=mode, example=example, doc_style=doc_style)[0]


def answer_many(questions: Sequence[str], *, retriever: Retriever, generator, reranker=None, images=None,
                k: int = 5, candidates: int | None = None, view: str = DEFAULT_VIEW, rrf_k: int = 60,
                max_new_tokens: int = 48, delimit: bool = True, instructions: str = "full",
                documents=None, mode: str = "write", example: str = "inline", doc_style: str = "tag") -> list[Answer]:
    """``answer`` for several questions, with one batched generation (``generate_many``).

    Args:
        questions: Q questions.
        images: None, or Q photos (None entries allowed) searched with their questions.
        documents: planted documents, the same for every question (see ``answer``).
        mode: "write" (one batched generation) or "choose" (one ``score_continuations`` call per
            question), since a small model rates the retrieved documents better than it writes.
        (the rest as in ``answer``)
    Returns:
        Q ``Answer`` objects; ``seconds["generate"]`` is the batch's time divided by Q (mode
        "choose": ``seconds["choose"]``, each question's own time).
    """
    if isinstance(questions, str) or not isinstance(questions, Sequence) or not questions:
        raise TypeError(f"questions: expected a non-empty list of questions, got {describe(questions)}")
    questions = [_check_question(q) for q in questions]
    _check_mode(mode, generator)
    if images is None:
        images = [None] * len(questions)
    elif isinstance(images, (str, bytes)) or not isinstance(images, Sequence) or len(images) != len(questions):
        raise ValueError(f"images: expected None or one photo (or None) per question ({len(questions)}), "
                         f"got {describe(images)}")
    k = check_int(k, "k", low=1, high=len(retriever))
    asked = max(k, 20) if candidates is None else check_int(candidates, "candidates", low=k)
    notes = []
    if candidates is not None and asked > len(retriever):
        notes.append(f"candidates={asked} capped at {len(retriever)}, the number of documents")
    candidates = min(asked, len(retriever))
    if notes:
        warnings.warn(f"answer: {notes[0]}", UserWarning, stacklevel=2)
    _parse_view(view)
    _check_layout(instructions, example, doc_style)   # before any retrieval
    planted = _check_planted(documents)
    count = getattr(generator, "count_tokens", None)
    window = getattr(generator, "context_window", None)
    budget = None if count is None or window is None else int(window) - max_new_tokens
    prepared = []
    for question, image in zip(questions, images):
        seconds: dict[str, float] = {}
        sources = _sources(retriever, question, reranker=reranker, image=image, k=k, candidates=candidates,
                           view=view, rrf_k=rrf_k, documents=planted, seconds=seconds)
        prompt = build_prompt(question, sources, delimit=delimit, instructions=instructions, max_tokens=budget,
                              count_tokens=count, example=example, doc_style=doc_style)
        prepared.append((question, image, sources, prompt, seconds))
    prompts = [p for _, _, _, p, _ in prepared]
    choices: list[list[float] | None] = [None] * len(prompts)
    if mode == "choose":
        raws: list[str] = []
        for i, (_, _, sources, prompt, seconds) in enumerate(prepared):
            start = time.perf_counter()
            raw, choices[i] = _choose(generator, prompt, sources)
            raws.append(raw)
            seconds["choose"] = time.perf_counter() - start
    else:
        start = time.perf_counter()
        raws = [generate(generator, prompts[0], max_new_tokens)] if len(prompts) == 1 else \
            generate_many(generator, prompts, max_new_tokens)
        per_answer = (time.perf_counter() - start) / len(prompts)
        for *_, seconds in prepared:
            seconds["generate"] = per_answer
    answers = []
    for (question, image, sources, prompt, seconds), raw, scores in zip(prepared, raws, choices):
        filtered = filter_output(raw, [sid for sid, _ in sources])
        used = view if image is None else "+".join(v for v in VIEWS if v in _parse_view(view) or v == "image")
        answers.append(Answer(question=question, text=filtered.text, sources=sources, cited=filtered.cited,
                              dropped=filtered.dropped, raw=raw, prompt=prompt, seconds=seconds,
                              settings={"view": used, "k": k, "candidates": candidates,
                                        "reranker": reranker is not None, "delimit": delimit,
                                        "instructions": instructions, "mode": mode, "example": example,
                                        "doc_style": doc_style},
                              notes=list(notes), choice_scores=scores))
    return answers
