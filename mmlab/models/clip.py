"""CLIP through open_clip: from a pretrained tag (downloaded once) or from a local weights file.

Names: ``"clip"`` (the default, ``DEFAULT_CLIP``), ``"clip:ARCH/PRETRAINED"`` (any open_clip
pretrained tag) and ``"clip:ARCH@/path/to/weights"`` (a local checkpoint: ``.safetensors``,
a ``torch.save`` state dict, or OpenAI's original TorchScript ``.pt``).

OpenAI's CLIP weights were trained with QuickGELU; open_clip's plain ``ViT-B-32`` uses GELU,
and loading OpenAI weights into it by path gives quietly wrong embeddings. A file is loaded
with QuickGELU when the name says so (``ViT-B-32-quickgelu``), when it is OpenAI's TorchScript
release, or when it is the file open_clip downloads for an ``openai`` tag.
"""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from ._hub import hub_unavailable_reason
from .base import BaseEncoder, to_rgb

__all__ = ["DEFAULT_CLIP", "CLIPEncoder", "clip_weights_path", "load_clip_file", "parse_clip_spec"]

#: The CLIP that ``load("clip")`` and ``load_clip()`` mean.
DEFAULT_CLIP = ("ViT-B-32", "laion2b_s34b_b79k")

# Where open_clip downloads the default CLIP from (checked against open_clip in the tests), so
# that load_clip() can look for it without importing open_clip (seconds on a busy 2-core CPU).
_KNOWN_CLIP_WEIGHTS = {DEFAULT_CLIP: {"hf_hub": "laion/CLIP-ViT-B-32-laion2B-s34B-b79K/"}}

_QUICKGELU = "-quickgelu"


class CLIPEncoder(BaseEncoder):
    """An open_clip model: image and text towers into one space.

    Build it from the triple open_clip returns, e.g.::

        model, _, preprocess = open_clip.create_model_and_transforms("ViT-B-32", pretrained=...)
        CLIPEncoder(model, preprocess, open_clip.get_tokenizer("ViT-B-32"))

    Args:
        model: an open_clip ``CLIP`` (or compatible) model.
        preprocess: the image transform (PIL -> (3, H, W) tensor).
        tokenizer: callable list[str] -> (N, L) token tensor.
        name: the model's name.
        cache_key: disk-cache namespace; ``None`` (default) disables caching, so a model
            with other weights can never read vectors cached for this name.
        arch: the open_clip architecture, when known.
        weights_file: the local file the weights were read from, when known.
        quick_gelu: whether the model uses QuickGELU (OpenAI's weights need it), when known.

    With ``arch``, ``weights_file`` and ``quick_gelu`` set (as ``load`` does), the same model is
    ``open_clip.create_model_and_transforms(arch, pretrained=weights_file, force_quick_gelu=quick_gelu)``.
    """

    modalities = ("text", "image")
    default_batch_size = 32
    #: "GELU" or "QuickGELU (why)" for a model loaded by ``load``; None when built by the caller.
    activation: str | None = None

    def __init__(self, model, preprocess, tokenizer, *, name: str = "clip", cache_key: str | None = None,
                 arch: str | None = None, weights_file: str | None = None, quick_gelu: bool | None = None):
        import torch

        if not callable(preprocess) or not callable(tokenizer):
            raise TypeError("preprocess and tokenizer: expected callables (as returned by open_clip)")
        self.model = model.eval()
        self.preprocess = preprocess
        self.tokenizer = tokenizer
        self.name = name
        self.cache_key = cache_key
        self.arch = arch
        self.weights_file = weights_file
        self.quick_gelu = quick_gelu
        with torch.inference_mode():
            self.dim = int(self.model.encode_text(self.tokenizer(["a"])).shape[-1])
            self.logit_scale = float(self.model.logit_scale.exp())

    def _embed_text(self, texts: list[str]) -> np.ndarray:
        tokens = self.tokenizer(texts)  # (B, L)
        return self.model.encode_text(tokens).float().numpy()  # (B, D)

    def _embed_image(self, images: list) -> np.ndarray:
        import torch

        x = torch.stack([self.preprocess(to_rgb(im)) for im in images])  # (B, 3, H, W)
        return self.model.encode_image(x).float().numpy()  # (B, D)


