"""Drift guards: every offline model still gives the embeddings and top-k results it gave.

mmlab's dependencies are ranges, so a new torch, transformers, sentence-transformers, timm,
open_clip or librosa release can change the embeddings without any error. These tests pin a
few embedding values (the first dimensions of a few inputs) and the top-k results of small
retrievals for each offline model, with tolerances wide enough for CPU and BLAS differences,
and fail with a message naming the package versions that differ from the goldens'.

The goldens live in tests/goldens.json, with the versions they were made with. After a change
made on purpose (new weights, a new release checked by hand), regenerate them with
    .venv/bin/python tests/test_golden.py --update [MODEL ...]
"""
from __future__ import annotations

import json
import os
import re
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

GOLDENS = Path(__file__).with_name("goldens.json")
PACKAGES = ("torch", "transformers", "sentence-transformers", "open_clip_torch", "timm",
            "librosa", "numpy")
MODELS = ("minilm", "effnet-lite0", "mfcc", "conse", "lit-emoji")
HEAD = 8           # embedding values pinned per input
K = 3              # top-k pinned per query
VALUE_TOL = 2e-3   # absolute, on unit-length embeddings: far above CPU/BLAS noise (~1e-6)
SCORE_TOL = 2e-3   # cosine scores; also the slack for ties at the k-th place

TEXTS = ["a cat", "a red apple", "a rocket ship", "a smiling face", "a dog barking",
         "a musical instrument"]
# Emoji by name (looked up in the shipped set, so a rebuilt data set that lost one fails
# loudly rather than silently comparing other images).
EMOJI_NAMES = ["cat face", "dog face", "red apple", "banana", "pizza", "rocket", "airplane",
               "grinning face", "crying face", "guitar", "violin", "soccer ball", "house",
               "sun", "snowflake", "automobile", "fish", "bird", "hamburger", "deciduous tree"]
N_CLIPS = 16       # the first spoken clips (in the shipped order)


def installed_versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _emoji_inputs():
    import mmlab

    emoji = mmlab.data.load_emoji()
    where = {name: i for i, name in enumerate(emoji.names)}
    missing = [n for n in EMOJI_NAMES if n not in where]
    assert not missing, f"emoji named {missing} are not in the shipped data set"
    return emoji.subset([where[n] for n in EMOJI_NAMES]).images


def _clips():
    import mmlab

    speech = mmlab.data.load_spoken_names()
    return speech.waveforms[:N_CLIPS], speech.sample_rate


def _topk(queries: np.ndarray, corpus: np.ndarray, exclude_self: bool) -> dict:
    sims = queries @ corpus.T
    if exclude_self:
        np.fill_diagonal(sims, -np.inf)
    ids = np.argsort(-sims, axis=1, kind="stable")[:, :K]
    return {"ids": ids.tolist(), "scores": np.take_along_axis(sims, ids, axis=1).astype(np.float64).round(6).tolist(),
            "all": sims}  # "all" (every score) is compared against, never stored


def compute(name: str) -> dict:
    """Embedding heads and top-k retrievals of model ``name`` on the fixed inputs (no disk cache)."""
    import mmlab
    import mmlab.lit  # registers "lit-emoji"

    model = mmlab.models.load(name)
    mods = set(model.modalities)
    out: dict = {"versions": installed_versions()}
    emb: dict[str, np.ndarray] = {}
    if "text" in mods:
        emb["text"] = model.encode_text(TEXTS, progress=False)
    if "image" in mods:
        emb["image"] = model.encode_image(_emoji_inputs(), progress=False)
    if "audio" in mods:
        waves, rate = _clips()
        emb["audio"] = model.encode_audio(waves, rate, progress=False)
    out["head"] = {kind: e[:4, :HEAD].astype(np.float64).round(6).tolist() for kind, e in emb.items()}
    # One retrieval per model, the one its notebook relies on.
    if "text" in emb and "image" in emb:
        task, q, c, self_ = "text->image", emb["text"], emb["image"], False
    elif "text" in emb:
        corpus = model.encode_text(EMOJI_NAMES, progress=False)
        task, q, c, self_ = "text->emoji names", emb["text"], corpus, False
    else:
        kind = "image" if "image" in emb else "audio"
        task, q, c, self_ = f"{kind}->{kind} (self excluded)", emb[kind], emb[kind], True
    out["topk"] = {"task": task, **_topk(q, c, self_)}
    return out


def _drift_message(name: str, golden: dict, problems: list[str]) -> str:
    now = installed_versions()
    changed = [f"{p} {golden['versions'].get(p, '?')} -> {now[p]}" for p in PACKAGES
               if golden["versions"].get(p) != now[p]]
    why = ("package versions that differ from the goldens': " + ", ".join(changed) if changed else
           "no package version differs from the goldens': the model code, its weights or the "
           "shipped data changed")
    return (f"{name}: embeddings drifted from tests/goldens.json ({why}).\n  "
            + "\n  ".join(problems[:8])
            + "\nIf the change is intended, check the notebooks' numbers and regenerate: "
              f".venv/bin/python tests/test_golden.py --update {name}")


