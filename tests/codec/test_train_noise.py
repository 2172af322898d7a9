"""``codec.train.noise``: coloured noise, babble, and mixing at an SNR."""

import numpy as np
import pytest

from codec.level import active_level, frame_powers
from codec.train.noise import KINDS, babble, colored_noise, make_noise, mix


def octave_slope_db(x: np.ndarray, sr: int = 16000) -> float:
    """Least-squares slope of band power in dB per octave, bands 250 Hz .. 4 kHz."""
    spec = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / sr)
    centres = 250 * 2.0 ** np.arange(5)
    power = [10 * np.log10(spec[(freqs >= c / np.sqrt(2)) & (freqs < c * np.sqrt(2))].sum()) for c in centres]
    bandwidth = 10 * np.log10(centres)  # octave bands double in width: +3 dB per octave for white noise
    return float(np.polyfit(np.log2(centres), np.array(power) - bandwidth, 1)[0])


@pytest.mark.parametrize("slope", [pytest.param(0.0, id="white"), pytest.param(3.0, id="pink"),
                                   pytest.param(6.0, id="brown")])
def test_colored_noise_has_unit_power_and_its_slope(slope):
    x = colored_noise(160000, slope, np.random.default_rng(0))
    assert x.dtype == np.float32 and x.shape == (160000,)
    assert np.mean(x.astype(np.float64) ** 2) == pytest.approx(1.0, rel=1e-3)
    assert octave_slope_db(x) == pytest.approx(-slope, abs=0.5)


