"""Streams <-> ``.srb`` bytes: the container filled with entropy-coded packets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from .container import (
    MAX_PACKET_FRAMES,
    Header,
    TablesArg,
    find_next_packet,
    read_header,
    read_packet,
    write_header,
    write_packet,
)
from .errors import SrbFormatError, SrbTablesError
from .payload import decode_payload, encode_payloads
from .streams import Streams
from .tables import EntropyTables

#: Unit frames per packet when none is given: 2 s at 50 Hz. Chosen by measurement, see
#: benchmarks/results/bitstream.md: framing costs ~48 bits per packet, so 1 s packets spend
#: ~45 bits/s on it and 2 s about half that, while a lost packet or the streaming delay stays 2 s.
DEFAULT_PACKET_FRAMES = 100


def write_srb(streams: Streams, tables: EntropyTables | None = None, packet_frames: int = DEFAULT_PACKET_FRAMES,
              model_tables: bool = False) -> bytes:
    """Encode ``streams`` into the bytes of an ``.srb`` file; the same input gives the same bytes.

    Args:
        streams: what to code.
        tables: probability tables; ``None`` uses uniform tables (id 0, decodable without a file).
        packet_frames: unit frames per packet (each packet is decodable on its own).
        model_tables: leave the tables id out of the header (format 1.3, 32 bits less): the
            tables are the model's own (``streams.model_id`` not 0, trained tables), and a reader
            must be given them (the header CRC still covers their id).

    Streams with envelope codes are written as format 1.4 and need trained tables with an
    envelope stream of their alphabet and frame rate, and packets of whole envelope frames;
    streams without them are written as before, whatever the tables have.
    """
    if not 1 <= packet_frames <= MAX_PACKET_FRAMES:
        raise SrbTablesError(f"packet_frames must be in 1..{MAX_PACKET_FRAMES}, got {packet_frames}")
    if tables is None:
        tables = EntropyTables.uniform(streams.unit_vocab, streams.f0_vocab)
    tables.check_streams(streams)
    if tables.f0_ratio and packet_frames % tables.f0_ratio:
        # F0 coded given the units needs packets of whole F0 frames (each packet decodes on its own)
        raise SrbTablesError(f"these tables need packets of a multiple of {tables.f0_ratio} unit frames, "
                             f"got {packet_frames}")
    has_envelope = streams.envelope is not None
    if has_envelope and packet_frames % tables.envelope_ratio:
        # likewise, packets hold whole envelope frames
        raise SrbTablesError(f"envelope codes of {tables.envelope_ratio} unit frames need packets of a multiple of "
                             f"{tables.envelope_ratio} unit frames, got {packet_frames}")
    h = Header(
        model_id=streams.model_id,
        tables_id=tables.tables_id,
        sample_rate=streams.sample_rate,
        num_samples=streams.num_samples,
        unit_hop=streams.unit_hop,
        f0_hop=streams.f0_hop,
        packet_frames=packet_frames,
        unit_vocab=streams.unit_vocab,
        unit_max_run=tables.units.max_run,
        f0_vocab=streams.f0_vocab,
        f0_coding=tables.f0.coding,
        f0_max_run=tables.f0.max_run,
        speaker=streams.speaker,
        tables=tables,
        pitch_cents=streams.pitch_cents,
        pitch_stats=streams.pitch_stats,
        gain=streams.gain,
        model_tables=model_tables,
        envelope=has_envelope,
    )
    packets = range(h.num_packets)
    unit_starts = [h.unit_span(p)[0] for p in packets]
    f0_starts = [h.f0_span(p)[0] for p in packets]
    envelope_starts = [h.envelope_span(p)[0] for p in packets] if has_envelope else None
    payloads = encode_payloads(streams.units, streams.f0, unit_starts, f0_starts, tables, streams.envelope,
                               envelope_starts)
    return write_header(h) + b"".join(write_packet(p, payload) for p, payload in enumerate(payloads))


@dataclass(frozen=True)
class LostSpan:
    """Packets that could not be decoded, and the audio they covered."""

    first_packet: int
    last_packet: int  # inclusive
    start_sample: int
    end_sample: int  # exclusive
    reason: str

    def seconds(self, sample_rate: int) -> tuple[float, float]:
        return self.start_sample / sample_rate, self.end_sample / sample_rate


@dataclass(frozen=True)
class Recovered:
    """What :func:`recover_srb` could decode.

    Attributes:
        streams: all streams; frames of lost packets hold symbol 0.
        units_lost: ``(T_u,)`` bool, True where units were lost.
        f0_lost: ``(T_f,)`` bool, True where F0 codes were lost.
        lost: the lost spans, in order.
        envelope_lost: ``(T_e,)`` bool, True where envelope codes were lost; ``None`` when the
            file carries none.
    """

    streams: Streams
    units_lost: np.ndarray
    f0_lost: np.ndarray
    lost: list[LostSpan] = field(default_factory=list)
    envelope_lost: np.ndarray | None = None


class Parsed(NamedTuple):
    """What :func:`parse_srb` returns; unpacks as ``h, t, packets, units, f0, envelope``."""

    header: Header
    tables: EntropyTables
    packets: list  # Packet, in file order
    units: list  # per packet, its unit frames
    f0: list  # per packet, its F0 frames
    envelope: list  # per packet, its envelope frames; None entries in a file without envelope codes


def _streams(h: Header, units: np.ndarray, f0: np.ndarray, envelope: np.ndarray | None = None) -> Streams:
    return Streams(
        units=units,
        f0=f0,
        speaker=h.speaker,
        num_samples=h.num_samples,
        sample_rate=h.sample_rate,
        unit_hop=h.unit_hop,
        f0_hop=h.f0_hop,
        unit_vocab=h.unit_vocab,
        f0_vocab=h.f0_vocab,
        model_id=h.model_id,
        pitch_cents=h.pitch_cents,
        pitch_stats=h.pitch_stats,
        gain=h.gain,
        envelope=envelope,
        envelope_vocab=h.envelope_vocab if envelope is not None else 0,
        envelope_hop=h.envelope_hop if envelope is not None else 0,
    )


def decode_packet(h: Header, tables: EntropyTables, packet) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``packet``'s payload decoded with the frame counts the header gives it: ``(units, f0,
    envelope)`` (:func:`bitstream.payload.decode_payload`). Raises SrbFormatError."""
    u0, u1 = h.unit_span(packet.index)
    f0, f1 = h.f0_span(packet.index)
    e0, e1 = h.envelope_span(packet.index)
    return decode_payload(packet.payload, u1 - u0, f1 - f0, tables, packet.index, e1 - e0)


