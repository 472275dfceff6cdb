"""Exercise check for notebook 00, start here (re-exported by mmlab.checks).

The one exercise of the start page practises the workflow (write, run, check, read the
hint) on the idea the whole suite rests on: a text model puts texts close when they mean
the same thing (closest) or share a topic, not when they merely share letters.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from ._feedback import EMPTY_MESSAGE, CheckResult, _record, is_empty, report

__all__: list[str] = ["nb00_cat_without_saying_cat"]

#: A word that names the animal: "cat", "cats", and compounds that end in it ("tomcat",
#: "pussycat", "wildcat") or are built on it ("catlike", "catnip", "catty"). Words that
#: merely begin with the letters ("catches", "category"), and real words that end in them but are no cat ("scat",
#: "muscat", "ducat"), are allowed.
_NAMES_THE_CAT = re.compile(r"\b(?!(?:s|mus|du)cats?\b)\w*cats?\b|\bcat(?:like|nip|ty|ish)\b", re.IGNORECASE)
#: The name misspelled or spaced out ("kat", "catt", "c a t", "c4t"): the model reads pieces of
#: words, so these find the cat by its letters too.
_SPELLS_THE_CAT = re.compile(r"\b[ck]+[\W_]*[a4@]+[\W_]*t+s?\b", re.IGNORECASE)
#: Letters that look like the Latin ones of "cat"/"kat" (Cyrillic, Greek, small capitals); NFKC folds the
#: full-width and mathematical ones ("ｃａｔ", "𝐜𝐚𝐭").
_LOOK_ALIKES = str.maketrans({"с": "c", "С": "c", "а": "a", "А": "a", "т": "t", "Т": "t", "к": "k", "К": "k",
                              "α": "a", "τ": "t", "κ": "k", "ᴄ": "c", "ᴀ": "a", "ᴛ": "t", "ᴋ": "k",
                              "ϲ": "c", "Ϲ": "c", "ς": "c",  # NFKC turns the lunate sigma ϲ into ς
                              "Α": "a", "Τ": "t", "Κ": "k"})
#: The animal's name in other languages (words that are not also common English words).
_OTHER_LANGUAGES = frozenset({"gato", "gata", "gatos", "gatto", "gatti", "gatta", "katze", "katzen", "kater", "chaton",
                              "chatte", "neko", "kot", "kotka", "kissa", "kedi", "macska", "mačka",
                              "pisica", "kočka", "katt", "kat", "poes", "кошка", "кот", "γάτα", "猫", "ねこ",
                              "ネコ", "고양이", "बिल्ली", "قطة", "חתול", "kätzchen", "katzchen",
                              "mieze", "gatito", "gatita", "gattino", "gatinho", "minou", "micio", "kotek",
                              "kotik", "котик", "кіт", "мачка", "macka", "kucing", "mèo", "meo", "billi",
                              "kočička", "kocicka", "poesje", "chatons", "pisică", "gattina", "gattini",
                              "gatinhos", "gatitos", "kissat", "koty", "kotki", "katje", "katten", "paka", "pusa",
                              "felino", "felina", "felinos", "felinas", "félin", "félins", "felin", "felins",
                              "félina", "felinae", "koshka", "kass", "mao"})
#: Real words for the animal that MiniLM barely knows (it reads them as pieces of other words).
_RARE_NAMES = frozenset({"puss", "moggy", "moggie", "mog", "grimalkin", "felis", "mouser", "malkin", "kitling", "kitlings"})
#: Other animals of the cat family: the emoji set has none of most of them, so some land on 'cat' without meaning it.
_OTHER_FELIDS = frozenset({"lynx", "lynxes", "ocelot", "ocelots", "puma", "pumas", "cougar", "cougars", "panther",
                           "panthers", "jaguar", "jaguars", "leopard", "leopards", "cheetah", "cheetahs", "serval",
                           "servals", "caracal", "caracals", "tiger", "tigers", "lion", "lions", "margay", "wildcat",
                           "lioness", "lionesses", "tigress", "tigresses"})
#: Cartoon cats: their names name the animal (refused as the associated word).
_CHARACTERS = frozenset({"garfield", "felix", "tom", "sylvester", "tomcat", "heathcliff", "salem", "cheshire",
                         "doraemon", "tigger", "scratchy", "azrael", "snowball", "stimpy", "hello kitty", "hellokitty",
                         "meowth", "nermal", "figaro", "snagglepuss", "pusheen", "crookshanks", "bagpuss", "jiji"})
#: Words that negate: MiniLM barely registers them, so a query with one lands where its other words do.
_NEGATIONS = frozenset({"not", "no", "never", "without", "nor", "isn", "aren", "don", "doesn", "non", "neither"})
#: Words that work, used only to recognise a misspelling of one (never shown to the learner).
_SYNONYMS = ("kitten", "kittens", "kitty", "kitties", "feline", "felines", "tabby")
#: The emoji of the animal itself; the other names with "cat" are the cat smileys ("weary cat", ...).
ANIMAL = ("cat", "cat face", "black cat")
_CAT_EMOJI = re.compile(r"\bcat\b", re.IGNORECASE)
#: Words merely associated with the animal (its sounds, its body: fur, paws, claws, tail): a query built on them
#: can put the cat first ("furry pet"), but by association, not because it means the animal (the lesson).
_ASSOCIATED = re.compile(r"m+i?[ae]+o+w\w*|mia+o+w\w*|\bmew(?:s|ing|ed)?\b|purr\w*|whisker\w*|hiss\w*"
                         r"|\bfur(?:s|ry|rier|riest|red|ball\w*)?\b|\bfluff\w*|\bpaw(?:s|ed)?\b|\bclaw\w*|\btail(?:s|ed)?\b",
                         re.IGNORECASE)
#: Kinds (breeds, coats) of the animal whose names mean something else first to MiniLM (a nationality, a fabric).
_BREEDS = frozenset({"siamese", "persian", "persians", "burmese", "calico", "sphynx", "sphinx", "ragdoll", "bengal",
                     "abyssinian", "manx", "tonkinese", "balinese", "ragamuffin", "bobtail", "munchkin", "angora", "birman", "himalayan", "bombay", "chartreux", "korat", "savannah",
                     "tortoiseshell", "tortie", "ginger", "tuxedo", "siberian", "russian", "scottish", "british",
                     # names of two words, compared with spaces and hyphens removed ("maine coon", "maine-coon")
                     "mainecoon", "mainecoons", "russianblue", "scottishfold", "britishshorthair", "norwegianforest",
                     "devonrex", "cornishrex", "turkishvan", "turkishangora", "exoticshorthair", "americanshorthair"})


class _Verdict(NamedTuple):
    """One part of the answer judged: passed or not, what to say (the success or the problem), a hint."""

    ok: bool
    text: str
    hint: str = ""
    header: str = "✅ Correct!"


#: The prediction is whether the associated word brings the animal this near (its rank among the 1,870 names).
NEAR = 60
#: Real but vulgar-sounding synonyms: they pass, under a neutral header rather than "Correct!".
_NEUTRAL = re.compile(r"\bpuss(?:y|ies)\b", re.IGNORECASE)


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
    # A word-final piece carries "##" ("kittycatz" -> kitty, ##cat, ##z): it still spells the cat.
    return [p for p in model.model.tokenizer.tokenize(text) if p.removeprefix("##") in _CAT_PIECES]


def _symbols(text: str) -> list[str]:
    return [ch for ch in text if unicodedata.category(ch) == "So"]


def _nearest_name(model, vectors, names: list[str], word: str) -> str:
    """The emoji name nearest to one word on its own (MiniLM cosine)."""
    return names[int(np.argmax((model.encode_text([word], progress=False) @ vectors.T)[0]))]


def _edits(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions) between two short words."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _judge_query(query) -> _Verdict:
    """The query part: it names no cat, its nearest emoji name is one of ``ANIMAL``, and one of its words (not
    merely associated with cats, nor another felid) also puts the animal first on its own."""
    if is_empty(query):
        return _Verdict(False, EMPTY_MESSAGE)
    if not isinstance(query, str):
        return _Verdict(False, f"expected your query as a string in quotes, got a {type(query).__name__}.",
                      hint='write it like query = "your words here"')
    text = query.strip()
    if not text:
        return _Verdict(False, "your query is empty.", hint="type a word or a short phrase between the quotes")
    named = _NAMES_THE_CAT.search(text)
    if named:
        return _Verdict(False, f"your query names the animal ({named.group(0)!r}), so it finds the cat by "
                      "sharing its name, which proves nothing about meaning.",
                      hint="describe the animal in other words: what else do people call it?")
    spelled = _SPELLS_THE_CAT.search(text)
    if spelled:
        return _Verdict(False, f"{spelled.group(0)!r} spells the animal's name, misspelled or spaced out: the "
                      "model reads words in pieces, so it finds the cat by the letters, not by the meaning.",
                      hint="use a different word for the animal, not a different spelling of 'cat'")
    folded = unicodedata.normalize("NFKC", text).translate(_LOOK_ALIKES)
    disguised = _NAMES_THE_CAT.search(folded) or _SPELLS_THE_CAT.search(folded)
    if disguised:
        return _Verdict(False, f"your query spells the animal's name in look-alike letters ({text!r} reads as "
                      f"{disguised.group(0)!r}): a different alphabet or font for 'cat' still names the animal.",
                      hint="use a different word for the animal, not a different way of writing 'cat'")
    words = re.findall(r"\w+", folded.lower())
    foreign = next((w for w in words if w in _OTHER_LANGUAGES), None)
    if foreign:
        return _Verdict(False, f"{foreign!r} is the animal's name in another language, and that names it too "
                      "(MiniLM learned from English text, so it mostly reads such words as pieces of unknown ones).",
                      hint="describe the animal in English words that are not its name")
    names, model, vectors = _emoji_name_space()
    pieces = _cat_pieces(model, text)
    if pieces:
        return _Verdict(False, f"the model reads your query in pieces, and one of them is {pieces[0]!r} "
                      f"({', '.join(model.model.tokenizer.tokenize(text))}): it finds the cat by that piece of its "
                      "name, not by what your words mean.",
                      hint="use a different word for the animal, not a word built on 'cat' or an accented spelling")
    scores = (model.encode_text([text], progress=False) @ vectors.T)[0]
    order = np.argsort(-scores, kind="stable")
    top = int(order[0])
    best_cat = next(int(i) for i in order if names[i] in ANIMAL)
    rank = int(np.flatnonzero(order == best_cat)[0]) + 1
    distinct = list(dict.fromkeys(words))
    associated = [w for w in distinct if _ASSOCIATED.search(w)]
    felids = [w for w in distinct if w in _OTHER_FELIDS]
    if names[top] in ANIMAL and (associated or felids or len(distinct) > 1):
        # Rule 2: a word of the query that is not merely associated with cats (nor another felid) puts the animal
        # first on its own.
        alone = {w: _nearest_name(model, vectors, names, w) for w in distinct if w not in associated + felids}
        if not any(name in ANIMAL for name in alone.values()):
            if felids:
                return _Verdict(False, f"{text!r} puts {names[top]!r} first (cosine {scores[top]:.2f}), but "
                              f"{felids[0]!r} is a different animal of the cat family, not a word for this one: it "
                              f"lands on {names[top]!r} because the emoji set has no {felids[0]}, not because it "
                              "means the animal.",
                              hint="find a word that means the animal itself, the household pet, not a wild relative")
            landed = ", ".join(f"{w!r} on {name!r}" for w, name in alone.items())
            if associated:
                others = f"no other word of it does on its own ({landed})" if alone else "it has no other word"
                return _Verdict(False, f"{text!r} puts {names[top]!r} first (cosine {scores[top]:.2f}), but its "
                              f"word about cats, {associated[0]!r}, is merely associated with cats (a sound it makes, "
                              f"its fur, a body part), not a word that means the animal, and {others}: the lesson "
                              "of this exercise is the difference.",
                              hint="a word for the cat's sounds, fur or body never counts, even where it puts the "
                              "cat first on its own: it gets there by topic, not by meaning (compare rank_of('fluffy', "
                              "...) with rank_of('meow', ...)); the rule: another word of your query must, on its "
                              "own, put the animal first: find a word with the same meaning as the animal's name")
            return _Verdict(False, f"{text!r} puts {names[top]!r} first (cosine {scores[top]:.2f}), but no word "
                          f"of it does on its own ({landed}): the words reach the animal only together, by "
                          "association, not because one of them means the animal (the lesson of this exercise).",
                          hint="the rule: at least one word of your query must, on its own, put the animal first "
                          "too; find a word that means the animal")
    if names[top] in ANIMAL:
        negation = next((w for w in words if w in _NEGATIONS), None)
        if negation:
            # A pass (truthy, recorded), under its own header: a bare "Correct!" would read as approval of the negation.
            return _Verdict(True, (f"{text!r} finds {names[top]!r} first "
                       f"(cosine {scores[top]:.2f}) without naming the animal, yet MiniLM barely registers negation, "
                       "so the query lands where its other words do; it passes because one of them means the animal, "
                       "not because the model read the negation."),
                            header=f"✅ Passes, but not because of your {negation!r}:")
        return _Verdict(True, f"{text!r} finds {names[top]!r} first (cosine {scores[top]:.2f}) without naming "
                      "the animal: to this model your words are nearer in meaning to 'cat' than to any other emoji name.")
    pulled = {}
    if len(distinct) > 1:
        alone = {w: _nearest_name(model, vectors, names, w) for w in distinct if w not in associated}
        pulled = {w: name for w, name in alone.items() if name in ANIMAL}
    typo = next((w for w in words if len(w) >= 4 and w not in _SYNONYMS
                 and len(model.model.tokenizer.tokenize(w)) > 1
                 and any(_edits(w, s) <= (1 if len(w) < 6 else 2) for s in _SYNONYMS)), None)
    found = (f"the nearest emoji name to {text!r} is {names[top]!r} (cosine {scores[top]:.2f}); the first "
             f"emoji of the animal, {names[best_cat]!r}, comes {_ordinal(rank)} ({scores[best_cat]:.2f}).")
    if _CAT_EMOJI.search(names[top]):
        hint = (f"{names[top]!r} is one of the cat smileys, not the animal: the other word of its name may be what "
                f"your query matched. Aim for {', '.join(map(repr, ANIMAL))}.")
    elif "chat" in words:
        hint = ("'chat' is French for the animal, but to this English model it means a conversation: it is "
                "read as the English word. Use an English word for the animal that is not its name.")
    elif glued := next((t for t in text.split() if _symbols(t) and re.search(r"[^\W_]", t)), None):
        hint = (f"{glued!r} is one token to MiniLM, emoji and letters together: its tokenizer splits words at spaces "
                "and punctuation, not at emoji, so it reads the whole string as one unknown piece, [UNK], and your "
                "letters are lost with the emoji. Use words, separated by spaces.")
    elif negation := next((w for w in words if w in _NEGATIONS), None):
        hint = (f"your query says {negation!r}, but MiniLM barely registers negation: the query lands where its other "
                f"words do (here on {names[top]!r}), as if the {negation!r} were not there. Describe what the animal "
                "is, not what it is not.")
    elif pulled:
        word = next(iter(pulled))
        rest = ", ".join(repr(w) for w in distinct if w != word and w not in ("a", "an", "the"))
        hint = (f"your word {word!r} alone puts the animal first, but the rest of your query ({rest}) pulls it "
                f"toward {names[top]!r}: leave out the words that point elsewhere.")
    elif typo:
        hint = (f"MiniLM does not have {typo!r} in its vocabulary and reads it by its letters, in pieces "
                f"({', '.join(model.model.tokenizer.tokenize(typo))}), so it lands on {names[top]!r}: if it is a "
                "misspelling, check the spelling; if it is a real word (a pet's name, say), it does not mean the "
                "animal to this model. Use a common word for the animal.")
    elif _symbols(text):
        hint = ("an emoji character is not a word to this model: MiniLM's vocabulary has almost no emoji, so it "
                "reads the character as an unknown piece. Use words.")
    elif backwards := next((w for w in words if w[::-1] in ("cat", "cats", "kat")), None):
        hint = (f"{backwards!r} is the animal's name backwards: the model does not undo the spelling, it reads the "
                f"letters as they stand (and lands on {names[top]!r}). Use a real word for the animal.")
    elif "[UNK]" in model.model.tokenizer.tokenize(text):
        hint = ("MiniLM cannot read some of your characters at all (it turns them into one unknown piece, [UNK]), "
                "so they carry no meaning to it. Use ordinary letters.")
    elif rare := next((w for w in words if w in _RARE_NAMES), None):
        pieces = model.model.tokenizer.tokenize(rare)
        hint = (f"{rare!r} is a real word for the animal, but a rare one: MiniLM does not have it in its vocabulary "
                f"and reads it as pieces ({', '.join(pieces)}), that is, by its letters. Try a more common word."
                if len(pieces) > 1 else
                f"{rare!r} is a real word for the animal, but a rare one, which MiniLM places by other meanings. "
                "Try a more common word.")
    elif breed := next((w for w in words if w in _BREEDS), None):
        hint = (f"{breed!r} can name a kind of cat, but to MiniLM the word has a stronger other meaning (a country "
                f"or its people, a fabric, a colour), so it lands on {names[top]!r}. Try a word whose main meaning "
                "is the animal itself.")
    elif associated:
        hint = (f"{associated[0]!r} is merely associated with cats (a sound it makes, its fur, a body part), not a "
                "word that means the animal: it never counts, wherever it lands on its own. Rule 2 asks that at least "
                "one other word of your query, on its own, puts the animal first: find a word that means the animal.")
    else:
        hint = (f"your query lands on {names[top]!r}, not on the animal. Rule 2 asks that at least one word of your "
                "query, on its own, puts the animal first: try rank_of on each of your words to see where each one "
                "lands, and look for a word that means the animal.")
    return _Verdict(False, found, hint=hint)


def _names_it(text: str, model) -> str | None:
    """Why ``text`` names the animal (its name, a spelling, look-alikes, another language, a piece), or None."""
    folded = unicodedata.normalize("NFKC", text).translate(_LOOK_ALIKES)
    found = (_NAMES_THE_CAT.search(text) or _SPELLS_THE_CAT.search(text) or _NAMES_THE_CAT.search(folded)
             or _SPELLS_THE_CAT.search(folded))
    if found:
        return f"{text!r} spells the animal's name ({found.group(0)!r})"
    foreign = next((w for w in re.findall(r"\w+", folded.lower()) if w in _OTHER_LANGUAGES), None)
    if foreign:
        return f"{foreign!r} is the animal's name in another language"
    pieces = _cat_pieces(model, text)
    return f"MiniLM reads {text!r} with the piece {pieces[0]!r}, the animal's name" if pieces else None


def _named_kind(text: str, forms: set[str]) -> _Verdict | None:
    """The refusal of a word (or its singular, possessive or unspaced form) that names the animal, else None."""
    if not forms & (_RARE_NAMES | _BREEDS | _CHARACTERS | set(_SYNONYMS)):
        return None
    kind = ("the name of a kind (breed, coat) of cat" if forms & _BREEDS else
            "the name of a cartoon cat" if forms & _CHARACTERS else
            "a word for the animal" if forms & set(_SYNONYMS) else "a rare word for the animal")
    return _Verdict(False, f"{text!r} is {kind}, so it names the animal: it is not a word merely associated with cats.",
                    hint="a rare word, a plural, a kind of cat or a cat's name still names the animal; give a word "
                    "for something that goes with cats")


def _judge_associated(word, query, predicted) -> _Verdict:
    """The prediction part: one word that goes with cats without naming them, and the learner's prediction of
    whether MiniLM puts the animal among the ``NEAR`` nearest names for it. The prediction is recorded and compared
    with the measured rank, not graded: only a name for the cat or a malformed answer fails."""
    if is_empty(word):
        return _Verdict(False, "your associated word is still empty (None or ...): fill it in above and run the cell.")
    if not isinstance(word, str):
        return _Verdict(False, f"expected your associated word as a string in quotes, got a {type(word).__name__}.",
                        hint='write it like associated = "yourword"')
    text = word.strip()
    if not text:
        return _Verdict(False, "your associated word is empty.", hint="type one word between the quotes")
    lower = re.sub(r"[\s-]+", "", text.casefold())
    for suffix in ("'s", "’s", "'", "’"):  # a possessive ("Garfield's") names the cat too
        lower = lower.removesuffix(suffix)
    # the word and its singular, if it looks like a plural ('tabbies' -> 'tabby', 'felixes' -> 'felix')
    forms = {lower, lower[:-1] if lower.endswith("s") else lower, lower[:-2] if lower.endswith("es") else lower,
             lower[:-3] + "y" if lower.endswith("ies") else lower, lower[:-3] + "f" if lower.endswith("ves") else lower}
    named_kind = _named_kind(text, forms)
    if named_kind and re.search(r"[\s-]", text):  # a name of two words ("maine coon"), before the one-word rule
        return named_kind
    if len(re.findall(r"[^\W_]+(?:['-][^\W_]+)*", text)) != 1:
        negation = next((w for w in re.findall(r"\w+", text.lower()) if w in _NEGATIONS), None)
        if negation:
            return _Verdict(False, f"{text!r} is a negation, and MiniLM barely registers {negation!r}: it reads "
                            "the rest of the words as if the negation were not there.",
                            hint="give one word that goes with cats, not a statement of what they are not")
        return _Verdict(False, f"{text!r} is not one word: a phrase gathers the topics of all its words, so it "
                        "tests something else.", hint="give a single word that goes with cats")
    if isinstance(query, str) and text.casefold() == query.strip().casefold():
        return _Verdict(False, "your associated word is your query again.",
                        hint="the second answer is a different word: one that goes with cats without naming them")
    names, model, vectors = _emoji_name_space()
    named = _names_it(text, model)
    if named:
        return _Verdict(False, f"{named}: that names the animal, so it is not a word merely associated with it.",
                        hint="give a word that goes with cats but is not a name for them in any spelling or language")
    if _judge_query(text).ok:
        return _Verdict(False, f"{text!r} puts the animal first on its own, like your query: it is a word for the "
                        "animal, not one merely associated with it.",
                        hint="your two answers should be of different kinds: a word for the animal, then a word "
                        "that goes with cats without meaning one")
    if named_kind:
        return named_kind
    if (len(lower) >= 4 and lower not in _SYNONYMS and len(model.model.tokenizer.tokenize(lower)) > 1
            and any(lower[0] == s[0] and _edits(lower, s) <= (1 if len(lower) < 6 else 2) for s in _SYNONYMS)):
        return _Verdict(False, f"{text!r} reads as a misspelling of a word for the animal, and a misspelled name "
                        "is still a name: it is not a word merely associated with cats.",
                        hint="give a word for something that goes with cats, not another spelling of a word for them")
    if is_empty(predicted):
        return _Verdict(False, f"your prediction for {text!r} is still empty (None or ...): write True or False.",
                        hint=f"predict before you look: will the animal be among the {NEAR} nearest names?")
    if not isinstance(predicted, (bool, np.bool_)):
        return _Verdict(False, f"expected your prediction as True or False, got {predicted!r}.",
                        hint=f"write {_PREDICTION} = True or {_PREDICTION} = False (no quotes)")
    scores = (model.encode_text([text], progress=False) @ vectors.T)[0]
    order = np.argsort(-scores, kind="stable")
    top = int(order[0])
    best_cat = next(int(i) for i in order if names[i] in ANIMAL)
    rank = int(np.flatnonzero(order == best_cat)[0]) + 1
    near = rank <= NEAR
    where = (f"for {text!r} MiniLM puts " + (f"the animal, {names[top]!r}, first ({scores[top]:.2f}), " if rank == 1 else
             f"{names[top]!r} first ({scores[top]:.2f}) and the animal, {names[best_cat]!r}, {_ordinal(rank)} "
             f"({scores[best_cat]:.2f}), ") +
             f"{'among' if near else 'beyond'} the {NEAR} nearest of the 1,870 names")
    if bool(predicted) == near:
        return _Verdict(True, f"{where}, as you predicted. (The check records your prediction and measures the "
                        "rank; it does not judge whether the word goes with cats.)")
    pieces = model.model.tokenizer.tokenize(text)
    if near:
        shows = ("a word that merely goes with cats brought the animal this near: MiniLM's closeness mixes same "
                 "topic with same meaning.")
    else:
        unknown = (f" MiniLM does not have {text!r} in its vocabulary and reads it in pieces ({', '.join(pieces)}), "
                   "by its letters (if it is a typo, check the spelling)." if len(pieces) > 1 else "")
        shows = f"to this model {text!r} is hardly about cats, whatever it is to you.{unknown}"
    # Not graded: a wrong prediction is a lesson, not a failure (re-running with the other value would prove nothing).
    return _Verdict(True, f"your prediction was wrong, a lesson rather than a failure: {where}. What that shows: "
                    f"{shows}", header="✅ Passes")


#: The name of the prediction in the exercise's stub (quoted in hints).
_PREDICTION = "cat_in_top_60"


def nb00_cat_without_saying_cat(query, associated, cat_in_top_60) -> CheckResult:
    """Exercise 0: a query for the animal that does not name it, and a prediction about a word associated with it.

    The search is the notebook's: MiniLM embeds a text and the 1,870 emoji names, and the emoji
    with the highest cosine similarity comes first.

    Args:
        query: the learner's query, a string. Passes when its nearest emoji name is one of ``ANIMAL``,
            it names no cat, and at least one word of it, on its own, also puts the animal first.
        associated: one word that goes with cats in the learner's view, which names no cat (no name,
            synonym, breed, rare word, cartoon cat or misspelling of one).
        cat_in_top_60: the learner's prediction, True or False: is the animal among the ``NEAR``
            nearest names for ``associated``? The check measures the rank and says whether the
            prediction matched; it does not grade it.
    Returns:
        A CheckResult, truthy when the query passes and the second part is well formed (any honest
        prediction, right or wrong); the query is judged first.
    """
    verdict = _judge_query(query)
    if not verdict.ok:
        return report(False, "", verdict.text, hint=verdict.hint)
    second = _judge_associated(associated, query, cat_in_top_60)
    if not second.ok:
        about = "your prediction" if "your prediction" in second.text.split(":")[0] else "your associated word"
        return report(False, "", f"your query passes, but {about} does not: {second.text}", hint=second.hint)
    plain = verdict.header == "✅ Correct!"
    if plain and second.header != "✅ Correct!":
        header = "✅ Passes, with a wrong prediction:"
    elif plain and _NEUTRAL.search(query):
        header = "✅ Passes:"
    else:
        header = verdict.header
    return _passes(f"{header} {verdict.text}\n   And {second.text}")


def _passes(message: str) -> CheckResult:
    """Print and record a pass under its own header (``report`` would say "Correct!"). Called from the check, so
    the grader's log finds the check one frame up, as it does through ``report``."""
    print(message)
    _record(True, message)
    return CheckResult(True, message)
