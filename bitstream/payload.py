"""Entropy coding of packet payloads with constriction's range coder.

A payload holds, in this order, the unit events, the F0 events and (format 1.4, when the file
carries them) the envelope events of one packet (see :mod:`bitstream.runlength`), coded by a
single range coder. One coder per packet keeps every
packet decodable on its own while paying the coder's flush only once per packet.

The payload is the coder's 32-bit words, big-endian, ending as early as possible: the decoder pads
it with zero bytes, so after the words the coder has emitted, the encoder writes only as many
bytes as pin down a value inside the coder's final interval. constriction's own flush writes whole
words (about 16 bits beyond the information content per packet, measured); this leaves about 3.
The encoder decodes each payload it writes and falls back to the full words should the short form
ever not decode, so the optimisation can cost bits but never correctness.
"""

from __future__ import annotations

import constriction
import numpy as np

from .errors import SrbFormatError, SrbTablesError
from .runlength import DURATION, SYMBOL, Events
from .tables import EntropyTables, StreamTables

_RangeEncoder = constriction.stream.queue.RangeEncoder
_RangeDecoder = constriction.stream.queue.RangeDecoder


class _EventCoder:
    """Encodes a whole stream's events packet by packet, with models looked up once."""

    def __init__(self, tables: StreamTables, ev: Events):
        self.models = [
            tables.models(SYMBOL, np.unique(ev.ctx[ev.part == SYMBOL]).tolist()),
            tables.models(DURATION, np.unique(ev.ctx[ev.part == DURATION]).tolist()),
        ]
        self.part, self.ctx, self.sym = ev.part.tolist(), ev.ctx.tolist(), ev.sym.tolist()
        self.offsets = ev.offsets.tolist()

    def encode(self, encoder, packet: int) -> None:
        models, part, ctx, sym = self.models, self.part, self.ctx, self.sym
        for i in range(self.offsets[packet], self.offsets[packet + 1]):
            encoder.encode(sym[i], models[part[i]][ctx[i]])


_STATE_BITS = 64  # constriction's default range coder: 32-bit words, 64-bit state


