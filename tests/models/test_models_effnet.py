"""mmlab.models.effnet on the real offline EfficientNet-Lite0 weights."""
import numpy as np
import pytest
import torch
from models_support import assert_embeddings
from PIL import Image

import mmlab as mm
from mmlab import models

CAT_CLASSES = {"tabby", "tiger cat", "Egyptian cat", "Persian cat", "Siamese cat", "lynx"}


@pytest.fixture(scope="module")
def effnet():
    return models.load("effnet-lite0")


@pytest.fixture(scope="module")
def photos():
    return mm.data.sample_photos()


@pytest.fixture(scope="module")
def emoji_images():
    return mm.data.load_emoji().images[:40]


def test_protocol_attributes(effnet):
    assert (effnet.dim, effnet.modalities, effnet.logit_scale) == (1280, ("image",), None)
    assert isinstance(effnet, models.ImageEncoder) and "effnet-lite0" in repr(effnet)
    with pytest.raises(ValueError, match="cannot encode text: it supports image"):
        effnet.encode_text(["a cat"])


def test_effnet_classifies_chelsea_as_a_cat(effnet, photos):
    (top,) = effnet.classify([photos["chelsea"]], top_k=3)
    assert len(top) == 3 and top[0][0] in CAT_CLASSES, top
    assert top[0][1] >= top[1][1] >= top[2][1] > 0
    assert len(effnet.class_names) == 1000
    (coffee,) = effnet.classify([photos["coffee"]], top_k=1)
    assert coffee[0][0] in {"espresso", "cup", "coffee mug"}, coffee


def test_effnet_encodes_and_probabilities_sum_to_one(effnet, emoji_images):
    x = effnet.encode_image(emoji_images[:5], progress=False)
    assert_embeddings(x, 5, 1280)
    p = effnet.predict_proba(emoji_images[:5], progress=False)
    assert p.shape == (5, 1000)
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-5)


def test_probabilities_from_cached_features_equal_a_full_forward(effnet, emoji_images):
    images = emoji_images[10:14]
    effnet.encode_image(images, progress=False)  # fills the cache with the features
    cached = effnet.predict_proba(images, progress=False)  # the classifier on cached features
    with torch.no_grad():
        x = torch.stack([effnet.preprocess(im) for im in images])
        direct = torch.softmax(effnet.model(x), dim=1).numpy()  # timm's own forward, end to end
    np.testing.assert_allclose(cached, direct, atol=1e-5)


def test_effnet_batching_invariance_and_determinism(effnet, emoji_images, no_cache):
    images = emoji_images[:6]
    a = effnet.encode_image(images, batch_size=1, progress=False)
    b = effnet.encode_image(images, batch_size=32, progress=False)
    np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_array_equal(b, effnet.encode_image(images, batch_size=32, progress=False))


def test_effnet_accepts_any_image_mode(effnet):
    rgba = Image.new("RGBA", (30, 20), (255, 0, 0, 0))  # fully transparent: white, like the emoji
    white = Image.new("RGB", (30, 20), (255, 255, 255))
    gray = Image.new("L", (50, 50), 200)
    x = effnet.encode_image([rgba, white, gray], progress=False)
    np.testing.assert_allclose(x[0], x[1], atol=1e-6)
    assert_embeddings(x, 3, 1280)
    x = effnet.encode_image([Image.new("La", (9, 7)), Image.new("I;16", (9, 7), 1000)], progress=False)
    assert_embeddings(x, 2, 1280)


def test_image_inputs_are_checked(effnet):
    with pytest.raises(ValueError, match="images: expected a non-empty list"):
        effnet.encode_image([])
    with pytest.raises(TypeError, match="single image; wrap it in a list"):
        effnet.encode_image(Image.new("RGB", (8, 8)))
    with pytest.raises(TypeError, match=r"images\[1\]: expected a PIL.Image.Image.*PIL.Image.open"):
        effnet.encode_image([Image.new("RGB", (8, 8)), "cat.png"])
    with pytest.raises(TypeError, match=r"images\[0\].*PIL.Image.fromarray"):
        effnet.encode_image([np.zeros((8, 8, 3), np.uint8)])
    with pytest.raises(ValueError, match="top_k: expected an int <= 1000"):
        effnet.classify([Image.new("RGB", (8, 8))], top_k=1001)


def test_checkpoint_remapping_fails_loudly_on_a_mismatch():
    src = {"a.weight": torch.zeros(2, 3), "a.bias": torch.zeros(2)}
    assert list(models.remap_state_dict(src, {"x.weight": torch.ones(2, 3), "x.bias": torch.ones(2)})) == \
        ["x.weight", "x.bias"]
    with pytest.raises(RuntimeError, match="does not match"):
        models.remap_state_dict(src, {"x.weight": torch.ones(3, 2), "x.bias": torch.ones(2)})
    with pytest.raises(RuntimeError, match="does not match"):  # same shapes, swapped kinds
        models.remap_state_dict({"a.bias": torch.zeros(2), "a.weight": torch.zeros(2)},
                                {"x.weight": torch.ones(2), "x.bias": torch.ones(2)})
    with pytest.raises(RuntimeError, match="3 tensors"):
        models.remap_state_dict({**src, "c": torch.zeros(1)}, {"x.weight": torch.ones(2, 3), "x.bias": torch.ones(2)})
