"""Text views of the emoji for notebook 06: CLDR keywords and hand-written questions."""
from __future__ import annotations

from .._validate import check_choice
from ._files import _data_file, _read_csv

# which set -> its file; "dev" shaped notebook 06's prompt, budget and stop list, "unseen" did not
QUESTION_SETS = {"dev": "rag_questions.csv", "unseen": "rag_questions_unseen.csv"}


def load_emoji_keywords() -> dict[str, list[str]]:
    """CLDR's English keywords of each emoji (a second text view, for retrieval evaluation).

    Returns:
        emoji id -> its keywords ("2615" -> ["beverage", "coffee", "drink", ...]); ZWJ
        sequences, flags and keycaps have no entry (see data/README.md).
    """
    return {r["id"]: r["keywords"].split(" | ") for r in _read_csv(_data_file("emoji_keywords.csv"))}


def load_rag_questions(which: str = "dev") -> list[tuple[str, list[str]]]:
    """Hand-written conversational questions with the emoji that answer them (notebook 06).

    Args:
        which: "dev", the 20 questions notebook 06's prompt, token budget and stop list were
            written with in view; or "unseen", 20 more written after those were fixed and used
            to choose nothing (a held-out check of the generation results).

    Returns:
        (question, relevant emoji ids) pairs, e.g. ("What could I drink when it is cold
        outside?", ["2615", "1F375", "1FAD6", "1F9C9"]).
    """
    name = QUESTION_SETS[check_choice(which, "which", QUESTION_SETS)]
    return [(r["question"], r["relevant_ids"].split()) for r in _read_csv(_data_file(name))]
