"""mmlab.models.online: load_clip() decides quickly and says why in one line; fetch fails fast offline."""
import socket

import pytest

from mmlab import models


@pytest.fixture
def no_clip_weights(monkeypatch):
    """As on a machine where the default CLIP was never downloaded."""
    monkeypatch.setattr("mmlab.models.online.clip_weights_path", lambda *a, **k: None)
    monkeypatch.delenv(models.CLIP_WEIGHTS_ENV, raising=False)


@pytest.fixture(scope="module")
def conse():
    return models.load("conse")


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


def test_load_clip_uses_the_file_in_mmlab_clip_weights(monkeypatch, capsys, tiny_arch, weights_file):
    monkeypatch.delenv("MMLAB_JOINT_MODEL", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv(models.CLIP_WEIGHTS_ENV, f"{tiny_arch}@{weights_file}")
    model = models.load_clip()
    assert model.name == f"clip:{tiny_arch}@{weights_file}" and model.modalities == ("text", "image")
    (line,) = capsys.readouterr().out.strip().splitlines()
    assert str(weights_file) in line and "MMLAB_CLIP_WEIGHTS is set" in line and "GELU" in line
    monkeypatch.setenv(models.CLIP_WEIGHTS_ENV, str(weights_file) + ".missing")  # a plain path: ViT-B-32
    with pytest.raises(FileNotFoundError, match=r"\.missing: no such file \(for architecture ViT-B-32\)"):
        models.load_clip()


def test_fetch_offline_fails_fast_with_a_message(monkeypatch, capsys, no_clip_weights):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert models.fetch(None) != 0
    assert "HF_HUB_OFFLINE=1" in capsys.readouterr().err
    assert models.fetch(["minilm", "conse", "lit-emoji", "clip:ViT-B-32@/some/file.pt"]) == 0
    out = capsys.readouterr().out
    assert out.count("nothing to download") == 4 and "a local weights file" in out
    assert models.fetch(["bert"]) == 2
    assert "unknown model" in capsys.readouterr().err
    with pytest.raises(TypeError, match=r"names: expected a list.*fetch\(\['clip'\]\)"):
        models.fetch("clip")
    from mmlab.__main__ import main

    assert main(["fetch", "clip"]) != 0
