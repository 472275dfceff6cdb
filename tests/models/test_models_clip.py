"""mmlab.models.clip: open_clip's real model code with random weights, and CLIP from a local file.

Nothing here downloads anything: the weights are random and written to temporary files.
"""
import numpy as np
import pytest
import torch
from models_support import assert_embeddings
from PIL import Image

import mmlab as mm
from mmlab import models


@pytest.fixture(scope="module")
def emoji_images():
    return mm.data.load_emoji().images[:6]


def _uses_quick_gelu(encoder) -> bool:
    from open_clip.transformer import QuickGELU

    return any(isinstance(m, QuickGELU) for m in encoder.model.modules())


# ---------------------------------------------------------------- the encoder
def test_clip_encoder_runs_open_clip_code(tiny_clip, emoji_images, module_cache):
    before = set(module_cache.rglob("*.npy")) if module_cache.exists() else set()
    t = tiny_clip.encode_text(["a cat", "a dog"], progress=False)
    i = tiny_clip.encode_image([*emoji_images[:3], Image.new("RGBA", (40, 20))], progress=False)
    assert_embeddings(t, 2, 32)
    assert_embeddings(i, 4, 32)
    assert tiny_clip.modalities == ("text", "image") and isinstance(tiny_clip, models.Encoder)
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


# ---------------------------------------------------------------- weights of a pretrained tag
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


def test_the_default_clip_download_location_matches_open_clip():
    """load_clip() finds the default weights without importing open_clip; the location must agree with it."""
    import open_clip

    from mmlab.models import clip

    for (arch, tag), cfg in clip._KNOWN_CLIP_WEIGHTS.items():
        assert open_clip.get_pretrained_cfg(arch, tag)["hf_hub"] == cfg["hf_hub"]


