"""Tests of mmlab.zeroshot: a fake joint model with known answers, then real models."""
import numpy as np
import pytest
from PIL import Image

import mmlab as mm
from mmlab import zeroshot as zs

CLASSES = ["cat", "dog", "car"]
COLOURS = {"cat": (255, 0, 0), "dog": (0, 255, 0), "car": (0, 0, 255)}


class FakeJoint:
    """Text and image embeddings that are one-hot by class, so every answer is known.

    A text is embedded as the one-hot vector of the first class name it contains
    (plus a little of the "template" direction if it contains "emoji", so the
    ensemble has something to average); an image as the one-hot vector of its colour.
    """

    name = "fake-joint"
    dim = 4
    modalities = ("text", "image")
    logit_scale = 10.0

    def __init__(self):
        self.text_calls = []

    def encode_text(self, texts, batch_size=32, progress=True):
        self.text_calls.append(list(texts))
        out = np.zeros((len(texts), self.dim), np.float32)
        for i, t in enumerate(texts):
            hit = [j for j, c in enumerate(CLASSES) if c in t]
            out[i, hit[0] if hit else 3] = 1.0
            if "emoji" in t:
                out[i, 3] += 1.0
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def encode_image(self, images, batch_size=32, progress=True):
        out = np.zeros((len(images), self.dim), np.float32)
        for i, im in enumerate(images):
            rgb = im.getpixel((0, 0))
            out[i, [COLOURS[c] for c in CLASSES].index(rgb)] = 1.0
        return out


class TextOnly:
    name = "minilm"
    dim = 4
    modalities = ("text",)
    logit_scale = None

    def encode_text(self, texts, batch_size=32, progress=True):
        return np.eye(4, dtype=np.float32)[: len(texts)]


def _image(cls):
    return Image.new("RGB", (8, 8), COLOURS[cls])


@pytest.fixture
def fake():
    return FakeJoint()


# --------------------------------------------------------------------------- templates


def test_get_templates_named_sets():
    assert zs.get_templates("photo") == ["a photo of a {}."]
    assert zs.get_templates("bare") == ["{}"]
    openai = zs.get_templates("openai-imagenet")
    assert len(openai) == 80 and all("{}" in t for t in openai)
    assert "a photo of a {}." in openai
    assert len(zs.get_templates("simple-imagenet")) == 7
    assert all("{}" in t for t in zs.get_templates("emoji"))
    for name in zs.TEMPLATE_SETS:
        assert zs.get_templates(name)


def test_get_templates_bad_name():
    with pytest.raises(ValueError, match="name: expected one of"):
        zs.get_templates("imagenet")
    with pytest.raises(TypeError, match="name"):
        zs.get_templates(3)


# --------------------------------------------------------------------------- build_classifier


def test_build_classifier_one_hot(fake):
    W = zs.build_classifier(fake, CLASSES, ["a photo of a {}."])
    assert W.shape == (3, 4) and W.dtype == np.float32
    np.testing.assert_allclose(W, np.eye(4)[:3], atol=1e-6)
    assert fake.text_calls == [["a photo of a cat.", "a photo of a dog.", "a photo of a car."]]


def test_build_classifier_is_the_renormalised_template_mean(fake):
    templates = ["a photo of a {}.", "an emoji of a {}.", lambda c: f"a {c} emoji."]
    W = zs.build_classifier(fake, CLASSES, templates)
    texts = fake.text_calls[-1]
    assert texts[:3] == ["a photo of a cat.", "an emoji of a cat.", "a cat emoji."]  # class-major
    # By hand: for "cat", the mean of e0 and twice (e0 + e3)/sqrt(2), renormalised.
    e0, e3 = np.eye(4)[0], np.eye(4)[3]
    mean = (e0 + 2 * (e0 + e3) / np.sqrt(2)) / 3
    np.testing.assert_allclose(W[0], mean / np.linalg.norm(mean), atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(W, axis=1), 1.0, atol=1e-6)


def test_build_classifier_bad_inputs(fake):
    with pytest.raises(ValueError, match="classnames: expected a non-empty list"):
        zs.build_classifier(fake, [])
    with pytest.raises(ValueError, match=r"classnames: expected distinct.*'cat'"):
        zs.build_classifier(fake, ["cat", "dog", "cat"])
    with pytest.raises(TypeError, match=r"classnames: .*single string"):
        zs.build_classifier(fake, "cat")
    with pytest.raises(TypeError, match=r"classnames\[1\]: expected a string"):
        zs.build_classifier(fake, ["cat", 3])
    with pytest.raises(ValueError, match=r"classnames\[0\]: expected a non-blank"):
        zs.build_classifier(fake, ["  ", "dog"])
    with pytest.raises(ValueError, match=r"templates\[1\]: expected a string with '\{\}'"):
        zs.build_classifier(fake, CLASSES, ["a photo of a {}.", "a photo"])
    with pytest.raises(ValueError, match="templates: expected at least one"):
        zs.build_classifier(fake, CLASSES, [])
    with pytest.raises(TypeError, match=r"templates: .*single string"):
        zs.build_classifier(fake, CLASSES, "a photo of a {}.")
    with pytest.raises(TypeError, match=r"templates\[0\]"):
        zs.build_classifier(fake, CLASSES, [42])


