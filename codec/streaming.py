"""Streaming decode: ``.srb`` bytes in as they arrive, audio out packet by packet.

Packet ``p`` is synthesised from a window of streams: its own frames, ``lookbehind`` frames of the
packets before it and ``lookahead`` frames of the packets after it (``codec.synth`` explains why
15 frames = 300 ms each side make the window exact). So packet ``p``'s audio comes out as soon as
the packet holding its last lookahead frame has arrived (or is known to be lost): with 2 s packets
and any lookahead up to 2 s, when packet ``p + 1`` has arrived.

Lost packets (bad CRC, missing, undecodable) come out too, as concealment: their frames are
filled by holding the neighbouring intact frames (``bitstream.conceal``), which also gives the
intact packets next to the gap sensible context, and their audio fades out and back in
(``codec.synth.fade_gain``). Each chunk says whether it was concealed, and why.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from bitstream import LostSpan, PacketReader, iter_chunks
from bitstream.conceal import hold_fill

from .synth import fade_gain, synthesize


#: Default lookahead. Measured on 10 dev files with srb-v0.2 (benchmarks/results/streaming.md): 200 ms
#: gives the whole-file output within 1.2e-3 (SNR 73 dB), 300 ms (the full receptive field) exactly,
#: 100 ms only within 0.26 (28 dB), so 200 ms is the smallest lookahead that is inaudible.
DEFAULT_LOOKAHEAD_S = 0.2
#: Tolerance the tests hold the default lookahead to: max |streamed - whole-file| per sample.
STREAM_TOLERANCE = 2e-3


@dataclass(frozen=True)
class AudioChunk:
    """The audio of one packet.

    Attributes:
        packet: packet index.
        start_sample: where ``audio`` starts in the whole output.
        audio: ``(n,)`` float32 in [-1, 1].
        lost: ``None`` for a decoded packet, else why it was lost (its audio is concealment).
    """

    packet: int
    start_sample: int
    audio: np.ndarray
    lost: str | None = None


class StreamDecoder:
    """Turns packets into audio with bounded latency; see :meth:`codec.api.Codec.stream_decode`.

    Args:
        codec: a loaded :class:`~codec.api.Codec`.
        lookahead: unit frames of the following packets' streams used as context (default:
            ``DEFAULT_LOOKAHEAD_S`` = 200 ms, capped at the receptive field).
        lookbehind: unit frames of the preceding packets' streams (default: the receptive field;
            it costs no latency, so the default takes all of it).
    """

    def __init__(self, codec, lookahead: int | None = None, lookbehind: int | None = None):
        self.codec = codec
        rf = codec.context_frames()
        default = min(rf, round(DEFAULT_LOOKAHEAD_S * codec.sample_rate / codec.config.unit_hop))
        self.lookahead = default if lookahead is None else int(lookahead)
        self.lookbehind = rf if lookbehind is None else int(lookbehind)
        if self.lookahead < 0 or self.lookbehind < 0:
            raise ValueError("lookahead and lookbehind must be >= 0")
        self.reader = PacketReader(codec.tables)
        self._packets: dict[int, tuple] = {}  # index -> (units, f0, lost reason)
        self._next = 0
        self._speaker = None

    @property
    def header(self):
        return self.reader.header

    def feed(self, chunk: bytes) -> list[AudioChunk]:
        return self._take(self.reader.feed(chunk))

    def close(self) -> list[AudioChunk]:
        return self._take(self.reader.close())

    def _take(self, packets) -> list[AudioChunk]:
        h = self.header
        if h is not None and self._speaker is None:
            self.codec.check_model(h.model_id)
            self._speaker = self.codec.speaker_vector(h.speaker)
        for p in packets:
            self._packets[p.index] = (p.units, p.f0, p.lost)
        out = []
        while h is not None and self._next < h.num_packets and self._ready(self._next):
            out.append(self._emit(self._next))
            self._next += 1
            # Keep only what later windows can still reach.
            oldest = (self._next * h.packet_frames - self.lookbehind) // h.packet_frames - 1
            for q in [q for q in self._packets if q < oldest]:
                del self._packets[q]
        return out

    def _window(self, p: int) -> tuple[int, int, int, int]:
        """Unit frames ``[a, b)`` of packet ``p``'s window and of the packet itself ``[u0, u1)``."""
        h = self.header
        u0, u1 = h.unit_span(p)
        ratio = h.f0_hop // h.unit_hop
        a = max(0, u0 - self.lookbehind) // ratio * ratio  # windows start on an F0 frame
        b = min(h.num_units, u1 + self.lookahead)
        return a, b, u0, u1

    def _ready(self, p: int) -> bool:
        h = self.header
        _, b, _, _ = self._window(p)
        last = (b - 1) // h.packet_frames if b else 0
        return all(q in self._packets for q in range(p, last + 1))

    def _emit(self, p: int) -> AudioChunk:
        h = self.header
        a, b, u0, u1 = self._window(p)
        fa, fb = a * h.unit_hop // h.f0_hop, -(-b * h.unit_hop // h.f0_hop)
        units = np.zeros(b - a, np.int32)
        f0 = np.zeros(fb - fa, np.int32)
        units_lost = np.ones(b - a, bool)
        f0_lost = np.ones(fb - fa, bool)
        for q in range(a // h.packet_frames, (b - 1) // h.packet_frames + 1):
            qu, qf, reason = self._packets.get(q, (None, None, "gone"))
            if reason is not None:
                continue
            q0, q1 = h.unit_span(q)
            lo, hi = max(q0, a), min(q1, b)
            units[lo - a : hi - a], units_lost[lo - a : hi - a] = qu[lo - q0 : hi - q0], False
            g0, g1 = h.f0_span(q)
            lo, hi = max(g0, fa), min(g1, fb)
            if hi > lo:
                f0[lo - fa : hi - fa], f0_lost[lo - fa : hi - fa] = qf[lo - g0 : hi - g0], False
        units = hold_fill(units, units_lost)
        f0 = hold_fill(f0, f0_lost)
        wav = synthesize(self.codec.decoder, units, f0, self._speaker, h.pitch_cents, h.pitch_stats,
                         self.codec.postfilter)
        s0, s1 = h.sample_span(p)
        audio = wav[(u0 - a) * h.unit_hop :][: s1 - s0]
        reason = self._packets[p][2]
        if reason is not None:
            before_ok = p > 0 and self._packets.get(p - 1, (0, 0, None))[2] is None
            after_ok = p + 1 < h.num_packets and self._packets.get(p + 1, (0, 0, "?"))[2] is None
            audio = audio * fade_gain(audio.size, before_ok, after_ok, h.sample_rate)
        return AudioChunk(p, s0, np.clip(audio, -1.0, 1.0).astype(np.float32), reason)


def stream_decode(codec, source, lookahead: int | None = None, lookbehind: int | None = None) -> Iterator[AudioChunk]:
    """Yield :class:`AudioChunk` per packet from ``source`` (bytes, a binary file, or an iterable
    of byte chunks), each as soon as its window's packets have arrived."""
    dec = StreamDecoder(codec, lookahead, lookbehind)
    for chunk in iter_chunks(source):
        yield from dec.feed(chunk)
    yield from dec.close()


def lost_spans(chunks: list[AudioChunk], packet_samples: int) -> list[LostSpan]:
    """Consecutive concealed chunks merged into :class:`bitstream.LostSpan` s."""
    spans: list[LostSpan] = []
    for c in chunks:
        if c.lost is None:
            continue
        end = c.start_sample + c.audio.size
        if spans and spans[-1].last_packet == c.packet - 1:
            s = spans[-1]
            spans[-1] = LostSpan(s.first_packet, c.packet, s.start_sample, end, s.reason)
        else:
            spans.append(LostSpan(c.packet, c.packet, c.start_sample, end, c.lost))
    return spans
