"""Streaming decode and packet-loss concealment with the bundled model."""

import numpy as np
import pytest
import torch

from codec.api import Codec
from codec.streaming import STREAM_TOLERANCE, StreamDecoder
from codec.synth import receptive_field_frames
from tests.bitstream.test_stream_reader import packets_of

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def codec():
    # Streaming never applies the pitch resynthesis (it needs whole voiced runs, codec/resynth.py),
    # so the whole-file decode it is held to is the one without it.
    return Codec.from_pretrained(resynth=False)


@pytest.fixture(scope="module")
def data(codec):
    from importlib import resources

    return codec.encode(str(resources.files("codec") / "assets" / "samples" / "demo.flac"))  # 6.2 s: 4 packets


@pytest.fixture(scope="module")
def whole(codec, data):
    return codec.decode(data)[0]


split = packets_of  # header + packets of a file (tests/bitstream/test_stream_reader.py)


def test_receptive_field_of_the_shipped_decoder(codec):
    # conv_in k=7 and 8 blocks of k=7 at 100 Hz: 27 frames, + 2 of the iSTFT = 290 ms -> 15 unit frames.
    assert receptive_field_frames(codec.decoder) == 15
    # The postfilter's STFT frames (n_fft 1024) reach 64 ms further: 354 ms -> 18 unit frames.
    assert receptive_field_frames(codec.decoder, codec.postfilter) == 18
    # The envelope smoother's frames (n_fft 512) and its 2 hops either side 52 ms more: 406 ms -> 21.
    assert receptive_field_frames(codec.decoder, codec.postfilter, codec.smoother) == 21
    # The band refiner's frames (n_fft 512) and its network's 31 frames either side 342 ms more: 748 ms -> 38.
    assert receptive_field_frames(codec.decoder, codec.postfilter, codec.smoother, codec.refiner) == 38
    # The envelope layer's frames (n_fft 512) and the 40 ms frame its gains are interpolated across: 72 ms more.
    assert codec.context_frames() == receptive_field_frames(codec.decoder, codec.postfilter, codec.smoother,
                                                            codec.refiner, codec.envelope) == 41


def test_full_context_is_exact_and_default_within_tolerance(codec, data, whole):
    full = np.concatenate([c.audio for c in codec.stream_decode(data, lookahead=codec.context_frames())])
    # Same up to float rounding (convolutions over a window vs the whole file sum in another order).
    assert full.shape == whole.shape and np.abs(full - whole).max() < 1e-6
    default = np.concatenate([c.audio for c in codec.stream_decode(data)])
    assert np.abs(default - whole).max() < STREAM_TOLERANCE
    # And the context matters: without lookahead the packet ends are audibly off.
    none = np.concatenate([c.audio for c in codec.stream_decode(data, lookahead=0)])
    assert np.abs(none - whole).max() > 10 * np.abs(default - whole).max()


def test_each_packet_is_emitted_when_the_next_one_arrives(codec, data, whole):
    head, pkts = split(data, codec.tables)
    dec = StreamDecoder(codec)
    assert dec.feed(head) == []
    assert dec.feed(pkts[0]) == []  # packet 0 still waits for the first 300 ms of packet 1
    last = len(pkts) - 1
    for p in range(1, len(pkts)):
        out = dec.feed(pkts[p])
        # The last packet needs no lookahead: it comes out with the one before it.
        assert [c.packet for c in out] == ([p - 1, p] if p == last else [p - 1])
        for c in out:
            s0 = c.start_sample
            assert np.abs(c.audio - whole[s0 : s0 + c.audio.size]).max() < STREAM_TOLERANCE
    assert dec.close() == []


@pytest.mark.parametrize("damage", ["delete", "corrupt"])
def test_lost_packet_is_concealed_and_reported(codec, data, whole, damage):
    head, pkts = split(data, codec.tables)
    if damage == "delete":
        pkts = pkts[:1] + pkts[2:]
    else:
        bad = bytearray(pkts[1])
        bad[3] ^= 0xFF
        pkts = pkts[:1] + [bytes(bad)] + pkts[2:]
    wav, sr, lost = codec.decode_lossy(head + b"".join(pkts))
    assert wav.shape == whole.shape
    assert [(s.first_packet, s.last_packet, s.start_sample, s.end_sample) for s in lost] == [(1, 1, 32000, 64000)]
    # Packets away from the gap (beyond the receptive field) decode exactly as before.
    reach = codec.context_frames() * 320
    assert np.abs(wav[64000 + reach :] - whole[64000 + reach :]).max() < 1e-6
    assert np.abs(wav[: 32000 - reach] - whole[: 32000 - reach]).max() < 1e-6
    # The gap fades to silence in its middle.
    assert np.abs(wav[32000 + 1600 : 64000 - 1600]).max() == 0.0


def test_intact_file_decode_lossy_is_decode(codec, data, whole):
    wav, _, lost = codec.decode_lossy(data)
    assert lost == [] and np.array_equal(wav, whole)
