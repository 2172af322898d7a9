"""The output gain (format 1.3): the decoded speech comes back at the input's loudness."""

from importlib import resources

import numpy as np
import pytest
import soundfile as sf
import torch

from bitstream import read_header
from codec.api import Codec
from codec.level import FRAME, active_level, frame_powers, gain_code, gain_factor

torch.set_num_threads(1)


def test_active_level_of_a_sine_with_pauses():
    t = np.arange(16000) / 16000
    tone = 0.5 * np.sin(2 * np.pi * 200 * t)
    wav = np.concatenate([tone, np.zeros(16000), tone, 1e-4 * np.ones(8000)])  # silence and a hum far below
    level = active_level(frame_powers(wav))
    assert level == pytest.approx(10 * np.log10(0.125), abs=0.01)  # mean square of the tone only
    assert frame_powers(wav).size == wav.size // FRAME


@pytest.mark.parametrize("wav", [pytest.param(np.zeros(4000), id="digital-silence"),
                                 pytest.param(np.zeros(100), id="shorter-than-a-frame")])
def test_no_level_without_signal(wav):
    assert active_level(frame_powers(wav)) is None
    assert gain_code(None, -20.0) is None and gain_code(-20.0, None) is None


@pytest.mark.parametrize("inp, out, code", [
    pytest.param(-30.0, -25.0, -10, id="quieter"),
    pytest.param(-25.0, -25.2, 0, id="rounds-to-zero"),
    pytest.param(-10.0, -25.0, 30, id="louder"),
    pytest.param(-100.0, -20.0, -128, id="clamped-low"),
    pytest.param(0.0, -90.0, 127, id="clamped-high"),
])
def test_gain_code(inp, out, code):
    assert gain_code(inp, out) == code
    assert gain_factor(code) == pytest.approx(10 ** (code / 40))
    assert gain_factor(None) == 1.0


@pytest.fixture(scope="module")
def codec():
    return Codec.from_pretrained()


@pytest.fixture(scope="module")
def demo():
    wav, sr = sf.read(str(resources.files("codec") / "assets" / "samples" / "demo.flac"), dtype="float32")
    return wav, sr


def _level(wav):
    return active_level(frame_powers(wav))


def test_decoded_speech_follows_the_input_level(codec, demo):
    wav, sr = demo
    levels = {}
    for db in (-20.0, 0.0):
        x = wav * 10 ** (db / 20)
        data = codec.encode(x, sr)
        y, _ = codec.decode(data)
        levels[db] = (_level(x), _level(y), read_header(data, codec.tables).gain)
        assert abs(levels[db][1] - levels[db][0]) < 1.5, levels  # within 1.5 dB of the input
    assert levels[0.0][1] - levels[-20.0][1] == pytest.approx(20, abs=1.5)
    assert levels[0.0][2] - levels[-20.0][2] > 30  # half-decibel steps (the vocoder's own level moves a little)
    # Without the gain (or from a file without the field) the vocoder speaks at its own level,
    # nearly the same for both: what the field corrects.
    plain = Codec.from_pretrained(gain=False)
    quiet = _level(plain.decode(codec.encode(wav * 0.1, sr))[0])
    loud = _level(plain.decode(codec.encode(wav, sr))[0])
    assert abs(loud - quiet) < 6.0


def test_streamed_decode_applies_the_same_gain(codec, demo):
    wav, sr = demo
    data = codec.encode(wav * 0.05, sr)
    whole, _ = codec.decode(data)
    streamed = np.concatenate([c.audio for c in codec.stream_decode(data)])
    assert abs(_level(streamed) - _level(whole)) < 0.1


def test_cli_decode_without_the_gain(codec, demo, tmp_path):
    from codec.cli import main

    wav, sr = demo
    src = tmp_path / "quiet.srb"
    src.write_bytes(codec.encode(wav * 0.05, sr))
    assert main(["decode", str(src), "-o", str(tmp_path / "with.wav")]) == 0
    assert main(["decode", str(src), "-o", str(tmp_path / "without.wav"), "--no-gain"]) == 0
    with_gain, _ = sf.read(tmp_path / "with.wav", dtype="float32")
    without, _ = sf.read(tmp_path / "without.wav", dtype="float32")
    # 26 dB quieter input: the decoder's own level is far louder (15.5 dB with the vocoder alone,
    # 14.5 dB since the band refiner, which takes about 1 dB off, session 13).
    assert _level(without) - _level(with_gain) > 12