# --------------------------------------------------------------------------- names
def parse_clip_spec(spec: str | None) -> str:
    """The canonical options of a "clip[:...]" name: "ARCH/PRETRAINED" or "ARCH@/absolute/path".

    Args:
        spec: what follows "clip:", or None for plain "clip".
    Returns:
        "ARCH/PRETRAINED" or "ARCH@PATH" (PATH absolute; the file is checked when loading).
    """
    if spec is None:
        return "/".join(DEFAULT_CLIP)
    arch, at, path = spec.partition("@")
    if at:
        arch, path = arch.strip(), path.strip()
        if not arch or not path:
            raise ValueError(f"name: expected 'clip:ARCH@/path/to/weights' (e.g. 'clip:ViT-B-32@/data/clip.pt'), "
                             f"got 'clip:{spec}'")
        return f"{arch}@{Path(path).expanduser().absolute()}"
    arch, sep, tag = spec.partition("/")
    if not sep or not arch.strip() or not tag.strip():
        raise ValueError(f"name: expected 'clip', 'clip:ARCH/PRETRAINED' (e.g. 'clip:ViT-B-32/laion2b_s34b_b79k') "
                         f"or 'clip:ARCH@/path/to/weights', got 'clip:{spec}'")
    return f"{arch.strip()}/{tag.strip()}"


def clip_factory(spec: str) -> CLIPEncoder:
    """Build the CLIP that ``parse_clip_spec`` described (the registry's factory for "clip")."""
    arch, at, path = spec.partition("@")
    if at:
        return load_clip_file(arch, path)
    arch, tag = spec.split("/", 1)
    return _load_clip_tag(arch, tag)


# --------------------------------------------------------------------------- pretrained tags
def clip_weights_path(arch: str = DEFAULT_CLIP[0], pretrained: str = DEFAULT_CLIP[1],
                      cache_dir: str | os.PathLike | None = None) -> str | None:
    """The local file of open_clip weights if already downloaded, else None. Never uses the network.

    Args:
        arch: the open_clip architecture, e.g. "ViT-B-32".
        pretrained: the pretrained tag, e.g. "laion2b_s34b_b79k".
        cache_dir: the Hugging Face hub cache to look in (default: the normal one).
    Returns:
        The path of the weights file, or None when it is not on this machine.
    """
    cfg = _KNOWN_CLIP_WEIGHTS.get((arch, pretrained))
    if cfg is None:  # importing open_clip takes seconds, so only for models not listed above
        import open_clip

        cfg = open_clip.get_pretrained_cfg(arch, pretrained)
    if not cfg:
        import open_clip

        known = ", ".join(open_clip.list_pretrained_tags_by_model(arch)) or "none (unknown architecture)"
        raise ValueError(f"name: open_clip has no pretrained weights {arch!r}/{pretrained!r}; expected one of the "
                         f"tags for {arch}: {known}")
    if cfg.get("file") and os.path.exists(cfg["file"]):
        return cfg["file"]
    hub = cfg.get("hf_hub", "")
    if hub:
        from huggingface_hub import try_to_load_from_cache

        repo, filename = os.path.split(hub)
        names = [filename] if filename else ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]
        if filename.endswith((".bin", ".pth")):
            names.insert(0, filename[:-4] + ".safetensors")
        for fname in names:
            found = try_to_load_from_cache(repo, fname, cache_dir=None if cache_dir is None else str(cache_dir))
            if isinstance(found, str) and os.path.exists(found):
                return found
    url = cfg.get("url", "")
    if url:
        path = os.path.join(os.path.expanduser("~/.cache/clip"), os.path.basename(url))
        if os.path.exists(path):
            return path
    return None


