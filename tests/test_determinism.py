"""Determinism: every seeded pipeline repeats itself exactly, and its seed comes from ``mm.SEED``.

Notebooks are checked end to end by nbval (``make test``): cells marked
``# NBVAL_CHECK_OUTPUT`` must reproduce their committed output, i.e. a second execution
equals the first. These unit tests hold the same promise for the pipelines underneath,
cheaply:

- each pipeline run twice in one process gives identical results, even when the global
  random state (Python, NumPy, torch) is scrambled in between, so no result depends on
  what ran before it in a notebook (UMAP/t-SNE maps: tests/test_viz.py);
- ``seed=None`` means ``mm.SEED`` (monkeypatched here, as ``MMLAB_SEED`` would set it), and
  another seed gives another result, so the seed is really used;
- no module of mmlab draws from an unseeded generator (an AST scan), and every notebook
  seeds from ``mm.seed_everything()`` and ``mm.SEED``.
"""
from __future__ import annotations

import ast
import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import mmlab as mm
from mmlab import data, fusion, lit, search, train, zeroshot

ROOT = Path(mm.__file__).parent.parent


def scramble_global_rngs(k: int) -> None:
    """Leave the global generators in some other state, as earlier notebook cells would."""
    random.seed(1000 + k)
    np.random.seed(1000 + k)
    torch.manual_seed(1000 + k)
    np.random.rand(3)
    torch.rand(3)


# --------------------------------------------------------------------------- the pipelines

_rng = np.random.default_rng(123)
FEATS = {"image": _rng.standard_normal((60, 8)), "text": _rng.standard_normal((60, 5))}
LABELS = np.array(["a", "b", "c"] * 20)
PAIRS = (_rng.standard_normal((48, 10)).astype(np.float32), _rng.standard_normal((48, 6)).astype(np.float32))
CORPUS = _rng.standard_normal((800, 16)).astype(np.float32)
IDS = [f"id{i:04d}" for i in range(300)]


def run_fit(seed):
    torch.manual_seed(0)  # the same initial model each run; fit decides the order of the batches
    model = torch.nn.Linear(5, 1)
    x, y = torch.randn(64, 5), torch.randn(64, 1)
    history = train.fit(model, lambda m, a, b: ((m(a) - b) ** 2).mean(), [x, y], epochs=3, batch_size=8,
                        seed=seed, progress=False)
    return history, [p.detach().clone() for p in model.parameters()]


def run_intermediate(seed):
    model = fusion.IntermediateFusion(hidden=8, epochs=4, batch_size=16, modality_dropout=0.3, seed=seed)
    return model.fit(FEATS, LABELS).predict_proba(FEATS)


def run_late_weighted(seed):
    model = fusion.LateFusion(combine="weighted", seed=seed).fit(FEATS, LABELS)
    return model.weights_


def run_train_heads(seed):
    heads, history = lit.train_heads(*PAIRS, dim=4, epochs=3, batch_size=16, seed=seed, progress=False)
    return history, heads.transform(PAIRS[0], "a")


def run_split(seed):
    return data.split_by_id(IDS, seed=seed)


def run_ivf(seed):
    index = search.build_index("ivf", CORPUS, nlist=8, seed=seed)
    return index.search(CORPUS[:20], 5, nprobe=2)


def run_pq(seed):
    index = search.build_index("pq", CORPUS, m=4, nbits=4, seed=seed)
    return index.search(CORPUS[:20], 5)


def run_sample_k(seed):
    return zeroshot.sample_k_per_class(np.arange(90) % 3, 4, seed=seed)


def run_linear_probe(seed):
    y = np.arange(60) % 3
    x = FEATS["image"] + y[:, None]
    return zeroshot.linear_probe(x, y, x, y, k=2, repeats=2, seed=seed)


PIPELINES = {
    "train.fit": run_fit,
    "fusion.IntermediateFusion": run_intermediate,
    "fusion.LateFusion-weighted": run_late_weighted,
    "lit.train_heads": run_train_heads,
    "data.split_by_id": run_split,
    "search.build_index-ivf": run_ivf,
    "search.build_index-pq": run_pq,
    "zeroshot.sample_k_per_class": run_sample_k,
    "zeroshot.linear_probe": run_linear_probe,
}
# Pipelines whose result may legitimately not change with the seed (a tiny, easy problem).
SEED_MAY_NOT_MATTER = {"zeroshot.linear_probe", "fusion.LateFusion-weighted"}


def same(a, b) -> bool:
    """Exact equality of nested results (tuples, lists, dicts, arrays, tensors, floats)."""
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, torch.Tensor):
        return torch.equal(a, b)
    return np.array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("name", PIPELINES)
def test_a_pipeline_repeats_itself_exactly_whatever_ran_before(name):
    run = PIPELINES[name]
    scramble_global_rngs(1)
    first = run(None)
    scramble_global_rngs(2)
    second = run(None)
    assert same(first, second), f"{name}: two runs with the same seed differ"


@pytest.mark.parametrize("name", PIPELINES)
def test_seed_none_means_mm_seed(name, monkeypatch):
    run = PIPELINES[name]
    monkeypatch.setattr(mm, "SEED", 7)
    assert same(run(None), run(7)), f"{name}: seed=None did not use mm.SEED"
    if name not in SEED_MAY_NOT_MATTER:
        assert not same(run(7), run(8)), f"{name}: the seed changes nothing, so it is not really used"


def test_seed_everything_seeds_every_global_generator():
    torch.rand(1)  # torch is imported, so seed_everything seeds it too
    draws = []
    for _ in range(2):
        assert mm.seed_everything() == mm.SEED
        draws.append((random.random(), np.random.rand(), float(torch.rand(1))))
    assert draws[0] == draws[1]
    mm.seed_everything(mm.SEED + 1)
    assert (random.random(), np.random.rand(), float(torch.rand(1))) != draws[0]


