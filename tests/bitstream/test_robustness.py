"""Damaged input must end in SrbFormatError or a correct decode: no other exception, no hang."""

import tracemalloc

import numpy as np
import pytest

from bitstream import (
    EntropyTables,
    Profile,
    SpeakerCode,
    SrbFormatError,
    Streams,
    bitrate_report,
    fit_stream_tables,
    read_srb,
    recover_srb,
    write_srb,
)
from bitstream.binary import crc16, write_varint
from bitstream.container import MAGIC
from tests.bitstream.helpers import random_runs, random_streams
from tests.bitstream.mutations import mutate

SR = 16000


@pytest.fixture(scope="module")
def tables():
    rng = np.random.default_rng(10)
    return EntropyTables(
        fit_stream_tables([random_runs(rng, 3000, 100) for _ in range(3)], 100, packet_frames=25),
        fit_stream_tables([random_runs(rng, 800, 21, 1.5) for _ in range(3)], 21, "frame", packet_frames=6),
        Profile(speaker_ids=482),
    )


@pytest.fixture(scope="module")
def sample(tables):
    s = random_streams(np.random.default_rng(11), SR * 6)
    return s, write_srb(s, tables, packet_frames=25)


def decode_or_format_error(data, tables):
    """The decoded streams, or None after an SrbFormatError; any other exception fails the test."""
    try:
        return read_srb(data, tables)
    except SrbFormatError:
        return None


def test_every_truncation(sample, tables):
    s, data = sample
    for n in range(len(data)):
        with pytest.raises(SrbFormatError):
            read_srb(data[:n], tables)
    assert read_srb(data, tables) == s


def test_every_single_bit_flip(sample, tables):
    s, data = sample
    for bit in range(len(data) * 8):
        buf = bytearray(data)
        buf[bit // 8] ^= 1 << (bit % 8)
        # A CRC-16 catches every single-bit error, so each of these must be refused.
        with pytest.raises(SrbFormatError):
            read_srb(bytes(buf), tables)


def test_ten_thousand_mutations(sample, tables):
    s, data = sample
    rng = np.random.default_rng(12)
    wrong = 0
    for _ in range(10_000):
        out = decode_or_format_error(mutate(rng, data), tables)
        if out is not None and out != s:
            wrong += 1  # only possible when damage slips past a 16-bit CRC
    assert wrong <= 2


def test_recover_on_mutations(sample, tables):
    s, data = sample
    rng = np.random.default_rng(13)
    wrong = 0
    for _ in range(1000):
        try:
            rec = recover_srb(mutate(rng, data), tables)
        except SrbFormatError:
            continue  # e.g. the header itself was hit
        assert rec.units_lost.size == rec.streams.units.size
        if rec.streams.num_samples != s.num_samples:
            wrong += 1  # header damage that slipped past its CRC
            continue
        ok = ~rec.units_lost
        wrong += not np.array_equal(rec.streams.units[ok], s.units[ok])
    assert wrong <= 1


def test_random_bytes_and_info(tables):
    rng = np.random.default_rng(14)
    for n in list(range(0, 40)) + [100, 1000]:
        for _ in range(20):
            junk = MAGIC + rng.bytes(n) if rng.random() < 0.5 else rng.bytes(n)
            for call in (lambda d: read_srb(d, tables), lambda d: bitrate_report(d, tables)):
                with pytest.raises(SrbFormatError):
                    call(junk)


def crafted_header(num_samples, packet_frames=1024, sample_rate=16000):
    body = bytearray(MAGIC + bytes([0x10, 0]) + bytes(8))
    for v in (num_samples, packet_frames, sample_rate, 320, 1280, 100, 32, 21, 482):
        body += write_varint(v)
    body += bytes(2)  # speaker id, 9 bits
    return bytes(body) + crc16(bytes(body)).to_bytes(2, "big")


@pytest.mark.parametrize("num_samples", [pytest.param(16000 * 3600, id="hour"), pytest.param(2**40, id="max")])
def test_header_claiming_hours_is_bounded_by_its_bytes(num_samples):
    data = crafted_header(num_samples) + bytes(100)
    tracemalloc.start()
    try:
        for call in (read_srb, recover_srb):
            with pytest.raises(SrbFormatError, match="header claims"):
                call(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


def test_crc_mismatch_names_the_packet(sample, tables):
    s, data = sample
    buf = bytearray(data)
    buf[-3] ^= 0x10  # inside the last packet's payload
    with pytest.raises(SrbFormatError, match=r"packet 11 \(bytes \d+\.\.\d+\): CRC mismatch") as err:
        read_srb(bytes(buf), tables)
    assert err.value.packet == 11


def test_recover_reports_lost_packets(sample, tables):
    s, data = sample
    from bitstream import read_header
    from bitstream.container import read_packet

    h = read_header(data, tables)
    offsets, off = [], h.size
    for p in range(h.num_packets):
        offsets.append(off)
        off += read_packet(data, off, p).size
    # Damage packet 3's payload and delete packet 7 entirely.
    buf = bytearray(data)
    buf[offsets[3] + 3] ^= 0xFF
    damaged = bytes(buf[: offsets[7]] + buf[offsets[8] :])
    rec = recover_srb(damaged, tables)
    assert [(span.first_packet, span.last_packet) for span in rec.lost] == [(3, 3), (7, 7)]
    assert rec.lost[0].start_sample == 3 * 25 * 320
    lost_frames = np.flatnonzero(rec.units_lost)
    assert lost_frames.tolist() == list(range(75, 100)) + list(range(175, 200))
    ok = ~rec.units_lost
    assert np.array_equal(rec.streams.units[ok], s.units[ok])
    assert np.array_equal(rec.streams.f0[~rec.f0_lost], s.f0[~rec.f0_lost])


def test_recover_resyncs_after_a_damaged_length(sample, tables):
    s, data = sample
    from bitstream import read_header

    h = read_header(data, tables)
    buf = bytearray(data)
    buf[h.size] ^= 0x40  # first packet's length field
    rec = recover_srb(bytes(buf), tables)
    assert [(x.first_packet, x.last_packet) for x in rec.lost] == [(0, 0)]


def test_same_streams_same_bytes(tables):
    a = random_streams(np.random.default_rng(15), SR * 4)
    b = Streams(a.units.copy(), a.f0.copy(), SpeakerCode.known(int(a.speaker.indices[0]), 482), a.num_samples,
                model_id=a.model_id)
    assert write_srb(a, tables) == write_srb(b, tables)


def test_crafted_payloads_with_valid_crc(sample, tables):
    """Random payloads in correctly framed packets: the entropy decoder's own complaints
    (constriction raises AssertionError on some bit patterns) must surface as SrbFormatError."""
    from bitstream import read_header
    from bitstream.container import write_packet

    s, data = sample
    h = read_header(data, tables)
    rng = np.random.default_rng(16)
    outcomes = {"refused": 0, "decoded": 0}
    for _ in range(300):
        packets = b"".join(write_packet(p, rng.bytes(int(rng.integers(0, 40)))) for p in range(h.num_packets))
        try:
            out = read_srb(data[: h.size] + packets, tables)
        except SrbFormatError as exc:
            assert exc.packet is not None
            outcomes["refused"] += 1
        else:
            assert out.units.size == s.units.size
            outcomes["decoded"] += 1
    assert outcomes["refused"] > 0