def _load_clip_tag(arch: str, tag: str) -> CLIPEncoder:
    import open_clip

    path = clip_weights_path(arch, tag)
    cfg = open_clip.get_pretrained_cfg(arch, tag)
    if path is None:
        why = hub_unavailable_reason()
        if why:
            raise RuntimeError(f"CLIP weights {arch}/{tag} are not in the local cache and {why}; "
                               f"{fetch_hint(arch, tag)}, or use mm.models.load('conse') (offline)")
        path = open_clip.download_pretrained(cfg)
    # Loading from the file (not the tag) keeps open_clip off the network; the tag's
    # preprocessing and activation settings are passed explicitly.
    preprocess_cfg = {k: cfg[k] for k in ("mean", "std", "interpolation", "resize_mode") if k in cfg}
    quick_gelu = bool(cfg.get("quick_gelu", False))
    model, _, preprocess = open_clip.create_model_and_transforms(
        arch, pretrained=path, force_quick_gelu=quick_gelu,
        force_preprocess_cfg=preprocess_cfg or None, weights_only=True)
    name = "clip" if (arch, tag) == DEFAULT_CLIP else f"clip:{arch}/{tag}"
    encoder = CLIPEncoder(model, preprocess, open_clip.get_tokenizer(arch), name=name,
                          cache_key=f"clip:{arch}/{tag}", arch=arch, weights_file=str(path), quick_gelu=quick_gelu)
    encoder.activation = f"QuickGELU (the {tag!r} tag)" if quick_gelu else "GELU"
    return encoder


def fetch_hint(arch: str, tag: str) -> str:
    """The one command that downloads these weights."""
    spec = "clip" if (arch, tag) == DEFAULT_CLIP else f"clip:{arch}/{tag}"
    return f"run `python -m mmlab fetch {spec}` once on a machine with internet"


