"""The measure that tells input from a narrow channel (codec.bandwidth)."""

import numpy as np
import pytest

from codec.bandwidth import BandwidthMeter, high_band_db
from codec.train.noise import band_limit
from tests.codec.test_api import speechlike

SR = 16000


def noisy_speechlike(seconds=3.0, seed=0):
    """speechlike with a little white noise: energy up to Nyquist, as in a wideband recording."""
    x = np.concatenate([speechlike(1.5, SR, seed + i) for i in range(int(seconds / 1.5))])
    return (x + 0.003 * np.random.default_rng(seed).standard_normal(x.size)).astype(np.float32)


def test_wideband_input_has_a_high_band():
    assert high_band_db(noisy_speechlike(), SR) > -40


@pytest.mark.parametrize("rate", [pytest.param(8000, id="telephone"), pytest.param(6000, id="6-khz")])
def test_a_channel_empties_the_high_band(rate):
    assert high_band_db(band_limit(noisy_speechlike(), rate), SR) < -50


def test_an_11_khz_channel_leaves_part_of_it():
    """Its filter rolls off across 5.5-6.5 kHz: white noise through it keeps some of the band."""
    assert -50 < high_band_db(band_limit(noisy_speechlike(), 11025), SR) < -10


def test_a_roll_off_is_not_a_channel():
    """A recording whose highs fall off (here 38 dB down, as in the speechocean762 files with the
    least treble) keeps a high band; a tone in an empty one does not fill it."""
    x = noisy_speechlike()
    low = band_limit(x, 8000)
    assert -45 < high_band_db(low + 10 ** (-38 / 20) * (x - low), SR) < -30
    tone = 0.02 * np.sin(2 * np.pi * 7000 * np.arange(x.size) / SR)
    assert high_band_db(low + tone, SR) < -55


def test_nothing_to_measure_counts_as_full_band():
    assert high_band_db(np.zeros(SR, np.float32), SR) == 0.0
    assert high_band_db(np.ones(100, np.float32), SR) == 0.0  # shorter than one frame


def test_pieces_measure_what_the_whole_measures():
    x = band_limit(noisy_speechlike(), 8000)
    meter = BandwidthMeter(SR)
    for s in range(0, x.size, 3001):  # pieces that do not fall on the frame grid
        meter.update(x[s: s + 3001])
    whole = BandwidthMeter(SR)
    whole.update(x)
    assert np.allclose(meter.power, whole.power) and meter.high_band_db() == whole.high_band_db()
