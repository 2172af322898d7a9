"""Block-wise encoding gives the whole-file bitstream (bundled model; tiny model for resampling)."""

from importlib import resources

import numpy as np
import pytest
import soundfile as sf
import torch

from bitstream import read_srb
from codec.api import Codec
from codec.errors import AudioError
from tests.codec.test_api import speechlike
from tests.codec.tiny_bundle import make_tiny_bundle

torch.set_num_threads(1)


def test_same_bytes_as_whole_file_encode():
    codec = Codec.from_pretrained()
    demo = str(resources.files("codec") / "assets" / "samples" / "demo.flac")
    assert codec.encode_stream(demo, envelope=False) == codec.encode(demo, envelope=False)
    assert codec.encode_stream(demo, speaker_id=4, envelope=False) == codec.encode(demo, speaker_id=4, envelope=False)


@pytest.mark.parametrize("speaker_id", [pytest.param(None, id="voice"), pytest.param(4, id="known-speaker")])
def test_the_envelope_layer_is_measured_on_a_streamed_decode(speaker_id):
    """The block encoder measures the layer on a streamed decode. Without the pitch resynthesis that
    decode is the whole file's, and so are the codes; with it, WORLD places its pulses anew in each
    window, so a few codes differ (5 of 154 on the demo)."""
    demo = str(resources.files("codec") / "assets" / "samples" / "demo.flac")
    plain = Codec.from_pretrained(resynth=False)
    assert plain.encode_stream(demo, speaker_id=speaker_id) == plain.encode(demo, speaker_id=speaker_id)
    codec = Codec.from_pretrained()
    a = read_srb(codec.encode_stream(demo, speaker_id=speaker_id), codec.reading_tables)
    b = read_srb(codec.encode(demo, speaker_id=speaker_id), codec.reading_tables)
    assert a.without_envelope() == b.without_envelope() or abs(a.gain - b.gain) == 1
    assert np.array_equal(a.units, b.units) and np.array_equal(a.f0, b.f0)
    assert a.envelope.size == b.envelope.size and np.mean(a.envelope == b.envelope) > 0.9


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bundle")
    make_tiny_bundle(folder)
    return Codec.from_pretrained(folder)


def test_other_sample_rates_are_resampled_blockwise(tiny, tmp_path):
    x = np.concatenate([speechlike(seconds=1.5, sr=44100, seed=i) for i in range(3)])  # 4.5 s: 3 packets
    path = tmp_path / "x.wav"
    sf.write(path, x, 44100)
    a, b = read_srb(tiny.encode(path), tiny.tables), read_srb(tiny.encode_stream(path), tiny.tables)
    assert a.num_samples == b.num_samples
    assert np.mean(a.units == b.units) > 0.95  # blockwise resampling differs only by rounding


def test_bad_levels_refused_as_the_whole_file_encoder_refuses_them(tiny, tmp_path):
    x = speechlike(seconds=5.0)
    x[40000] = np.nan  # in the third block: the check must not depend on which block has it
    sf.write(tmp_path / "nan.wav", x, 16000, subtype="FLOAT")
    square = np.sign(np.sin(np.arange(48000) / 9.0)).astype(np.float32)
    sf.write(tmp_path / "square.wav", square, 16000, subtype="FLOAT")
    sf.write(tmp_path / "loud.wav", 3000 * speechlike(seconds=3.0), 16000, subtype="FLOAT")
    for name, message in (("nan", "NaN"), ("square", "clipped"), ("loud", "must lie in")):
        for encode in (tiny.encode, tiny.encode_stream):
            with pytest.raises(AudioError, match=message):
                encode(tmp_path / f"{name}.wav")


@pytest.mark.parametrize("levels, refused", [
    pytest.param((0.9995, 0.9995), True, id="block-just-under-the-peak-counts"),
    pytest.param((0.99, 0.99), False, id="lower-block-does-not"),
    pytest.param((0.9995, 0.9986), False, id="counted-against-the-files-peak-not-its-own"),
])
def test_clipping_counts_blocks_whose_peak_falls_short_of_the_files(tiny, tmp_path, levels, refused):
    """The block-wise clipping count is the whole file's, whichever block holds the peak: a block
    pinned within CLIP_LEVEL of the file's peak counts, and its samples are measured against the
    file's peak, not the block's (0.9986 is within 0.1 % of 0.9995 but not of 1.0)."""
    block = tiny.packet_frames(None) * tiny.config.unit_hop
    square = np.sign(np.sin(np.arange(block) / 9.0)).astype(np.float32)
    pinned = square * np.where(np.arange(block) % 2 == 0, *levels).astype(np.float32)
    x = np.concatenate([0.5 * square, pinned, 0.5 * speechlike(seconds=block / 16000)])
    x[-100] = 1.0  # the file's peak, in the last block
    sf.write(tmp_path / "x.wav", x, 16000, subtype="FLOAT")
    for encode in (tiny.encode, tiny.encode_stream):
        if refused:
            with pytest.raises(AudioError, match="clipped"):
                encode(tmp_path / "x.wav")
        else:
            encode(tmp_path / "x.wav")