# --------------------------------------------------------------------------- local files
def _is_torchscript(path: Path) -> bool:
    """OpenAI's original CLIP release is a TorchScript archive (a zip with code/ and constants.pkl)."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as zf:
        return any(n.endswith("/constants.pkl") or "/code/" in n for n in zf.namelist())


def _openai_download(path: Path, arch: str) -> bool:
    """Whether ``path`` is in the Hugging Face hub folder open_clip downloads an ``openai`` tag of ``arch`` to.

    (OpenAI's own clip package saves TorchScript files, which ``_is_torchscript`` recognises.)
    """
    import open_clip

    if "openai" not in open_clip.list_pretrained_tags_by_model(arch):
        return False
    cfg = open_clip.get_pretrained_cfg(arch, "openai")
    repo = cfg.get("hf_hub", "").strip("/").split("/")
    return len(repo) >= 2 and f"models--{repo[0]}--{repo[1]}" in path.parts


def _quick_gelu_reason(arch: str, path: Path) -> str | None:
    if arch.endswith(_QUICKGELU):
        return f"the name ends in {_QUICKGELU}"
    if _is_torchscript(path):
        return "the file is OpenAI's TorchScript release"
    if _openai_download(path, arch):
        return "the file is open_clip's download of the 'openai' weights"
    return None


def _read_state_dict(path: Path, arch: str) -> dict:
    import torch
    from open_clip.factory import load_state_dict

    try:
        if _is_torchscript(path):
            # OpenAI's release is TorchScript, which torch.load(weights_only=True) refuses; a
            # TorchScript archive holds TorchScript code and tensors, not arbitrary pickled Python.
            state = torch.jit.load(str(path), map_location="cpu").state_dict()
        else:
            state = load_state_dict(str(path), weights_only=True)
    except Exception as exc:
        raise ValueError(f"CLIP weights file {path}: cannot be read as a checkpoint for {arch} "
                         f"({type(exc).__name__}: {str(exc)[:200]}); is it truncated (an interrupted "
                         "download) or not a weights file? Download it again.") from None
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"CLIP weights file {path}: expected a state dict of tensors for {arch}, "
                         f"got {type(state).__name__}")
    return dict(state)


def _check_fits(state: dict, model, path: Path, arch: str) -> None:
    """Refuse a state dict that does not fit ``model``, naming the first keys that differ."""
    target = model.state_dict()
    missing = [k for k in target if k not in state]
    unexpected = [k for k in state if k not in target]
    wrong = [f"{k} {tuple(state[k].shape)} in the file vs {tuple(v.shape)} in {arch}"
             for k, v in target.items() if k in state and state[k].shape != v.shape]
    if not (missing or unexpected or wrong):
        return
    parts = []
    for label, keys in (("shape mismatches", wrong), ("missing keys", missing), ("unexpected keys", unexpected)):
        if keys:
            parts.append(f"{len(keys)} {label} (first: {'; '.join(keys[:3])})")
    hint = ""
    if "visual.conv1.weight" in state and state["visual.conv1.weight"].ndim == 4:
        width, _, patch, _ = state["visual.conv1.weight"].shape
        hint = f"; the file holds a ViT with patch size {patch} and width {width}"
    raise ValueError(f"CLIP weights file {path} does not fit the architecture {arch}: " + ", ".join(parts)
                     + f"{hint}. Name the right architecture: mm.models.load('clip:ARCH@{path}')")


def load_clip_file(arch: str, path: str | os.PathLike) -> CLIPEncoder:
    """CLIP with the open_clip architecture ``arch`` and the weights in a local file.

    Args:
        arch: an open_clip model name, e.g. "ViT-B-32" ("ViT-B-32-quickgelu" forces QuickGELU).
        path: a ``.safetensors`` file, a ``torch.save`` state dict, or OpenAI's TorchScript ``.pt``.
    Returns:
        A ``CLIPEncoder`` named "clip:ARCH@PATH".
    """
    import open_clip
    import torch

    file = Path(path).expanduser().absolute()
    if not file.exists():
        raise FileNotFoundError(f"CLIP weights file {file}: no such file (for architecture {arch}); check the "
                                "path, or unset MMLAB_CLIP_WEIGHTS to use the cached weights")
    if not file.is_file():
        raise ValueError(f"CLIP weights file {file}: expected a file, got a directory; name the weights file in it "
                         "(e.g. open_clip_model.safetensors)")
    known = open_clip.list_models()
    # "ARCH-quickgelu" works for every architecture, not only those open_clip lists with the suffix.
    config = arch if arch in known or not arch.endswith(_QUICKGELU) else arch[:-len(_QUICKGELU)]
    if config not in known:
        near = [m for m in known if m.lower().startswith(arch.lower().split("-")[0])][:8]
        raise ValueError(f"name: open_clip has no architecture {arch!r}; similar: {', '.join(near) or 'none'}")
    reason = _quick_gelu_reason(arch, file)
    state = _read_state_dict(file, arch)
    model, _, preprocess = open_clip.create_model_and_transforms(config, pretrained=None,
                                                                 force_quick_gelu=reason is not None)
    # TorchScript extras, and buffers the model rebuilds itself (attn_mask), are not weights.
    rebuilt = {name for name, _ in model.named_buffers()} - set(model.state_dict())
    for key in ("input_resolution", "context_length", "vocab_size", *rebuilt):
        state.pop(key, None)
    if "logit_scale" in state and state["logit_scale"].ndim != model.logit_scale.ndim:
        state["logit_scale"] = state["logit_scale"].reshape(model.logit_scale.shape)
    _check_fits(state, model, file, arch)
    with torch.no_grad():
        model.load_state_dict(state, strict=True)
    stat = file.stat()
    activation = f"QuickGELU ({reason})" if reason else "GELU"
    encoder = CLIPEncoder(model, preprocess, open_clip.get_tokenizer(config), name=f"clip:{arch}@{file}",
                          cache_key=f"clip:{arch}@{file}:{stat.st_size}:{stat.st_mtime_ns}:{activation[:9]}",
                          arch=config, weights_file=str(file), quick_gelu=reason is not None)
    encoder.activation = activation
    return encoder
