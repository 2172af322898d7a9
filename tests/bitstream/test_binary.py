import pytest

from bitstream.binary import ByteReader, crc16, write_varint
from bitstream.errors import SrbFormatError


def test_crc16_check_value():
    # The catalogued check value of CRC-16/CCITT-FALSE.
    assert crc16(b"123456789") == 0x29B1


def test_crc16_sees_leading_zeros():
    assert crc16(b"\0\x01") != crc16(b"\x01")


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 16383, 16384, 2**40, 2**56 - 1])
def test_varint_round_trip(value):
    data = write_varint(value)
    r = ByteReader(data + b"tail")
    assert r.varint("v", 2**56) == value
    assert r.offset == len(data)


def test_varint_sizes():
    assert [len(write_varint(v)) for v in (0, 127, 128, 16383, 16384)] == [1, 1, 2, 2, 3]


@pytest.mark.parametrize(
    "data, message",
    [
        pytest.param(b"", "truncated", id="empty"),
        pytest.param(b"\x80", "truncated", id="unterminated"),
        pytest.param(b"\x80\x00", "not minimally", id="overlong"),
        pytest.param(b"\xff" * 9, "longer than", id="too-long"),
        pytest.param(b"\x05", "outside", id="above-maximum"),
    ],
)
def test_varint_rejects(data, message):
    with pytest.raises(SrbFormatError, match=message):
        ByteReader(data).varint("v", 4)


def test_read_past_end_is_format_error():
    r = ByteReader(b"abc", what="thing")
    assert r.read(2) == b"ab"
    with pytest.raises(SrbFormatError, match="thing: needs 2 bytes, only 1 remain"):
        r.read(2)
