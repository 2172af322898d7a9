"""Pitch resynthesis (codec/resynth.py): runs, re-voicing at a target contour, and the codec's use of it."""

import dataclasses
import json
import shutil

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from bitstream import SpeakerCode, read_srb, write_srb
from bitstream.edit import set_speaker
from codec import pitch
from codec.api import Codec
from codec.bundle import RenderConfig, load_render, model_id_of, save_render
from codec.errors import ModelError
from codec.resynth import Resynth, ResynthConfig, pitch_range, resynth_range, transmitted_f0, voiced_runs
from tests.codec.test_api import speechlike
from tests.codec.tiny_bundle import make_tiny_bundle

SR = 16000
HOP = 160


def vowel(f0_hz, seconds=1.0, seed=0):
    """A vowel-like sound: harmonics of ``f0_hz`` (an array per sample, or a number) shaped by two
    formants (500 and 1500 Hz), with a little noise."""
    n = int(SR * seconds)
    f0 = np.broadcast_to(np.asarray(f0_hz, np.float64), (n,))
    phase = 2 * np.pi * np.cumsum(f0) / SR
    x = np.zeros(n)
    for k in range(1, int(4000 // f0.max())):
        hz = k * f0
        amp = 1.0 / (1 + ((hz - 500) / 150) ** 2) + 0.5 / (1 + ((hz - 1500) / 200) ** 2) + 0.02
        x += amp * np.sin(k * phase)
    x += 0.01 * np.random.default_rng(seed).standard_normal(n)
    return (0.3 * x / np.abs(x).max()).astype(np.float32)


def median_f0(x):
    f = pitch.extract_f0(x)
    return float(np.median(f[f > 0]))


def band_db(x, lo, hi):
    spec = np.abs(np.fft.rfft(x)) ** 2
    hz = np.fft.rfftfreq(len(x), 1 / SR)
    return 10 * np.log10(spec[(hz >= lo) & (hz < hi)].sum())


def test_voiced_runs_and_their_cap():
    v = np.array([0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 1], bool)
    assert voiced_runs(v, 100) == [(1, 4), (6, 13), (14, 15)]
    assert voiced_runs(v, 3) == [(1, 4), (6, 9), (9, 12), (12, 13), (14, 15)]
    assert voiced_runs(np.zeros(5, bool), 10) == [] and voiced_runs(np.zeros(0, bool), 10) == []


TARGET, DECODED, EVERY_FRAME = ResynthConfig(), ResynthConfig(analysis="decoded"), ResynthConfig(mask="target")
PSOLA = ResynthConfig(method="psola")


@pytest.mark.parametrize("config,source_hz,target_hz", [
    pytest.param(TARGET, 150.0, 200.0, id="target-analysis-up"),
    pytest.param(TARGET, 110.0, 220.0, id="target-analysis-octave-up"),
    pytest.param(TARGET, 200.0, 150.0, id="target-analysis-down"),
    pytest.param(DECODED, 150.0, 200.0, id="decoded-analysis-up"),
    pytest.param(DECODED, 220.0, 110.0, id="decoded-analysis-octave-down"),
    pytest.param(EVERY_FRAME, 150.0, 200.0, id="target-mask-up"),
    pytest.param(PSOLA, 150.0, 200.0, id="psola-up"),
    pytest.param(PSOLA, 200.0, 150.0, id="psola-down"),
])
def test_moves_the_pitch_to_the_target_and_keeps_the_envelope(config, source_hz, target_hz):
    # Not with analysis="target" an octave *down*: an envelope measured at half the audio's F0
    # has notches at its odd harmonics, so the output stays an octave up (docs/RESYNTH.md).
    x = vowel(source_hz)
    target = np.full(pitch.num_frames(len(x)), target_hz)
    y = Resynth(config)(x, target)
    assert y.shape == x.shape and y.dtype == np.float32 and np.isfinite(y).all()
    assert abs(median_f0(y) / target_hz - 1) < 0.02
    # The formants stay: band energies around them keep their balance within a few dB.
    for lo, hi in [(300, 700), (1300, 1700)]:
        assert abs((band_db(y, lo, hi) - band_db(y, 0, 4000)) - (band_db(x, lo, hi) - band_db(x, 0, 4000))) < 4.0


def test_follows_a_moving_contour():
    n_frames = 150
    contour = 120 * 2 ** (np.linspace(0, 1, n_frames))  # an octave glide, 120 -> 240 Hz
    x = vowel(170.0, seconds=n_frames * HOP / SR)
    y = Resynth()(x, contour)
    f = pitch.extract_f0(y)
    both = (f > 0)[5:-5]
    assert both.mean() > 0.9
    err = np.abs(np.log2(f[5:-5][both] / contour[5:-5][both])) * 1200
    assert np.median(err) < 30  # cents


def test_unvoiced_frames_and_unvoiced_targets_are_left_alone():
    x = vowel(150.0, seconds=1.0)
    n = pitch.num_frames(len(x))
    np.testing.assert_array_equal(Resynth()(x, np.zeros(n)), x)
    # Voiced only in frames 40..60: far from them the audio is untouched, bit for bit.
    target = np.zeros(n)
    target[40:60] = 200.0
    y = Resynth()(x, target)
    assert not np.allclose(y[40 * HOP: 60 * HOP], x[40 * HOP: 60 * HOP])
    np.testing.assert_array_equal(y[: 30 * HOP], x[: 30 * HOP])
    np.testing.assert_array_equal(y[70 * HOP:], x[70 * HOP:])
    # Noise (voiced nowhere in the decoded audio) is not re-voiced with the default mask.
    noise = (0.1 * np.random.default_rng(1).standard_normal(SR)).astype(np.float32)
    np.testing.assert_array_equal(Resynth()(noise, np.full(n, 200.0)), noise)


def test_long_runs_are_cut_and_still_follow_the_target():
    x = vowel(150.0, seconds=1.5)
    target = np.full(pitch.num_frames(len(x)), 190.0)
    y = Resynth(ResynthConfig(max_run_s=0.4))(x, target)
    assert abs(median_f0(y) / 190.0 - 1) < 0.02


@pytest.mark.parametrize("n", [pytest.param(0, id="empty"), pytest.param(100, id="shorter-than-a-frame")])
def test_empty_and_short_input(n):
    x = np.zeros(n, np.float32)
    y = Resynth()(x, np.full(pitch.num_frames(n), 150.0))
    assert y.shape == (n,)


def test_config_is_checked():
    with pytest.raises(ValidationError):
        ResynthConfig(mask="everywhere")
    with pytest.raises(ValidationError):
        ResynthConfig(fade=0)
    with pytest.raises(ValidationError):
        ResynthConfig(bogus=1)
    with pytest.raises(ValidationError):
        ResynthConfig(method="vocoder")
    with pytest.raises(ValidationError):
        ResynthConfig(formant=0)


# -- the codec ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bundle-rs")
    make_tiny_bundle(folder)
    return folder


def voiced(codec: Codec) -> Codec:
    """The tiny model's untrained F0 decoder calls every frame unvoiced; a large voicing bias on its
    last layer makes every frame voiced (the encoder side, and so the files, are unchanged)."""
    with torch.no_grad():
        codec.f0vq.decoder[-1].bias[1] = 8.0
    return codec


def test_transmitted_f0_denormalises_the_codes(bundle):
    codec = voiced(Codec.from_pretrained(bundle))
    streams = codec.encode_streams(speechlike(2.0), SR)
    assert streams.pitch_stats is not None  # sent for any decoder
    n = pitch.num_frames(streams.num_samples)
    f = codec.transmitted_f0(streams)
    assert f.shape == (n,) and np.all(f > 0)
    stats = pitch.stats_from_code(*streams.pitch_stats)
    np.testing.assert_allclose(transmitted_f0(codec.f0vq, streams.f0, n, stats, 2.0), 2 * f)
    shifted = dataclasses.replace(streams, pitch_cents=1200)
    np.testing.assert_allclose(codec.transmitted_f0(shifted), 2 * f)
    with pytest.raises(ModelError, match="pitch statistics"):
        codec.transmitted_f0(dataclasses.replace(streams, pitch_stats=None))


def test_render_json_turns_the_resynthesis_on_outside_the_model_id(bundle, tmp_path):
    plain = voiced(Codec.from_pretrained(bundle))
    assert plain.resynth is None and load_render(bundle).resynth is None
    folder = tmp_path / "with-resynth"
    shutil.copytree(bundle, folder)
    save_render(folder, RenderConfig(resynth=ResynthConfig(mask="target")))  # the tiny vocoder's noise
    assert model_id_of(folder) == model_id_of(bundle)
    codec = voiced(Codec.from_pretrained(folder))
    assert codec.resynth is not None and codec.resynth.config == ResynthConfig(mask="target")
    data = plain.encode(speechlike(3.0), SR)
    out, _ = codec.decode(data)
    raw, _ = plain.decode(data)
    assert out.shape == raw.shape and np.isfinite(out).all() and np.abs(out).max() <= 1.0
    # What the resynthesis does is Resynth on the plain decode at the transmitted contour, with the
    # voicing judged in the range the pitch statistics give.
    streams = read_srb(data, plain.tables)
    rs = Resynth(ResynthConfig(mask="target"))
    expect = np.clip(rs(raw, plain.transmitted_f0(streams), resynth_range(streams.pitch_stats)), -1, 1)
    assert not np.allclose(out, raw)
    np.testing.assert_allclose(out, expect, atol=1e-6)
    np.testing.assert_array_equal(Codec.from_pretrained(folder, resynth=False).decode(data)[0], raw)
    # A file without pitch statistics (made before they were always sent) decodes as before.
    old = write_srb(dataclasses.replace(streams, pitch_stats=None), plain.tables)
    np.testing.assert_array_equal(codec.decode(old)[0], raw)
    # Streaming re-voices too, packet by packet.
    streamed = np.concatenate([c.audio for c in codec.stream_decode(data)])
    assert streamed.shape == out.shape and not np.allclose(streamed, raw)
    plain_streamed = np.concatenate([c.audio for c in plain.stream_decode(data)])
    assert np.abs(plain_streamed - raw).max() < 2e-3


def test_invalid_resynth_in_render_json_is_a_model_error(bundle, tmp_path):
    folder = tmp_path / "bad"
    shutil.copytree(bundle, folder)
    (folder / "render.json").write_text(json.dumps({"resynth": {"mask": "everywhere"}}))
    with pytest.raises(ModelError, match="render.json"):
        Codec.from_pretrained(folder)
    with pytest.raises(ModelError, match="24000 Hz"):
        Codec.from_pretrained(bundle, resynth=ResynthConfig(sample_rate=24000))


def test_voice_conversion_takes_the_pitch_level_with_the_voice(bundle):
    codec = Codec.from_pretrained(bundle)
    low = codec.encode_streams(speechlike(1.5) , SR)
    high = codec.encode_streams(speechlike(1.5, seed=1), SR)
    high = dataclasses.replace(high, pitch_stats=(200, 40))
    converted = set_speaker(low, high)
    assert converted.speaker == high.speaker and converted.pitch_stats == (200, 40)
    # A bare speaker code brings no level: the decoder takes it from the speaker vector.
    assert set_speaker(low, SpeakerCode.known(3, 8)).pitch_stats is None


def test_the_shipped_default_resynthesises_and_lands_on_the_transmitted_pitch():
    from importlib import resources

    torch.set_num_threads(1)
    codec = Codec.from_pretrained()
    assert codec.resynth is not None
    streams = codec.encode_streams(str(resources.files("codec") / "assets" / "samples" / "demo.flac"))
    target = codec.transmitted_f0(streams)
    with_rs = codec.decode_streams(streams)
    codec_pf = Codec.from_pretrained(resynth=False)
    without = codec_pf.decode_streams(streams)

    def gross_errors(y):
        f = pitch.extract_f0(y)
        both = (f > 0) & (target[: len(f)] > 0)
        return np.mean(np.abs(f[both] / target[: len(f)][both] - 1) > 0.2), both.sum()

    gpe_rs, n_rs = gross_errors(with_rs)
    gpe_pf, n_pf = gross_errors(without)
    assert n_rs > 100 and n_pf > 100
    assert gpe_rs < 0.05 and gpe_rs < gpe_pf  # measured on this sample: see docs/RESYNTH.md


def test_band_limited_resynthesis_keeps_the_audio_above_max_hz():
    x = vowel(150.0, seconds=1.0)
    target = np.full(pitch.num_frames(len(x)), 200.0)
    full, low = Resynth()(x, target), Resynth(ResynthConfig(max_hz=2000.0))(x, target)
    assert abs(median_f0(low) / 200.0 - 1) < 0.02  # the pitch lives in the low band
    # Above the band (and its transition) the output is the input; below it, the full-band resynthesis.
    hz = np.fft.rfftfreq(len(x), 1 / SR)
    above, below = hz > 2200, hz < 1700
    spec = lambda y: np.fft.rfft(y.astype(np.float64))  # noqa: E731
    assert np.abs(spec(low)[above] - spec(x)[above]).max() < 1e-3 * np.abs(spec(x)[above]).max()
    assert np.abs(spec(low)[below] - spec(full)[below]).max() < 1e-3 * np.abs(spec(full)[below]).max()


def test_pitch_range_matches_the_encoders_choice_for_normal_log_f0():
    rng = np.random.default_rng(0)
    f0 = np.exp(rng.normal(np.log(160.0), 0.15, 5000))
    lo, hi = pitch.utterance_range(f0)
    _, _, stats = pitch.normalise(f0)
    got = pitch_range(stats)
    assert abs(got[0] / lo - 1) < 0.02 and abs(got[1] / hi - 1) < 0.02
    assert pitch_range(stats, 2.0)[0] == pytest.approx(2 * got[0])
    assert pitch_range(pitch.F0Stats(np.log(30.0), 0.1, 1)) [0] == pitch.WIDE_FLOOR  # clipped to the wide range


def test_the_shipped_default_streams_at_the_whole_files_pitch():
    from importlib import resources

    torch.set_num_threads(1)
    codec = Codec.from_pretrained()
    data = codec.encode(str(resources.files("codec") / "assets" / "samples" / "demo.flac"))
    whole = codec.decode(data)[0]
    streamed = np.concatenate([c.audio for c in codec.stream_decode(data)])
    assert streamed.shape == whole.shape
    # Pulses may sit elsewhere (a voiced run cut by the window's end), but the pitch is the same.
    fw, fs = pitch.extract_f0(whole), pitch.extract_f0(streamed)
    both = (fw > 0) & (fs > 0)
    assert both.sum() > 100
    assert np.mean(np.abs(fs[both] / fw[both] - 1) > 0.2) < 0.02  # measured: 0.3 %
    assert np.mean((fw > 0) != (fs > 0)) < 0.05  # measured: 1.3 %
    assert np.median(np.abs(np.log2(fs[both] / fw[both]))) * 1200 < 5  # cents; measured: 0.0


def test_trim_leaves_the_ends_of_each_run_to_the_vocoder():
    x = vowel(150.0, seconds=1.0)
    target = np.zeros(pitch.num_frames(len(x)))
    target[40:60] = 200.0
    y = Resynth(ResynthConfig(trim=5))(x, target)
    # Re-voiced frames 45..55 only, plus the 10 ms crossfade (80 samples either side).
    np.testing.assert_array_equal(y[: 45 * HOP - 80], x[: 45 * HOP - 80])
    np.testing.assert_array_equal(y[55 * HOP + 80:], x[55 * HOP + 80:])
    assert not np.allclose(y[45 * HOP: 55 * HOP], x[45 * HOP: 55 * HOP])
    # A run no longer than twice the trim is left alone.
    np.testing.assert_array_equal(Resynth(ResynthConfig(trim=10))(x, target), x)


def test_formant_sharpening_raises_peaks_against_valleys():
    from codec.resynth import sharpen_envelope

    rng = np.random.default_rng(0)
    sp = np.exp(np.cumsum(0.05 * rng.standard_normal((4, 513)), axis=1))
    np.testing.assert_allclose(sharpen_envelope(sp, 1.0), sp, rtol=1e-9)
    np.testing.assert_allclose(sharpen_envelope(sp, 1.4).sum(axis=1), sp.sum(axis=1), rtol=1e-9)  # power kept
    x = vowel(150.0)
    target = np.full(pitch.num_frames(len(x)), 150.0)
    plain, sharp = Resynth()(x, target), Resynth(ResynthConfig(formant=1.4))(x, target)
    # the first formant (500 Hz) against the valley between the two (800-1100 Hz)
    contrast = [band_db(y, 400, 600) - band_db(y, 800, 1100) for y in (plain, sharp)]
    assert contrast[1] > contrast[0] + 2.0, contrast
