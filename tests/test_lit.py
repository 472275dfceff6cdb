"""Tests for mmlab.lit: projection heads, training on synthetic pairs, save/load, LitModel."""
import math

import numpy as np
import pytest
import torch

import mmlab as mm
from mmlab import lit


def _synthetic_pairs(n=240, dim_a=40, dim_b=24, latent=8, noise=0.3, seed=0):
    """Two views of one latent variable through different random linear maps (plus noise)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, latent))
    a = z @ rng.normal(size=(latent, dim_a)) + noise * rng.normal(size=(n, dim_a))
    b = z @ rng.normal(size=(latent, dim_b)) + noise * rng.normal(size=(n, dim_b))
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    return a.astype(np.float32), b.astype(np.float32)


def _recall_at_1(q, c):
    return float(((q @ c.T).argmax(1) == np.arange(len(q))).mean())


@pytest.fixture(scope="module")
def trained():
    a, b = _synthetic_pairs()
    heads, history = lit.train_heads(a[:180], b[:180], dim=16, epochs=30, batch_size=60, lr=5e-3,
                                     weight_decay=0.0, seed=0, progress=False)
    return a, b, heads, history


def test_heads_shapes_normalised_and_scale():
    heads = lit.ProjectionHeads(10, 6, dim=4, hidden=8)
    za, zb, scale = heads(torch.randn(3, 10), torch.randn(3, 6))
    assert za.shape == (3, 4) and zb.shape == (3, 4)
    torch.testing.assert_close(za.norm(dim=1), torch.ones(3))
    assert scale.item() == pytest.approx(1 / 0.07, rel=1e-5)


def test_the_scale_is_clamped_after_the_step_not_inside_the_forward_pass():
    """As in open_clip: a clamp in forward() would pass no gradient above the cap, so the parameter is clamped."""
    heads = lit.ProjectionHeads(4, 4, dim=2)
    with torch.no_grad():
        heads.log_scale.fill_(math.log(1e4))
    scale = heads.logit_scale
    assert scale.item() == pytest.approx(1e4, rel=1e-5)
    scale.backward()
    assert heads.log_scale.grad.item() != 0.0  # the gradient reaches the parameter
    heads.clamp_scale_()
    assert heads.logit_scale.item() == pytest.approx(100.0, rel=1e-5)


def test_training_keeps_the_scale_at_or_below_the_cap():
    a, b = _synthetic_pairs()
    heads, _ = lit.train_heads(a, b, dim=8, epochs=3, batch_size=60, lr=0.5, weight_decay=0.0, init_scale=90.0,
                               max_scale=100.0, seed=0, progress=False)
    assert heads.logit_scale.item() <= 100.0 + 1e-3


def test_semi_hard_mining_trains_too_and_mining_is_checked():
    a, b = _synthetic_pairs()
    heads, history = lit.train_heads(a[:180], b[:180], dim=16, epochs=30, batch_size=60, lr=5e-3, weight_decay=0.0,
                                     loss="triplet", mining="semi-hard", seed=0, progress=False)
    assert history[-1] < history[0]
    assert _recall_at_1(heads.transform(b[180:], "b"), heads.transform(a[180:], "a")) > 10 / 60
    with pytest.raises(ValueError, match="mining"):
        lit.train_heads(a, b, loss="triplet", mining="hardest", progress=False)


def test_modality_gap_and_centre():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(30, 5)) + 2.0
    b = rng.normal(size=(20, 5))
    assert lit.modality_gap(a, b) == pytest.approx(float(np.linalg.norm(a.mean(0) - b.mean(0))), rel=1e-5)
    before = a.copy()
    c = lit.centre(a)
    np.testing.assert_array_equal(a, before)  # the input is not changed
    np.testing.assert_allclose(np.linalg.norm(c, axis=1), 1.0, rtol=1e-5)
    expected = (a - a.mean(0)) / np.linalg.norm(a - a.mean(0), axis=1, keepdims=True)
    np.testing.assert_allclose(c, expected, rtol=1e-4, atol=1e-5)
    assert lit.modality_gap(lit.centre(a), lit.centre(b)) < 0.2  # both clouds around the origin
    with pytest.raises(ValueError, match="same dimension"):
        lit.modality_gap(a, b[:, :3])
    with pytest.raises(ValueError, match="at least 2 rows"):
        lit.centre(a[:1])


def test_training_lowers_loss_and_aligns_held_out_pairs(trained):
    a, b, heads, history = trained
    assert len(history) == 30
    assert history[-1] < 0.5 * history[0]
    test_a, test_b = heads.transform(a[180:], "a"), heads.transform(b[180:], "b")
    np.testing.assert_allclose(np.linalg.norm(test_a, axis=1), 1.0, rtol=1e-5)
    chance = 1 / 60
    assert _recall_at_1(test_b, test_a) > 10 * chance
    # the untrained heads are not aligned: random projections give about chance
    torch.manual_seed(0)
    fresh = lit.ProjectionHeads(a.shape[1], b.shape[1], dim=16)
    assert _recall_at_1(fresh.transform(b[180:], "b"), fresh.transform(a[180:], "a")) < _recall_at_1(test_b, test_a)


def test_training_is_reproducible():
    a, b = _synthetic_pairs(n=64)
    runs = [lit.train_heads(a, b, dim=8, epochs=3, batch_size=32, seed=5, progress=False) for _ in range(2)]
    assert runs[0][1] == runs[1][1]
    for (k, v), (_, w) in zip(runs[0][0].state_dict().items(), runs[1][0].state_dict().items()):
        torch.testing.assert_close(v, w, msg=k)


def test_fixed_scale_stays_fixed():
    a, b = _synthetic_pairs(n=64)
    heads, _ = lit.train_heads(a, b, dim=8, epochs=2, batch_size=32, init_scale=5.0, learn_scale=False,
                               progress=False)
    assert heads.logit_scale.item() == pytest.approx(5.0, rel=1e-6)


def test_save_load_roundtrip(tmp_path, trained):
    a, _, heads, _ = trained
    path = lit.save_heads(heads, tmp_path / "sub" / "heads.pt", name="toy", n_train=180)
    assert path.stat().st_size < 200_000
    blob = torch.load(path, weights_only=True)  # plain tensors and builtins only
    assert blob["metadata"]["name"] == "toy"
    loaded, meta = lit.load_heads(path)
    assert meta == {"name": "toy", "n_train": 180}
    np.testing.assert_allclose(loaded.transform(a[:5], "a"), heads.transform(a[:5], "a"), rtol=1e-6)
    assert loaded.logit_scale.item() == pytest.approx(heads.logit_scale.item())


def test_bad_inputs(tmp_path):
    a, b = _synthetic_pairs(n=10)
    with pytest.raises(ValueError, match="same number of rows"):
        lit.train_heads(a, b[:9], progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        lit.train_heads(a, b, batch_size=11, progress=False)
    with pytest.raises(ValueError, match="at least 2 pairs"):
        lit.train_heads(a[:1], b[:1], progress=False)
    with pytest.raises(ValueError, match="finite"):
        bad = a.copy()
        bad[0, 0] = np.nan
        lit.train_heads(bad, b, batch_size=5, progress=False)
    with pytest.raises(ValueError, match="init_scale"):
        lit.ProjectionHeads(4, 4, init_scale=0.0)
    with pytest.raises(ValueError, match="init_scale"):
        lit.ProjectionHeads(4, 4, init_scale=200.0)
    heads = lit.ProjectionHeads(4, 3, dim=2)
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        heads.transform(np.ones((2, 3)), "a")
    with pytest.raises(ValueError, match="side"):
        heads.transform(np.ones((2, 4)), "c")
    with pytest.raises(FileNotFoundError, match="path"):
        lit.load_heads(tmp_path / "missing.pt")
    (tmp_path / "text.pt").write_text("not a checkpoint")
    with pytest.raises(ValueError, match="path: expected a heads file"):
        lit.load_heads(tmp_path / "text.pt")
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(ValueError, match="path: expected a heads file"):
        lit.load_heads(tmp_path / "empty.pt")
    torch.save({"something": torch.ones(1)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="path: expected a heads file"):
        lit.load_heads(tmp_path / "other.pt")
    with pytest.raises(TypeError, match="heads"):
        lit.LitModel(object())


class _FakeEncoder:
    """A base encoder of the protocol with random (but unit-length) outputs."""

    name, modalities, logit_scale = "fake", ("text", "image"), None

    def __init__(self, dim):
        self.dim = dim

    def _enc(self, items):
        rng = np.random.default_rng(len(items))
        x = rng.normal(size=(len(items), self.dim)).astype(np.float32)
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    def encode_text(self, texts, batch_size=64, progress=True):
        return self._enc(texts)

    def encode_image(self, images, batch_size=64, progress=True):
        return self._enc(images)


def test_lit_model_protocol_with_fake_base_encoders():
    from PIL import Image

    heads = lit.ProjectionHeads(12, 7, dim=5)
    model = lit.LitModel(heads, image_encoder=_FakeEncoder(12), text_encoder=_FakeEncoder(7), name="toy")
    assert isinstance(model, mm.models.TextEncoder) and isinstance(model, mm.models.ImageEncoder)
    assert model.name == "toy" and model.dim == 5 and model.modalities == ("text", "image")
    assert model.logit_scale == pytest.approx(1 / 0.07, rel=1e-5)
    t = model.encode_text(["a", "b", "c"])
    i = model.encode_image([Image.new("RGB", (4, 4), (i, 0, 0)) for i in range(4)])
    assert t.shape == (3, 5) and i.shape == (4, 5) and t.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(i, axis=1), 1.0, rtol=1e-5)
    # the heads project the base features: the same as calling them by hand
    np.testing.assert_allclose(t, heads.transform(_FakeEncoder(7).encode_text(["a", "b", "c"]), "b"), rtol=1e-5)


def test_lit_model_refuses_a_modality_it_lacks_by_name():
    model = lit.LitModel(lit.ProjectionHeads(12, 7, dim=5), image_encoder=_FakeEncoder(12),
                         text_encoder=_FakeEncoder(7))
    with pytest.raises(ValueError, match="cannot encode audio: it supports text and image"):
        model.encode_audio([np.zeros(1000, np.float32)], 16000)
    with pytest.raises(TypeError, match=r"text_encoder: expected an mm\.models name or an encoder"):
        lit.LitModel(lit.ProjectionHeads(12, 7, dim=5), text_encoder=3)
    with pytest.raises(TypeError, match=r"texts: expected a list of strings"):
        model.encode_text("a cat")


@pytest.mark.skipif(not lit.LIT_EMOJI_PATH.exists(), reason="shipped heads not built yet")
def test_shipped_lit_emoji_heads_load_small_and_sane():
    assert lit.LIT_EMOJI_PATH.stat().st_size < 5_000_000
    model = lit.load_lit_emoji()
    assert model.name == "lit-emoji" and model.modalities == ("text", "image")
    assert model.heads.config["dim_a"] == 1280 and model.heads.config["dim_b"] == 384
    assert 1.0 < model.logit_scale <= 100.0 + 1e-3
    assert model.dim == model.heads.config["dim"]


@pytest.mark.parametrize("loss, init_scale", [("siglip", 10.0), ("triplet", 1 / 0.07)])
def test_other_losses_also_align(loss, init_scale):
    a, b = _synthetic_pairs()
    heads, history = lit.train_heads(a[:180], b[:180], dim=16, epochs=30, batch_size=60, lr=5e-3,
                                     weight_decay=0.0, init_scale=init_scale, loss=loss, seed=0, progress=False)
    assert history[-1] < history[0]
    r1 = _recall_at_1(heads.transform(b[180:], "b"), heads.transform(a[180:], "a"))
    assert r1 > 10 / 60
    if loss == "siglip":  # the bias learns (it only exists for SigLIP)
        assert heads.logit_bias.item() != pytest.approx(-10.0)
    with pytest.raises(ValueError, match="loss"):
        lit.train_heads(a, b, loss="infonce", progress=False)


def test_retrieval_recall_known_answers():
    corpus = np.eye(4, dtype=np.float32)
    queries = np.array([[1, 0, 0, 0], [0.6, 0.8, 0, 0], [0, 0, 0, 1], [0, 0, 0.6, 0.8]], dtype=np.float32)
    # queries 0, 1, 3 rank their own item first; query 2 prefers item 3 (rank 1)
    r = lit.retrieval_recall(queries, corpus, ks=(1, 4))
    assert r == {1: 0.75, 4: 1.0}
    r = lit.retrieval_recall(queries, corpus, targets=np.array([0, 0, 3, 2]), ks=(1, 2))
    assert r == {1: 0.5, 2: 1.0}
    with pytest.raises(ValueError, match="ks"):
        lit.retrieval_recall(queries, corpus, ks=(5,))
    with pytest.raises(TypeError, match="ks"):
        lit.retrieval_recall(queries, corpus, ks=5)
    with pytest.raises(ValueError, match="targets"):
        lit.retrieval_recall(queries[:3], corpus)
    with pytest.raises(ValueError, match="targets"):
        lit.retrieval_recall(queries, corpus, targets=np.array([0, 1, 2, 4]))
    with pytest.raises(ValueError, match="same dimension"):
        lit.retrieval_recall(queries, corpus[:, :3])


def test_retrieval_recall_random_is_about_chance():
    rng = np.random.default_rng(0)
    q = rng.normal(size=(2000, 8)).astype(np.float32)
    c = rng.normal(size=(50, 8)).astype(np.float32)
    r = lit.retrieval_recall(q, c, targets=rng.integers(0, 50, 2000), ks=(1, 10))
    assert r[1] == pytest.approx(1 / 50, abs=0.015) and r[10] == pytest.approx(10 / 50, abs=0.04)


@pytest.mark.skipif(not lit.LIT_EMOJI_PATH.exists(), reason="shipped heads not built yet")
def test_shipped_heads_were_trained_with_the_current_recipe():
    # if LIT_EMOJI_RECIPE changes, the shipped file must be retrained with lit.train_lit_emoji()
    _, meta = lit.load_heads(lit.LIT_EMOJI_PATH)
    assert meta["recipe"] == [f"{k}={v}" for k, v in lit.LIT_EMOJI_RECIPE.items()]
    assert meta["seed"] == mm.SEED and meta["image_encoder"] == "effnet-lite0" and meta["text_encoder"] == "minilm"
    # and with the current optimiser rule (retrain if mm.train.fit's weight decay rule changes)
    assert meta["optimizer"] == mm.train.NO_DECAY_RULE


@pytest.mark.skipif(not lit.LIT_EMOJI_PATH.exists(), reason="shipped heads not built yet")
def test_lit_emoji_through_models_load_retrieves_held_out_emoji():
    """Real encoders: the shipped model finds held-out emoji by name far above chance (1/31)."""
    emoji = mm.data.load_emoji()
    _, test_idx = mm.data.split_by_id(emoji.ids)
    held_out = emoji.subset(test_idx[::15])  # 31 emoji never seen in training
    model = mm.models.load("lit-emoji")
    assert model is mm.models.load("lit-emoji")
    zi = model.encode_image(held_out.images, progress=False)
    zt = model.encode_text(held_out.names, progress=False)
    assert zi.shape == zt.shape == (len(held_out), model.dim) and zi.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(zt, axis=1), 1.0, rtol=1e-5)
    recall = lit.retrieval_recall(zt, zi, ks=(1, 5))
    assert recall[1] > 0.3 and recall[5] > 0.6  # chance: 0.03 and 0.16
