"""mmlab.models.conse: the offline zero-shot joint space built from EfficientNet and MiniLM."""
import numpy as np
import pytest
from models_support import assert_embeddings

import mmlab as mm
from mmlab import models


@pytest.fixture(scope="module")
def conse():
    return models.load("conse")


@pytest.fixture(scope="module")
def photos():
    return mm.data.sample_photos()


def test_protocol_attributes(conse):
    assert (conse.dim, conse.modalities) == (384, ("text", "image"))
    assert 1 < conse.logit_scale < 100 and "conse" in repr(conse)
    assert isinstance(conse, models.TextEncoder) and isinstance(conse, models.ImageEncoder)
    with pytest.raises(ValueError, match="cannot encode audio: it supports text and image"):
        conse.encode_audio([np.zeros(100, np.float32)], 16000)


def test_conse_ranks_cat_above_dog_for_chelsea(conse, photos):
    img = conse.encode_image([photos["chelsea"]], progress=False)
    txt = conse.encode_text(["a photo of a cat", "a photo of a dog"], progress=False)
    assert_embeddings(img, 1, 384)
    sims = (img @ txt.T)[0]
    assert sims[0] > sims[1] + 0.05, sims


def test_conse_finds_the_coffee_photo(conse, photos):
    names = [k for k in ("astronaut", "camera", "coffee", "chelsea", "rocket", "horse", "motorcycle")
             if k in photos]
    imgs = conse.encode_image([photos[k] for k in names], progress=False)
    q = conse.encode_text(["a cup of coffee"], progress=False)
    assert names[int(np.argmax(q @ imgs.T))] == "coffee"


def test_conse_image_is_the_mix_of_effnet_probabilities(conse, photos):
    images = [photos["chelsea"], photos["coffee"]]
    probs = models.load("effnet-lite0").predict_proba(images, progress=False)
    np.testing.assert_allclose(conse.encode_image(images, progress=False), conse.embed_probabilities(probs),
                               atol=1e-6)


def test_top_classes_are_the_classifier_s_top_classes_of_each_image(conse, photos):
    """Review 30 (nb06 cell 55): what ConSE saw in a picture, through a public method."""
    images = [photos["coffee"], photos["chelsea"]]
    seen = conse.top_classes(images, top_k=3, progress=False)
    assert [len(row) for row in seen] == [3, 3]
    assert seen[0][0][0] == "espresso" and seen[0][0][1] > 0.5
    assert all(isinstance(c, str) and 0.0 <= p <= 1.0 for row in seen for c, p in row)
    assert all(row[0][1] >= row[1][1] >= row[2][1] for row in seen)   # most probable first
    assert seen == models.load("effnet-lite0").classify(images, top_k=3, progress=False)
    with pytest.raises(ValueError, match="top_k"):
        conse.top_classes(images, top_k=0, progress=False)


def test_conse_text_is_minilm_and_labels_match_the_shipped_file(conse):
    minilm = models.load("minilm")
    np.testing.assert_allclose(conse.encode_text(["a dog"], progress=False),
                               minilm.encode_text(["a dog"], progress=False), atol=1e-6)
    rows = [0, 281, 504, 999]
    fresh = minilm.encode_text([conse.prompt.format(conse.class_names[i]) for i in rows], progress=False)
    np.testing.assert_allclose(conse.label_embeddings[rows], fresh, atol=1e-5)


def test_conse_embeds_a_sure_prediction_as_its_class_name(conse):
    probs = np.zeros((2, 1000), np.float32)
    probs[0, 281] = 1.0
    probs[1, [281, 285]] = 0.5
    x = conse.embed_probabilities(probs)
    np.testing.assert_allclose(x[0], conse.label_embeddings[281], atol=1e-5)
    mid = conse.label_embeddings[281] + conse.label_embeddings[285]
    np.testing.assert_allclose(x[1], mid / np.linalg.norm(mid), atol=1e-5)
    with pytest.raises(ValueError, match="probs: expected 1000 columns"):
        conse.embed_probabilities(np.ones((1, 10)))


def test_conse_settings_are_checked(conse):
    effnet, minilm = conse.effnet, conse.minilm
    with pytest.raises(ValueError, match="top_t: expected an int >= 1"):
        models.ConSEEncoder(effnet, minilm, top_t=0)
    with pytest.raises(ValueError, match="prompt: expected a format string"):
        models.ConSEEncoder(effnet, minilm, prompt="a photo")
    with pytest.raises(ValueError, match="logit_scale: expected a number > 0"):
        models.ConSEEncoder(effnet, minilm, logit_scale=-1.0)
