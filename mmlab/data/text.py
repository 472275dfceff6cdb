"""Text views of the emoji for notebook 06: CLDR keywords and hand-written questions."""
from __future__ import annotations

from ._files import _data_file, _read_csv


def load_emoji_keywords() -> dict[str, list[str]]:
    """CLDR's English keywords of each emoji (a second text view, for retrieval evaluation).

    Returns:
        emoji id -> its keywords ("2615" -> ["beverage", "coffee", "drink", ...]); ZWJ
        sequences, flags and keycaps have no entry (see data/README.md).
    """
    return {r["id"]: r["keywords"].split(" | ") for r in _read_csv(_data_file("emoji_keywords.csv"))}


def load_rag_questions() -> list[tuple[str, list[str]]]:
    """Hand-written conversational questions with the emoji that answer them (notebook 06).

    Returns:
        (question, relevant emoji ids) pairs, e.g. ("What could I drink when it is cold
        outside?", ["2615", "1F375", "1FAD6", "1F9C9"]).
    """
    return [(r["question"], r["relevant_ids"].split()) for r in _read_csv(_data_file("rag_questions.csv"))]
