import numpy as np
import pytest
import soundfile as sf
import torch

from codec.audio import load_audio
from codec.errors import AudioError


def tone(sr, seconds=0.5, channels=1):
    t = np.arange(int(sr * seconds)) / sr
    x = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    return np.stack([x] * channels, axis=1) if channels > 1 else x


@pytest.mark.parametrize("sr", [16000, 22050, 44100, 48000])
def test_files_are_resampled_to_16k(tmp_path, sr):
    path = tmp_path / "a.wav"
    sf.write(path, tone(sr, channels=2), sr)
    wav = load_audio(path)
    assert wav.dtype == torch.float32 and wav.ndim == 1
    assert abs(wav.numel() - 8000) <= 1


def test_arrays_and_tensors():
    x = tone(16000)
    assert torch.allclose(load_audio(x, 16000), torch.from_numpy(x))
    assert load_audio(torch.from_numpy(x)[None].repeat(2, 1), 16000).shape == (8000,)
    ints = (x * 32767).astype(np.int16)
    assert torch.allclose(load_audio(ints, 16000), torch.from_numpy(x), atol=1e-4)


@pytest.mark.parametrize(
    "audio, sr, message",
    [
        pytest.param(np.zeros(0, np.float32), 16000, "empty", id="empty"),
        pytest.param(np.zeros(16000, np.float32), 16000, "silent", id="silent"),
        pytest.param(np.full(16000, np.nan, np.float32), 16000, "NaN", id="nan"),
        pytest.param(np.ones(100, np.float32) * 0.1, 16000, "at least", id="too-short"),
        pytest.param(np.ones(16000, np.float32) * 0.1, None, "sample_rate is required", id="no-rate"),
        pytest.param(np.ones(16000, np.float32) * 0.1, 8, "sample rate", id="bad-rate"),
        pytest.param("/nonexistent/file.wav", None, "cannot read", id="missing-file"),
        pytest.param([0.1, 0.2], 16000, "unsupported", id="list"),
        pytest.param(np.full(16000, 3000.0, np.float32) * np.sin(np.arange(16000)), 16000, "must lie in",
                     id="pcm-as-float"),
        pytest.param(np.sign(np.sin(np.arange(16000) / 9.0)).astype(np.float32), 16000, "clipped", id="square-wave"),
        pytest.param(np.clip(20 * np.sin(np.arange(16000) / 9.0), -1, 1).astype(np.float32), 16000, "clipped",
                     id="hard-clipped-tone"),
    ],
)
def test_bad_audio(audio, sr, message):
    with pytest.raises(AudioError, match=message):
        load_audio(audio, sr)


def test_loud_but_usable_audio_is_accepted():
    """Full scale is not garbage: a full-scale tone, a float file overshooting 1, clipped peaks."""
    t = np.arange(16000)
    for x in (np.sin(t / 9.0), 1.3 * np.sin(t / 9.0) * np.hanning(16000), np.clip(1.05 * np.sin(t / 9.0), -1, 1),
              np.clip(1.2 * np.sin(t / 9.0) * np.hanning(16000), -1, 1)):
        assert load_audio(x.astype(np.float32), 16000).shape == (16000,)
    ints = np.iinfo(np.int16).max * np.sin(t / 9.0)
    assert load_audio(ints.astype(np.int16), 16000).shape == (16000,)


def test_garbage_file(tmp_path):
    path = tmp_path / "x.wav"
    path.write_bytes(b"RIFF" + bytes(50))
    with pytest.raises(AudioError, match="cannot read"):
        load_audio(path)


@pytest.mark.parametrize("offset", [pytest.param(0.2, id="positive"), pytest.param(-0.26, id="negative")])
def test_a_dc_offset_is_removed(offset):
    x = tone(16000, seconds=1.0)
    wav = load_audio(x + np.float32(offset), 16000)
    assert abs(float(wav.double().mean())) < 1e-6
    assert torch.allclose(wav, torch.from_numpy(x - x.mean()), atol=1e-6)


def test_a_constant_offset_alone_is_silence():
    with pytest.raises(AudioError, match="silent"):
        load_audio(np.full(16000, 0.2, np.float32), 16000)


def test_dc_offset_of_blocks_is_the_mean_of_the_whole():
    from codec.audio import dc_offset

    x = np.random.default_rng(0).normal(0.05, 0.1, 100_000).astype(np.float32)
    assert dc_offset(np.array_split(x, 7)) == dc_offset([x]) == np.float32(x.astype(np.float64).mean())
    assert dc_offset([]) == 0.0
