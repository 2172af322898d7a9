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
    assert torch.allclose(load_audio(x, 16000, highpass_hz=None), torch.from_numpy(x))
    assert load_audio(torch.from_numpy(x)[None].repeat(2, 1), 16000).shape == (8000,)
    ints = (x * 32767).astype(np.int16)
    assert torch.allclose(load_audio(ints, 16000, highpass_hz=None), torch.from_numpy(x), atol=1e-4)


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
    wav = load_audio(x + np.float32(offset), 16000, highpass_hz=None)
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


def _gain_db(hz, cutoff=60.0, sr=16000):
    from codec.audio import highpass

    t = np.arange(2 * sr) / sr
    x = np.sin(2 * np.pi * hz * t).astype(np.float32)
    y = highpass(lambda a, b: x[a:b], 0, x.size, cutoff, sr)
    return 20 * np.log10(np.std(y[sr // 2 :]) / np.std(x[sr // 2 :]))


@pytest.mark.parametrize("hz, low, high", [
    pytest.param(20, -60, -30, id="rumble-cut"),
    pytest.param(50, -12, -8, id="hum-cut"),
    pytest.param(60, -6.5, -5.5, id="cutoff-minus-6-dB"),
    pytest.param(200, -0.3, 0.0, id="voice-kept"),
    pytest.param(1000, -0.05, 0.05, id="speech-band-kept"),
])
def test_highpass_response(hz, low, high):
    assert low <= _gain_db(hz) <= high


def test_highpass_of_any_span_is_the_whole_inputs():
    # The block encoder asks for spans; they must be the very numbers the whole-file encode sees.
    from codec.audio import HIGHPASS_BLOCK, highpass

    x = np.random.default_rng(1).normal(0, 0.1, 5 * HIGHPASS_BLOCK + 123).astype(np.float32)
    read = lambda a, b: x[a:b]  # noqa: E731
    whole = highpass(read, 0, x.size, 60.0, 16000)
    assert whole.shape == x.shape
    for start, stop in [(0, 1), (HIGHPASS_BLOCK - 5, HIGHPASS_BLOCK + 5), (12345, 98765), (x.size - 7, x.size)]:
        assert np.array_equal(highpass(read, start, stop, 60.0, 16000), whole[start:stop])


def test_load_audio_high_passes_after_the_checks():
    x = tone(16000, seconds=1.0)
    hum = (0.3 * np.sin(2 * np.pi * 50 * np.arange(16000) / 16000)).astype(np.float32)
    spectrum = np.abs(np.fft.rfft(load_audio(x + hum, 16000).numpy()))  # 1 Hz bins
    assert spectrum[50] < 0.35 * spectrum[220]  # the hum, as loud as the tone going in, is 10 dB down
    assert spectrum[220] > 0.97 * np.abs(np.fft.rfft(x))[220]
