"""mmlab.models.minilm on the real offline model."""
import numpy as np
import pytest
from models_support import assert_embeddings

from mmlab import models


@pytest.fixture(scope="module")
def minilm():
    return models.load("minilm")


def test_protocol_attributes(minilm):
    assert (minilm.name, minilm.dim, minilm.modalities, minilm.logit_scale) == ("minilm", 384, ("text",), None)
    assert isinstance(minilm, models.TextEncoder) and "minilm" in repr(minilm)


def test_minilm_encodes(minilm):
    x = minilm.encode_text(["a cat", "a kitten", "a lorry"], progress=False)
    assert_embeddings(x, 3, 384)
    assert x[0] @ x[1] > x[0] @ x[2] + 0.2


def test_minilm_batching_invariance_and_determinism(minilm, no_cache):
    texts = [f"emoji number {i}: {'very ' * (i % 7)}small" for i in range(10)]
    a = minilm.encode_text(texts, batch_size=1, progress=False)
    b = minilm.encode_text(texts, batch_size=32, progress=False)
    c = minilm.encode_text(texts, batch_size=32, progress=False)
    np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_array_equal(b, c)


def test_cached_vectors_equal_fresh_ones(minilm, module_cache, monkeypatch):
    texts = ["a cat on a mat", "a dog in fog"]
    first = minilm.encode_text(texts, progress=False)  # computed and stored
    again = minilm.encode_text(texts, progress=False)  # read back
    monkeypatch.setenv("MMLAB_CACHE", "off")
    np.testing.assert_array_equal(first, again)
    np.testing.assert_allclose(minilm.encode_text(texts, progress=False), first, atol=1e-6)


def test_text_inputs_are_checked(minilm):
    with pytest.raises(ValueError, match="texts: expected a non-empty list"):
        minilm.encode_text([])
    with pytest.raises(TypeError, match="single string"):
        minilm.encode_text("a cat")
    with pytest.raises(TypeError, match=r"texts\[1\]: expected a string"):
        minilm.encode_text(["a", 3])
    with pytest.raises(ValueError, match="batch_size: expected an int >= 1"):
        minilm.encode_text(["a"], batch_size=0)
    with pytest.raises(ValueError, match=r"texts\[1\]: expected text that can be written as UTF-8"):
        minilm.encode_text(["cat", "\ud800"])


def test_minilm_cannot_encode_images_or_audio(minilm):
    from PIL import Image

    with pytest.raises(ValueError, match="cannot encode image: it supports text"):
        minilm.encode_image([Image.new("RGB", (8, 8))])
    with pytest.raises(ValueError, match="cannot encode audio: it supports text"):
        minilm.encode_audio([np.zeros(100, np.float32)], 16000)
