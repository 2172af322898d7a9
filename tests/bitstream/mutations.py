"""Ways to damage a byte string, shared by the robustness tests and the fuzz script."""

import numpy as np


def flip_bits(rng, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(int(rng.integers(1, 9))):
        pos = int(rng.integers(0, len(buf) * 8))
        buf[pos // 8] ^= 1 << (pos % 8)
    return bytes(buf)


def set_bytes(rng, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(int(rng.integers(1, 5))):
        buf[int(rng.integers(0, len(buf)))] = int(rng.choice([0, 0xFF, 0x7F, 0x80, int(rng.integers(0, 256))]))
    return bytes(buf)


def insert(rng, data: bytes) -> bytes:
    pos = int(rng.integers(0, len(data) + 1))
    return data[:pos] + rng.bytes(int(rng.integers(1, 16))) + data[pos:]


def delete(rng, data: bytes) -> bytes:
    pos = int(rng.integers(0, len(data)))
    return data[:pos] + data[pos + int(rng.integers(1, 16)) :]


def duplicate(rng, data: bytes) -> bytes:
    a = int(rng.integers(0, len(data)))
    b = min(len(data), a + int(rng.integers(1, 64)))
    return data[:b] + data[a:b] + data[b:]


def truncate(rng, data: bytes) -> bytes:
    return data[: int(rng.integers(0, len(data)))]


def garbage(rng, data: bytes) -> bytes:
    return rng.bytes(int(rng.integers(0, 2 * len(data))))


def garbage_after_magic(rng, data: bytes) -> bytes:
    return data[:5] + rng.bytes(int(rng.integers(0, len(data))))


MUTATIONS = [flip_bits, set_bytes, insert, delete, duplicate, truncate, garbage, garbage_after_magic]


def mutate(rng: np.random.Generator, data: bytes) -> bytes:
    return MUTATIONS[int(rng.integers(0, len(MUTATIONS)))](rng, data)
