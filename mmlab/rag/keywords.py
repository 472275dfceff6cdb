"""The retrieval task of notebook 06: emoji as documents, CLDR keywords as queries.

The documents are the emoji that depict a thing (``GROUPS``), each indexed by its name plus
group and subgroup, never by its keywords. Each CLDR keyword becomes a query whose relevant
documents are the emoji that carry it; keywords are split into train and test by hashing the
keyword (``mmlab.data.split_by_id``), so no query is on both sides. ``keyword_reranker`` is the
cross-encoder recipe the notebook measures: ``make install`` trains it once and caches it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validate import check_int

__all__ = ["GROUPS", "KeywordTask", "index_texts", "keyword_reranker", "keyword_task"]

#: Emoji groups that depict things (animals, plants, food, places, transport, activities, objects).
GROUPS = ("Animals & Nature", "Food & Drink", "Travel & Places", "Activities", "Objects")
#: Test queries keep keywords with 2..20 relevant emoji (several, but not "object" with 60 of them).
_TEST_RELEVANT = (2, 20)
_TRAIN_MAX_RELEVANT = 20


def index_texts(emoji) -> list[str]:
    """The text each document is indexed by: "monkey face (Animals & Nature, animal mammal)"."""
    return [f"{n} ({g}, {s.replace('-', ' ')})" for n, g, s in zip(emoji.names, emoji.groups, emoji.subgroups)]


@dataclass
class KeywordTask:
    """Keyword queries with their relevant document positions, split by keyword.

    Attributes:
        train_queries, test_queries: keyword strings.
        train_relevant, test_relevant: one set of relevant document positions per query.
        n_keywords: keywords in the documents' CLDR annotations, before filtering.
        n_train_keywords, n_test_keywords: how the hash split divides them, before filtering.
    """

    train_queries: list[str]
    train_relevant: list[set[int]]
    test_queries: list[str]
    test_relevant: list[set[int]]
    n_keywords: int
    n_train_keywords: int = 0
    n_test_keywords: int = 0


def keyword_task(emoji) -> KeywordTask:
    """Build the keyword queries for these documents (``mmlab.data.load_emoji(groups=GROUPS)``)."""
    from .. import data

    keywords = data.load_emoji_keywords()
    position = {e: i for i, e in enumerate(emoji.ids)}
    relevant_of: dict[str, set[int]] = {}
    for eid, words in keywords.items():
        if eid in position:
            for w in words:
                relevant_of.setdefault(w, set()).add(position[eid])
    words = sorted(relevant_of)
    train_idx, test_idx = data.split_by_id(words, test_fraction=0.3)
    low, high = _TEST_RELEVANT
    test_q = [words[i] for i in test_idx if low <= len(relevant_of[words[i]]) <= high]
    train_q = [words[i] for i in train_idx if len(relevant_of[words[i]]) <= _TRAIN_MAX_RELEVANT]
    return KeywordTask(train_q, [relevant_of[w] for w in train_q], test_q, [relevant_of[w] for w in test_q],
                       len(words), len(train_idx), len(test_idx))


def keyword_reranker(*, steps: int = 300, negatives: int = 3, hard_from: int = 10, validation: int = 100,
                     use_cache: bool = True, progress: bool = True):
    """The cross-encoder of notebook 06, fine-tuned on the train keywords (cached; ``make install`` runs it).

    Recipe: the last ``validation`` train keywords (in sorted order) are held out; for every
    other train keyword and each of its relevant emoji, one group (keyword, relevant index text,
    ``negatives`` hard negatives: the best-ranked non-relevant documents of the MiniLM dense
    search's top ``hard_from``). ``fine_tune`` trains on them with the listwise loss; every 50
    steps the model reranks the dense top 20 of the held-out keywords, and that nDCG@10 is
    recorded next to the dense search's own (the learning curve, ``mmlab_info["validation"]``).

    Returns:
        The ``CrossEncoder``; ``.mmlab_info`` holds "losses", "validation" ([(step, nDCG@10)]),
        "first_stage" (the dense nDCG@10 on the held-out keywords), "groups", "from_cache", "seconds".
    """
    from .. import data, models
    from ..search import exact_topk, ndcg_at_k
    from .reranker import fine_tune, score_pairs, training_groups

    steps = check_int(steps, "steps", low=1)
    validation = check_int(validation, "validation", low=1)
    emoji = data.load_emoji(groups=list(GROUPS))
    texts = index_texts(emoji)
    task = keyword_task(emoji)
    minilm: Any = models.load("minilm")
    doc_vecs = minilm.encode_text(texts, progress=False)
    train_q, train_rel = task.train_queries[:-validation], task.train_relevant[:-validation]
    val_q, val_rel = task.train_queries[-validation:], task.train_relevant[-validation:]
    found = exact_topk(minilm.encode_text(train_q, progress=False), doc_vecs, hard_from)[1]
    groups = training_groups(train_q, [sorted(r) for r in train_rel], found, texts, negatives=negatives)
    val_found = exact_topk(minilm.encode_text(val_q, progress=False), doc_vecs, 20)[1]

    def validate(model) -> float:
        reranked = []
        for q, row in zip(val_q, val_found):
            scores = score_pairs(model, q, [texts[int(i)] for i in row])
            reranked.append(row[np.argsort(-scores, kind="stable")])
        return ndcg_at_k(np.array(reranked), val_rel, 10)

    model = fine_tune(groups, steps=steps, batch_size=8, lr=1e-4, max_length=32, use_cache=use_cache,
                      progress=progress, validate=validate, validate_every=50)
    model.mmlab_info["first_stage"] = ndcg_at_k(val_found, val_rel, 10)
    model.mmlab_info["groups"] = len(groups)
    model.mmlab_info["train_keywords"] = len(train_q)
    model.mmlab_info["validation_keywords"] = len(val_q)
    return model
