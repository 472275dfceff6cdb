"""Tests of the notebook-00 exercise check: the answers learners really try, each with its own hint.

The check runs the notebook's own search (MiniLM on the 1,870 emoji names), so these tests
load the real text model.
"""
import pytest

from mmlab import checks
from mmlab.exercises import nb00


def check(query, associated="mouse"):
    """The check with a right associated word and prediction ('mouse': the animal 54th), so these tests judge the query."""
    return checks.nb00_cat_without_saying_cat(query, associated, True)


def test_the_check_is_exported():
    assert checks.nb00_cat_without_saying_cat is nb00.nb00_cat_without_saying_cat


@pytest.mark.slow
@pytest.mark.parametrize("query", ["kitten", "kitty", "feline", "  Kitten  ", "feline friend"])
def test_words_that_mean_cat_pass(capsys, query):
    assert check(query).passed is True
    out = capsys.readouterr().out
    assert "Correct" in out and "'cat'" in out  # says which emoji it found, and how close


# The answers learners write first, and the words the hint must use to name the mistake.
WRONG = [
    # still the stub
    (None, "still empty"),
    (..., "still empty"),
    # not a string, or nothing in it
    (["kitten"], "expected your query as a string"),
    (42, "expected your query as a string"),
    ("   ", "your query is empty"),
    # the animal named: found by sharing its name, not by meaning
    ("cat", "names the animal ('cat')"),
    ("Cats", "names the animal ('Cats')"),
    ("a cute cat", "names the animal ('cat')"),
    ("tomcat", "names the animal ('tomcat')"),
    ("pussycat", "names the animal ('pussycat')"),
    ("catlike", "names the animal ('catlike')"),
    ("a cat's meow", "names the animal ('cat')"),
    # the name misspelled or spaced out: found by its letters
    ("kat", "spells the animal's name"),
    ("catt", "spells the animal's name"),
    ("c a t", "spells the animal's name"),
    ("c4t", "spells the animal's name"),
    # the emoji itself: not a word to a text model
    ("🐱", "an emoji character is not a word"),
    # associated with cats, but not used the way 'cat' is
    ("whiskers", "merely associated"),
    ("Garfield", "Rule 2 asks that at least one word"),
    ("a pet that purrs", "merely associated"),
    ("a small pet that catches mice", "your query lands on 'mouse trap'"),  # 'catches' is allowed, and still wrong
    # a word that lands on a cat smiley by its other word ('pouting')
    ("purr", "one of the cat smileys"),
    # a related animal
    ("lion", "the nearest emoji name to 'lion' is 'lion'"),
    # what an outside reader tried (second review): the name with punctuation, hyphens, accents
    ("cats!", "names the animal ('cats')"),
    ("cat-like", "names the animal ('cat')"),
    ("kitty-cat", "names the animal ('cat')"),
    ("cat\u0301", "names the animal ('cat')"),  # a combining accent
    # spelled with symbols, spaced or stretched, or with invisible characters inside
    ("c@t", "spells the animal's name"),
    ("ca t", "spells the animal's name"),
    ("k a t", "spells the animal's name"),
    ("k@t", "spells the animal's name"),
    ("kattt", "spells the animal's name"),
    ("caaat", "spells the animal's name"),
    ("c.a.t.", "spells the animal's name"),
    ("c\u200bat", "spells the animal's name"),  # a zero-width space
    ("c\u00adat", "spells the animal's name"),  # a soft hyphen
    # look-alike letters: Cyrillic, full-width, small capitals, mathematical bold
    ("\u0441at", "look-alike letters"),
    ("\uff43\uff41\uff54", "look-alike letters"),
    ("\u1d04\u1d00\u1d1b", "look-alike letters"),
    ("\U0001d41c\U0001d41a\U0001d42d", "look-alike letters"),
    # the name in another language names it too
    ("gato", "'gato' is the animal's name in another language"),
    ("Katze", "'katze' is the animal's name in another language"),
    ("neko", "'neko' is the animal's name in another language"),
    ("gatto", "'gatto' is the animal's name in another language"),
    ("chaton", "'chaton' is the animal's name in another language"),
    ("\u732b", "in another language"),
    ("chat", "'chat' is French for the animal"),  # also an English word, so judged by rank: a conversation
    # real but rare words for the animal: MiniLM reads them by their letters
    ("puss", "'puss' is a real word for the animal, but a rare one"),
    ("moggy", "'moggy' is a real word for the animal, but a rare one"),
    ("felis", "'felis' is a real word for the animal, but a rare one"),
    # the name backwards
    ("tac", "the animal's name backwards"),
    # sounds the animal makes: associated, not the same meaning (meow puts the cat 2nd, a near miss)
    ("meow", "merely associated"),
    ("miaow", "merely associated"),
    # the emoji, again
    ("\U0001f408", "an emoji character is not a word"),
    ("\U0001f431 face", "an emoji character is not a word"),
    # what the fifth outside review found passing: the cat first, but through an associated word
    ("a pet that meows", "merely associated with cats"),
    ("meowing", "merely associated with cats"),
    ("a purring pet that meows", "merely associated with cats"),
    # ... and names in other languages that failed only on rank (kätzchen put the cat 2nd)
    ("kätzchen", "'kätzchen' is the animal's name in another language"),
    ("katzchen", "in another language"),
    ("gatito", "in another language"),
    ("gattino", "in another language"),
    ("gatinho", "in another language"),
    ("minou", "in another language"),
    ("micio", "in another language"),
    ("kotik", "in another language"),
    ("kucing", "in another language"),
    ("mèo", "in another language"),
    ("macka", "in another language"),
    # review 14: a foreign form of 'feline' passed part 1 as Correct (felino: the cat first, 0.49)
    ("felino", "'felino' is the animal's name in another language"),
    ("felina", "in another language"),
    ("félin", "in another language"),
    # ... and 'scat', a real word, was refused as naming the animal: now judged by where it lands
    ("scat", "your query lands on 'crutch'"),
    # what the seventh outside review found passing: the cat first, through its fur (the same kind of cue as whiskers)
    ("furry pet", "merely associated with cats"),
    ("a furry house pet", "merely associated with cats"),
    ("a fluffy pet with paws", "merely associated"),
    # kinds of cat whose names mean something else first to MiniLM: not 'associated words'
    ("siamese", "'siamese' can name a kind of cat, but to MiniLM the word has a stronger other meaning"),
    ("persian", "'persian' can name a kind of cat"),
    ("burmese", "'burmese' can name a kind of cat"),
    ("calico", "'calico' can name a kind of cat"),
    ("sphynx", "'sphynx' can name a kind of cat"),
    # what the eighth outside review found passing: a famous cat plus a generic word ("pet"); the rule now is that
    # at least one word of the query, on its own, puts the animal first (no single word here does)
    ("garfield pet", "no word of it does on its own"),
    ("a pet like garfield", "no word of it does on its own"),
    ("garfield the pet", "no word of it does on its own"),
    ("my pet garfield", "no word of it does on its own"),
    ("pet garfield", "no word of it does on its own"),
    # a two-word breed whose words alone land elsewhere ('maine' on 'turkey', 'coon' on 'melon'): refused by that rule
    ("maine coon", "no word of it does on its own"),
    # a generic pet word: lands on the dog or the house
    ("domestic pet", "the first emoji of the animal, 'cat', comes 2nd"),
    ("house pet", "the nearest emoji name to 'house pet' is 'house'"),
    # Greek look-alikes: the lunate sigma, capitals
    ("\u03f2at", "look-alike letters"),
    ("\u039a\u0391\u03a4", "look-alike letters"),
    # the ninth review: associated words are refused only when no other word puts the animal first alone
    ("meowing", "it has no other word"),
    ("a pet that meows", "no other word of it does on its own"),
    ("furry pet", "'pet' on 'dog'"),
    ("a purring pet that meows", "merely associated with cats"),
    # a related animal: lands on itself, and the hint says a related animal can land anywhere
    ("tiger", "your query lands on 'tiger', not on the animal"),
    ("purring tiger", "the nearest emoji name to 'purring tiger' is 'tiger'"),
    # the tenth review: a word that works alone, pulled away by the rest of the query
    ("kitten rocket", "your word 'kitten' alone puts the animal first, but the rest of your query ('rocket')"),
    ("a tiger kitten", "the rest of your query ('tiger') pulls it toward 'tiger'"),
    # typos of a word that would work
    ("kiten", "MiniLM does not have 'kiten' in its vocabulary"),
    ("kitteh", "MiniLM does not have 'kitteh' in its vocabulary"),
    # a real word (a cat's name) near a synonym: the hint must not claim a misspelling outright
    ("mittens", "if it is a real word"),
    # the name in another language, not in the list before
    ("gattina", "in another language"),
    ("gatinhos", "in another language"),
    ("kissat", "in another language"),
    ("koty", "in another language"),
    # an emoji glued to a word: the whole string is one unknown token
    ("kitten\U0001f431", "is one token to MiniLM, emoji and letters together"),
    # another animal of the cat family, landing on 'cat' only because the emoji set has no lynx
    ("lynx", "'lynx' is a different animal of the cat family"),
    ("a lynx", "the emoji set has no lynx"),
    # review 12: a negation that fails is told about the negation; paka/pusa name it; the fallback is neutral
    ("a pet that is not a dog", "your query says 'not', but MiniLM barely registers negation"),
    ("not a dog", "barely registers negation"),
    ("an animal that is never a dog", "your query says 'never'"),
    ("paka", "in another language"),
    ("pusa", "in another language"),
    ("pet", "your query lands on 'dog', not on the animal"),
    ("kitn", "Rule 2 asks that at least one word"),
    ("U+1F408", "try rank_of on each of your words"),
]


