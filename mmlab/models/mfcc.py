"""MFCC statistics: an 80-d audio vector computed by librosa, with no learned weights."""
from __future__ import annotations

import numpy as np

from .base import BaseEncoder

__all__ = ["MFCCEncoder"]


class MFCCEncoder(BaseEncoder):
    """Mel-frequency cepstral statistics: a fixed-size audio vector with no learned weights.

    Each clip is resampled to 16 kHz (so clips at different rates are comparable), its
    leading and trailing silence trimmed, and 20 liftered MFCCs (c1..c20; c0, the loudness,
    is dropped) and their deltas computed on 25 ms windows with a 10 ms hop. The vector is
    [mean, std] of the MFCCs and of the deltas over time: 4 x 20 = 80 numbers.
    """

    name = "mfcc"
    dim = 80
    modalities = ("audio",)
    cache_key = "mfcc/16k-20c-lifter22/v1"
    default_batch_size = 64
    target_rate = 16000

    def _embed_audio(self, waveforms: list[np.ndarray], sample_rate: int) -> np.ndarray:
        return np.stack([self._features(w, sample_rate) for w in waveforms])  # (B, 80)

    def _features(self, y: np.ndarray, sample_rate: int) -> np.ndarray:
        import librosa

        if sample_rate != self.target_rate:
            y = librosa.resample(y, orig_sr=sample_rate, target_sr=self.target_rate)
        trimmed, _ = librosa.effects.trim(y, top_db=40)
        if trimmed.size >= 400:
            y = trimmed
        peak = np.abs(y).max()
        if peak > 0:
            y = y / peak  # loudness does not say what was said
        n_fft, hop = 400, 160  # 25 ms windows, 10 ms hop at 16 kHz
        if y.size < n_fft:
            y = np.pad(y, (0, n_fft - y.size))
        mfcc = librosa.feature.mfcc(y=y, sr=self.target_rate, n_mfcc=21, n_fft=n_fft, hop_length=hop,
                                    n_mels=40, lifter=22)[1:]  # (20, T)
        delta = librosa.feature.delta(mfcc, width=3, mode="nearest")  # (20, T)
        vec = np.concatenate([mfcc.mean(1), mfcc.std(1), delta.mean(1), delta.std(1)])  # (80,)
        if not np.any(vec):  # digital silence: every statistic is 0; give it a fixed direction
            vec = np.zeros_like(vec)
            vec[0] = 1.0
        return vec
