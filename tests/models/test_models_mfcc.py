"""mmlab.models.mfcc: MFCC statistics as an audio embedding."""
import numpy as np
import pytest
from models_support import assert_embeddings, tone

import mmlab as mm
from mmlab import models


@pytest.fixture(scope="module")
def mfcc():
    return models.load("mfcc")


def test_protocol_attributes(mfcc):
    assert (mfcc.dim, mfcc.modalities, mfcc.logit_scale) == (80, ("audio",), None)
    assert isinstance(mfcc, models.AudioEncoder)
    with pytest.raises(ValueError, match="cannot encode text: it supports audio"):
        mfcc.encode_text(["a cat"])


def test_mfcc_encodes_and_is_batching_invariant(mfcc, no_cache):
    waves = [tone(f) for f in (220, 440, 880)] + [tone(300, 0.01)]
    a = mfcc.encode_audio(waves, 16000, batch_size=1, progress=False)
    b = mfcc.encode_audio(waves, 16000, batch_size=32, progress=False)
    assert_embeddings(a, 4, 80)
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_digital_silence_gets_a_direction(mfcc):
    assert_embeddings(mfcc.encode_audio([np.zeros(8000, np.float32)], 16000, progress=False), 1, 80)


def test_mfcc_is_comparable_across_sample_rates(mfcc):
    x = mfcc.encode_audio([tone(440, rate=16000)], 16000, progress=False)
    y = mfcc.encode_audio([tone(440, rate=22050)], 22050, progress=False)
    z = mfcc.encode_audio([tone(1500, rate=16000)], 16000, progress=False)
    assert (x @ y.T).item() > (x @ z.T).item()


def test_mfcc_same_word_other_voice_is_closer_than_other_words(mfcc):
    speech = mm.data.load_spoken_names()
    idx = list(range(60))
    x = mfcc.encode_audio([speech.waveforms[i] for i in idx], speech.sample_rate, progress=False)
    names = np.array([speech.names[i] for i in idx])
    sims = x @ x.T
    same = names[:, None] == names[None]
    np.fill_diagonal(same, False)
    other = names[:, None] != names[None]
    assert same.any() and sims[same].mean() > sims[other].mean()


def test_audio_inputs_are_checked(mfcc):
    w = tone(440)
    with pytest.raises(ValueError, match="waveforms: expected a non-empty list"):
        mfcc.encode_audio([], 16000)
    with pytest.raises(TypeError, match="wrap one clip in a list"):
        mfcc.encode_audio(w, 16000)
    with pytest.raises(ValueError, match=r"waveforms\[0\]: expected a 1-D \(mono\) array.*mean\(axis=0\)"):
        mfcc.encode_audio([np.stack([w, w])], 16000)
    with pytest.raises(ValueError, match=r"waveforms\[1\]: expected a non-empty array"):
        mfcc.encode_audio([w, np.zeros(0, np.float32)], 16000)
    bad = w.copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match=r"waveforms\[0\]: expected finite values"):
        mfcc.encode_audio([bad], 16000)
    with pytest.raises(TypeError, match="32768"):
        mfcc.encode_audio([(w * 30000).astype(np.int16)], 16000)
    with pytest.raises(ValueError, match="sample_rate: expected an int >= 4000"):
        mfcc.encode_audio([w], 16)
    with pytest.raises(TypeError, match="sample_rate: expected an int"):
        mfcc.encode_audio([w], 16000.0)
