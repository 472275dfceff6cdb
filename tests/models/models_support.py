"""Helpers shared by the tests of mmlab.models (plain functions; the fixtures live in conftest.py)."""
import numpy as np


def assert_embeddings(x, n, dim):
    """x is (n, dim) float32 with unit rows: what every encoder returns."""
    assert isinstance(x, np.ndarray) and x.dtype == np.float32 and x.shape == (n, dim)
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)


def tone(freq, seconds=0.5, rate=16000):
    """A windowed sine wave: a small, deterministic audio clip."""
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t) * np.hanning(t.size)).astype(np.float32)
