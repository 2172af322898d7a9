"""Byte-level primitives of the container: exact reads, varints, CRC-16.

Every read checks the bytes that remain first (as Opus does for each length field), so a
truncated or lying input fails with :class:`SrbFormatError` before anything is allocated.
"""

from __future__ import annotations

import binascii

from .errors import SrbFormatError

#: A varint may use at most this many bytes (56 bits of value); longer ones are corrupt.
MAX_VARINT_BYTES = 8


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final xor).

    The non-zero initial value makes leading zero bytes count, unlike XMODEM's init 0.
    ``crc16(b"123456789") == 0x29B1``.
    """
    return binascii.crc_hqx(data, 0xFFFF)


def write_varint(value: int) -> bytes:
    """Unsigned LEB128: 7 bits per byte, least significant group first, high bit = more follows."""
    if value < 0 or value >= 1 << (7 * MAX_VARINT_BYTES):
        raise ValueError(f"varint out of range: {value}")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


class ByteReader:
    """Reads a ``bytes`` object front to back; every read is bounds-checked.

    Args:
        data: the bytes.
        what: names the structure being read, for error messages ("header", "packet 3").
    """

    def __init__(self, data: bytes, offset: int = 0, what: str = "data"):
        self.data = data
        self.offset = offset
        self.what = what
        self.packet: int | None = None

    @property
    def remaining(self) -> int:
        return len(self.data) - self.offset

    def fail(self, message: str) -> SrbFormatError:
        return SrbFormatError(f"{self.what}: {message} (at byte {self.offset})", packet=self.packet)

    def read(self, n: int) -> bytes:
        if n < 0 or n > self.remaining:
            raise self.fail(f"needs {n} bytes, only {self.remaining} remain (truncated?)")
        chunk = self.data[self.offset : self.offset + n]
        self.offset += n
        return chunk

    def u8(self) -> int:
        return self.read(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.read(2), "big")

    def u32(self) -> int:
        return int.from_bytes(self.read(4), "big")

    def varint(self, name: str, maximum: int, minimum: int = 0) -> int:
        """A canonical varint with ``minimum <= value <= maximum``."""
        value = 0
        for i in range(MAX_VARINT_BYTES):
            if not self.remaining:
                raise self.fail(f"truncated inside {name}")
            byte = self.data[self.offset]
            self.offset += 1
            value |= (byte & 0x7F) << (7 * i)
            if not byte & 0x80:
                # A trailing zero group would give a second encoding of the same value; refuse it so
                # that every value has exactly one byte representation.
                if byte == 0 and i > 0:
                    raise self.fail(f"{name} is not minimally encoded")
                break
        else:
            raise self.fail(f"{name} is longer than {MAX_VARINT_BYTES} bytes")
        if not minimum <= value <= maximum:
            raise self.fail(f"{name} = {value} outside [{minimum}, {maximum}]")
        return value
