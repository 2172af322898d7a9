"""The 1.2 header field: the utterance's pitch statistics (two bytes)."""

import dataclasses

import numpy as np
import pytest

from bitstream import SrbFormatError, SrbStreamsError, read_header, read_srb, write_srb
from bitstream.binary import crc16
from bitstream.edit import change_tempo, shift_pitch
from tests.bitstream.helpers import random_streams


def _streams(stats=(107, 60)):
    s = random_streams(np.random.default_rng(7), 16000 * 3 + 5)
    return dataclasses.replace(s, pitch_stats=stats)


def test_round_trip_and_version():
    s = _streams()
    data = write_srb(s)
    h = read_header(data)
    assert h.version == (1, 2) and h.pitch_stats == (107, 60)
    assert read_srb(data) == s
    plain = write_srb(dataclasses.replace(s, pitch_stats=None))
    assert read_header(plain).version == (1, 0) and len(data) == len(plain) + 2
    assert read_srb(plain) != s  # the field takes part in equality


def test_edits_keep_the_statistics():
    s = _streams()
    assert shift_pitch(s, 1).pitch_stats == s.pitch_stats
    assert change_tempo(s, 1.25).pitch_stats == s.pitch_stats
    assert read_header(write_srb(shift_pitch(s, 1))).version == (1, 2)  # with a 1.1 field too


@pytest.mark.parametrize(
    "stats",
    [pytest.param((256, 0), id="too-big"), pytest.param((-1, 3), id="negative"), pytest.param((1,), id="one"),
     pytest.param((True, 2), id="bool"), pytest.param((1.5, 2), id="float")],
)
def test_streams_refuse_bad_statistics(stats):
    with pytest.raises(SrbStreamsError, match="pitch_stats"):
        _streams(stats)


def _reheader(data: bytes, version: int) -> bytes:
    h = read_header(data)
    body = bytearray(data[: h.size - 2])
    body[3] = version
    return bytes(body) + crc16(bytes(body)).to_bytes(2, "big") + data[h.size :]


def test_flag_refused_before_1_2():
    data = write_srb(_streams())
    for older in (0x10, 0x11):
        with pytest.raises(SrbFormatError, match="reserved flag"):
            read_header(_reheader(data, older))


def test_truncated_inside_the_field():
    data = write_srb(_streams())
    size = read_header(data).size
    for cut in range(size - 4, size):
        with pytest.raises(SrbFormatError):
            read_header(data[:cut])
