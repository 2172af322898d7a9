import json

import numpy as np
import pytest
import soundfile as sf

from bitstream import SrbFormatError, SrbModelMismatchError, bitrate_report, read_srb
from codec.api import Codec
from codec.errors import AudioError, ModelError
from tests.codec.tiny_bundle import make_tiny_bundle


def speechlike(seconds=1.5, sr=16000, seed=0):
    """A harmonic tone with a moving pitch and an amplitude envelope: voiced and unvoiced parts."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(sr * seconds)) / sr
    f0 = 140 + 30 * np.sin(2 * np.pi * 1.5 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    x = sum(np.sin(k * phase) / k for k in range(1, 8)) * (0.5 + 0.5 * np.sin(2 * np.pi * 2 * t) ** 2)
    x[int(0.6 * sr) : int(0.8 * sr)] = 0.05 * rng.standard_normal(int(0.2 * sr))  # a fricative-like gap
    return (0.3 * x / np.abs(x).max()).astype(np.float32)


@pytest.fixture(scope="module")
def codec(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bundle")
    make_tiny_bundle(folder)
    return Codec.from_pretrained(folder)


@pytest.fixture(scope="module")
def codec_with_stats(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bundle-stats")
    make_tiny_bundle(folder, pitch_stats=True)
    return Codec.from_pretrained(folder)


def test_pitch_statistics_are_sent_and_used(codec_with_stats, tmp_path):
    import dataclasses

    from bitstream import read_header
    from codec.pitch import stats_from_code
    from codec.synth import receptive_field_frames

    c = codec_with_stats
    wav = speechlike(3.0)
    data = c.encode(wav, 16000)
    h = read_header(data, c.tables)
    assert h.version == (1, 3) and h.pitch_stats is not None and h.gain is not None and h.model_tables
    assert abs(1200 * np.log2(np.exp(stats_from_code(*h.pitch_stats).mean) / 140)) < 100  # the tone's level
    out, _ = c.decode(data)
    streams = read_srb(data, c.tables)
    higher = dataclasses.replace(streams, pitch_stats=(h.pitch_stats[0] + 24, h.pitch_stats[1]))
    assert not np.allclose(c.decode_streams(higher), out)  # the decoder listens to them
    chunks = list(c.stream_decode(data, lookahead=receptive_field_frames(c.decoder)))
    np.testing.assert_allclose(np.concatenate([k.audio for k in chunks]), out, atol=1e-5)  # streaming too
    sf.write(tmp_path / "a.wav", wav, 16000)
    assert read_srb(c.encode_stream(tmp_path / "a.wav"), c.tables).pitch_stats == h.pitch_stats
    assert read_header(c.encode(np.zeros(16000, np.float32) + 1e-3 * np.random.default_rng(0).standard_normal(16000)
                                .astype(np.float32), 16000), c.tables).pitch_stats is None  # nothing voiced


def test_encode_decode_round_trip(codec):
    wav = speechlike()
    data = codec.encode(wav, 16000)
    out, sr = codec.decode(data)
    assert sr == 16000 and out.shape == wav.shape and out.dtype == np.float32
    assert np.isfinite(out).all() and np.abs(out).max() <= 1.0


def test_bitstream_is_deterministic_and_accounted(codec):
    wav = speechlike(seed=1)
    a, b = codec.encode(wav, 16000), codec.encode(wav.copy(), 16000)
    assert a == b
    rep = bitrate_report(a, codec.tables)
    assert rep.total_bits == 8 * len(a)
    streams = read_srb(a, codec.tables)
    assert streams.model_id == codec.model_id and streams.speaker.kind == "vector"


def test_file_input_and_resampling(codec, tmp_path):
    path = tmp_path / "x.wav"
    sf.write(path, np.repeat(speechlike(sr=44100)[:, None], 2, axis=1), 44100)
    streams = codec.encode_streams(path)
    assert streams.num_samples == pytest.approx(1.5 * 16000, abs=2)


def test_known_speaker_id(codec):
    data = codec.encode(speechlike(), 16000, speaker_id=2)
    assert read_srb(data, codec.tables).speaker.kind == "id"
    assert codec.decode(data)[0].size == 24000
    with pytest.raises(ModelError, match="known speakers"):
        codec.encode(speechlike(), 16000, speaker_id=3)


def test_other_model_is_refused(codec, tmp_path):
    make_tiny_bundle(tmp_path, seed=1)
    other = Codec.from_pretrained(tmp_path)
    assert other.model_id != codec.model_id
    data = other.encode(speechlike(), 16000)
    for decode in (codec.decode, codec.decode_lossy):  # its tables (left to its model) fail the header CRC...
        with pytest.raises(SrbModelMismatchError, match=f"from model {other.model_id:08x}"):  # ...named as its model
            decode(data)
    with pytest.raises(SrbModelMismatchError):
        codec.decode_streams(read_srb(data, other.tables))


def test_bad_audio_and_bad_models(codec, tmp_path):
    with pytest.raises(AudioError, match="silent"):
        codec.encode(np.zeros(16000, np.float32), 16000)
    with pytest.raises(ModelError, match="unknown model"):
        Codec.from_pretrained("no-such-model")
    (tmp_path / "bundle.json").write_text("{}")
    with pytest.raises(ModelError, match="not an srb model bundle"):
        Codec.from_pretrained(tmp_path)
    make_tiny_bundle(tmp_path / "tiny")
    config = json.loads((tmp_path / "tiny" / "bundle.json").read_text())
    for bad in (["B9E551B5"], ["b9e551b"], ["not-hex!"]):  # ids of models whose files it decodes: 8 hex digits
        (tmp_path / "tiny" / "bundle.json").write_text(json.dumps({**config, "decodes": bad}))
        with pytest.raises(ModelError, match="(?s)bundle.json is invalid.*hex digits"):
            Codec.from_pretrained(tmp_path / "tiny")


def test_the_bundled_default_stays_within_30_mb():
    from codec.api import bundle_folder

    folder = bundle_folder()
    assert sum(f.stat().st_size for f in folder.iterdir() if f.is_file()) <= 30_000_000