def _shortest_tail(encoder) -> bytes:
    """The coder's output cut short: the words it has emitted, then as few bytes as pin a point
    of its final interval ``[lower, lower + range)`` (zero bytes implied after them)."""
    position, (lower, range_) = encoder.pos()
    words = encoder.get_compressed()
    prefix = words[:position].astype(">u4").tobytes()
    upper = min(lower + range_ - 1, (1 << _STATE_BITS) - 1)  # never rely on a carry into the prefix
    for n in range(_STATE_BITS // 8 + 1):
        unit = 1 << (_STATE_BITS - 8 * n)
        point = -(-lower // unit) * unit  # smallest value >= lower with n significant bytes
        if point <= upper:
            return (prefix + point.to_bytes(_STATE_BITS // 8, "big")[:n]).rstrip(b"\0")
    return words.astype(">u4").tobytes().rstrip(b"\0")


def encode_payloads(
    units: np.ndarray,
    f0: np.ndarray,
    unit_starts,
    f0_starts,
    tables: EntropyTables,
    envelope: np.ndarray | None = None,
    envelope_starts=None,
) -> list[bytes]:
    """One payload per packet.

    Args:
        units: ``(T_u,)`` the whole unit stream; packets begin at frames ``unit_starts``.
        f0: ``(T_f,)`` the whole F0 stream; packets begin at frames ``f0_starts``.
        tables: the tables to code with.
        envelope: ``None``, or ``(T_e,)`` the whole envelope stream (format 1.4, coded after the
            F0 events with ``tables.envelope``); packets begin at frames ``envelope_starts``.
    """
    coders = [
        _EventCoder(tables.units, tables.units.events(units, unit_starts)),
        _EventCoder(tables.f0, tables.f0.events(f0, f0_starts, units=units, ratio=tables.f0_ratio)),
    ]
    u_bounds = list(unit_starts) + [units.size]
    f_bounds = list(f0_starts) + [f0.size]
    if envelope is not None:
        if tables.envelope is None:
            raise SrbTablesError("envelope codes need tables with an envelope stream")
        if envelope_starts is None or len(envelope_starts) != len(unit_starts):
            raise SrbTablesError("envelope codes need one start frame per packet")
        coders.append(_EventCoder(tables.envelope, tables.envelope.events(envelope, envelope_starts)))
        e_bounds = list(envelope_starts) + [envelope.size]
    out = []
    for p in range(len(unit_starts)):
        encoder = _RangeEncoder()
        for coder in coders:
            coder.encode(encoder, p)
        u = units[u_bounds[p] : u_bounds[p + 1]]
        f = f0[f_bounds[p] : f_bounds[p + 1]]
        e = envelope[e_bounds[p] : e_bounds[p + 1]] if envelope is not None else np.zeros(0, np.int32)

        short = _shortest_tail(encoder.clone())
        try:
            du, df, de = decode_payload(short, u.size, f.size, tables, p, e.size)
            ok = np.array_equal(du, u) and np.array_equal(df, f) and (de is None or np.array_equal(de, e))
        except SrbFormatError:
            ok = False
        # The short form is verified by decoding it; should it ever fail, the full words never do.
        out.append(short if ok else encoder.get_compressed().astype(">u4").tobytes().rstrip(b"\0"))
    return out


def _decode_runlength(decoder, t: StreamTables, n: int, packet: int, name: str) -> np.ndarray:
    out = np.empty(n, np.int32)
    pos, prev, prev2 = 0, t.vocab, t.vocab  # START contexts
    escape = t.max_run - 1
    sym_models = t.models(SYMBOL, ())
    dur_models = t.models(DURATION, ())
    stride = t.vocab + 1 if t.order == 2 else 0  # context = prev + stride * prev2
    while pos < n:
        if t.vocab > 1:
            ctx = prev + stride * prev2
            model = sym_models[ctx] or t.models(SYMBOL, (ctx,))[ctx]
            value = decoder.decode(model)
            if value == prev:
                raise SrbFormatError(f"packet {packet}: {name} run repeats the previous symbol", packet=packet)
        elif prev != t.vocab:
            raise SrbFormatError(f"packet {packet}: {name} run ended early in a one-symbol stream", packet=packet)
        else:
            value = 0
        dur_model = dur_models[value] or t.models(DURATION, (value,))[value]
        length = 0
        while True:
            d = decoder.decode(dur_model)
            length += escape if d == escape else d + 1
            if pos + length > n:
                raise SrbFormatError(f"packet {packet}: {name} runs overrun the packet's {n} frames", packet=packet)
            if d != escape:
                break
        out[pos : pos + length] = value
        pos += length
        prev, prev2 = value, prev
    return out


def _decode_frames(decoder, t: StreamTables, n: int, extra: np.ndarray | None = None) -> np.ndarray:
    if t.vocab == 1:
        return np.zeros(n, np.int32)
    out = [0] * n
    prev = t.vocab
    models = t.models(SYMBOL, ())
    shift = [0] * n if extra is None else ((t.vocab + 1) * np.asarray(extra, np.int64)).tolist()
    for i in range(n):
        ctx = prev + shift[i]
        prev = out[i] = decoder.decode(models[ctx] or t.models(SYMBOL, (ctx,))[ctx])
    return np.asarray(out, np.int32)


def decode_payload(payload: bytes, n_units: int, n_f0: int, tables: EntropyTables, packet: int = 0,
                   n_envelope: int = 0):
    """Inverse of :func:`encode_payloads` for one packet, given the frame counts the header implies.

    Args:
        n_envelope: envelope frames of the packet (0 for a file without envelope codes; the
            envelope frames of a file that has them are never 0 in a packet).

    Returns:
        ``(units, f0, envelope)``: ``(n_units,)``, ``(n_f0,)`` and ``(n_envelope,)`` int32
        arrays; ``envelope`` is ``None`` when ``n_envelope`` is 0.
    """
    if n_envelope and tables.envelope is None:
        raise SrbTablesError("envelope codes need tables with an envelope stream")
    padded = payload + b"\0" * (-len(payload) % 4)
    decoder = _RangeDecoder(np.frombuffer(padded, ">u4").astype(np.uint32))
    try:
        units = _decode_runlength(decoder, tables.units, n_units, packet, "unit")
        if tables.f0.coding == "runlength":
            f0 = _decode_runlength(decoder, tables.f0, n_f0, packet, "F0")
        elif tables.f0.unit_classes is not None:  # packets hold whole F0 frames: local indices line up
            f0 = _decode_frames(decoder, tables.f0, n_f0, tables.f0.unit_context(units, n_f0, tables.f0_ratio))
        else:
            f0 = _decode_frames(decoder, tables.f0, n_f0)
        envelope = _decode_frames(decoder, tables.envelope, n_envelope) if n_envelope else None
    except SrbFormatError:
        raise
    except Exception as exc:
        # constriction refuses some bit patterns (it raises AssertionError); with an intact CRC
        # that means a crafted or miscoded packet, which is a format error like any other.
        raise SrbFormatError(f"packet {packet}: payload does not decode ({exc})", packet=packet) from exc
    return units, f0, envelope
