"""Test cases the notebook-04 checks run a learner's function on, and the reference answers.

Inputs built so that the common mistakes give answers different from the right one, a stand-in
text encoder, and the variants of exercise 5's rule; the feedback itself lives in ``nb04``.
"""
from __future__ import annotations

import zlib

import numpy as np

from ..embeddings import l2_normalize


def _close_classes_case() -> tuple[np.ndarray, np.ndarray]:
    """float32 (2, 16) images and (5, 16) classes, not unit length; image 0 has cosines 0.95 and 0.90 to
    classes 1 and 3."""
    rng = np.random.default_rng(11)
    q, _ = np.linalg.qr(rng.normal(size=(16, 16)))
    u, v1, v2 = q[:, 0], q[:, 1], q[:, 2]
    cls = rng.normal(size=(5, 16))
    cls[1] = 0.95 * u + np.sqrt(1 - 0.95**2) * v1
    cls[3] = 0.90 * u + np.sqrt(1 - 0.90**2) * v2
    cls = cls * rng.uniform(0.5, 3.0, size=(5, 1))
    img = np.stack([2.3 * u, rng.normal(size=16)])
    return img.astype(np.float32), cls.astype(np.float32)


def _far_row_case() -> tuple[np.ndarray, np.ndarray]:
    """float32 (2, 16) images and (4, 16) classes, not unit length: image 0 lies on class 1 (cosine 1),
    image 1 has cosine -0.5 with every class."""
    rng = np.random.default_rng(12)
    q, _ = np.linalg.qr(rng.normal(size=(16, 16)))
    w = q[:, 0]
    cls = np.stack([0.5 * w + np.sqrt(0.75) * q[:, j + 1] for j in range(4)]) * rng.uniform(0.5, 3.0, size=(4, 1))
    img = np.stack([1.7 * cls[1], -2.1 * w])
    return img.astype(np.float32), cls.astype(np.float32)


class _HashText:
    """A stand-in text encoder: every distinct text gets its own fixed random unit vector."""

    name = "hash-text"
    dim = 16
    modalities = ("text",)
    logit_scale = 100.0

    def encode_text(self, texts, batch_size=32, progress=True):
        out = np.stack([np.random.default_rng(zlib.crc32(t.encode())).normal(size=self.dim) for t in texts])
        return l2_normalize(out).astype(np.float32)


def _first_k(ks, accuracies, zero_shot, *, multiplier, ddof=1, spread="se", last=False, index=False,
             tail=False):
    """The variants of "the smallest k clearly above zero-shot" that the check recognises."""
    a = np.asarray(accuracies, dtype=float)
    r = a.shape[1]
    sd = a.std(axis=1, ddof=ddof)
    width = multiplier(r) * (sd / np.sqrt(r) if spread == "se" else sd if spread == "sd" else 0.0)
    above = a.mean(axis=1) - width > zero_shot
    ahead = [i for i in range(len(above)) if above[i:].all()] if tail else list(np.flatnonzero(above))
    if not ahead:
        return "never"
    i = int(ahead[-1] if last else ahead[0])
    return i if index else ks[i]


def _t975(r: int) -> float:
    from scipy import stats

    return float(stats.t.ppf(0.975, r - 1))


def _t975_df_r(r: int) -> float:
    from scipy import stats

    return float(stats.t.ppf(0.975, r))


def _exercise5_cases():
    """(ks, (K, R) accuracies, zero-shot) cases on which the common mistakes give other answers."""
    def draws(means, sds, r):
        z = np.linspace(-1.0, 1.0, r)
        z = (z - z.mean()) / z.std(ddof=1)  # exactly mean 0, sd 1
        order = np.random.default_rng(r)  # draws in no particular order, as measured
        return np.array([m + s * z[order.permutation(r)] for m, s in zip(means, sds)])

    se10 = 0.04 / np.sqrt(10)
    se3 = 0.02 / np.sqrt(3)
    return [
        # 10 draws: k = 2 is 2.1 standard errors above zero-shot (beyond 2 SE, within t(9) = 2.26 SE).
        ([1, 2, 4, 8, 16], draws([0.28, 0.30 + 2.1 * se10, 0.34, 0.40, 0.45], [0.04] * 5, 10), 0.30),
        # 3 draws: t(2) = 4.30, so 2 SE (and an SE with ddof=0) is far too narrow.
        ([1, 2, 3, 4], draws([0.345, 0.36, 0.42, 0.45], [0.02] * 4, 3), 0.30),
        # Never clearly above, although the last mean is above.
        ([1, 2, 4], draws([0.40, 0.45, 0.52], [0.05] * 3, 5), 0.50),
        # Clearly above from the first k.
        ([1, 2], draws([0.60, 0.70], [0.05, 0.05], 10), 0.30),
        # Not monotone in k: above, then not, then above again; the first k is the answer.
        ([1, 2, 4], draws([0.36, 0.31, 0.40], [0.04] * 3, 10), 0.30),
        # 3 draws, k = 1 is 3.0 standard errors above: inside t(2) = 4.30 (and inside 4.30 x the ddof=0
        # sd, 3.5 SE), outside a t of 2.26 read off the notebook's 10 draws.
        ([1, 2, 3], draws([0.30 + 3.0 * se3, 0.30 + 6.0 * se3, 0.45], [0.02] * 3, 3), 0.30),
        # 3 draws, k = 1 is 3.3 standard errors above: outside t with R = 3 degrees of freedom (3.18), inside
        # t(2) = 4.30 and inside 4.30 x the ddof=0 sd (3.5 SE), so df = R and ddof = 0 part here.
        ([1, 2, 3], draws([0.30 + 3.3 * se3, 0.30 + 6.0 * se3, 0.45], [0.02] * 3, 3), 0.30),
    ]


def _probs_case(seed: int, n: int, c: int, d: int, dtype) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    img = rng.normal(size=(n, d)) * rng.uniform(0.5, 3.0, size=(n, 1))  # rows NOT unit length
    cls = rng.normal(size=(c, d)) * rng.uniform(0.5, 3.0, size=(c, 1))
    return img.astype(dtype), cls.astype(dtype)


# What ConSE's ImageNet model sees in a flag drawing (flagpole, jersey, whistle): a name built on it
# follows one model's misreading. And words that fit every flag emoji alike, which say nothing about
# which flags a subgroup holds ("flag emoji", "other flag").
_MISREADINGS = {"flagpole", "flagpoles", "flagstaff", "flagstaffs", "pole", "poles", "mast", "masts",
                "jersey", "jerseys", "whistle", "whistles"}
_GENERIC = {"a", "an", "the", "of", "on", "in", "with", "and", "or", "flag", "flags", "emoji", "emojis", "other",
            "others", "special", "misc", "miscellaneous", "symbolic", "symbol", "symbols", "icon", "icons",
            "sign", "signs", "generic", "general", "various", "assorted", "different", "kind", "kinds", "type",
            "types", "some", "any", "more", "extra", "remaining", "unusual", "odd", "image", "picture",
            "drawing", "small", "single", "one"}
