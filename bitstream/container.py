"""The ``.srb`` container: header and packet framing; the payloads' coding is in ``payload``.

Layout (multi-byte integers big-endian; "varint" is unsigned LEB128; docs/FORMAT.md is the spec)::

    header:  "SRB" | version u8 | flags u8 | model_id u32 | tables_id u32 (absent if flag bit 5)
             | varints: num_samples packet_frames
             | only if flag bit 2 (version 1.1): varint zigzag(pitch_cents)
             | only if flag bit 3 (version 1.2): pitch level u8 | pitch spread u8
             | only if flag bit 4 (version 1.3): output gain i8 (0.5 dB steps)
             | only if tables_id == 0, varints: sample_rate unit_hop f0_hop unit_vocab unit_max_run
                        f0_vocab [f0_max_run] speaker_alphabet [speaker_count]
             | speaker indices, fixed width, MSB first, zero-padded to a byte | crc16 u16
    packet:  payload_length varint | sequence u8 | payload | crc16 u16   (repeated)

The header is read field by field against the bytes that remain, then its values are checked
against each other and against the number of bytes left for packets, so a header that claims
hours of audio in a few bytes is refused before anything is allocated.

With flag bit 5 (1.3) the tables id is not written: the tables are the model's own, and the id
still enters the header CRC as if it followed the model id, so tables other than the file's fail
the CRC instead of decoding garbage (as TCP's checksum covers a pseudo-header it does not send).

Flag bit 6 (1.4) says the payloads carry envelope codes after the F0 codes. It adds no header
bytes: the envelope's alphabet and frame rate are the trained tables' (their envelope stream and
``envelope_ratio``), so the flag needs tables that have one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from .binary import ByteReader, crc16, write_varint
from .errors import SrbFormatError, SrbModelMismatchError
from .streams import (
    MAX_SPEAKER_BITS,
    MAX_HOP,
    MAX_SAMPLE_RATE,
    MAX_SAMPLES,
    MAX_GAIN,
    MAX_PITCH_CENTS,
    MIN_GAIN,
    MAX_SPEAKER_LENGTH,
    MAX_VOCAB,
    SpeakerCode,
    index_bits,
    num_frames,
)
from .tables import MAX_RUN_LIMIT, EntropyTables

MAGIC = b"SRB"
VERSION_MAJOR = 1
#: Newest minor version this reader knows. 1.1 added flag bit 2 (a pitch shift field), 1.2 flag
#: bit 3 (the utterance's pitch statistics), 1.3 flag bits 4 (an output gain) and 5 (the tables
#: id left out), 1.4 flag bit 6 (envelope codes in the payloads). The writer writes the oldest
#: version whose fields the file uses, so files without them keep their bytes and stay readable
#: by older readers.
VERSION_MINOR = 4
FLAG_SPEAKER_VECTOR = 0x01
FLAG_F0_RUNLENGTH = 0x02
FLAG_PITCH = 0x04  # since 1.1: a pitch shift in cents follows packet_frames
FLAG_PITCH_STATS = 0x08  # since 1.2: two bytes of pitch level and spread follow
FLAG_GAIN = 0x10  # since 1.3: one signed byte, the decoder's output gain in 0.5 dB steps
FLAG_MODEL_TABLES = 0x20  # since 1.3: no tables_id field; the model's tables, checked by the CRC
FLAG_ENVELOPE = 0x40  # since 1.4: payloads end with envelope codes (their tables: the trained tables')
KNOWN_FLAGS = {
    0: FLAG_SPEAKER_VECTOR | FLAG_F0_RUNLENGTH,
    1: FLAG_SPEAKER_VECTOR | FLAG_F0_RUNLENGTH | FLAG_PITCH,
    2: FLAG_SPEAKER_VECTOR | FLAG_F0_RUNLENGTH | FLAG_PITCH | FLAG_PITCH_STATS,
    3: FLAG_SPEAKER_VECTOR | FLAG_F0_RUNLENGTH | FLAG_PITCH | FLAG_PITCH_STATS | FLAG_GAIN | FLAG_MODEL_TABLES,
}
KNOWN_FLAGS[4] = KNOWN_FLAGS[3] | FLAG_ENVELOPE

#: At most this many unit frames per packet (20 s at 50 Hz): with at least 4 bytes per packet this
#: bounds the frames a file can make the decoder allocate to 256 per byte of input.
MAX_PACKET_FRAMES = 1024
#: Largest payload a packet may declare.
MAX_PAYLOAD = 1 << 20
CRC_BYTES = 2
#: Smallest possible packet: 1-byte length, sequence, empty payload, CRC.
MIN_PACKET_BYTES = 1 + 1 + CRC_BYTES


@dataclass(frozen=True)
class Header:
    """Everything before the first packet, with the tables it names."""

    model_id: int
    tables_id: int
    sample_rate: int
    num_samples: int
    unit_hop: int
    f0_hop: int
    packet_frames: int
    unit_vocab: int
    unit_max_run: int
    f0_vocab: int
    f0_coding: str  # "frame" or "runlength"
    f0_max_run: int  # 0 in frame coding
    speaker: SpeakerCode
    tables: EntropyTables | None = field(default=None, compare=False, repr=False)
    version: tuple[int, int] = (VERSION_MAJOR, 0)
    size: int = 0  # bytes, filled in by read_header
    speaker_bytes: int = 0  # bytes of the speaker indices
    pitch_cents: int = 0  # pitch shift the decoder applies (an edit, see bitstream.edit); 1.1 field
    pitch_stats: tuple[int, int] | None = None  # (level, spread) bytes; 1.2 field
    gain: int | None = None  # output gain in 0.5 dB steps; 1.3 field
    model_tables: bool = False  # tables_id left out of the bytes (1.3): the model's own tables
    envelope: bool = False  # payloads carry envelope codes (1.4), coded with the tables' envelope stream

    @property
    def num_units(self) -> int:
        return num_frames(self.num_samples, self.unit_hop)

    @property
    def num_f0(self) -> int:
        return num_frames(self.num_samples, self.f0_hop)

    @property
    def num_packets(self) -> int:
        return num_frames(self.num_units, self.packet_frames)

    @property
    def envelope_ratio(self) -> int:
        """Unit frames per envelope frame (the tables'), 0 for a file without envelope codes."""
        return self.tables.envelope_ratio if self.envelope and self.tables is not None else 0

    @property
    def envelope_vocab(self) -> int:
        """Codebook size of the envelope codes (the tables'), 0 for a file without them."""
        return self.tables.envelope.vocab if self.envelope_ratio else 0

    @property
    def envelope_hop(self) -> int:
        """Samples per envelope frame, 0 for a file without envelope codes."""
        return self.unit_hop * self.envelope_ratio

    @property
    def num_envelope(self) -> int:
        """Envelope frames of the file, ``ceil(num_samples / envelope_hop)`` (0 without them)."""
        return num_frames(self.num_samples, self.envelope_hop) if self.envelope_ratio else 0

    @property
    def packet_samples(self) -> int:
        return self.packet_frames * self.unit_hop

    def unit_span(self, packet: int) -> tuple[int, int]:
        """Unit frames ``[start, stop)`` that packet ``packet`` carries."""
        start = packet * self.packet_frames
        return start, min(start + self.packet_frames, self.num_units)

    def f0_span(self, packet: int) -> tuple[int, int]:
        """F0 frames ``[start, stop)`` of packet ``packet``: those whose first sample falls in it."""
        span = self.packet_samples
        start = num_frames(packet * span, self.f0_hop)
        return min(start, self.num_f0), min(num_frames((packet + 1) * span, self.f0_hop), self.num_f0)

    def envelope_span(self, packet: int) -> tuple[int, int]:
        """Envelope frames ``[start, stop)`` of packet ``packet``: ``packet_frames`` is a multiple
        of the ratio, so each packet holds whole envelope frames (the last one may be short)."""
        ratio = self.envelope_ratio
        if not ratio:
            return 0, 0
        start = min(packet * self.packet_frames // ratio, self.num_envelope)
        return start, min((packet + 1) * self.packet_frames // ratio, self.num_envelope)

    def sample_span(self, packet: int) -> tuple[int, int]:
        start = packet * self.packet_samples
        return start, min(start + self.packet_samples, self.num_samples)


def _pack_indices(indices: np.ndarray, width: int) -> bytes:
    if width == 0:
        return b""
    bits = ((indices[:, None].astype(np.int64) >> np.arange(width - 1, -1, -1)) & 1).astype(np.uint8)
    return np.packbits(bits.reshape(-1)).tobytes()


def _unpack_indices(data: bytes, count: int, width: int) -> np.ndarray:
    if width == 0:
        return np.zeros(count, np.int32)
    bits = np.unpackbits(np.frombuffer(data, np.uint8))[: count * width].reshape(count, width)
    return (bits.astype(np.int64) << np.arange(width - 1, -1, -1)).sum(axis=1).astype(np.int32)


def write_header(h: Header) -> bytes:
    """Header bytes. Stream parameters are spelled out only for uniform tables (id 0): trained
    tables fix them (their :class:`~bitstream.tables.Profile`), and the id names the tables."""
    spk = h.speaker
    flags = (FLAG_SPEAKER_VECTOR if spk.kind == "vector" else 0) | (
        FLAG_F0_RUNLENGTH if h.f0_coding == "runlength" else 0
    )
    if h.pitch_cents:
        flags |= FLAG_PITCH
    if h.pitch_stats is not None:
        flags |= FLAG_PITCH_STATS
        if len(h.pitch_stats) != 2 or not all(0 <= v <= 255 for v in h.pitch_stats):
            raise SrbFormatError(f"pitch statistics must be two bytes, got {h.pitch_stats!r}")
    if not -MAX_PITCH_CENTS <= h.pitch_cents <= MAX_PITCH_CENTS:
        raise SrbFormatError(f"pitch shift must be within +-{MAX_PITCH_CENTS} cents, got {h.pitch_cents}")
    if h.gain is not None:
        flags |= FLAG_GAIN
        if not MIN_GAIN <= h.gain <= MAX_GAIN:
            raise SrbFormatError(f"gain must be {MIN_GAIN}..{MAX_GAIN} half-decibels, got {h.gain!r}")
    if h.model_tables:
        if h.tables_id == 0 or h.model_id == 0:
            raise SrbFormatError("only trained tables of a model (ids not 0) can be left out of the header")
        flags |= FLAG_MODEL_TABLES
    if h.envelope:
        # Nothing of the envelope stream is spelled out: the named tables must hold it.
        if h.tables_id == 0 or h.tables is None or h.tables.envelope is None:
            raise SrbFormatError("envelope codes need trained tables with an envelope stream (ids not 0)")
        if h.packet_frames % h.tables.envelope_ratio:
            raise SrbFormatError(f"packets of {h.packet_frames} unit frames do not hold whole envelope frames of "
                                 f"{h.tables.envelope_ratio}")
        flags |= FLAG_ENVELOPE
    # the oldest minor version that has the fields
    if flags & FLAG_ENVELOPE:
        minor = 4
    elif flags & (FLAG_GAIN | FLAG_MODEL_TABLES):
        minor = 3
    else:
        minor = 2 if h.pitch_stats is not None else 1 if h.pitch_cents else 0
    out = bytearray(MAGIC)
    out.append((VERSION_MAJOR << 4) | minor)
    out.append(flags)
    out += h.model_id.to_bytes(4, "big")
    if not h.model_tables:
        out += h.tables_id.to_bytes(4, "big")
    out += write_varint(h.num_samples) + write_varint(h.packet_frames)
    if h.pitch_cents:
        out += write_varint(_zigzag(h.pitch_cents))
    if h.pitch_stats is not None:
        out += bytes(h.pitch_stats)
    if h.gain is not None:
        out.append(h.gain & 0xFF)
    if h.tables_id == 0:
        for value in (h.sample_rate, h.unit_hop, h.f0_hop, h.unit_vocab, h.unit_max_run, h.f0_vocab):
            out += write_varint(value)
        if h.f0_coding == "runlength":
            out += write_varint(h.f0_max_run)
        out += write_varint(spk.alphabet)
        if spk.kind == "vector":
            out += write_varint(spk.indices.size)
    out += _pack_indices(spk.indices, index_bits(spk.alphabet))
    out += _header_crc(bytes(out), h.tables_id if h.model_tables else None).to_bytes(CRC_BYTES, "big")
    return bytes(out)


#: Bytes before the tables id: magic, version, flags, model id.
_TABLES_ID_OFFSET = len(MAGIC) + 2 + 4


def _header_crc(body: bytes, implied_tables_id: int | None) -> int:
    """CRC-16 of the header bytes, with a tables id left out of them put back where it belongs."""
    if implied_tables_id is None:
        return crc16(body)
    k = _TABLES_ID_OFFSET
    return crc16(body[:k] + implied_tables_id.to_bytes(4, "big") + body[k:])


def _zigzag(v: int) -> int:
    """Signed -> unsigned for a varint: 0, -1, 1, -2, 2 ... -> 0, 1, 2, 3, 4 ..."""
    return 2 * v if v >= 0 else -2 * v - 1


def _unzigzag(u: int) -> int:
    return u // 2 if u % 2 == 0 else -(u + 1) // 2


TablesArg = EntropyTables | Mapping[int, EntropyTables] | None


def resolve_tables(tables_id: int, tables: TablesArg) -> EntropyTables:
    """The trained tables with id ``tables_id`` from what the caller has."""
    if isinstance(tables, Mapping):
        tables = tables.get(tables_id)
    if tables is None or tables.tables_id != tables_id:
        have = "none given" if tables is None else f"have {tables.tables_id:08x}"
        raise SrbModelMismatchError(f"file was coded with entropy tables {tables_id:08x} ({have})")
    return tables


def peek_model_id(data: bytes) -> int | None:
    """The model id of ``data``'s header, read without checking anything else (``None`` where the
    bytes cannot be a header of a version this reader knows): lets a decoder refuse another
    model's file by name before parsing it."""
    if len(data) < _TABLES_ID_OFFSET or data[: len(MAGIC)] != MAGIC:
        return None
    version = data[len(MAGIC)]
    if version >> 4 != VERSION_MAJOR or version & 0x0F > VERSION_MINOR:
        return None
    return int.from_bytes(data[len(MAGIC) + 2 : _TABLES_ID_OFFSET], "big")


def read_header(data: bytes, tables: TablesArg = None, check_room: bool = True) -> Header:
    """Parse and validate the header at the start of ``data``.

    Args:
        data: the whole file (the bytes after the header bound what it may claim).
        tables: the tables the file names, or a mapping id -> tables; not needed for id 0.
        check_room: refuse a header claiming more packets than the bytes after it can hold. A
            streaming reader, which has only the start of the file, turns this off (and then
            allocates per packet, never for the whole claimed length).

    Raises:
        SrbFormatError: bad magic, version, flags, values, CRC, or more audio claimed than the
            remaining bytes can hold; envelope codes (flag bit 6) with tables that have no
            envelope stream or packets that do not hold whole envelope frames.
            SrbModelMismatchError (a subclass) when the named tables are not at hand.
    """
    r = ByteReader(data, what="header")
    if r.remaining < len(MAGIC) or r.read(len(MAGIC)) != MAGIC:
        raise SrbFormatError("not an .srb file (bad magic)")
    version = r.u8()
    major, minor = version >> 4, version & 0x0F
    if major != VERSION_MAJOR:
        raise SrbFormatError(f"unsupported .srb major version {major} (this reader handles {VERSION_MAJOR})")
    if minor > VERSION_MINOR:
        raise SrbFormatError(f".srb version {major}.{minor} is newer than this reader ({VERSION_MAJOR}.{VERSION_MINOR})")
    flags = r.u8()
    if flags & ~KNOWN_FLAGS[minor]:
        raise r.fail(f"reserved flag bits set: {flags:#04x}")
    kind = "vector" if flags & FLAG_SPEAKER_VECTOR else "id"
    f0_coding = "runlength" if flags & FLAG_F0_RUNLENGTH else "frame"
    model_tables = bool(flags & FLAG_MODEL_TABLES)
    envelope = bool(flags & FLAG_ENVELOPE)
    model_id = r.u32()
    tables_id = 0 if model_tables else r.u32()
    num_samples = r.varint("num_samples", MAX_SAMPLES)
    packet_frames = r.varint("packet_frames", MAX_PACKET_FRAMES, 1)
    pitch_cents = _unzigzag(r.varint("pitch shift", 2 * MAX_PITCH_CENTS, 1)) if flags & FLAG_PITCH else 0
    pitch_stats = (r.u8(), r.u8()) if flags & FLAG_PITCH_STATS else None
    gain = (r.u8() ^ 0x80) - 0x80 if flags & FLAG_GAIN else None  # two's complement
    if model_tables:
        if model_id == 0:
            raise r.fail("flags leave the tables to the model, but there is no model (id 0)")
        # The tables id is not in the bytes: each candidate the caller has is tried against the CRC.
        candidates = list(tables.values()) if isinstance(tables, Mapping) else [tables] if tables is not None else []
        candidates = [t for t in candidates if t is not None and t.tables_id != 0]
        if not candidates:
            raise SrbModelMismatchError(f"file was coded with model {model_id:08x}'s entropy tables (none given)")
        if envelope and all(t.envelope is None for t in candidates):
            tried = ", ".join(f"{t.tables_id:08x}" for t in candidates)
            raise SrbModelMismatchError(f"file carries envelope codes (flag bit 6), but none of the entropy tables "
                                        f"given ({tried}) has an envelope stream")
        for t in candidates:
            if t.f0.coding != f0_coding or min(t.profile.speaker_alphabet(kind), t.profile.speaker_count(kind)) < 1:
                continue  # cannot be the file's tables
            if envelope and t.envelope is None:
                continue
            rest = _read_rest(data, r.offset, t.tables_id, t, kind, f0_coding, model_tables)
            if rest is not None:
                break
        else:
            tried = ", ".join(f"{t.tables_id:08x}" for t in candidates)
            raise SrbFormatError(f"header: CRC mismatch (the header is damaged, or model {model_id:08x}'s entropy "
                                 f"tables are not the ones given: {tried})")
        tables_id = t.tables_id
    else:
        if envelope and tables_id == 0:
            raise r.fail("flag bit 6 says the payloads carry envelope codes, which need trained tables (tables id 0)")
        t = None if tables_id == 0 else resolve_tables(tables_id, tables)
        rest = _read_rest(data, r.offset, tables_id, t, kind, f0_coding, model_tables)
        if rest is None:
            raise SrbFormatError("header: CRC mismatch")
        if envelope and t.envelope is None:
            raise SrbFormatError(f"header: flag bit 6 says the payloads carry envelope codes, but tables "
                                 f"{tables_id:08x} have no envelope stream")
    if envelope and packet_frames % rest.tables.envelope_ratio:
        raise SrbFormatError(f"header: packets of {packet_frames} unit frames do not hold whole envelope frames of "
                             f"{rest.tables.envelope_ratio} (tables {tables_id:08x})")
    h = Header(
        model_id=model_id,
        tables_id=tables_id,
        sample_rate=rest.sample_rate,
        num_samples=num_samples,
        unit_hop=rest.unit_hop,
        f0_hop=rest.f0_hop,
        packet_frames=packet_frames,
        unit_vocab=rest.unit_vocab,
        unit_max_run=rest.unit_max_run,
        f0_vocab=rest.f0_vocab,
        f0_coding=f0_coding,
        f0_max_run=rest.f0_max_run,
        speaker=SpeakerCode(rest.indices, rest.alphabet, kind),
        tables=rest.tables,
        version=(major, minor),
        size=rest.size,
        speaker_bytes=rest.speaker_bytes,
        pitch_cents=pitch_cents,
        pitch_stats=pitch_stats,
        gain=gain,
        model_tables=model_tables,
        envelope=envelope,
    )
    if not check_room:
        return h
    # Every packet takes at least MIN_PACKET_BYTES, so the bytes that follow bound how much audio
    # the header may honestly claim; check before the decoder allocates anything for it.
    room = (len(data) - h.size) // MIN_PACKET_BYTES
    if h.num_packets > room:
        raise SrbFormatError(
            f"header claims {h.num_samples} samples in {h.num_packets} packets, "
            f"but the {len(data) - h.size} bytes that follow hold at most {room} (truncated?)"
        )
    return h


class _HeaderRest(NamedTuple):
    """What the header says from its stream parameters (or where they would be) to its CRC."""

    tables: EntropyTables
    sample_rate: int
    unit_hop: int
    f0_hop: int
    unit_vocab: int
    unit_max_run: int
    f0_vocab: int
    f0_max_run: int
    alphabet: int
    indices: np.ndarray
    speaker_bytes: int
    size: int  # header bytes in all, CRC included


def _read_rest(data: bytes, offset: int, tables_id: int, t: EntropyTables | None, kind: str, f0_coding: str,
               model_tables: bool) -> _HeaderRest | None:
    """The header from the stream parameters (or where they would be) to the CRC, read with the
    tables ``t`` (``None`` for uniform tables, spelled out in the header); ``None`` if the CRC
    does not match."""
    r = ByteReader(data, offset, what="header")
    if t is None:
        sample_rate = r.varint("sample_rate", MAX_SAMPLE_RATE, 1)
        unit_hop = r.varint("unit_hop", MAX_HOP, 1)
        f0_hop = r.varint("f0_hop", MAX_HOP, 1)
        unit_vocab = r.varint("unit_vocab", MAX_VOCAB, 1)
        unit_max_run = r.varint("unit_max_run", MAX_RUN_LIMIT, 2)
        f0_vocab = r.varint("f0_vocab", MAX_VOCAB, 1)
        f0_max_run = r.varint("f0_max_run", MAX_RUN_LIMIT, 2) if f0_coding == "runlength" else 0
        alphabet = r.varint("speaker_alphabet", 1 << MAX_SPEAKER_BITS, 1)
        count = r.varint("speaker_count", MAX_SPEAKER_LENGTH, 1) if kind == "vector" else 1
        t = EntropyTables.uniform(unit_vocab, f0_vocab, unit_max_run, f0_coding, f0_max_run or 16)
    else:
        p = t.profile
        sample_rate, unit_hop, f0_hop = p.sample_rate, p.unit_hop, p.f0_hop
        unit_vocab, unit_max_run = t.units.vocab, t.units.max_run
        f0_vocab, f0_max_run = t.f0.vocab, t.f0.max_run
        if f0_coding != t.f0.coding:
            raise r.fail(f"flags say F0 is {f0_coding}-coded, tables {tables_id:08x} code it {t.f0.coding}")
        alphabet, count = p.speaker_alphabet(kind), p.speaker_count(kind)
        if alphabet < 1 or count < 1:
            raise r.fail(f"tables {tables_id:08x} have no speaker {kind}s")
    width = index_bits(alphabet)
    speaker_start = r.offset
    indices = _unpack_indices(r.read(-(-count * width // 8)), count, width)
    speaker_bytes = r.offset - speaker_start
    body = r.offset
    if r.u16() != _header_crc(data[:body], tables_id if model_tables else None):
        return None
    if indices.size and indices.max() >= alphabet:
        raise SrbFormatError(f"header: speaker index {indices.max()} outside its alphabet of {alphabet}")
    return _HeaderRest(t, sample_rate, unit_hop, f0_hop, unit_vocab, unit_max_run, f0_vocab, f0_max_run, alphabet,
                       indices, speaker_bytes, r.offset)


def write_packet(index: int, payload: bytes) -> bytes:
    body = write_varint(len(payload)) + bytes([index & 0xFF]) + payload
    return body + crc16(body).to_bytes(CRC_BYTES, "big")


@dataclass(frozen=True)
class Packet:
    index: int
    offset: int  # first byte in the file
    size: int  # bytes including framing
    payload: bytes

    @property
    def framing_bytes(self) -> int:
        return self.size - len(self.payload)


def read_packet(data: bytes, offset: int, index: int) -> Packet:
    """The packet at ``offset``, which must be packet number ``index``; checks length, sequence and CRC."""
    r = ByteReader(data, offset, what=f"packet {index}")
    r.packet = index
    length = r.varint("payload length", MAX_PAYLOAD)
    seq = r.u8()
    payload = r.read(length)
    body_end = r.offset
    crc = r.u16()
    if crc != crc16(data[offset:body_end]):
        raise SrbFormatError(f"packet {index} (bytes {offset}..{r.offset}): CRC mismatch", packet=index)
    if seq != index & 0xFF:
        raise SrbFormatError(f"packet {index}: sequence number {seq}, expected {index & 0xFF}", packet=index)
    return Packet(index, offset, r.offset - offset, payload)


def find_next_packet(data: bytes, start: int, after: int, limit: int) -> Packet | None:
    """Resynchronise after damage: the first offset ``>= start`` holding an intact packet numbered
    ``after + 1 .. limit - 1`` (matched by its sequence byte and CRC), or ``None``."""
    for offset in range(start, len(data) - MIN_PACKET_BYTES + 1):
        r = ByteReader(data, offset)
        try:
            length = r.varint("length", MAX_PAYLOAD)
            seq = r.u8()
            r.read(length)
            end = r.offset
            crc = r.u16()
        except SrbFormatError:
            continue
        if crc != crc16(data[offset:end]):
            continue
        gap = (seq - after) % 256  # sequence numbers wrap: take the nearest packet ahead
        index = after + (gap if gap else 256)
        if index < limit:
            return Packet(index, offset, r.offset - offset, data[end - length : end])
    return None