def _compare(golden: dict, now: dict) -> list[str]:
    problems = []
    for kind, rows in golden["head"].items():
        got = np.asarray(now["head"].get(kind, []))
        want = np.asarray(rows)
        if got.shape != want.shape:
            problems.append(f"{kind} embedding head: shape {got.shape}, golden {want.shape}")
            continue
        err = np.abs(got - want).max()
        if err > VALUE_TOL:
            problems.append(f"{kind} embedding values: max difference {err:.2e} > {VALUE_TOL:g}")
    g, n = golden["topk"], now["topk"]
    for qi, (gids, gscores) in enumerate(zip(g["ids"], g["scores"], strict=True)):
        row = np.asarray(n["all"][qi], dtype=np.float64)
        kth = np.sort(row)[-K]
        # Each golden hit must score as it did and still be in the top k; a swap between
        # scores closer than SCORE_TOL (ties) is noise, not drift.
        bad = [i for i, want in zip(gids, gscores, strict=True)
               if abs(row[i] - want) > SCORE_TOL or row[i] < kth - SCORE_TOL]
        if bad:
            problems.append(f"{g['task']} query {qi}: top-{K} now {n['ids'][qi]} (scores "
                            f"{np.round(n['scores'][qi], 4).tolist()}), golden {gids} ({gscores})")
    return problems


def _load_goldens() -> dict:
    return json.loads(GOLDENS.read_text(encoding="utf-8")) if GOLDENS.is_file() else {}


@pytest.fixture(autouse=True)
def _no_disk_cache(monkeypatch):
    # A cached embedding from an older release would hide exactly the drift we look for.
    monkeypatch.setenv("MMLAB_CACHE", "off")


@pytest.mark.slow
@pytest.mark.parametrize("name", MODELS)
def test_model_matches_its_goldens(name):
    goldens = _load_goldens()
    if name not in goldens:
        pytest.skip(f"no goldens for {name} yet: .venv/bin/python tests/test_golden.py --update {name}")
    problems = _compare(goldens[name], compute(name))
    assert not problems, _drift_message(name, goldens[name], problems)


def test_drift_message_names_the_changed_packages():
    golden = {"versions": {**installed_versions(), "transformers": "0.0.1"}}
    msg = _drift_message("minilm", golden, ["text embedding values: max difference 1e-01"])
    assert f"transformers 0.0.1 -> {installed_versions()['transformers']}" in msg
    assert "torch" not in msg.split("(")[1].split(")")[0]  # unchanged packages are not named
    assert "--update minilm" in msg


def test_a_swap_between_tied_scores_is_not_drift():
    golden = {"head": {}, "topk": {"task": "t", "ids": [[1, 2, 3]], "scores": [[0.9, 0.5, 0.5]]}}

    def now(scores):
        return {"head": {}, "topk": {"task": "t", **_topk(np.asarray([scores]), np.eye(5), False)}}

    assert _compare(golden, now([0, 0.9, 0.5, 0.5001, 0.1])) == []   # 2 and 3 swapped: a tie
    moved = _compare(golden, now([0, 0.9, 0.5, 0.45, 0.47]))         # 3 fell out of the top 3
    assert len(moved) == 1 and "top-3 now [1, 2, 4]" in moved[0]


if __name__ == "__main__":
    # Regenerate: python tests/test_golden.py --update [MODEL ...] (default: every model).
    args = sys.argv[1:]
    if not args or args[0] != "--update":
        sys.exit(__doc__)
    names = args[1:] or list(MODELS)
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        sys.exit(f"unknown model(s) {unknown}; expected some of {list(MODELS)}")
    for var, value in (("HF_HUB_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1"), ("MMLAB_CACHE", "off"),
                       ("MMLAB_JOINT_MODEL", "conse")):
        os.environ[var] = value
    goldens = _load_goldens()
    for n in names:
        goldens[n] = compute(n)
        del goldens[n]["topk"]["all"]
        print(f"{n}: {goldens[n]['topk']['task']} top-{K} {goldens[n]['topk']['ids'][:2]} ...")
    text = json.dumps(goldens, indent=1)
    # One line per row of numbers, so a regenerated file diffs readably.
    text = re.sub(r"\[\s+([-0-9.e,\s]+?)\s+\]", lambda m: "[" + " ".join(m[1].split()) + "]", text)
    GOLDENS.write_text(text + "\n", encoding="utf-8")
    print(f"wrote {GOLDENS}")