def test_model_without_the_modality_is_named():
    with pytest.raises(ValueError, match=r"'minilm' with modalities \('text',\).*missing image"):
        zs.classify(TextOnly(), [_image("cat")], CLASSES)
    with pytest.raises(TypeError, match=r"model: expected an encoder meeting the mmlab\.models\.Encoder protocol"):
        zs.build_classifier(object(), CLASSES)

    class NoMethod(TextOnly):
        modalities = ("text", "image")

    with pytest.raises(TypeError, match="declares the 'image' modality but has no encode_image"):
        zs.classify(NoMethod(), [_image("cat")], CLASSES)


# --------------------------------------------------------------------------- classify


def test_classify_known_answers(fake):
    images = [_image("dog"), _image("cat"), _image("car"), _image("cat")]
    p = zs.classify(fake, images, CLASSES)
    assert p.shape == (4, 3) and p.dtype == np.float32
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-6)
    assert p.argmax(axis=1).tolist() == [1, 0, 2, 0]
    # One-hot embeddings: cosine 1 for the right class, 0 for the others, so
    # p = e^10 / (e^10 + 2) exactly.
    np.testing.assert_allclose(p.max(axis=1), np.exp(10) / (np.exp(10) + 2), rtol=1e-5)


def test_classify_column_order_follows_classnames(fake):
    p = zs.classify(fake, [_image("cat")], ["dog", "car", "cat"])
    assert p.argmax() == 2


def test_classify_bad_images(fake):
    with pytest.raises(TypeError, match="images: expected a list of PIL images, got a single image"):
        zs.classify(fake, _image("cat"), CLASSES)
    with pytest.raises(ValueError, match="images: expected a non-empty list"):
        zs.classify(fake, [], CLASSES)
    with pytest.raises(TypeError, match=r"images\[1\]: expected a PIL"):
        zs.classify(fake, [_image("cat"), np.zeros((8, 8, 3))], CLASSES)


