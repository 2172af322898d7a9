import numpy as np
import pytest
import torch

from codec.errors import AudioError
from codec.pitch import (
    F0Stats,
    denormalise,
    extract_f0,
    frame_times,
    normalise,
    num_frames,
    stats_code,
    stats_from_code,
    to_grid,
)

SR = 16000


def harmonic(f0_hz, seconds=1.0, harmonics=6, amp=0.3):
    t = np.arange(int(SR * seconds)) / SR
    return (amp * sum(np.sin(2 * np.pi * k * f0_hz * t) / k for k in range(1, harmonics + 1))).astype(np.float32)


@pytest.mark.parametrize("f0_hz", [90.0, 150.0, 240.0, 420.0])  # low male .. child
def test_harmonic_signal_pitch(f0_hz):
    f = extract_f0(harmonic(f0_hz))
    inner = f[5:-5]
    assert (inner > 0).mean() > 0.95
    assert np.all(np.abs(inner[inner > 0] / f0_hz - 1) < 0.03)


def test_pure_sine_and_torch_input():
    f = extract_f0(torch.from_numpy(harmonic(200.0, harmonics=1)))
    assert np.median(f[f > 0]) == pytest.approx(200.0, rel=0.02)


def test_glide_is_tracked_on_the_frame_centres():
    t = np.arange(SR) / SR
    hz = 120 * 2 ** t  # one octave up in a second
    x = 0.3 * sum(np.sin(2 * np.pi * k * np.cumsum(hz) / SR) / k for k in range(1, 6))
    f = extract_f0(x)
    truth = 120 * 2 ** frame_times(SR)
    ok = f[10:-10] > 0
    assert ok.mean() > 0.9
    assert np.all(np.abs(1200 * np.log2(f[10:-10][ok] / truth[10:-10][ok])) < 30)  # cents


def test_silence_and_noise_are_unvoiced():
    assert not extract_f0(np.zeros(SR, np.float32)).any()
    noise = np.random.default_rng(0).standard_normal(SR).astype(np.float32) * 0.1
    assert (extract_f0(noise) > 0).mean() < 0.05


@pytest.mark.parametrize("n", [1, 80, 159, 160, 161, 1280, 1281, 16000, 16079, 16159])
def test_frame_count_is_exact(n):
    x = harmonic(150.0, seconds=1.1)[:n]
    f = extract_f0(x)
    assert f.shape == (num_frames(n),) == (-(-n // 160),)
    assert f.dtype == np.float32


@pytest.mark.parametrize("bad, sr", [
    (np.zeros(0, np.float32), SR),
    (np.full(1600, np.nan, np.float32), SR),
    (np.zeros((2, 1600), np.float32), SR),
    (np.zeros(1600, np.float32), 22050),
    (np.array(["a"] * 10), SR),
])
def test_bad_audio(bad, sr):
    with pytest.raises(AudioError):
        extract_f0(bad, sr)


def test_normalise_round_trip():
    f0 = np.array([0, 100, 110, 0, 120, 200, 0], np.float32)
    z, voiced, stats = normalise(f0)
    assert voiced.tolist() == [False, True, True, False, True, True, False]
    assert z.dtype == np.float32 and np.all(z[~voiced] == 0)
    assert z[voiced].mean() == pytest.approx(0, abs=1e-6) and z[voiced].std() == pytest.approx(1, abs=1e-5)
    assert stats.num_voiced == 4 and stats.mean == pytest.approx(np.log([100, 110, 120, 200]).mean())
    np.testing.assert_allclose(denormalise(z, voiced, stats), f0, rtol=1e-5)


def test_normalise_degenerate():
    z, voiced, stats = normalise(np.zeros(5))
    assert not voiced.any() and not z.any() and stats == F0Stats(0.0, 1.0, 0)
    z, voiced, stats = normalise(np.array([0, 150, 150, 0.0]))  # monotone: std floored, no 0/0
    assert np.all(np.isfinite(z)) and np.all(z == 0) and stats.std > 0


@pytest.mark.parametrize("hz", [pytest.param(90.0, id="low"), pytest.param(210.0, id="mid"), pytest.param(420.0, id="high")])
def test_stats_code_round_trip(hz):
    f0 = hz * np.exp(np.sin(np.linspace(0, 6, 200)) * 0.2)
    _, _, stats = normalise(f0)
    level, spread = stats_code(stats)
    back = stats_from_code(level, spread)
    assert abs(back.mean - stats.mean) * 1200 / np.log(2) <= 12.5 + 1e-6
    assert abs(back.std - stats.std) * 1200 / np.log(2) <= 2 + 1e-6


def test_stats_code_edges():
    assert stats_code(normalise(np.zeros(10))[2]) is None  # nothing voiced: nothing sent
    assert stats_code(F0Stats(np.log(10.0), 3.0, 5)) == (0, 255)  # clamped into a byte
    assert stats_code(F0Stats(np.log(5000.0), 0.0, 5)) == (255, 0)
    assert stats_from_code(0, 0).std > 0  # a zero spread still denormalises


def test_to_grid_interpolates_in_log_and_keeps_voicing_edges():
    times = np.array([0.0, 0.01, 0.02, 0.03])
    f0 = np.array([100.0, 200.0, 0.0, 0.0])
    out = to_grid(times, f0, np.array([0.005, 0.014, 0.016, 0.05]))
    assert out[0] == pytest.approx(100 * 2 ** 0.5)
    assert out[1] == 200.0 and out[2] == 0.0 and out[3] == 0.0  # nearest decides voicing; outside: 0