def speech_like(n=32000, seed=0):
    """Bursts of a harmonic tone with pauses between them (active level well defined)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 16000
    env = (np.sin(2 * np.pi * 2 * t) > 0).astype(np.float64)
    return (0.3 * env * np.sin(2 * np.pi * 150 * t + rng.uniform(0, 6))).astype(np.float32)


@pytest.mark.parametrize("snr", [pytest.param(20.0, id="20dB"), pytest.param(0.0, id="0dB"),
                                 pytest.param(-5.0, id="-5dB")])
def test_mix_puts_the_noise_at_the_snr_below_the_active_level(snr):
    s = speech_like()
    noise = make_noise("pink", len(s), np.random.default_rng(1))
    y = mix(s, noise, snr)
    added = y.astype(np.float64) - s
    level = active_level(frame_powers(s))
    assert level - 10 * np.log10(np.mean(added ** 2)) == pytest.approx(snr, abs=0.01)
    assert y.dtype == np.float32 and y.shape == s.shape


def test_mix_refuses_silence():
    with pytest.raises(ValueError, match="silence"):
        mix(np.zeros(16000, np.float32), np.ones(16000, np.float32), 10.0)


def test_babble_is_unit_power_of_its_talkers_and_needs_one_with_sound():
    rng = np.random.default_rng(0)
    talkers = [speech_like(20000, seed=i) for i in range(4)]
    b = babble(50000, talkers, rng)
    assert b.shape == (50000,) and np.mean(b.astype(np.float64) ** 2) == pytest.approx(1.0, rel=1e-3)
    # it is made of the talkers: a 150 Hz tone dominates its spectrum
    freqs = np.fft.rfftfreq(len(b), 1 / 16000)
    assert abs(freqs[np.argmax(np.abs(np.fft.rfft(b)))] - 150) < 2
    with pytest.raises(ValueError, match="talker"):
        babble(1000, [np.zeros(500, np.float32)], rng)


def test_make_noise_is_seeded_and_checks_its_kind():
    for kind in KINDS:
        talkers = [speech_like(seed=3)] if kind == "babble" else None
        a = make_noise(kind, 4000, np.random.default_rng(5), talkers)
        b = make_noise(kind, 4000, np.random.default_rng(5), talkers)
        assert np.array_equal(a, b)
    with pytest.raises(ValueError, match="unknown noise kind"):
        make_noise("rain", 100, np.random.default_rng(0))
    with pytest.raises(ValueError, match="talkers"):
        make_noise("babble", 100, np.random.default_rng(0))


def test_room_response_decays_over_its_rt60_with_its_direct_to_reverberant_ratio():
    from codec.train.noise import room_response

    h = room_response(0.5, np.random.default_rng(0), drr_db=3.0).astype(np.float64)
    assert h.shape == (8000,) and h[0] == 1.0 and not np.any(h[1:32])
    assert 10 * np.log10(1.0 / np.sum(h[1:] ** 2)) == pytest.approx(3.0, abs=1e-4)
    early, late = np.mean(h[800:1600] ** 2), np.mean(h[4800:5600] ** 2)  # 50-100 ms and 300-350 ms
    assert 10 * np.log10(early / late) == pytest.approx(60 * 0.25 / 0.5, abs=3.0)  # 60 dB per RT60


def test_reverberate_keeps_length_and_level_and_smears_in_time():
    from codec.train.noise import reverberate

    s = speech_like()
    y = reverberate(s, 0.6, np.random.default_rng(1))
    assert y.shape == s.shape and y.dtype == np.float32
    assert active_level(frame_powers(y)) == pytest.approx(active_level(frame_powers(s)), abs=0.01)
    gap = slice(int(0.26 * 16000), int(0.30 * 16000))  # the start of a pause after a burst
    assert np.mean(s[gap] ** 2) == 0 and np.mean(y[gap].astype(np.float64) ** 2) > 1e-5  # the room fills the pause
    with pytest.raises(ValueError, match="silence"):
        reverberate(np.zeros(1000, np.float32), 0.3, np.random.default_rng(0))


def test_band_limit_keeps_the_telephone_band_and_drops_the_rest():
    from codec.train.noise import band_limit, condition_version

    sr, t = 16000, np.arange(16000) / 16000
    low, high = 0.3 * np.sin(2 * np.pi * 1000 * t), 0.3 * np.sin(2 * np.pi * 6000 * t)
    y = band_limit((low + high).astype(np.float32), 8000)
    spec = np.abs(np.fft.rfft(y[2000:-2000]))
    freqs = np.fft.rfftfreq(12000, 1 / sr)
    at = lambda hz: spec[np.argmin(np.abs(freqs - hz))]  # noqa: E731
    assert len(y) == sr and at(6000) < 1e-3 * at(1000)
    assert abs(np.std(y[2000:-2000]) - np.std(low[2000:-2000])) < 0.01 * np.std(low)
    same = condition_version(low.astype(np.float32), "f", "band", 8000, lambda rng: None)
    assert np.allclose(same, band_limit(low.astype(np.float32), 8000))


def test_phone_line_keeps_the_voice_band_in_mu_law_steps():
    from codec.train.noise import condition_version, phone_line

    sr, t = 16000, np.arange(16000) / 16000
    tones = {hz: 0.2 * np.sin(2 * np.pi * hz * t) for hz in (100, 1000, 6000)}
    y = phone_line(sum(tones.values()).astype(np.float32))
    spec = np.abs(np.fft.rfft(y[2000:-2000]))
    freqs = np.fft.rfftfreq(12000, 1 / sr)
    at = lambda hz: spec[np.argmin(np.abs(freqs - hz))]  # noqa: E731
    assert len(y) == sr and y.dtype == np.float32
    assert at(6000) < 1e-3 * at(1000) and at(100) < 0.2 * at(1000)  # above 4 kHz gone, below 300 Hz cut
    # 8-bit mu-law leaves noise about 35-40 dB under a loud tone: far more than a clean channel's.
    one = phone_line(tones[1000].astype(np.float32))[2000:-2000]
    fit = np.linalg.lstsq(np.stack([np.sin(2 * np.pi * 1000 * t[2000:-2000]),
                                    np.cos(2 * np.pi * 1000 * t[2000:-2000])], 1), one, rcond=None)[0]
    residual = one - np.stack([np.sin(2 * np.pi * 1000 * t[2000:-2000]), np.cos(2 * np.pi * 1000 * t[2000:-2000])],
                              1) @ fit
    snr = 10 * np.log10(np.mean((one - residual) ** 2) / np.mean(residual ** 2))
    assert 25 < snr < 50
    assert np.allclose(condition_version(tones[1000].astype(np.float32), "f", "phone", 8000, lambda rng: None),
                       phone_line(tones[1000].astype(np.float32)))


@pytest.mark.parametrize("kind, hz", [pytest.param("hum50", 50, id="50Hz"), pytest.param("hum60", 60, id="60Hz")])
def test_hum_is_a_tone_and_its_harmonics(kind, hz):
    x = make_noise(kind, 16000, np.random.default_rng(2))
    assert np.mean(x.astype(np.float64) ** 2) == pytest.approx(1.0, rel=1e-3)
    spectrum = np.abs(np.fft.rfft(x))  # 1 Hz bins
    top = sorted(np.argsort(spectrum)[-3:])
    assert top == [hz, 2 * hz, 3 * hz] and spectrum[hz] == pytest.approx(2 * spectrum[2 * hz], rel=0.01)
