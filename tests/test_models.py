"""Tests of mmlab.models on the real offline models (each loaded once), plus open_clip's
real model code with random weights for the CLIP path. Nothing here touches the network."""
import json
import socket

import numpy as np
import pytest
import torch
from PIL import Image

import mmlab as mm
from mmlab import models

CAT_CLASSES = {"tabby", "tiger cat", "Egyptian cat", "Persian cat", "Siamese cat", "lynx"}


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test."""
    def refuse(*args, **kwargs):
        pytest.fail(f"a test tried to open a network connection: {args}")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", lambda self, *a: refuse(*a))


@pytest.fixture(autouse=True)
def module_cache(tmp_path_factory, monkeypatch):
    """A private, initially empty embedding cache for this module (never ~/.cache)."""
    root = tmp_path_factory.getbasetemp() / "mmlab-cache-models"
    monkeypatch.setenv("MMLAB_CACHE", str(root))
    return root


@pytest.fixture
def no_cache(monkeypatch):
    monkeypatch.setenv("MMLAB_CACHE", "off")


@pytest.fixture(scope="module")
def minilm():
    return models.load("minilm")


@pytest.fixture(scope="module")
def effnet():
    return models.load("effnet-lite0")


@pytest.fixture(scope="module")
def conse():
    return models.load("conse")


@pytest.fixture(scope="module")
def mfcc():
    return models.load("mfcc")


@pytest.fixture(scope="module")
def photos():
    return mm.data.sample_photos()


@pytest.fixture(scope="module")
def emoji_images():
    return mm.data.load_emoji().images[:40]


def assert_embeddings(x, n, dim):
    assert isinstance(x, np.ndarray) and x.dtype == np.float32 and x.shape == (n, dim)
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)


# ---------------------------------------------------------------- registry
def test_load_is_memoised(minilm):
    assert models.load("minilm") is minilm
    assert models.load(" MiniLM ") is minilm


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown model 'bert'.*minilm, effnet-lite0, mfcc, conse, clip"):
        models.load("bert")
    with pytest.raises(TypeError, match="name: expected a model name"):
        models.load(3)
    with pytest.raises(ValueError, match="clip:ARCH/PRETRAINED"):
        models.load("clip:ViT-B-32")


def test_protocol_attributes(minilm, effnet, conse, mfcc):
    for m, dim, mods in [(minilm, 384, ("text",)), (effnet, 1280, ("image",)),
                         (conse, 384, ("text", "image")), (mfcc, 80, ("audio",))]:
        assert (m.dim, m.modalities) == (dim, mods)
        assert isinstance(m.name, str) and m.name in repr(m)
    assert 1 < conse.logit_scale < 100


def test_wrong_modality_names_the_supported_ones(minilm, effnet, mfcc):
    with pytest.raises(ValueError, match="cannot encode image: it supports text"):
        minilm.encode_image([Image.new("RGB", (8, 8))])
    with pytest.raises(ValueError, match="cannot encode text: it supports image"):
        effnet.encode_text(["a cat"])
    with pytest.raises(ValueError, match="cannot encode text: it supports audio"):
        mfcc.encode_text(["a cat"])
    with pytest.raises(ValueError, match="cannot encode audio: it supports text"):
        minilm.encode_audio([np.zeros(100, np.float32)], 16000)


# ---------------------------------------------------------------- minilm
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


def test_text_inputs_are_checked(minilm):
    with pytest.raises(ValueError, match="texts: expected a non-empty list"):
        minilm.encode_text([])
    with pytest.raises(TypeError, match="single string"):
        minilm.encode_text("a cat")
    with pytest.raises(TypeError, match=r"texts\[1\]: expected a string"):
        minilm.encode_text(["a", 3])
    with pytest.raises(ValueError, match="batch_size: expected an int >= 1"):
        minilm.encode_text(["a"], batch_size=0)


# ---------------------------------------------------------------- effnet-lite0
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


def test_effnet_batching_invariance_and_determinism(effnet, emoji_images, no_cache):
    images = emoji_images[:6]
    a = effnet.encode_image(images, batch_size=1, progress=False)
    b = effnet.encode_image(images, batch_size=32, progress=False)
    np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_array_equal(b, effnet.encode_image(images, batch_size=32, progress=False))


def test_effnet_features_and_class_probabilities_come_from_one_forward(effnet, emoji_images, monkeypatch):
    calls = []
    original = effnet._forward
    monkeypatch.setattr(effnet, "_forward", lambda ims: calls.append(len(ims)) or original(ims))
    images = [im.rotate(90) for im in emoji_images[20:26]]  # not seen by any other test
    effnet.encode_image(images, progress=False)
    effnet.classify(images, progress=False)
    models.load("conse").encode_image(images, progress=False)
    assert calls == [6]


def test_effnet_accepts_any_image_mode(effnet):
    rgba = Image.new("RGBA", (30, 20), (255, 0, 0, 0))  # fully transparent: white, like the emoji
    white = Image.new("RGB", (30, 20), (255, 255, 255))
    gray = Image.new("L", (50, 50), 200)
    x = effnet.encode_image([rgba, white, gray], progress=False)
    np.testing.assert_allclose(x[0], x[1], atol=1e-6)
    assert_embeddings(x, 3, 1280)


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
    assert list(models._remap_state_dict(src, {"x.weight": torch.ones(2, 3), "x.bias": torch.ones(2)})) == \
        ["x.weight", "x.bias"]
    with pytest.raises(RuntimeError, match="does not match"):
        models._remap_state_dict(src, {"x.weight": torch.ones(3, 2), "x.bias": torch.ones(2)})
    with pytest.raises(RuntimeError, match="does not match"):  # same shapes, swapped kinds
        models._remap_state_dict({"a.bias": torch.zeros(2), "a.weight": torch.zeros(2)},
                                 {"x.weight": torch.ones(2), "x.bias": torch.ones(2)})
    with pytest.raises(RuntimeError, match="3 tensors"):
        models._remap_state_dict({**src, "c": torch.zeros(1)}, {"x.weight": torch.ones(2, 3), "x.bias": torch.ones(2)})


# ---------------------------------------------------------------- conse
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


def test_conse_text_is_minilm_and_labels_match_the_shipped_file(conse, minilm):
    np.testing.assert_array_equal(conse.encode_text(["a dog"], progress=False),
                                  minilm.encode_text(["a dog"], progress=False))
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


def test_conse_settings_are_checked(effnet, minilm):
    with pytest.raises(ValueError, match="top_t: expected an int >= 1"):
        models.ConSEEncoder(effnet, minilm, top_t=0)
    with pytest.raises(ValueError, match="prompt: expected a format string"):
        models.ConSEEncoder(effnet, minilm, prompt="a photo")


# ---------------------------------------------------------------- mfcc
def tone(freq, seconds=0.5, rate=16000):
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t) * np.hanning(t.size)).astype(np.float32)


def test_mfcc_encodes_and_is_batching_invariant(mfcc, no_cache):
    waves = [tone(f) for f in (220, 440, 880)] + [tone(300, 0.01)]
    a = mfcc.encode_audio(waves, 16000, batch_size=1, progress=False)
    b = mfcc.encode_audio(waves, 16000, batch_size=32, progress=False)
    assert_embeddings(a, 4, 80)
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_mfcc_is_comparable_across_sample_rates(mfcc):
    x = mfcc.encode_audio([tone(440, rate=16000)], 16000, progress=False)
    y = mfcc.encode_audio([tone(440, rate=22050)], 22050, progress=False)
    z = mfcc.encode_audio([tone(1500, rate=16000)], 16000, progress=False)
    assert (x @ y.T).item() > (x @ z.T).item()


def test_mfcc_same_word_other_voice_is_closer_than_other_words(mfcc):
    speech = mm.data.load_spoken_names()
    idx = list(range(60))
    x = mfcc.encode_audio([speech.waveforms[i] for i in idx], speech.sample_rate, progress=False)
    names = np.array([speech.names[i] for i in idx])
    sims = x @ x.T
    same = names[:, None] == names[None]
    np.fill_diagonal(same, False)
    other = names[:, None] != names[None]
    assert same.any() and sims[same].mean() > sims[other].mean()


def test_audio_inputs_are_checked(mfcc):
    w = tone(440)
    with pytest.raises(ValueError, match="waveforms: expected a non-empty list"):
        mfcc.encode_audio([], 16000)
    with pytest.raises(TypeError, match="wrap one clip in a list"):
        mfcc.encode_audio(w, 16000)
    with pytest.raises(ValueError, match=r"waveforms\[0\]: expected a 1-D \(mono\) array.*mean\(axis=0\)"):
        mfcc.encode_audio([np.stack([w, w])], 16000)
    with pytest.raises(ValueError, match=r"waveforms\[1\]: expected a non-empty array"):
        mfcc.encode_audio([w, np.zeros(0, np.float32)], 16000)
    bad = w.copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match=r"waveforms\[0\]: expected finite values"):
        mfcc.encode_audio([bad], 16000)
    with pytest.raises(TypeError, match="32768"):
        mfcc.encode_audio([(w * 30000).astype(np.int16)], 16000)
    with pytest.raises(ValueError, match="sample_rate: expected an int >= 4000"):
        mfcc.encode_audio([w], 16)
    with pytest.raises(TypeError, match="sample_rate: expected an int"):
        mfcc.encode_audio([w], 16000.0)


# ---------------------------------------------------------------- clip (open_clip code, random weights)
@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    import open_clip

    cfg = {"embed_dim": 32,
           "vision_cfg": {"image_size": 32, "layers": 1, "width": 64, "patch_size": 16},
           "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 1}}
    folder = tmp_path_factory.mktemp("clipcfg")
    (folder / "mmlab-test-tiny.json").write_text(json.dumps(cfg))
    open_clip.add_model_config(folder / "mmlab-test-tiny.json")
    torch.manual_seed(0)
    model, _, preprocess = open_clip.create_model_and_transforms("mmlab-test-tiny", pretrained=None)
    return models.CLIPEncoder(model, preprocess, open_clip.get_tokenizer("mmlab-test-tiny"), name="tiny-clip")


def test_clip_encoder_runs_open_clip_code(tiny_clip, emoji_images, module_cache):
    before = set(module_cache.rglob("*.npy")) if module_cache.exists() else set()
    t = tiny_clip.encode_text(["a cat", "a dog"], progress=False)
    i = tiny_clip.encode_image(emoji_images[:3] + [Image.new("RGBA", (40, 20))], progress=False)
    assert_embeddings(t, 2, 32)
    assert_embeddings(i, 4, 32)
    assert tiny_clip.modalities == ("text", "image")
    assert tiny_clip.logit_scale == pytest.approx(1 / 0.07, rel=1e-4)  # open_clip's initial value
    # Random weights must never write into (or read from) the cache of real CLIP.
    after = set(module_cache.rglob("*.npy")) if module_cache.exists() else set()
    assert after == before


def test_clip_encoder_matches_open_clip_and_is_batching_invariant(tiny_clip, emoji_images):
    texts = ["a cat", "a much longer caption about a dog", "x"]
    ours = tiny_clip.encode_text(texts, batch_size=1, progress=False)
    with torch.no_grad():
        ref = tiny_clip.model.encode_text(tiny_clip.tokenizer(texts), normalize=True).numpy()
    np.testing.assert_allclose(ours, ref, atol=1e-5)
    a = tiny_clip.encode_image(emoji_images[:5], batch_size=1, progress=False)
    b = tiny_clip.encode_image(emoji_images[:5], batch_size=32, progress=False)
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_clip_weights_are_found_in_a_hub_cache(tmp_path):
    repo = tmp_path / "models--laion--CLIP-ViT-B-32-laion2B-s34B-b79K"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    assert models.clip_weights_path(cache_dir=tmp_path) is None
    snap = repo / "snapshots" / "abc123"
    snap.mkdir(parents=True)
    (snap / "open_clip_model.safetensors").write_bytes(b"weights")
    assert models.clip_weights_path(cache_dir=tmp_path) == str(snap / "open_clip_model.safetensors")
    with pytest.raises(ValueError, match="no pretrained weights"):
        models.clip_weights_path("ViT-B-32", "no-such-tag")


# ---------------------------------------------------------------- load_clip / fetch
@pytest.fixture
def no_clip_weights(monkeypatch):
    monkeypatch.setattr(models, "clip_weights_path", lambda *a, **k: None)
    monkeypatch.delitem(models._LOADED, "clip:ViT-B-32/laion2b_s34b_b79k", raising=False)


def test_load_clip_offline_returns_conse_without_the_network(monkeypatch, capsys, no_clip_weights, conse):
    monkeypatch.delenv("MMLAB_JOINT_MODEL", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = models.load_clip()
    assert model is conse
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and "ConSE" in lines[0] and "HF_HUB_OFFLINE=1" in lines[0] and "fetch" in lines[0]


def test_load_clip_makes_at_most_one_quick_attempt(monkeypatch, capsys, no_clip_weights, conse):
    monkeypatch.delenv("MMLAB_JOINT_MODEL", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    attempts = []

    def unreachable(address, timeout=None, *args, **kwargs):
        attempts.append(timeout)
        raise OSError("network is unreachable")

    monkeypatch.setattr(socket, "create_connection", unreachable)
    assert models.load_clip() is conse
    assert len(attempts) == 1 and attempts[0] is not None and attempts[0] <= 3
    assert "unreachable" in capsys.readouterr().out


def test_load_clip_respects_mmlab_joint_model(monkeypatch, capsys, no_clip_weights, conse):
    monkeypatch.setenv("MMLAB_JOINT_MODEL", "conse")
    assert models.load_clip() is conse
    assert "MMLAB_JOINT_MODEL=conse" in capsys.readouterr().out
    monkeypatch.setenv("MMLAB_JOINT_MODEL", "clip")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(RuntimeError, match="python -m mmlab fetch clip"):
        models.load_clip()
    monkeypatch.setenv("MMLAB_JOINT_MODEL", "siglip")
    with pytest.raises(ValueError, match="MMLAB_JOINT_MODEL: expected 'clip', 'conse'"):
        models.load_clip()


def test_load_clip_by_name_offline_says_how_to_fetch(monkeypatch, no_clip_weights):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(RuntimeError, match="not in the local cache.*fetch"):
        models.load("clip")


def test_fetch_offline_fails_fast_with_a_message(monkeypatch, capsys, no_clip_weights):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert models.fetch(None) != 0
    assert "HF_HUB_OFFLINE=1" in capsys.readouterr().err
    assert models.fetch(["minilm", "conse"]) == 0
    assert "nothing to download" in capsys.readouterr().out
    assert models.fetch(["bert"]) == 2
    assert "unknown model" in capsys.readouterr().err
    from mmlab.__main__ import main

    assert main(["fetch", "clip"]) != 0


# ---------------------------------------------------------------- lit-emoji
def test_lit_emoji_missing_module_is_explained(monkeypatch):
    import sys

    monkeypatch.delitem(models._LOADED, "lit-emoji", raising=False)
    if "lit" in vars(mm):  # (hasattr would import it through mmlab's lazy __getattr__)
        monkeypatch.delattr(mm, "lit")
    monkeypatch.setitem(sys.modules, "mmlab.lit", None)
    with pytest.raises(ImportError, match="mmlab/lit.py"):
        models.load("lit-emoji")


def test_known_clip_weights_table_matches_open_clip():
    import open_clip

    for (arch, tag), cfg in models._KNOWN_CLIP_WEIGHTS.items():
        assert open_clip.get_pretrained_cfg(arch, tag)["hf_hub"] == cfg["hf_hub"]


def test_more_bad_inputs_are_refused_clearly(minilm, effnet):
    with pytest.raises(ValueError, match=r"texts\[1\]: expected text that can be written as UTF-8"):
        minilm.encode_text(["cat", "\ud800"])
    with pytest.raises(ValueError, match="logit_scale: expected a number > 0"):
        models.ConSEEncoder(effnet, minilm, logit_scale=-1.0)
    with pytest.raises(TypeError, match=r"names: expected a list.*fetch\(\['clip'\]\)"):
        models.fetch("clip")
    x = effnet.encode_image([Image.new("La", (9, 7)), Image.new("I;16", (9, 7), 1000)], progress=False)
    assert_embeddings(x, 2, 1280)


def test_lit_emoji_loads_through_the_registry():
    from mmlab import lit

    if not lit.LIT_EMOJI_PATH.exists():
        pytest.skip("the lit-emoji heads have not been trained into mmlab/assets yet")
    model = models.load("lit-emoji")
    assert models.load("lit-emoji") is model
    assert model.name == "lit-emoji" and set(model.modalities) == {"text", "image"}