@pytest.mark.slow
@pytest.mark.parametrize("query", ["a pet that is not a dog", "pet", "kitn", "U+1F408", "pussies", "Garfield"])
def test_the_fallback_hints_do_not_call_every_failure_associated(capsys, query):
    """Review 12: these fail for other reasons (a negation, a typo, a code point), not by association."""
    assert not check(query)
    assert "merely associated" not in capsys.readouterr().out



@pytest.mark.slow
@pytest.mark.parametrize("query, needle", WRONG, ids=[repr(q) for q, _ in WRONG])
def test_wrong_answers_are_rejected_with_a_hint_that_names_the_mistake(capsys, query, needle):
    assert check(query).passed is False
    out = capsys.readouterr().out
    assert "Not yet" in out and needle in out and "Correct" not in out


@pytest.mark.slow
def test_a_wrong_answer_is_told_where_the_cat_ranked_but_not_how_to_get_there(capsys):
    check("whiskers")
    out = capsys.readouterr().out
    assert "'worm'" in out and "comes 1" in out  # where the query landed, and the rank of the animal
    for query in ("furry pet", "siamese"):
        check(query)
    out += capsys.readouterr().out
    for answer in ("kitten", "kitty", "feline"):
        assert answer not in out


def test_the_rule_is_stated_in_the_hint(capsys):
    """The exercise text (cell 35) and the check state the same rule against association."""
    check("garfield pet")
    assert "at least one word of your query must, on its own, put the animal first" in capsys.readouterr().out


