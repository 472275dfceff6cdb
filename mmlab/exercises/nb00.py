"""Exercise check for notebook 00, start here (re-exported by mmlab.checks).

The one exercise of the start page practises the workflow (write, run, check, read the
hint) on the idea the whole suite rests on: a text model puts texts close when they mean
the same thing (closest) or share a topic, not when they merely share letters.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import numpy as np

from ._feedback import EMPTY_MESSAGE, CheckResult, is_empty, report

__all__: list[str] = ["nb00_cat_without_saying_cat"]

#: A word that names the animal: "cat", "cats", and compounds that end in it ("tomcat",
#: "pussycat", "wildcat") or are built on it ("catlike", "catnip", "catty"). Words that
#: merely begin with the letters ("catches", "category") are allowed.
_NAMES_THE_CAT = re.compile(r"\b\w*cats?\b|\bcat(?:like|nip|ty|ish)\b", re.IGNORECASE)
#: The name misspelled or spaced out ("kat", "catt", "c a t", "c4t"): the model reads pieces of
#: words, so these find the cat by its letters too.
_SPELLS_THE_CAT = re.compile(r"\b[ck]+[\W_]*[a4@]+[\W_]*t+s?\b", re.IGNORECASE)
#: The emoji of the animal itself; the other names with "cat" are the cat smileys ("weary cat", ...).
ANIMAL = ("cat", "cat face", "black cat")
_CAT_EMOJI = re.compile(r"\bcat\b", re.IGNORECASE)


@lru_cache(maxsize=1)
def _emoji_name_space():
    """The emoji names and their MiniLM vectors, as the notebook's search uses them (cached)."""
    from .. import data, models

    names = list(data.load_emoji().names)
    model = models.load("minilm")
    return names, model, model.encode_text(names, progress=False)


#: Word pieces of MiniLM's tokenizer that are the animal's name ("catface" -> cat, ##face; "cät" -> cat).
_CAT_PIECES = frozenset({"cat", "cats", "kat", "kats"})


def _cat_pieces(model, text: str) -> list[str]:
    """The pieces of ``text`` (as MiniLM reads it: lower case, accents stripped) that name the cat."""
    return [p for p in model.model.tokenizer.tokenize(text) if p in _CAT_PIECES]


def _symbols(text: str) -> list[str]:
    return [ch for ch in text if unicodedata.category(ch) == "So"]


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def nb00_cat_without_saying_cat(query) -> CheckResult:
    """Exercise 0: a query that does not name the cat, whose nearest emoji (by name) is the animal.

    The search is the notebook's: MiniLM embeds the query and the 1,870 emoji names, and the
    emoji with the highest cosine similarity comes first.

    Args:
        query: the learner's query, a string.
    Returns:
        A CheckResult, truthy when the nearest emoji name is one of ``ANIMAL`` and the query names no cat.
    """
    if is_empty(query):
        return report(False, "", EMPTY_MESSAGE)
    if not isinstance(query, str):
        return report(False, "", f"expected your query as a string in quotes, got a {type(query).__name__}.",
                      hint='write it like query = "your words here"')
    text = query.strip()
    if not text:
        return report(False, "", "your query is empty.", hint="type a word or a short phrase between the quotes")
    named = _NAMES_THE_CAT.search(text)
    if named:
        return report(False, "", f"your query names the animal ({named.group(0)!r}), so it finds the cat by "
                      "sharing its name, which proves nothing about meaning.",
                      hint="describe the animal in other words: what else do people call it?")
    spelled = _SPELLS_THE_CAT.search(text)
    if spelled:
        return report(False, "", f"{spelled.group(0)!r} spells the animal's name, misspelled or spaced out: the "
                      "model reads words in pieces, so it finds the cat by the letters, not by the meaning.",
                      hint="use a different word for the animal, not a different spelling of 'cat'")
    names, model, vectors = _emoji_name_space()
    pieces = _cat_pieces(model, text)
    if pieces:
        return report(False, "", f"the model reads your query in pieces, and one of them is {pieces[0]!r} "
                      f"({', '.join(model.model.tokenizer.tokenize(text))}): it finds the cat by that piece of its "
                      "name, not by what your words mean.",
                      hint="use a different word for the animal, not a word built on 'cat' or an accented spelling")
    scores = (model.encode_text([text], progress=False) @ vectors.T)[0]
    order = np.argsort(-scores, kind="stable")
    top = int(order[0])
    best_cat = next(int(i) for i in order if names[i] in ANIMAL)
    rank = int(np.flatnonzero(order == best_cat)[0]) + 1
    if names[top] in ANIMAL:
        return report(True, f"{text!r} finds {names[top]!r} first (cosine {scores[top]:.2f}) without naming "
                      "the animal: to this model your words mean what 'cat' means.")
    found = (f"the nearest emoji name to {text!r} is {names[top]!r} (cosine {scores[top]:.2f}); the first "
             f"emoji of the animal, {names[best_cat]!r}, comes {_ordinal(rank)} ({scores[best_cat]:.2f}).")
    if _CAT_EMOJI.search(names[top]):
        hint = (f"{names[top]!r} is one of the cat smileys, not the animal: the other word of its name may be what "
                f"your query matched. Aim for {', '.join(map(repr, ANIMAL))}.")
    elif _symbols(text):
        hint = ("an emoji character is not a word to this model: MiniLM's vocabulary has almost no emoji, so it "
                "reads the character as an unknown piece. Use words.")
    else:
        hint = ("words merely associated with cats (a sound it makes, a body part, a famous cat, its prey) "
                "usually score lower than words with the same meaning, and one associated word can land anywhere.")
    return report(False, "", found, hint=hint)
