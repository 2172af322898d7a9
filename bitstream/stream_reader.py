"""Incremental ``.srb`` reading: feed bytes as they arrive, get packets as soon as they are whole.

    >>> reader = PacketReader(tables)                            # doctest: +SKIP
    >>> for chunk in chunks:                                     # doctest: +SKIP
    ...     for packet in reader.feed(chunk): ...                # DecodedPacket, in order
    >>> for packet in reader.close(): ...                        # doctest: +SKIP

Every packet index ``0 .. P-1`` comes out exactly once, in order: decoded, or with ``lost`` set
(bad CRC, sequence or content, or missing). Damage is handled as :func:`bitstream.recover_srb`
does: skip the packet, resynchronise on the next offset holding an intact one. The reader keeps
only the bytes of packets not yet whole, so memory does not grow with the file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from .binary import ByteReader
from .container import MAX_PAYLOAD, Header, TablesArg, find_next_packet, read_header, read_packet
from .errors import SrbFormatError
from .srbfile import decode_packet

#: A header is at most this long (19 fixed bytes, 9 varints of <= 8 bytes, 128 bytes of speaker):
#: a reader that holds this many bytes and still cannot parse one has a damaged header.
MAX_HEADER_BYTES = 19 + 9 * 8 + 128
#: When a packet claims a length that the bytes buffered so far do not reach, the reader waits for
#: more; once this many bytes are buffered beyond it, the length is taken as damaged and the reader
#: resynchronises (payloads are ~100 bytes at srb's rates, so this is many packets of slack).
RESYNC_WINDOW = 8192


@dataclass(frozen=True)
class DecodedPacket:
    """One packet's symbols, or why it is missing.

    Attributes:
        index: packet number.
        units, f0: its unit and F0 slices (``None`` when lost).
        lost: ``None``, or the reason the packet could not be decoded.
        envelope: its envelope codes (format 1.4, frames ``header.envelope_span(index)``);
            ``None`` when lost or when the file carries none.
    """

    index: int
    units: np.ndarray | None
    f0: np.ndarray | None
    lost: str | None = None
    envelope: np.ndarray | None = None


class PacketReader:
    """Parses an ``.srb`` byte stream incrementally (see the module docstring).

    Args:
        tables: the tables the file names (or a mapping id -> tables); not needed for id 0.
    """

    def __init__(self, tables: TablesArg = None):
        self.tables = tables
        self.header: Header | None = None
        self._buf = bytearray()
        self._next = 0  # next packet index to emit
        self._consumed = 0  # bytes dropped from the front of the buffer: buffer offset 0 is this file offset
        self._closed = False

    @property
    def done(self) -> bool:
        return self.header is not None and self._next >= self.header.num_packets

    def feed(self, chunk: bytes) -> list[DecodedPacket]:
        """Add bytes; return the packets they completed (possibly none).

        Raises:
            SrbFormatError: a damaged header (nothing can be decoded without it).
        """
        if self._closed:
            raise SrbFormatError("feed() after close()")
        self._buf += chunk
        return self._drain(eof=False)

    def close(self) -> list[DecodedPacket]:
        """End of input: every packet not yet emitted comes out, the missing ones as lost."""
        self._closed = True
        if self.header is None and not self._parse_header(eof=True):
            raise SrbFormatError("truncated inside the header")
        out = self._drain(eof=True)
        h = self.header
        out += [DecodedPacket(q, None, None, "missing (input ended)") for q in range(self._next, h.num_packets)]
        self._next = h.num_packets
        return out

    # -- internals ------------------------------------------------------------------------------

    def _parse_header(self, eof: bool) -> bool:
        try:
            h = read_header(bytes(self._buf), self.tables, check_room=False)
        except SrbFormatError:
            if not eof and len(self._buf) < MAX_HEADER_BYTES:
                return False
            raise
        self.header = h
        self._drop(h.size)
        return True

    def _needs_more(self, eof: bool) -> bool:
        """True when the packet at the buffer start may be incomplete rather than damaged."""
        if eof:
            return False
        r = ByteReader(self._buf)
        try:
            length = r.varint("length", MAX_PAYLOAD)
        except SrbFormatError as exc:
            return "truncated" in str(exc)
        whole = r.offset + 1 + length + 2
        return whole > len(self._buf) and len(self._buf) < RESYNC_WINDOW

    def _drain(self, eof: bool) -> list[DecodedPacket]:
        out: list[DecodedPacket] = []
        if self.header is None and not self._parse_header(eof):
            return out
        h = self.header
        while self._next < h.num_packets and self._buf:
            p = self._next
            if self._needs_more(eof):
                break
            data = bytes(self._buf)
            try:
                packet = read_packet(data, 0, p)
            except SrbFormatError as exc:
                found = find_next_packet(data, 0, p - 1, h.num_packets)
                if found is None or found.index <= p:
                    found = find_next_packet(data, 1, p, h.num_packets)
                if found is None:
                    if not eof:
                        break  # the next intact packet may still be on its way
                    self._drop(len(self._buf))
                    break
                out.append(DecodedPacket(p, None, None, self._file_offsets(str(exc))))
                out += [DecodedPacket(q, None, None, "missing") for q in range(p + 1, found.index)]
                self._drop(found.offset)
                self._next = found.index
                continue
            out.append(self._decode(packet))
            self._drop(packet.size)
            self._next = p + 1
        return out

    def _drop(self, n: int) -> None:
        del self._buf[:n]
        self._consumed += n

    def _file_offsets(self, message: str) -> str:
        """Error messages name buffer offsets; make them offsets in the file, as read_srb's are."""
        shift = lambda m: str(int(m.group(0)) + self._consumed)  # noqa: E731
        return re.sub(r"(?<=bytes )\d+|(?<=\.\.)\d+|(?<=at byte )\d+", shift, message)

    def _decode(self, packet) -> DecodedPacket:
        try:
            units, f0, envelope = decode_packet(self.header, self.header.tables, packet)
        except SrbFormatError as exc:  # intact framing, undecodable content: only this packet
            return DecodedPacket(packet.index, None, None, self._file_offsets(str(exc)))
        return DecodedPacket(packet.index, units, f0, envelope=envelope)


def iter_chunks(source, chunk_size: int = 4096) -> Iterator[bytes]:
    """Bytes from ``source``: a bytes-like object (whole file), a binary file object, or an
    iterable of bytes chunks (e.g. one per packet, as a network would deliver them). A whole file
    is given out ``chunk_size`` bytes at a time too, so a reader fed from it hands out its packets
    (and a decoder their audio) as it goes, not all at once."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        for i in range(0, max(len(data), 1), chunk_size):
            yield data[i : i + chunk_size]
    elif hasattr(source, "read"):
        while chunk := source.read(chunk_size):
            yield chunk
    elif isinstance(source, Iterable):
        yield from source
    else:
        raise TypeError(f"cannot read .srb bytes from {type(source).__name__}")