def test_a_dc_offset_is_removed_by_both_encoders(tiny, tmp_path):
    """Both encoders remove the file's mean before they measure anything (codec.audio.dc_offset):
    an offset changes neither the output gain nor, beyond rounding, the streams."""
    x = speechlike(seconds=5.0)
    x = x - x.mean(dtype=np.float64).astype(np.float32)
    sf.write(tmp_path / "plain.wav", x, 16000, subtype="FLOAT")
    sf.write(tmp_path / "dc.wav", x + np.float32(0.25), 16000, subtype="FLOAT")
    for encode in (tiny.encode, tiny.encode_stream):
        a, b = (read_srb(encode(tmp_path / f"{n}.wav"), tiny.tables) for n in ("plain", "dc"))
        assert a.gain == b.gain and np.mean(a.units == b.units) > 0.95
    assert tiny.encode_stream(tmp_path / "dc.wav") == tiny.encode(tmp_path / "dc.wav")


def test_silence_and_short_input_refused(tiny, tmp_path):
    sf.write(tmp_path / "silent.wav", np.zeros(16000, np.float32), 16000)
    with pytest.raises(AudioError, match="silent"):
        tiny.encode_stream(tmp_path / "silent.wav")
    sf.write(tmp_path / "short.wav", np.ones(100, np.float32) * 0.1, 16000)
    with pytest.raises(AudioError, match="long"):
        tiny.encode_stream(tmp_path / "short.wav")
    with pytest.raises(AudioError, match="cannot read"):
        tiny.encode_stream(tmp_path / "missing.wav")


def test_longer_packets_carry_the_same_streams_in_fewer_bits(tmp_path, capsys):
    """``packet_frames`` changes only the framing and, since the envelope codes are chosen per
    packet (codec.frame_rdo), a few of those: the same units, F0 and speaker, fewer bytes, block-wise
    encoding agrees, and lengths the format or the F0 grid cannot hold are refused."""
    from bitstream import read_header
    from codec.cli import main
    from codec.errors import ModelError

    codec = Codec.from_pretrained()
    demo = str(resources.files("codec") / "assets" / "samples" / "demo.flac")
    short, long = codec.encode(demo), codec.encode(demo, packet_frames=400)
    assert read_header(long, codec.tables).packet_frames == 400 and read_header(short, codec.tables).packet_frames == 100
    assert len(long) < len(short)
    a, b = read_srb(long, codec.tables), read_srb(short, codec.tables)
    assert np.array_equal(a.units, b.units) and np.array_equal(a.f0, b.f0) and a.speaker == b.speaker
    assert np.mean(a.envelope == b.envelope) > 0.9
    nearest = dict(envelope_lambda=0.0)  # nearest codes do not depend on the packets at all
    assert read_srb(codec.encode(demo, packet_frames=400, **nearest), codec.tables) == read_srb(
        codec.encode(demo, **nearest), codec.tables)
    # The block encoder measures the envelope layer on a streamed decode, which the pitch
    # resynthesis does not make sample-exact (module doc of codec.stream_encode): the other streams
    # are the same, and all but a few envelope codes.
    for kw in ({}, {"unit_lambda": 0.3}):
        a = read_srb(codec.encode(demo, packet_frames=400, **kw), codec.tables)
        b = read_srb(codec.encode_stream(demo, packet_frames=400, **kw), codec.tables)
        assert np.array_equal(a.units, b.units) and np.array_equal(a.f0, b.f0) and a.speaker == b.speaker
        assert np.mean(a.envelope == b.envelope) > 0.9
    for bad in (0, 6, 1028, 2.0):
        with pytest.raises(ModelError, match="multiple of 4"):
            codec.encode(demo, packet_frames=bad)
    assert main(["encode", demo, "-o", str(tmp_path / "d.srb"), "--packet-seconds", "8"]) == 0
    assert (tmp_path / "d.srb").read_bytes() == long
    capsys.readouterr()
    assert main(["encode", demo, "-o", str(tmp_path / "e.srb"), "--packet-seconds", "0.1"]) == 1
    err = capsys.readouterr().err
    assert "--packet-seconds must be a multiple of 0.08 s" in err and err.count("\n") == 1
