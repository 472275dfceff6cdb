"""Fixtures of the tests of mmlab.models: no network, a private cache, tiny open_clip models."""
import json
import socket

import pytest
import torch

from mmlab import models


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test."""
    def refuse(*args, **kwargs):
        pytest.fail(f"a test tried to open a network connection: {args}")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", lambda self, *a: refuse(*a))


@pytest.fixture(autouse=True)
def module_cache(tmp_path_factory, monkeypatch):
    """A private, initially empty embedding cache for these tests (never ~/.cache)."""
    root = tmp_path_factory.getbasetemp() / "mmlab-cache-models"
    monkeypatch.setenv("MMLAB_CACHE", str(root))
    return root


@pytest.fixture
def no_cache(monkeypatch):
    monkeypatch.setenv("MMLAB_CACHE", "off")


# ---------------------------------------------------------------- tiny open_clip models (random weights)
TINY = {"embed_dim": 32,
        "vision_cfg": {"image_size": 32, "layers": 1, "width": 64, "patch_size": 16},
        "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 1}}


def _add_config(folder, name, cfg):
    import open_clip

    (folder / f"{name}.json").write_text(json.dumps(cfg))
    open_clip.add_model_config(folder / f"{name}.json")


@pytest.fixture(scope="session")
def tiny_arch(tmp_path_factory):
    """Two small open_clip architectures: "mmlab-test-tiny" and a wider "mmlab-test-wide"."""
    folder = tmp_path_factory.mktemp("clipcfg")
    _add_config(folder, "mmlab-test-tiny", TINY)
    _add_config(folder, "mmlab-test-wide", {**TINY, "vision_cfg": {**TINY["vision_cfg"], "width": 96}})
    return "mmlab-test-tiny"


@pytest.fixture(scope="session")
def tiny_model(tiny_arch):
    import open_clip

    torch.manual_seed(0)
    return open_clip.create_model_and_transforms(tiny_arch, pretrained=None)


@pytest.fixture(scope="session")
def tiny_clip(tiny_arch, tiny_model):
    import open_clip

    model, _, preprocess = tiny_model
    return models.CLIPEncoder(model, preprocess, open_clip.get_tokenizer(tiny_arch), name="tiny-clip")


@pytest.fixture(scope="session")
def weights_file(tiny_model, tmp_path_factory):
    """The tiny model's random weights as a plain torch.save state dict (what people pass as a file)."""
    path = tmp_path_factory.mktemp("clipweights") / "tiny.pt"
    torch.save(tiny_model[0].state_dict(), path)
    return path


