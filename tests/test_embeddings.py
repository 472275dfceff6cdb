"""mmlab.embeddings: known answers and bad inputs."""
import numpy as np
import pytest

import mmlab
from mmlab.embeddings import cosine_similarity, l2_normalize


def test_cosine_known_answers():
    a = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    b = np.array([[3.0, 0.0], [-1.0, 0.0], [0.0, 1.0]])
    got = cosine_similarity(a, b)
    s = 1 / np.sqrt(2)
    want = np.array([[1, -1, 0], [0, 0, 1], [s, -s, s]], dtype=np.float32)
    assert got.shape == (3, 3)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_cosine_accepts_torch_and_lists_and_vectors():
    torch = pytest.importorskip("torch")
    a = torch.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    b = [[1.0, 2.0, 3.0], [-1.0, -2.0, -3.0]]
    np.testing.assert_allclose(cosine_similarity(a, b), [[1.0, -1.0]], atol=1e-6)
    assert cosine_similarity([1.0, 0.0], [0.0, 1.0]).shape == (1, 1)


def test_cosine_matches_sklearn_on_random_data():
    from sklearn.metrics.pairwise import cosine_similarity as sk_cosine

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(7, 16)), rng.normal(size=(5, 16))
    np.testing.assert_allclose(cosine_similarity(a, b), sk_cosine(a, b), atol=1e-5)


def test_cosine_is_scale_invariant():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(4, 8)), rng.normal(size=(3, 8))
    np.testing.assert_allclose(cosine_similarity(10 * a, 0.1 * b), cosine_similarity(a, b), atol=1e-5)


def test_l2_normalize_unit_rows():
    x = np.array([[3.0, 4.0], [0.0, -2.0]])
    got = l2_normalize(x)
    np.testing.assert_allclose(got, [[0.6, 0.8], [0.0, -1.0]], atol=1e-6)
    np.testing.assert_allclose(l2_normalize([3.0, 4.0]), [0.6, 0.8], atol=1e-6)


@pytest.mark.parametrize(
    "a, b, exc, words",
    [
        (np.ones((2, 3)), np.ones((2, 4)), ValueError, ["a and b", "dimension", "3", "4"]),
        (np.ones((2, 3, 1)), np.ones((2, 3)), ValueError, ["a", "1-D or 2-D", "3-D"]),
        (np.ones((0, 3)), np.ones((2, 3)), ValueError, ["a", "non-empty", "(0, 3)"]),
        (np.ones((2, 3)), np.array([[1.0, np.nan, 0.0]]), ValueError, ["b", "finite", "NaN"]),
        (np.ones((2, 3)), np.array([[1.0, np.inf, 0.0]]), ValueError, ["b", "finite"]),
        ("cat", np.ones((2, 3)), TypeError, ["a", "array of numbers", "str"]),
        (np.ones((2, 3)), [["x", "y", "z"]], TypeError, ["b", "numeric"]),
        (None, np.ones((2, 3)), TypeError, ["a", "NoneType"]),
        (np.ones((2, 3)), [[1.0, 2.0], [1.0]], TypeError, ["b", "array of numbers"]),
        (np.zeros((1, 3)), np.ones((2, 3)), ValueError, ["a", "non-zero", "index 0"]),
    ],
)
def test_cosine_bad_inputs(a, b, exc, words):
    with pytest.raises(exc) as info:
        cosine_similarity(a, b)
    for w in words:
        assert w in str(info.value), (w, str(info.value))


def test_l2_normalize_bad_inputs():
    with pytest.raises(ValueError, match="x: expected vectors with non-zero length"):
        l2_normalize(np.array([[1.0, 0.0], [0.0, 0.0]]))
    with pytest.raises(ValueError, match="x: expected a 1-D or 2-D array, got 0-D"):
        l2_normalize(3.0)


def test_import_is_lazy_and_seed_is_one_place():
    import subprocess
    import sys

    code = "import sys, mmlab; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert mmlab.seed_everything() == mmlab.SEED
    a = np.random.rand(3)
    mmlab.seed_everything()
    np.testing.assert_array_equal(a, np.random.rand(3))
    with pytest.raises(TypeError, match="seed: expected an int"):
        mmlab.seed_everything("0")