class MinimalJoint:
    """The smallest joint model of the documented protocol: four attributes and two methods.

    No mmlab base class, no ``progress`` argument, and no logit scale of its own.
    """

    name = "minimal"
    dim = 3
    modalities = ("text", "image")
    logit_scale = None

    def encode_text(self, texts):
        out = np.array([[c in t for c in CLASSES] for t in texts], np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def encode_image(self, images):
        colours = [COLOURS[c] for c in CLASSES]
        return np.eye(3, dtype=np.float32)[[colours.index(im.getpixel((0, 0))) for im in images]]


def test_zero_shot_with_a_minimal_joint_model_of_the_protocol():
    model = MinimalJoint()
    assert isinstance(model, mm.models.Encoder)
    images = [_image("dog"), _image("car"), _image("cat")]
    p = zs.classify(model, images, CLASSES, ["a photo of a {}."])
    assert p.shape == (3, 3) and p.argmax(axis=1).tolist() == [1, 2, 0]
    # no logit_scale of its own: CLIP's cap of 100, so a cosine gap of 1 is e^100 to 1
    np.testing.assert_allclose(p, zs.predict_proba(model.encode_image(images), np.eye(3), 100.0), atol=1e-6)
    soft = zs.classify(model, images, CLASSES, logit_scale=1.0)  # the caller's scale wins
    np.testing.assert_allclose(soft[0], np.exp([0, 1, 0]) / np.exp([0, 1, 0]).sum(), rtol=1e-5)
    with pytest.raises(ValueError, match="logit_scale: expected a number > 0"):
        zs.classify(model, images, CLASSES, logit_scale=0.0)
    classifier = zs.build_classifier(model, CLASSES, ["a {}", "the {}"])
    assert zs.zero_shot_accuracy(model.encode_image(images), [1, 2, 0], classifier) == 1.0


def test_predict_proba_scale_and_checks():
    img = np.array([[1.0, 0.0], [0.6, 0.8]])
    cls = np.array([[1.0, 0.0], [0.0, 1.0]])
    p = zs.predict_proba(img, cls, logit_scale=1.0)
    e = np.exp(np.array([[1.0, 0.0], [0.6, 0.8]]))
    np.testing.assert_allclose(p, e / e.sum(axis=1, keepdims=True), rtol=1e-6)
    # A larger scale sharpens the same ranking.
    p100 = zs.predict_proba(img, cls, logit_scale=100.0)
    assert (p100.argmax(1) == p.argmax(1)).all() and p100.max() > p.max()
    with pytest.raises(ValueError, match="same embedding dimension"):
        zs.predict_proba(img, np.ones((2, 3)), 1.0)
    with pytest.raises(ValueError, match="logit_scale"):
        zs.predict_proba(img, cls, 0.0)


def test_zero_shot_accuracy(fake):
    W = zs.build_classifier(fake, CLASSES)
    X = fake.encode_image([_image(c) for c in ["cat", "dog", "car", "car"]])
    assert zs.zero_shot_accuracy(X, [0, 1, 2, 2], W) == 1.0
    assert zs.zero_shot_accuracy(X, [0, 1, 2, 0], W) == 0.75
    with pytest.raises(ValueError, match=r"labels: expected indices in \[0, 3\)"):
        zs.zero_shot_accuracy(X, [0, 1, 2, 3], W)
    with pytest.raises(TypeError, match="labels: expected integer"):
        zs.zero_shot_accuracy(X, [0.0, 1.0, 2.0, 2.0], W)
    with pytest.raises(ValueError, match="same length"):
        zs.zero_shot_accuracy(X, [0, 1, 2], W)


# --------------------------------------------------------------------------- few-shot


def test_sample_k_per_class_is_seeded_and_balanced():
    y = np.array([0] * 10 + [1] * 5 + [2] * 2)
    idx = zs.sample_k_per_class(y, 3, seed=1)
    assert np.bincount(y[idx]).tolist() == [3, 3, 2]  # class 2 has only two
    assert len(set(idx.tolist())) == len(idx)
    np.testing.assert_array_equal(idx, zs.sample_k_per_class(y, 3, seed=1))
    assert any(not np.array_equal(idx, zs.sample_k_per_class(y, 3, seed=s)) for s in range(2, 6))
    with pytest.raises(ValueError, match="k: expected an int >= 1"):
        zs.sample_k_per_class(y, 0)


def test_linear_probe_learns_separable_classes():
    rng = np.random.default_rng(0)
    centres = np.eye(5, 16) * 3
    y = rng.integers(0, 5, size=300)
    X = centres[y] + rng.normal(scale=0.5, size=(300, 16))
    acc1 = zs.linear_probe(X[:200], y[:200], X[200:], y[200:], k=1)
    acc8 = zs.linear_probe(X[:200], y[:200], X[200:], y[200:], k=8)
    assert acc8 > 0.9 and acc8 >= acc1 > 0.2  # chance is 0.2
    with pytest.raises(ValueError, match="same embedding dimension"):
        zs.linear_probe(X[:200], y[:200], X[200:, :8], y[200:], k=1)
    with pytest.raises(ValueError, match="train_labels: expected at least 2 classes"):
        zs.linear_probe(X[:5], np.zeros(5, int), X[200:], y[200:], k=1)


# --------------------------------------------------------------------------- real offline model


def _chelsea():
    from skimage import data as skdata

    return Image.fromarray(skdata.chelsea()).convert("RGB")


@pytest.mark.slow
def test_conse_says_cat_for_chelsea():
    model = mm.models.load("conse")
    chelsea = _chelsea()
    p = zs.classify(model, [chelsea], ["cat", "dog"], ["a photo of a {}."])
    assert p.shape == (1, 2)
    np.testing.assert_allclose(p.sum(), 1.0, atol=1e-5)
    assert p[0, 0] > p[0, 1]


# --------------------------------------------------------------------------- open_clip's real model code


@pytest.fixture(scope="module")
def random_clip():
    """open_clip's ViT-B-32 with random weights, wrapped like real CLIP is (the weights need a download)."""
    import open_clip
    import torch

    torch.manual_seed(0)
    model, _, preprocess = open_clip.create_model_and_transforms("ViT-B-32", pretrained=None)
    tokenizer = open_clip.get_tokenizer("ViT-B-32")
    return mm.models.CLIPEncoder(model, preprocess, tokenizer, name="clip-random-weights")


@pytest.mark.slow
def test_build_classifier_matches_open_clip(random_clip):
    from open_clip import build_zero_shot_classifier

    templates = zs.get_templates("simple-imagenet")[:3]
    ours = zs.build_classifier(random_clip, CLASSES, templates)  # (C, D)
    theirs = build_zero_shot_classifier(random_clip.model, random_clip.tokenizer, CLASSES, templates,
                                        num_classes_per_batch=None)  # (D, C)
    assert ours.shape == (3, random_clip.dim)
    np.testing.assert_allclose(ours, theirs.T.numpy(), atol=1e-5)


@pytest.mark.slow
def test_classify_with_open_clip_code_path(random_clip):
    """The notebook's "under the hood" cell: raw open_clip calls equal mm.zeroshot.classify."""
    import torch

    images = [_chelsea(), _image("car")]
    p = zs.classify(random_clip, images, CLASSES, ["a photo of a {}."])
    assert p.shape == (2, 3) and p.dtype == np.float32
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-5)
    m = random_clip.model
    with torch.no_grad():
        img = m.encode_image(torch.stack([random_clip.preprocess(im) for im in images]))
        txt = m.encode_text(random_clip.tokenizer([f"a photo of a {c}." for c in CLASSES]))
        img = img / img.norm(dim=-1, keepdim=True)
        txt = txt / txt.norm(dim=-1, keepdim=True)
        raw = (m.logit_scale.exp() * img @ txt.T).softmax(dim=-1)
    np.testing.assert_allclose(p, raw.numpy(), atol=1e-4)
    assert random_clip.logit_scale == pytest.approx(1 / 0.07, rel=1e-4)  # open_clip's initial value


