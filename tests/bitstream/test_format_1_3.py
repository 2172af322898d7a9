"""Format 1.3: the output gain byte (flag bit 4) and the tables id left to the model (flag bit 5)."""

import dataclasses

import numpy as np
import pytest

from bitstream import (
    EntropyTables,
    Profile,
    SrbFormatError,
    SrbModelMismatchError,
    SrbStreamsError,
    bitrate_report,
    fit_stream_tables,
    read_header,
    read_srb,
    recover_srb,
    write_srb,
)
from bitstream.binary import crc16
from bitstream.edit import edit_srb
from bitstream.stream_reader import PacketReader
from tests.bitstream.helpers import random_runs, random_streams

SR = 16000


def _tables(seed: int) -> EntropyTables:
    rng = np.random.default_rng(seed)
    return EntropyTables(
        fit_stream_tables([random_runs(rng, 3000, 100) for _ in range(3)], 100, packet_frames=25),
        fit_stream_tables([random_runs(rng, 800, 21, 1.5) for _ in range(3)], 21, "frame", packet_frames=6),
        Profile(speaker_ids=482),
    )


@pytest.fixture(scope="module")
def tables():
    return _tables(30)


@pytest.fixture(scope="module")
def other_tables():
    return _tables(31)


def _streams(gain=None):
    return dataclasses.replace(random_streams(np.random.default_rng(32), SR * 5 + 7), gain=gain)


@pytest.mark.parametrize("gain", [pytest.param(-128, id="min"), pytest.param(-1, id="minus-half-dB"),
                                  pytest.param(0, id="zero"), pytest.param(37, id="plus"), pytest.param(127, id="max")])
def test_gain_round_trips_in_one_byte(tables, gain):
    s = _streams(gain)
    data = write_srb(s, tables)
    h = read_header(data, tables)
    assert h.version == (1, 3) and h.gain == gain and not h.model_tables
    assert read_srb(data, tables) == s
    plain = write_srb(_streams(), tables)
    assert len(data) == len(plain) + 1 and read_header(plain, tables).version == (1, 0)
    assert read_srb(plain, tables) != s  # the field takes part in equality


@pytest.mark.parametrize("gain", [pytest.param(128, id="too-big"), pytest.param(-129, id="too-small"),
                                  pytest.param(1.5, id="float"), pytest.param(True, id="bool")])
def test_streams_refuse_bad_gain(gain):
    with pytest.raises(SrbStreamsError, match="gain"):
        _streams(gain)


def test_model_tables_save_four_bytes_and_decode_the_same(tables):
    s = _streams(4)
    named = write_srb(s, tables)
    implied = write_srb(s, tables, model_tables=True)
    assert len(implied) == len(named) - 4
    h = read_header(implied, tables)
    assert h.model_tables and h.tables_id == tables.tables_id and h.version == (1, 3)
    assert read_srb(implied, tables) == s == read_srb(implied, {tables.tables_id: tables})
    rep = bitrate_report(implied, tables)
    assert rep.total_bits == 8 * len(implied) and dict(rep.lines())["gain"] == 8
    assert bitrate_report(named, tables).header_bits - rep.header_bits == 32
    assert "(the model's)" in rep.format() and "gain +2.0 dB" in rep.format()


def test_model_tables_found_among_several(tables, other_tables):
    s = _streams()
    data = write_srb(s, tables, model_tables=True)
    both = {other_tables.tables_id: other_tables, tables.tables_id: tables}
    assert read_srb(data, both) == s and read_header(data, both).tables is tables


def test_other_tables_fail_the_crc_instead_of_decoding(tables, other_tables):
    data = write_srb(_streams(), tables, model_tables=True)
    with pytest.raises(SrbFormatError, match="CRC mismatch.*not the ones given"):
        read_srb(data, other_tables)
    with pytest.raises(SrbModelMismatchError, match="none given"):
        read_srb(data)


def test_model_tables_need_a_model_and_trained_tables(tables):
    with pytest.raises(SrbFormatError, match="left out"):
        write_srb(dataclasses.replace(_streams(), model_id=0), tables, model_tables=True)
    with pytest.raises(SrbFormatError, match="left out"):
        write_srb(_streams(), None, model_tables=True)


def _reheader(data: bytes, version: int, tables: EntropyTables) -> bytes:
    """``data`` with another version byte and its CRC made right again (over the implied tables id
    where the file leaves it out)."""
    h = read_header(data, tables)
    body = bytearray(data[: h.size - 2])
    body[3] = version
    crc_input = bytes(body[:9]) + h.tables_id.to_bytes(4, "big") + bytes(body[9:]) if h.model_tables else bytes(body)
    return bytes(body) + crc16(crc_input).to_bytes(2, "big") + data[h.size :]


def test_1_3_flags_refused_in_older_versions(tables):
    for data in (write_srb(_streams(3), tables), write_srb(_streams(), tables, model_tables=True)):
        assert read_header(_reheader(data, 0x13, tables), tables).version == (1, 3)  # the helper keeps it valid
        for older in (0x10, 0x11, 0x12):
            with pytest.raises(SrbFormatError, match="reserved flag"):
                read_header(_reheader(data, older, tables), tables)


def test_every_truncation_and_bit_flip_of_the_header_is_refused(tables):
    data = write_srb(_streams(-20), tables, model_tables=True)
    size = read_header(data, tables).size
    for cut in range(size):
        with pytest.raises(SrbFormatError):
            read_header(data[:cut], tables)
    for byte in range(size):
        for bit in range(8):
            bad = bytearray(data)
            bad[byte] ^= 1 << bit
            with pytest.raises(SrbFormatError):
                read_srb(bytes(bad), tables)


def test_edit_recover_and_stream_reader_keep_the_form(tables):
    s = _streams(-6)
    data = write_srb(s, tables, model_tables=True)
    edited = edit_srb(data, tables, semitones=2)
    h = read_header(edited, tables)
    assert h.model_tables and h.gain == -6 and h.pitch_cents == 200
    assert recover_srb(data, tables).streams == s
    reader = PacketReader(tables)
    packets = []
    for i in range(0, len(data), 7):
        packets += reader.feed(data[i : i + 7])
    packets += reader.close()
    assert reader.header.gain == -6 and reader.header.model_tables
    assert np.array_equal(np.concatenate([p.units for p in packets]), s.units)
