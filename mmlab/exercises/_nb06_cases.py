"""Grouped-citation cases of notebook 06's citation-filter check (apart from nb06.py, near the size limit)."""
from __future__ import annotations

import re
from collections import Counter

#: A bracket holding one or more ids (commas, semicolons or spaces between them) and its ids.
_GROUP = re.compile(r"\[\s*([0-9A-Fa-f]+(?:-[0-9A-Fa-f]+)*(?:[\s,;]+[0-9A-Fa-f]+(?:-[0-9A-Fa-f]+)*)*)\s*\]")
_ID = re.compile(r"[0-9A-Fa-f]+(?:-[0-9A-Fa-f]+)*")

#: (text, allowed ids): a model may put several ids in one bracket.
GROUP_CASES = [
    ("Tea [2615, 99999] is hot.", ["2615"]),                          # one allowed id, one not
    ("Mate [1F9C9 1F37A] or ice [1F9CA; 2615].", ["1F9CA", "2615", "1f9c9"]),   # spaces, semicolons
    ("Beer [1F37A, 99999] only, tea [2615].", ["2615"]),              # no id allowed: the bracket goes
]


def _ids(text: str) -> list[str]:
    return [i.upper() for group in _GROUP.findall(text) for i in _ID.findall(group)]


def group_problem(text: str, allowed: list[str], out: str) -> tuple[str, str] | None:
    """(problem, hint) when ``out`` mishandles a grouped citation of ``text``, else None."""
    ok = {a.upper() for a in allowed}
    found, given = Counter(_ids(out)), _ids(text)
    bad = sorted(i for i in found if i not in ok)
    if bad:
        return (f"{bad} survived the filter in {text!r}, though not retrieved: {out!r}.",
                "a bracket can hold several ids ([2615, 99999]): check each id in it, not the bracket as a whole.")
    lost = sorted(i for i, n in Counter(g for g in given if g in ok).items() if found[i] < n)
    if lost:
        spaced = any(" " in g.strip() and "," not in g and ";" not in g for g in _GROUP.findall(text))
        return (f"allowed citations {lost} were removed from {text!r}: {out!r}.",
                "keep the allowed ids of a bracket and drop only the others; ids in one bracket are separated "
                "by commas, semicolons" + (" or spaces ([1F9C9 1F37A])." if spaced else " or spaces."))
    rest = re.sub(r"\s+", " ", _GROUP.sub("", out)).strip(" .")
    want = re.sub(r"\s+", " ", _GROUP.sub("", text)).strip(" .")
    if rest != want:
        return (f"the words around the citations changed: {out!r} (from {text!r}).",
                "when no id of a bracket is allowed, remove the whole bracket: no empty [] or [, ] left behind.")
    return None