def test_the_docstring_does_not_give_the_answer_away():
    doc = nb00.nb00_cat_without_saying_cat.__doc__.lower()
    assert not any(answer in doc for answer in ("kitten", "kitty", "feline", "tabby"))


@pytest.mark.parametrize("text, names", [
    ("cat", True), ("CATS", True), ("bobcat", True), ("catnip", True), ("the cat's toy", True),
    ("catches", False), ("category", False), ("education", False), ("vacation", False), ("delicate", False),
    ("kat", True), ("KATS", True), ("catt", True), ("c-a-t", True), ("c.a.t", True),
    ("scat", False), ("muscat", False), ("ducat", False), ("scats", False), ("polecat", True),
    ("act", False), ("coat", False), ("cart", False), ("Kate", False), ("kit", False), ("a cut", False),
])
def test_what_counts_as_naming_the_animal(text, names):
    assert bool(nb00._NAMES_THE_CAT.search(text) or nb00._SPELLS_THE_CAT.search(text)) is names


@pytest.mark.parametrize("query", ["cät", "catface", "CATFACE", "cat_face", "catz", "catto", "catnap", "catwoman",
                                   "Felis catus", "kittycatz", "pussycatz"])
def test_words_built_on_cat_are_refused_by_the_models_own_pieces(query):
    """What an outside reader found passing: compounds and accented spellings the tokenizer reads as 'cat'."""
    result = check(query)
    assert not result and "pieces" in result.message