def test_load_clip_by_tag_offline_says_how_to_fetch(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("mmlab.models.clip.clip_weights_path", lambda *a, **k: None)
    with pytest.raises(RuntimeError, match=r"not in the local cache.*fetch"):
        models.load("clip:ViT-B-32/laion2b_s34b_b79k")


# ---------------------------------------------------------------- a local weights file
def test_a_local_file_loads_the_same_model(tiny_clip, weights_file, emoji_images):
    loaded = models.load(f"clip:mmlab-test-tiny@{weights_file}")
    assert loaded is models.load(f"  clip:mmlab-test-tiny@{weights_file}")
    assert loaded.name == f"clip:mmlab-test-tiny@{weights_file}" and loaded.activation == "GELU"
    assert not _uses_quick_gelu(loaded)
    texts = ["a cat", "a dog"]
    np.testing.assert_allclose(loaded.encode_text(texts, progress=False),
                               tiny_clip.encode_text(texts, progress=False), atol=1e-6)
    np.testing.assert_allclose(loaded.encode_image(emoji_images, progress=False),
                               tiny_clip.encode_image(emoji_images, progress=False), atol=1e-6)
    assert loaded.logit_scale == pytest.approx(tiny_clip.logit_scale)


def test_the_loaded_model_says_how_to_rebuild_it_with_open_clip(weights_file, tiny_clip):
    import open_clip

    loaded = models.load(f"clip:mmlab-test-tiny-quickgelu@{weights_file}")
    assert (loaded.arch, loaded.weights_file, loaded.quick_gelu) == ("mmlab-test-tiny", str(weights_file), True)
    again, _, _ = open_clip.create_model_and_transforms(loaded.arch, pretrained=loaded.weights_file,
                                                        force_quick_gelu=loaded.quick_gelu)
    with torch.no_grad():
        ref = again.eval().encode_text(loaded.tokenizer(["a cat"]), normalize=True).numpy()
    np.testing.assert_allclose(loaded.encode_text(["a cat"], progress=False), ref, atol=1e-6)


def test_a_safetensors_file_loads_too(tiny_model, tmp_path, tiny_clip):
    from safetensors.torch import save_file

    path = tmp_path / "tiny.safetensors"
    save_file({k: v.contiguous() for k, v in tiny_model[0].state_dict().items()}, str(path))
    loaded = models.load_clip_file("mmlab-test-tiny", path)
    np.testing.assert_allclose(loaded.encode_text(["a cat"], progress=False),
                               tiny_clip.encode_text(["a cat"], progress=False), atol=1e-6)


def test_quickgelu_is_used_when_asked_for_by_name(weights_file, tiny_clip):
    quick = models.load(f"clip:mmlab-test-tiny-quickgelu@{weights_file}")
    assert _uses_quick_gelu(quick) and quick.activation.startswith("QuickGELU")
    # the same weights with the other activation give other vectors: choosing right matters
    gap = np.abs(quick.encode_text(["a cat"], progress=False) - tiny_clip.encode_text(["a cat"], progress=False))
    assert gap.max() > 1e-4


@pytest.mark.filterwarnings("ignore:`torch.jit")  # deprecated, but it is how OpenAI shipped CLIP
def test_openai_torchscript_release_gets_quickgelu(tiny_arch, tmp_path, weights_file):
    import open_clip

    model = open_clip.create_model(tiny_arch, pretrained=None, force_quick_gelu=True)
    model.load_state_dict(torch.load(weights_file, weights_only=True))
    path = tmp_path / "ViT-tiny.pt"
    torch.jit.save(torch.jit.script(model.eval()), str(path))  # OpenAI's original release format
    loaded = models.load_clip_file(tiny_arch, path)
    assert _uses_quick_gelu(loaded) and "TorchScript" in loaded.activation


@pytest.fixture(scope="module")
def vit_b_32_file(tmp_path_factory):
    """A random-weights ViT-B-32 checkpoint, saved where open_clip downloads OpenAI's ViT-B-32.

    float16 halves the file (~300 MB); loading copies the values into the float32 model.
    """
    import open_clip

    torch.manual_seed(0)
    model = open_clip.create_model("ViT-B-32", pretrained=None)
    folder = tmp_path_factory.mktemp("hub") / "models--timm--vit_base_patch32_clip_224.openai" / "snapshots" / "x"
    folder.mkdir(parents=True)
    path = folder / "open_clip_pytorch_model.bin"
    torch.save({k: v.half() for k, v in model.state_dict().items()}, path)
    return path


@pytest.mark.slow  # one ViT-B-32 built twice and a 300 MB file: ~10 s of CPU
def test_vit_b_32_from_a_file_picks_quickgelu_for_openai_weights(vit_b_32_file):
    openai = models.load(f"clip:ViT-B-32@{vit_b_32_file}")
    assert openai.dim == 512 and openai.quick_gelu and "download of the 'openai' weights" in openai.activation
    assert _uses_quick_gelu(openai)  # a file elsewhere gets GELU: test_a_local_file_loads_the_same_model
    assert_embeddings(openai.encode_text(["a photo of a cat"], progress=False), 1, 512)


def test_missing_file_is_named(tmp_path):
    missing = tmp_path / "nowhere" / "clip.pt"
    with pytest.raises(FileNotFoundError, match=rf"{missing}.*no such file.*ViT-B-32"):
        models.load(f"clip:ViT-B-32@{missing}")
    with pytest.raises(ValueError, match="expected a file, got a directory"):
        models.load_clip_file("ViT-B-32", tmp_path)


def test_truncated_file_is_named(weights_file, tmp_path):
    cut = tmp_path / "cut.pt"
    raw = weights_file.read_bytes()
    cut.write_bytes(raw[: len(raw) // 2])  # an interrupted download
    with pytest.raises(ValueError, match=rf"{cut}: cannot be read as a checkpoint for mmlab-test-tiny.*truncated"):
        models.load_clip_file("mmlab-test-tiny", cut)
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(ValueError, match="truncated"):
        models.load_clip_file("mmlab-test-tiny", tmp_path / "empty.pt")


def test_wrong_architecture_names_the_file_the_architecture_and_the_keys(weights_file):
    with pytest.raises(ValueError) as info:
        models.load_clip_file("mmlab-test-wide", weights_file)
    msg = str(info.value)
    assert str(weights_file) in msg and "does not fit the architecture mmlab-test-wide" in msg
    assert "shape mismatches (first: visual." in msg and "patch size 16 and width 64" in msg


def test_a_small_file_given_as_vit_b_32_is_refused_before_loading(weights_file):
    with pytest.raises(ValueError, match=r"does not fit the architecture ViT-B-32: \d+ shape mismatches"):
        models.load(f"clip:ViT-B-32@{weights_file}")


def test_unknown_architecture_and_bad_names_are_refused(weights_file):
    with pytest.raises(ValueError, match="open_clip has no architecture 'ViT-Q-99'"):
        models.load_clip_file("ViT-Q-99", weights_file)
    with pytest.raises(ValueError, match="clip:ARCH@/path/to/weights"):
        models.load("clip:@/some/file")
