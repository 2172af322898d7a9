"""Incremental reading: any chunking gives read_srb's symbols; damage gives lost packets, in order."""

import numpy as np
import pytest

from bitstream import PacketReader, SrbFormatError, read_header, read_srb, recover_srb, write_srb
from bitstream.container import read_packet
from tests.bitstream.helpers import random_streams


@pytest.fixture(scope="module")
def file():
    s = random_streams(np.random.default_rng(5), 16000 * 9 + 77)  # 5 packets, the last one short
    return s, write_srb(s)


def packets_of(data, tables=None):
    """``(header bytes, [packet bytes, ...])`` of an .srb file, as a network would deliver them."""
    h = read_header(data, tables)
    out, off = [], h.size
    for p in range(h.num_packets):
        pk = read_packet(data, off, p)
        out.append(data[off : off + pk.size])
        off += pk.size
    return data[: h.size], out


def read_all(data, step):
    r = PacketReader()
    got = []
    for i in range(0, len(data), step):
        got += r.feed(data[i : i + step])
    return got + r.close()


@pytest.mark.parametrize("step", [1, 7, 10**6])
def test_any_chunking_gives_the_same_symbols(file, step):
    s, data = file
    got = read_all(data, step)
    assert [p.index for p in got] == list(range(5)) and all(p.lost is None for p in got)
    assert np.array_equal(np.concatenate([p.units for p in got]), s.units)
    assert np.array_equal(np.concatenate([p.f0 for p in got]), s.f0)


def test_packet_comes_out_as_soon_as_it_is_whole(file):
    _, data = file
    head, pkts = packets_of(data)
    r = PacketReader()
    assert r.feed(head) == [] and r.header is not None
    assert [p.index for p in r.feed(pkts[0][:-1])] == []
    assert [p.index for p in r.feed(pkts[0][-1:])] == [0]


@pytest.mark.parametrize("damage", ["delete", "corrupt", "delete-two"])
def test_lost_packets_are_reported_and_the_rest_decoded(file, damage):
    s, data = file
    head, pkts = packets_of(data)
    if damage == "delete":
        pkts, lost = pkts[:2] + pkts[3:], {2}
    elif damage == "delete-two":
        pkts, lost = pkts[:1] + pkts[3:], {1, 2}
    else:
        bad = bytearray(pkts[2])
        bad[len(bad) // 2] ^= 0x40
        pkts, lost = pkts[:2] + [bytes(bad)] + pkts[3:], {2}
    for step in (1, 10**6):
        got = read_all(head + b"".join(pkts), step)
        assert [p.index for p in got] == list(range(5))
        assert {p.index for p in got if p.lost} == lost
        # The reasons name file offsets, as recover_srb's do, however the bytes were chunked.
        assert got[min(lost)].lost == recover_srb(head + b"".join(pkts)).lost[0].reason
        ref = read_srb(data)
        for p in got:
            if p.lost is None:
                assert np.array_equal(p.units, ref.units[p.index * 100 : p.index * 100 + p.units.size])


def test_truncated_input_loses_the_tail_and_a_bad_header_raises(file):
    _, data = file
    head, pkts = packets_of(data)
    got = read_all(head + b"".join(pkts[:3]), 5)
    assert [p.lost is None for p in got] == [True, True, True, False, False]
    with pytest.raises(SrbFormatError):
        read_all(b"XRB" + data[3:], 10**6)