# "felidae" (the family's name) is accepted knowingly, like "feline" and "felid": it means the cat family as such,
# not another animal of it (those, "lynx" and the like, are refused with the felid hint).
@pytest.mark.parametrize("query", ["kitten", "kitty", "kittens", "kitties", "tabby", "feline", "felid", "felidae", "pussy",
                                   "domestic feline", "tabby face", "hello kitty", "sphynx kitty", "a cute kitten"])
def test_real_synonyms_still_pass(query):
    assert check(query)


@pytest.mark.parametrize("query", ["fluffy kitten", "a fluffy kitten", "a purring kitten", "kitten paws", "furry feline",
                                   "a meowing kitty", "kitten meow", "whisker-less kitten", "a kitten with a long tail"])
def test_an_associated_word_next_to_a_real_synonym_passes(query):
    """The ninth review: rule 2 needs one word that means the animal; an associated word beside it is allowed."""
    result = check(query)
    assert result and "through" not in result.message


@pytest.mark.parametrize("query", ["not a kitten", "dog, not kitten", "a dog that is not a kitten", "no kittens here"])
def test_negation_passes_but_the_message_says_the_model_ignored_it(query):
    """MiniLM ignores 'not', so these land on the cat; the tenth review: the success message must not claim the
    query means the animal, it says the negation was not read."""
    result = check(query)
    assert result and "barely registers negation" in result.message and "nearer in meaning" not in result.message
    # review 12: its own header, not a bare "Correct!", while the result stays truthy
    assert result.message.startswith("✅ Passes, but") and "Correct" not in result.message


def test_a_synonym_beside_a_wild_relative_passes():
    assert check("a wild lynx kitten")


def test_the_demo_quoted_in_the_notebook_is_what_the_check_says(capsys):
    """Cell 'Here is what the check says to one first try' quotes the message (a check call there would be graded)."""
    import json
    from pathlib import Path

    nb = json.loads((Path(__file__).parents[1] / "notebooks" / "00_start_here.ipynb").read_text(encoding="utf-8"))
    quoted = next("".join(c["source"]) for c in nb["cells"]
                  if c["cell_type"] == "markdown" and "> ❌ Not yet" in "".join(c["source"]))
    assert not check("\U0001f431")
    for line in capsys.readouterr().out.strip().splitlines():
        assert f"> {line.strip()}" in quoted.replace("  \n", "\n")


