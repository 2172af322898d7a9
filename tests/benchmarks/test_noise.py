"""benchmarks.noise: conditions, and the noisy versions every system is given."""

from types import SimpleNamespace

import numpy as np
import pytest

from benchmarks.noise import noisy_versions, parse_conditions
from codec.level import active_level, frame_powers


def test_parse_conditions():
    assert parse_conditions("clean,babble/10,pink/-5") == [("clean", None), ("babble", 10.0), ("pink", -5.0)]


def tone_bursts(seed, n=24000, amp=0.3):
    t = np.arange(n) / 16000
    return (amp * (np.sin(2 * np.pi * 3 * t) > 0) * np.sin(2 * np.pi * (120 + 40 * seed) * t)).astype(np.float32)


def test_noisy_versions_are_seeded_at_their_snr_and_babble_is_other_speakers():
    items = [SimpleNamespace(key=f"f{i}", speaker=f"s{i % 2}") for i in range(4)]
    refs = [tone_bursts(i) for i in range(4)]
    a = noisy_versions(items, refs, parse_conditions("clean,pink/10,babble/5"))
    b = noisy_versions(items, refs, parse_conditions("pink/10,babble/5"))
    assert list(a) == ["clean", "pink/10", "babble/5"]
    assert all(x is r for x, r in zip(a["clean"], refs))
    for name in ("pink/10", "babble/5"):
        assert all(np.array_equal(x, y) for x, y in zip(a[name], b[name]))  # seeded per file and condition
    for x, y in zip(refs, a["pink/10"]):
        noise = y.astype(np.float64) - x
        assert active_level(frame_powers(x)) - 10 * np.log10(np.mean(noise ** 2)) == pytest.approx(10.0, abs=0.01)
    # babble for file 0 (speaker s0) is made of files 1 and 3 (speaker s1): its strongest tone is theirs
    noise = a["babble/5"][0].astype(np.float64) - refs[0]
    freqs = np.fft.rfftfreq(len(noise), 1 / 16000)
    assert round(freqs[np.argmax(np.abs(np.fft.rfft(noise)))]) in (160, 240)


def test_loud_mixtures_are_scaled_below_full_scale():
    items = [SimpleNamespace(key="a", speaker="x"), SimpleNamespace(key="b", speaker="y")]
    refs = [tone_bursts(0, amp=0.95), tone_bursts(1, amp=0.95)]
    out = noisy_versions(items, refs, parse_conditions("white/0"))
    assert all(np.max(np.abs(y)) <= 0.99 + 1e-6 for y in out["white/0"])


def test_reverb_condition_is_a_room_at_the_same_level():
    items = [SimpleNamespace(key="a", speaker="x")]
    refs = [tone_bursts(0)]
    assert parse_conditions("reverb/600") == [("reverb", 600.0)]
    y = noisy_versions(items, refs, parse_conditions("reverb/600"))["reverb/600"][0]
    assert y.shape == refs[0].shape and not np.array_equal(y, refs[0])
    assert active_level(frame_powers(y)) == pytest.approx(active_level(frame_powers(refs[0])), abs=0.01)
