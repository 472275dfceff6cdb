"""mmlab.viz.plot_audio_steps: one row per step, one column per clip, shared scales; bad input named."""
import matplotlib.pyplot as plt
import numpy as np
import pytest

from mmlab import viz

SR, HOP = 16000, 160


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _clip(seed=0, frames=30, loud=0.0):
    rng = np.random.default_rng(seed)
    return {
        "waveform": rng.uniform(-1, 1, size=frames * HOP),
        "spectrogram": rng.uniform(-80, 0, size=(201, frames)) + loud,
        "mel": rng.uniform(-80, 0, size=(40, frames)) + loud,
        "mfcc": rng.normal(scale=50, size=(20, frames)),
    }


def test_one_row_per_step_one_column_per_clip_with_titles_and_labels():
    fig, axes = viz.plot_audio_steps({"parrot": _clip(0), "carrot": _clip(1, frames=25)}, SR, HOP, title="t")
    assert axes.shape == (4, 2)
    assert fig._suptitle.get_text() == "t"
    for r, step in enumerate(["waveform", "spectrogram", "mel", "MFCCs"]):
        for c, word in enumerate(["parrot", "carrot"]):
            ax = axes[r, c]
            assert ax.get_title().startswith(f"{word}: ") and step in ax.get_title()
            assert ax.get_xlabel() == "time (s)"
        assert axes[r, 0].get_ylabel()                      # the first column names the y axis
    # the time axis of the 2-D steps is frames * hop / sample rate
    assert axes[3, 1].images[0].get_extent()[1] == pytest.approx(25 * HOP / SR)
    # the spectrogram's frequency axis runs to the Nyquist frequency; MFCC rows start at c1
    assert axes[1, 0].images[0].get_extent()[3] == pytest.approx(SR / 2)
    assert axes[3, 0].images[0].get_extent()[2:] == pytest.approx((0.5, 20.5))


def test_each_row_shares_one_colour_scale_across_clips():
    _, axes = viz.plot_audio_steps({"quiet": _clip(0), "loud": _clip(1, loud=20.0)}, SR, HOP)
    for r in (1, 2, 3):
        assert axes[r, 0].images[0].get_clim() == axes[r, 1].images[0].get_clim()
    low, high = axes[1, 0].images[0].get_clim()
    assert high - low == pytest.approx(80.0)                # 80 dB below the loudest cell
    low, high = axes[3, 0].images[0].get_clim()
    assert low == pytest.approx(-high)                      # MFCCs: symmetric around 0


def test_a_subset_of_steps_in_the_fixed_order():
    clip = _clip(0)
    _, axes = viz.plot_audio_steps({"a": {"mfcc": clip["mfcc"], "waveform": clip["waveform"]}}, SR, HOP,
                                   first_coefficient=0)
    assert axes.shape == (2, 1)
    assert "waveform" in axes[0, 0].get_title() and "MFCC" in axes[1, 0].get_title()
    assert axes[1, 0].images[0].get_extent()[2] == pytest.approx(-0.5)


@pytest.mark.parametrize("steps, error, needle", [
    (None, TypeError, "steps: expected a non-empty dict"),
    ({}, TypeError, "steps: expected a non-empty dict"),
    ({"a": [1, 2]}, TypeError, "steps['a']: expected a dict"),
    ({"a": {"cepstrum": np.zeros((2, 2))}}, ValueError, "unknown step 'cepstrum'"),
    ({"a": {"mfcc": np.zeros((2, 3))}, "b": {"mel": np.zeros((2, 3))}}, ValueError, "the same steps"),
    ({"a": {"waveform": np.zeros((2, 3))}}, ValueError, "steps['a']['waveform']: expected a 1-D array"),
    ({"a": {"mel": np.full((2, 3), np.nan)}}, ValueError, "steps['a']['mel']: expected finite values"),
])
def test_bad_steps_are_named(steps, error, needle):
    with pytest.raises(error) as info:
        viz.plot_audio_steps(steps, SR, HOP)
    assert needle in str(info.value)


@pytest.mark.parametrize("kwargs, needle", [
    ({"sample_rate": 0, "hop_length": HOP}, "sample_rate"),
    ({"sample_rate": SR, "hop_length": 1.5}, "hop_length"),
])
def test_bad_rates_are_named(kwargs, needle):
    with pytest.raises((TypeError, ValueError), match=needle):
        viz.plot_audio_steps({"a": _clip()}, **kwargs)