# --------------------------------------------------------------------------- per-item probe results


def test_probe_correct_is_one_draw_of_linear_probe():
    rng = np.random.default_rng(1)
    centres = np.eye(4, 12) * 2
    y = rng.integers(0, 4, size=240)
    X = centres[y] + rng.normal(scale=0.8, size=(240, 12))
    correct = zs.probe_correct(X[:160], y[:160], X[160:], y[160:], k=2, seed=5)
    assert correct.shape == (80,) and correct.dtype == bool
    assert zs.linear_probe(X[:160], y[:160], X[160:], y[160:], k=2, repeats=1, seed=5) == pytest.approx(correct.mean())
    np.testing.assert_array_equal(correct, zs.probe_correct(X[:160], y[:160], X[160:], y[160:], k=2, seed=5))
    three = [zs.probe_correct(X[:160], y[:160], X[160:], y[160:], k=2, seed=5 + r).mean() for r in range(3)]
    assert zs.linear_probe(X[:160], y[:160], X[160:], y[160:], k=2, repeats=3, seed=5) == pytest.approx(np.mean(three))
    with pytest.raises(ValueError, match="C: expected"):
        zs.probe_correct(X[:160], y[:160], X[160:], y[160:], k=2, C=0)
    with pytest.raises(ValueError, match="test_features and test_labels"):
        zs.probe_correct(X[:160], y[:160], X[160:], y[161:], k=2)


# --------------------------------------------------------------------------- calibration


def test_expected_calibration_error_known_values():
    y = np.array([0, 0, 1, 1])
    # Always 100 % sure and always right: perfectly calibrated.
    assert zs.expected_calibration_error(np.eye(2)[y], y) == 0.0
    # Always 100 % sure, right half the time: the gap is 0.5.
    assert zs.expected_calibration_error(np.eye(2)[[0, 1, 1, 0]], y) == pytest.approx(0.5)
    # 75 % sure and right 3 times in 4: calibrated, although not certain.
    p = np.array([[0.75, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.25]])
    assert zs.expected_calibration_error(p, y) == pytest.approx(0.0)
    # Two bins: 0.9-confident and right (gap 0.1), 0.6-confident and wrong (gap 0.6): mean 0.35.
    p = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]])
    assert zs.expected_calibration_error(p, [0, 0, 1, 1]) == pytest.approx(0.35)
    assert zs.expected_calibration_error(p, [0, 0, 1, 1], n_bins=1) == pytest.approx(0.25)  # one bin: |0.5 - 0.75|


def test_expected_calibration_error_bad_inputs():
    with pytest.raises(ValueError, match="probs: expected rows of probabilities"):
        zs.expected_calibration_error([[0.5, 0.6]], [0])
    with pytest.raises(ValueError, match="probs and labels"):
        zs.expected_calibration_error([[0.5, 0.5]], [0, 1])
    with pytest.raises(ValueError, match="n_bins"):
        zs.expected_calibration_error([[0.5, 0.5]], [0], n_bins=0)


def test_fit_logit_scale_recovers_the_scale_that_made_the_labels():
    rng = np.random.default_rng(0)
    sims = rng.uniform(-0.3, 0.3, size=(4000, 5))
    true_scale = 12.0
    p = mm.embeddings.softmax(true_scale * sims, axis=1)
    labels = np.array([rng.choice(5, p=row) for row in p])  # labels drawn from the model's own probabilities
    fitted = zs.fit_logit_scale(sims, labels)
    assert fitted == pytest.approx(true_scale, rel=0.15)
    # Labels that ignore the similarities: the best scale is small (probabilities near uniform).
    assert zs.fit_logit_scale(sims, rng.integers(0, 5, size=4000)) < 2.0
    with pytest.raises(ValueError, match="high: expected a number > low"):
        zs.fit_logit_scale(sims, labels, low=10, high=5)
    with pytest.raises(ValueError, match="labels"):
        zs.fit_logit_scale(sims, np.full(4000, 7))
