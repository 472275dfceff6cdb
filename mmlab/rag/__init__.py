"""Retrieval-augmented generation, offline (notebook 06).

Stages, each a small function: ``retrieve`` (hybrid BM25 + dense text + dense image in Milvus,
fused by RRF) -> ``rerank`` (a fine-tuned MiniLM cross-encoder) -> ``build_prompt`` (ids,
documents delimited as data) -> ``generate`` (SmolLM2-135M-Instruct, greedy) -> ``filter_output``
(citations of retrieved ids only, links marked removed). ``answer`` runs them all.

Modules: ``generator`` (the local LLM and its cache), ``reranker`` (cross-encoder fine-tuning),
``prompts`` (prompt templates and the output filter), ``pipeline`` (the stages).
"""
from __future__ import annotations

from .generator import Generator, TextGenerator, gguf_path, load_generator
from .keywords import GROUPS, KeywordTask, index_texts, keyword_reranker, keyword_task
from .pipeline import (
                       DEFAULT_VIEW,
                       VIEWS,
                       Answer,
                       Retriever,
                       answer,
                       answer_many,
                       build_retriever,
                       generate,
                       generate_many,
                       hyde_queries,
                       hyde_query,
                       rerank,
                       retrieve,
                       rewrite_queries,
                       rewrite_query,
)
from .prompts import (
                       ABSTAIN,
                       CITATION,
                       DOC_STYLES,
                       EXAMPLE_PLACES,
                       LINK_REMOVED,
                       FilteredText,
                       Prompt,
                       build_prompt,
                       closed_book_prompt,
                       filter_output,
                       format_documents,
                       hyde_prompt,
                       prompt_text,
                       rewrite_prompt,
)
from .reranker import fine_tune, load_reranker, score_pairs, training_groups

__all__ = [
                       "ABSTAIN",
                       "CITATION",
                       "DEFAULT_VIEW",
                       "DOC_STYLES",
                       "EXAMPLE_PLACES",
                       "GROUPS",
                       "LINK_REMOVED",
                       "VIEWS",
                       "Answer",
                       "FilteredText",
                       "Generator",
                       "KeywordTask",
                       "Prompt",
                       "Retriever",
                       "TextGenerator",
                       "answer",
                       "answer_many",
                       "build_prompt",
                       "build_retriever",
                       "closed_book_prompt",
                       "filter_output",
                       "fine_tune",
                       "format_documents",
                       "generate",
                       "generate_many",
                       "gguf_path",
                       "hyde_prompt",
                       "hyde_queries",
                       "hyde_query",
                       "index_texts",
                       "keyword_reranker",
                       "keyword_task",
                       "load_generator",
                       "load_reranker",
                       "prompt_text",
                       "rerank",
                       "retrieve",
                       "rewrite_prompt",
                       "rewrite_queries",
                       "rewrite_query",
                       "score_pairs",
                       "training_groups",
]
