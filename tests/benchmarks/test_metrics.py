"""Sanity of the report's metrics: identity scores perfect, damage scores worse, delay is undone.

Optional metric packages are skipped with ``pytest.importorskip``; the model-based metrics run on
the first sentence of the bundled demo sample (synthetic speech, in the repository).
"""

from importlib import resources
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from benchmarks import metrics as M
from benchmarks.peers import resample

SR = 16000
DEMO_TEXT = "The quick brown fox jumps over the lazy dog."


def speech_like(seconds=1.5, f0_scale=1.0, seed=0):
    """Voiced stretches with a gliding pitch, a noise burst and a pause: enough for STOI and F0."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(SR * seconds)) / SR
    f0 = f0_scale * (130 + 40 * np.sin(2 * np.pi * 1.1 * t))
    phase = 2 * np.pi * np.cumsum(f0) / SR
    x = sum(np.sin(k * phase) / k for k in range(1, 16)) * (0.3 + 0.7 * np.sin(2 * np.pi * 2.5 * t) ** 2)
    a, b = int(0.5 * SR), int(0.65 * SR)
    x[a:b] = 0.4 * rng.standard_normal(len(x[a:b]))  # a fricative
    x[int(1.0 * SR): int(1.1 * SR)] = 0.0  # a pause
    return (0.3 * x / np.abs(x).max()).astype(np.float32)


def noisy(x, snr_db, seed=1):
    n = np.random.default_rng(seed).standard_normal(len(x)).astype(np.float32)
    return (x + n * np.std(x) * 10 ** (-snr_db / 20)).astype(np.float32)


def lowpass(x, cutoff_rate=4000):
    """Band-limit to ``cutoff_rate / 2`` Hz by resampling down and up."""
    return resample(resample(x, SR, cutoff_rate), cutoff_rate, SR)[: len(x)]


def delayed(x, samples):
    return np.concatenate([np.zeros(samples, np.float32), x]) if samples >= 0 else x[-samples:]


@pytest.fixture(scope="module")
def demo():
    path = Path(str(resources.files("codec") / "assets" / "samples" / "demo.flac"))
    x, sr = sf.read(path, dtype="float32")
    assert sr == SR
    return x[: int(2.85 * SR)]  # "The quick brown fox jumps over the lazy dog."


# -- always available ---------------------------------------------------------------------------


def test_text_normalisation_and_word_errors():
    assert M.normalize_text("Hello, World!  It's well-looking.") == "hello world its well looking"
    assert M.word_errors("the cat sat", "The cat, sat.") == (0, 3)
    assert M.word_errors("the cat sat", "the bat sat on") == (2, 3)  # one substitution, one insertion
    assert M.word_errors("a b c", "") == (3, 3)
    assert M.wer("a b c d", "a c d") == 0.25
    assert np.isnan(M.wer("", "anything"))


@pytest.mark.parametrize("lag", [0, 1, 37, 555, 1599, -80, -1200])
def test_a_delayed_copy_is_aligned_back(lag):
    x = speech_like()
    assert M.estimate_lag(x, delayed(x, lag)) == lag
    r, d, found = M.align(x, delayed(x, lag))
    assert found == lag and len(r) == len(d)
    np.testing.assert_array_equal(r, d)


def test_lag_of_a_noisy_band_limited_copy():
    x = speech_like(seed=3)
    assert abs(M.estimate_lag(x, delayed(lowpass(noisy(x, 10)), 300)) - 300) <= 16  # within the 1 ms envelope hop


def test_lag_is_bounded_and_silence_is_harmless():
    x = speech_like()
    assert abs(M.estimate_lag(x, delayed(x, 4000))) <= 1600  # beyond +-100 ms: never reported as more
    assert M.estimate_lag(x, np.zeros_like(x)) == 0


def test_shift_puts_the_decoded_signal_on_the_reference_timeline():
    x = speech_like()
    np.testing.assert_array_equal(M.shift(delayed(x, 160), 160, len(x)), x)
    moved = M.shift(delayed(x, -160), -160, len(x))
    assert np.all(moved[:160] == 0) and np.array_equal(moved[160:], x[160:])


def test_mcd():
    x = speech_like()
    assert M.mcd(x, x) == 0.0
    assert M.mcd(x, 3.0 * x) == pytest.approx(0.0, abs=1e-6)  # level (c0) is not counted
    light, heavy = M.mcd(x, noisy(x, 30)), M.mcd(x, noisy(x, 5))
    assert 0 < light < heavy
    assert M.mcd(x, lowpass(x)) > 0.5


def test_f0_counts_arithmetic():
    ref = np.array([0, 0, 100, 100, 100, 200], float)
    deg = np.array([0, 100, 100, 150, 0, 210], float)
    c = M.f0_counts(ref, deg)
    assert (c.frames, c.both_voiced, c.gross, c.voicing) == (6, 3, 1, 2)
    assert (c.gpe, c.vde, c.ffe) == (1 / 3, 2 / 6, 3 / 6)
    assert (c + c).gpe == 1 / 3 and (c + c).frames == 12


def test_evaluator_skips_a_group_that_cannot_load(monkeypatch):
    def broken():
        raise ImportError("No module named 'pocketsphinx'")

    monkeypatch.setattr(M, "PocketsphinxASR", broken)
    ev = M.Evaluator(["mcd", "pocketsphinx"])
    assert ev.groups == ["mcd"] and ev.notes["pocketsphinx"].startswith("skipped: ImportError")
    with pytest.raises(ValueError, match="unknown metric group"):
        M.Evaluator(["mcd", "pesq"])


def test_evaluator_identity_and_delay():
    groups = ["mcd"] + (["stoi"] if _has("pystoi") else [])  # F0 through the evaluator: see test_f0_errors
    ev = M.Evaluator(groups)
    x = speech_like(seed=2)
    ref = ev.reference(x)
    same, late = ev.score(ref, x), ev.score(ref, delayed(x, 480))
    for s in (same, late):
        assert s["mcd"] == pytest.approx(0.0, abs=1e-6)
        if "stoi" in s:
            assert s["stoi"] == pytest.approx(1.0, abs=1e-6)
    assert late["lag_ms"] == 30.0


def _has(module):
    try:
        __import__(module)
        return True
    except ImportError:
        return False


# -- optional packages --------------------------------------------------------------------------


def test_stoi():
    pytest.importorskip("pystoi")
    x = speech_like()
    assert M.stoi(x, x) == pytest.approx(1.0, abs=1e-6)
    assert M.stoi(x, noisy(x, 0)) < M.stoi(x, noisy(x, 20)) < 0.999
    assert M.stoi(x, lowpass(x, 2000)) < 0.95
    late = delayed(x, 400)  # 25 ms late: unaligned it scores worse, aligned it is perfect again
    assert M.stoi(x, late[: len(x)]) < 0.9
    r, d, _ = M.align(x, late)
    assert M.stoi(r, d) == pytest.approx(1.0, abs=1e-6)


def test_f0_errors():
    pytest.importorskip("pyworld")
    x = speech_like(seconds=1.2)
    f0 = M.harvest_f0(x)
    assert len(f0) == 121 and (f0 > 0).mean() > 0.7
    same = M.f0_counts(f0, f0)
    assert same.both_voiced > 0 and same.gpe == same.vde == same.ffe == 0.0
    shifted = M.f0_counts(f0, M.harvest_f0(speech_like(seconds=1.2, f0_scale=1.5)))
    assert shifted.gpe > 0.8 and shifted.ffe > 0.5
    assert M.f0_counts(f0, M.harvest_f0(noisy(x, 0))).ffe > 0.0


def test_speaker_similarity(demo):
    pytest.importorskip("resemblyzer")
    spk = M.SpeakerSimilarity()
    e = spk.embed(demo)
    assert M.SpeakerSimilarity.cosine(e, spk.embed(demo)) == pytest.approx(1.0, abs=1e-5)
    assert M.SpeakerSimilarity.cosine(e, spk.embed(noisy(demo, 0))) < 0.95


def test_dnsmos(demo):
    pytest.importorskip("speechmos")
    pytest.importorskip("onnxruntime")
    mos = M.DNSMOS()
    clean, dirty = mos(demo), mos(noisy(demo, 0))
    assert 1.0 <= clean["dnsmos"] <= 5.0 and dirty["dnsmos"] < clean["dnsmos"]
    assert dirty["dnsmos_bak"] < clean["dnsmos_bak"]


def test_distillmos(demo):
    pytest.importorskip("distillmos")
    mos = M.DistillMOS()
    clean = mos(demo)
    assert 1.0 <= clean <= 5.0 and mos(noisy(demo, 0)) < clean


def test_whisper_wer(demo):
    pytest.importorskip("faster_whisper")
    from codec.errors import ModelError

    try:
        asr = M.WhisperASR()
    except ModelError as exc:  # the packaged weights are not installed
        pytest.skip(str(exc))
    assert M.wer(DEMO_TEXT, asr.transcribe(demo)) <= 0.2


def test_pocketsphinx_wer(demo):
    pytest.importorskip("pocketsphinx")
    hyp = M.PocketsphinxASR().transcribe(demo)
    assert M.wer(DEMO_TEXT, hyp) <= 0.5