# The second answer: one word the learner predicts goes with cats without naming them (the animal near, not first).
WRONG_ASSOCIATED = [
    (..., "your associated word is still empty"),
    (None, "your associated word is still empty"),
    (["mouse"], "expected your associated word as a string"),
    ("  ", "your associated word is empty"),
    # both answers names for the animal
    ("kitty", "it is a word for the animal, not one merely associated"),
    ("feline", "it is a word for the animal"),
    ("pussy", "it is a word for the animal"),
    ("Kitten", "your associated word is your query again"),
    # the name itself, in any spelling or language
    ("catnip", "that names the animal"),
    ("kat", "that names the animal"),
    ("gato", "in another language"),
    ("neko", "in another language"),
    ("\u0441at", "that names the animal"),
    ("catface", "that names the animal"),
    # a negation, a sentence
    ("not a mouse", "MiniLM barely registers 'not'"),
    ("a thing cats chase", "is not one word"),
    ("mouse milk", "is not one word"),
    # review 15: names for the animal that passed as associated (rare words, breeds, misspelled synonyms)
    ("moggy", "a rare word for the animal"),
    ("puss", "a rare word for the animal"),
    ("mouser", "a rare word for the animal"),
    ("felis", "a rare word for the animal"),
    ("siamese", "a kind (breed, coat) of cat"),
    ("Persian", "a kind (breed, coat) of cat"),
    ("kittie", "a misspelling of a word for the animal"),
    ("kitteh", "a misspelling of a word for the animal"),
    ("tabbies", "is a word for the animal"),  # a plural of a word for it (the cat only 4th)
    ("moggies", "a rare word for the animal"),
    # review 16: cartoon cats
    ("Garfield", "the name of a cartoon cat"),
    ("felix", "the name of a cartoon cat"),
    ("Tom", "the name of a cartoon cat"),
    ("Sylvester", "the name of a cartoon cat"),
    ("kitties", "it is a word for the animal"),
    # review 17: more cartoon cats, possessives, breeds of two words
    ("Heathcliff", "the name of a cartoon cat"),
    ("Salem", "the name of a cartoon cat"),
    ("Cheshire", "the name of a cartoon cat"),
    ("Doraemon", "the name of a cartoon cat"),
    ("Tigger", "the name of a cartoon cat"),
    ("Garfield's", "the name of a cartoon cat"),
    ("maine-coon", "a kind (breed, coat) of cat"),
    ("maine coon", "a kind (breed, coat) of cat"),
    ("Maine Coons", "a kind (breed, coat) of cat"),
    # review 18: names that still passed
    ("Meowth", "the name of a cartoon cat"),
    ("Pusheen", "the name of a cartoon cat"),
    ("Crookshanks", "the name of a cartoon cat"),
    ("Tonkinese", "a kind (breed, coat) of cat"),
    ("Ragamuffin", "a kind (breed, coat) of cat"),
    ("kitling", "a rare word for the animal"),
]


@pytest.mark.slow
@pytest.mark.parametrize("associated, needle", WRONG_ASSOCIATED, ids=[repr(a) for a, _ in WRONG_ASSOCIATED])
def test_wrong_associated_words_are_rejected_with_a_hint_that_names_the_mistake(capsys, associated, needle):
    assert checks.nb00_cat_without_saying_cat("kitten", associated, True).passed is False
    assert checks.nb00_cat_without_saying_cat("kitten", associated, False).passed is False
    out = capsys.readouterr().out
    assert "Not yet" in out and "your query passes" in out and needle in out and "Correct" not in out


# Wrong predictions learners write, on both sides of the cut: the prediction is recorded, not graded (review 17: a
# graded one was flipped after the first report), so each passes, told it was wrong, the measured rank and what it shows.
WRONG_PREDICTIONS = [
    ("milk", True, "the animal, 'cat', 160th (0.34), beyond the 60 nearest"),  # goes with cats, far to MiniLM
    ("yarn", True, "hardly about cats"),
    ("whiskers", True, "hardly about cats"),
    ("rocket", True, "hardly about cats"),
    ("mouce", True, "reads it in pieces (mo, ##uce)"),  # a typo of an associated word
    ("purr", False, "among the 60 nearest"),  # the cat 2nd
    ("meow", False, "mixes same topic with same meaning"),
    ("fur", False, "puts the animal, 'cat', first"),
    ("mouse", False, "'cat', 54th"),
    ("puppies", False, "among the 60 nearest"),  # another animal: near, as animals are
    ("wolves", False, "among the 60 nearest"),
    ("lynx", False, "among the 60 nearest"),
    ("pet", False, "among the 60 nearest"),
]