# --------------------------------------------------------------------------- static scans

# Calls that draw from (or reset) a global, unseeded generator.
_NP_GLOBAL = {"rand", "randn", "randint", "random", "choice", "permutation", "shuffle", "normal", "uniform",
              "random_sample", "seed"}
_TORCH_RANDOM = {"rand", "randn", "randint", "randperm", "normal", "bernoulli", "multinomial", "rand_like",
                 "randn_like", "randint_like"}
# Known uses, each justified.
ALLOWED = {
    # seed_everything is the one place that seeds the global generators.
    ("__init__.py", "random.seed"), ("__init__.py", "np.random.seed"),
    # Modality dropout draws inside mm.train.fit, which has just called torch.manual_seed(seed).
    ("fusion/intermediate.py", "torch.rand"),
}


def _name(node) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def random_calls(source: str) -> list[tuple[int, str, str]]:
    """(line, call, problem) for each draw from a global or unseeded generator."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = _name(node.func)
        kwargs = {k.arg for k in node.keywords}
        parts = name.split(".")
        if name in ("np.random.default_rng", "numpy.random.default_rng", "np.random.RandomState") and not (
                node.args or kwargs & {"seed"}):
            found.append((node.lineno, name, "a generator without a seed"))
        elif len(parts) == 3 and parts[:2] in (["np", "random"], ["numpy", "random"]) and parts[2] in _NP_GLOBAL:
            found.append((node.lineno, name, "NumPy's global generator"))
        elif len(parts) == 2 and parts[0] == "random" and parts[1] != "Random":
            found.append((node.lineno, name, "Python's global generator"))
        elif len(parts) == 2 and parts[0] == "torch" and parts[1] in _TORCH_RANDOM and "generator" not in kwargs:
            found.append((node.lineno, name, "torch's global generator"))
    return found


def test_the_random_call_scan_finds_unseeded_draws():
    code = "import numpy as np, random, torch\nnp.random.default_rng()\nnp.random.rand(3)\nrandom.random()\n" \
           "torch.randn(2)\nnp.random.default_rng(0)\ntorch.randn(2, generator=g)\n"
    assert [line for line, _, _ in random_calls(code)] == [2, 3, 4, 5]


def test_mmlab_draws_only_from_seeded_generators():
    """Scans every module, subpackages included; the allowed sites are exactly the ones found."""
    unseeded, allowed_found = [], set()
    package = ROOT / "mmlab"
    sources = sorted(package.rglob("*.py"))
    assert any(p.parent.name == "fusion" for p in sources)  # the scan reaches the subpackages
    for path in sources:
        name = path.relative_to(package).as_posix()
        for line, call, problem in random_calls(path.read_text()):
            if (name, call) in ALLOWED:
                allowed_found.add((name, call))
            else:
                unseeded.append(f"mmlab/{name}:{line}: {call} ({problem})")
    assert unseeded == []
    assert allowed_found == ALLOWED  # a stale allow-list entry fails too


def _code_cells(path: Path) -> list[str]:
    nb = json.loads(path.read_text())
    cells = []
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            src = "".join(cell["source"])
            # IPython magics and shell escapes are not Python
            cells.append("\n".join("" if ln.lstrip().startswith(("%", "!")) else ln for ln in src.splitlines()))
    return cells


NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_each_notebook_seeds_from_one_place(path):
    cells = _code_cells(path)
    setup = next(i for i, src in enumerate(cells) if "import mmlab" in src)
    assert "mm.seed_everything(" in cells[setup], f"{path.name}: the setup cell must call mm.seed_everything()"
    setup_src = cells[setup]
    torch_seeded = "import torch" in setup_src and setup_src.index("import torch") < setup_src.index("seed_everything(")
    problems = []
    for i, src in enumerate(cells):
        try:
            tree = ast.parse(src)
        except SyntaxError:
            continue
        for line, call, problem in random_calls(src):
            # Global NumPy/Python draws after seed_everything() are seeded. torch's only if torch
            # was imported before it (seed_everything seeds torch only when it is already imported).
            if problem == "a generator without a seed" or (problem.startswith("torch") and not torch_seeded):
                problems.append(f"cell {i} line {line}: {call} ({problem})")
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            # A literal seed (default_rng(42), seed=1, random_state=0) does not follow mm.SEED / MMLAB_SEED.
            literal = [a for a in node.args if _name(node.func).endswith(("default_rng", "manual_seed", "RandomState"))]
            literal += [k.value for k in node.keywords if k.arg in ("seed", "random_state")]
            for value in literal:
                if isinstance(value, ast.Constant) and isinstance(value.value, int) and not isinstance(value.value, bool):
                    problems.append(f"cell {i} line {node.lineno}: {ast.unparse(node)[:60]} uses a literal seed; "
                                    f"derive it from mm.SEED (e.g. mm.SEED + 1)")
    assert problems == []


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=40), st.integers(0, 2**31))
def test_split_by_id_depends_only_on_each_id_and_the_seed(ids, seed):
    train_idx, test_idx = data.split_by_id(ids, seed=seed)
    assert sorted([*train_idx, *test_idx]) == list(range(len(ids)))  # disjoint and complete
    test_ids = {ids[i] for i in test_idx}
    assert not test_ids & {ids[i] for i in train_idx}  # repeats of an id stay together
    # the same id lands on the same side in any other list (another notebook's subset, reversed)
    rev = ids[::-1]
    _, rev_test = data.split_by_id(rev, seed=seed)
    assert {rev[i] for i in rev_test} == test_ids