def parse_srb(data: bytes, tables: TablesArg = None) -> Parsed:
    """Header, tables and every packet of a well-formed file, decoded; raises on any damage.

    Returns:
        ``(header, tables, packets, units, f0, envelope)`` (a :class:`Parsed`) with per-packet
        lists of decoded slices; ``envelope``'s entries are ``None`` for a file without envelope
        codes.
    """
    data = bytes(data)
    h = read_header(data, tables)
    t = h.tables
    offset = h.size
    packets, units, f0, envelope = [], [], [], []
    for p in range(h.num_packets):
        packet = read_packet(data, offset, p)
        u, f, e = decode_packet(h, t, packet)
        packets.append(packet)
        units.append(u)
        f0.append(f)
        envelope.append(e)
        offset += packet.size
    if offset != len(data):
        raise SrbFormatError(f"{len(data) - offset} unexpected bytes after the last packet")
    return Parsed(h, t, packets, units, f0, envelope)


def read_srb(data: bytes, tables: TablesArg = None) -> Streams:
    """Decode ``.srb`` bytes into :class:`Streams`.

    Args:
        data: the file's bytes.
        tables: the model's tables, or a mapping from tables id to tables; not needed for
            files coded with uniform tables.

    Raises:
        SrbFormatError: anything wrong with the bytes; ``.packet`` names a damaged packet.
    """
    h, _, _, units, f0, envelope = parse_srb(data, tables)
    cat = lambda parts: np.concatenate(parts) if parts else np.zeros(0, np.int32)  # noqa: E731
    return _streams(h, cat(units), cat(f0), cat(envelope) if h.envelope else None)


def recover_srb(data: bytes, tables: TablesArg = None) -> Recovered:
    """Decode every intact packet of a damaged file and report the lost spans.

    The header must be intact (without it nothing can be decoded). A packet whose CRC, sequence
    number or content is wrong is skipped; when its length field was damaged too, the reader
    resynchronises on the next offset holding an intact packet. The frames of lost packets hold
    symbol 0 in every stream, envelope codes included (:func:`bitstream.hold_fill` conceals them).
    """
    data = bytes(data)
    h = read_header(data, tables)
    t = h.tables
    units = np.zeros(h.num_units, np.int32)
    f0 = np.zeros(h.num_f0, np.int32)
    envelope = np.zeros(h.num_envelope, np.int32)
    units_ok = np.zeros(h.num_units, bool)
    f0_ok = np.zeros(h.num_f0, bool)
    envelope_ok = np.zeros(h.num_envelope, bool)
    reasons: dict[int, str] = {}
    offset, p = h.size, 0
    while p < h.num_packets:
        try:
            packet = read_packet(data, offset, p)
        except SrbFormatError as exc:
            reasons[p] = str(exc)
            # The length field may be damaged too: look for the next intact packet from here on
            # (this also finds packet p + 1 right here when packet p was dropped whole).
            found = find_next_packet(data, offset, p - 1, h.num_packets)
            if found is None or found.index <= p:
                found = find_next_packet(data, offset + 1, p, h.num_packets)
            if found is None:
                reasons.update({q: "missing" for q in range(p + 1, h.num_packets)})
                break
            reasons.update({q: "missing" for q in range(p + 1, found.index)})
            offset, p = found.offset, found.index
            continue
        try:
            u, f, e = decode_packet(h, t, packet)
        except SrbFormatError as exc:  # intact framing, undecodable content: skip just this packet
            reasons[p] = str(exc)
        else:
            u0, u1 = h.unit_span(p)
            f0a, f1 = h.f0_span(p)
            e0, e1 = h.envelope_span(p)
            units[u0:u1], units_ok[u0:u1] = u, True
            f0[f0a:f1], f0_ok[f0a:f1] = f, True
            if e is not None:
                envelope[e0:e1], envelope_ok[e0:e1] = e, True
        offset += packet.size
        p += 1
    lost: list[LostSpan] = []
    for q in sorted(reasons):
        s0, s1 = h.sample_span(q)
        if lost and lost[-1].last_packet == q - 1:
            last = lost[-1]
            lost[-1] = LostSpan(last.first_packet, q, last.start_sample, s1, last.reason)
        else:
            lost.append(LostSpan(q, q, s0, s1, reasons[q]))
    if not h.envelope:
        return Recovered(_streams(h, units, f0), ~units_ok, ~f0_ok, lost)
    return Recovered(_streams(h, units, f0, envelope), ~units_ok, ~f0_ok, lost, ~envelope_ok)
