"""mmlab.models.registry and the Encoder protocol: names, memoising, registering your own model."""
import numpy as np
import pytest
from PIL import Image

from mmlab import models


class Toy(models.BaseEncoder):
    """A text encoder with no weights: the vector counts letters."""

    name, dim, modalities = "toy", 3, ("text",)

    def _embed_text(self, texts):
        return np.array([[t.count("a") + 1, t.count("b"), len(t)] for t in texts], np.float32)


class Broken(models.BaseEncoder):
    name, dim, modalities = "broken", 2, ("text",)

    def _embed_text(self, texts):
        return np.array([[0.0, 0.0] if t == "zero" else [np.nan, 1.0] for t in texts], np.float32)


def test_load_is_memoised_and_names_are_forgiving():
    minilm = models.load("minilm")
    assert models.load(" MiniLM ") is minilm
    assert models.load("effnet") is models.load("effnet-lite0")  # an alias


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown model 'bert'.*minilm, effnet-lite0, mfcc, conse, clip"):
        models.load("bert")
    with pytest.raises(TypeError, match="name: expected a model name"):
        models.load(3)
    with pytest.raises(ValueError, match="clip:ARCH/PRETRAINED"):
        models.load("clip:ViT-B-32")
    with pytest.raises(ValueError, match="takes no options"):
        models.load("minilm:large")


def test_available_lists_the_builtin_models_and_lit_emoji():
    names = models.available()
    assert names[:5] == ["minilm", "effnet-lite0", "mfcc", "conse", "clip"] and "lit-emoji" in names


def test_register_your_own_encoder():
    models.register("toy-test", Toy)
    toy = models.load("toy-test")
    assert models.load("TOY-test") is toy and "toy-test" in models.available()
    x = toy.encode_text(["aab", "b"], progress=False)
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, rtol=1e-6)
    with pytest.raises(ValueError, match="name: expected a lower-case model name"):
        models.register("Bad Name", Toy)
    with pytest.raises(TypeError, match="factory: expected a callable"):
        models.register("toy-2", 3)
    models.register("not-an-encoder", object)
    with pytest.raises(TypeError, match="lacks the encoder attributes"):
        models.load("not-an-encoder")


def test_builtin_encoders_meet_the_protocol():
    toy = Toy()
    assert isinstance(toy, models.Encoder) and isinstance(toy, models.TextEncoder)
    assert toy.logit_scale is None and "toy" in repr(toy)
    assert not isinstance(object(), models.Encoder)


def test_wrong_modality_names_the_supported_ones():
    toy = Toy()
    with pytest.raises(ValueError, match="cannot encode image: it supports text"):
        toy.encode_image([Image.new("RGB", (8, 8))])
    with pytest.raises(ValueError, match="cannot encode audio: it supports text"):
        toy.encode_audio([np.zeros(100, np.float32)], 16000)


def test_zero_or_non_finite_encoder_output_is_a_clear_error():
    with pytest.raises(ValueError, match="broken text embeddings: expected finite values"):
        Broken().encode_text(["nan"], progress=False)
    with pytest.raises(ValueError, match="broken text embeddings: expected vectors with non-zero length"):
        Broken().encode_text(["zero"], progress=False)


def test_lit_emoji_loads_through_the_registry():
    model = models.load("lit-emoji")  # mmlab.lit registers it when imported
    assert models.load("lit-emoji") is model
    assert model.name == "lit-emoji" and set(model.modalities) == {"text", "image"}
    assert isinstance(model, models.Encoder)
