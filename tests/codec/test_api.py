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
    with pytest.raises(SrbFormatError):  # tables differ: refused before decoding anything
        codec.decode(data)
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