@pytest.mark.slow
@pytest.mark.parametrize("associated, predicted, needle", WRONG_PREDICTIONS, ids=[repr(a) for a, _, _ in WRONG_PREDICTIONS])
def test_wrong_predictions_pass_and_are_told_the_measured_rank(capsys, associated, predicted, needle):
    result = checks.nb00_cat_without_saying_cat("kitten", associated, predicted)
    out = capsys.readouterr().out
    assert result and result.message.startswith("✅ Passes, with a wrong prediction:") and "Correct" not in out
    assert "your prediction was wrong" in out and needle in out and "What that shows" in out
    assert checks.nb00_cat_without_saying_cat("kitten", associated, not predicted)  # the other prediction passes
    assert "as you predicted" in capsys.readouterr().out


@pytest.mark.parametrize("predicted, needle", [(..., "still empty"), (None, "still empty"), ("yes", "True or False"),
                                               ("True", "True or False"), (1, "True or False")])
def test_a_prediction_that_is_not_true_or_false_is_refused(capsys, predicted, needle):
    assert checks.nb00_cat_without_saying_cat("kitten", "mouse", predicted).passed is False
    out = capsys.readouterr().out
    assert needle in out
    # review 19: the word is fine, so the message must blame the prediction, not the associated word
    assert "your prediction does not" in out and "associated word does not" not in out, out


def test_a_wrong_query_is_judged_before_the_associated_word(capsys):
    assert not checks.nb00_cat_without_saying_cat("meow", "purr", True)  # both associated: the query is refused
    out = capsys.readouterr().out
    assert "merely associated" in out and "your query passes" not in out


def test_a_vulgar_synonym_passes_under_a_neutral_header():
    result = checks.nb00_cat_without_saying_cat("pussy", "mouse", True)
    assert result and result.message.startswith("✅ Passes:") and "Correct" not in result.message


def test_the_check_needs_all_three_answers():
    with pytest.raises(TypeError):
        checks.nb00_cat_without_saying_cat("kitten", "mouse")  # type: ignore[call-arg]


@pytest.mark.parametrize("query", ["kitten", "not a kitten", "pussy"])
def test_a_pass_under_its_own_header_is_recorded_for_the_grader(tmp_path, monkeypatch, query):
    """A pass printed without report() must still name the check in the grader's log (else: 'tampered')."""
    import json

    log = tmp_path / "log.jsonl"
    monkeypatch.setenv("MMLAB_GRADE_LOG", str(log))
    assert checks.nb00_cat_without_saying_cat(query, "mouse", True)
    entry = json.loads(log.read_text().splitlines()[-1])
    assert entry["exercise"] == "nb00_cat_without_saying_cat" and entry["fingerprint"] and entry["passed"]


# Words that go with cats, on both sides of the cut: the right prediction passes and the message gives the rank.
@pytest.mark.parametrize("associated, predicted", [("mouse", True), ("purr", True), ("tuna", True), ("claws", True),
                                                   ("hiss", True), ("bunny", True), ("litter", True), ("scat", True), ("banana", False),
                                                   ("milk", False), ("yarn", False), ("whiskers", False)])
def test_a_right_prediction_passes_with_the_measured_rank(capsys, associated, predicted):
    assert checks.nb00_cat_without_saying_cat("kitten", associated, predicted)
    out = capsys.readouterr().out
    assert "as you predicted" in out and ("among" if predicted else "beyond") in out


def test_the_docstring_does_not_say_which_words_land_near():
    doc = nb00.nb00_cat_without_saying_cat.__doc__.lower()
    assert not any(word in doc for word in ("mouse", "milk", "purr", "meow", "yarn", "whiskers"))
