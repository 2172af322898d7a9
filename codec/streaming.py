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

from . import pitch
from .synth import fade_gain, synthesize


#: Default lookahead. Measured on 10 dev files with srb-v0.2 (benchmarks/results/streaming.md): 200 ms
#: gives the whole-file output within 1.2e-3 (SNR 73 dB), 300 ms (the full receptive field) exactly,
#: 100 ms only within 0.26 (28 dB), so 200 ms is the smallest lookahead that is inaudible. Session
#: 11 (postfilter and envelope smoother, no resynthesis, benchmarks/results/streaming-no-resynth.md):
#: 200 ms within 1.9e-3 (SNR 72.6 dB), the full context (420 ms) exact. Session 13's band refiner
#: (codec/refiner.py) sees 31 frames of 10 ms either side: on the demo sample 200 ms gives 6.7e-3
#: (54.5 dB), 300 ms 6.1e-4 (76.3 dB), the full context (760 ms) exact; so 300 ms since then.
DEFAULT_LOOKAHEAD_S = 0.3
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
            ``DEFAULT_LOOKAHEAD_S`` = 300 ms, capped at the receptive field).
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
        self.reader = PacketReader(codec.reading_tables)
        self._packets: dict[int, tuple] = {}  # index -> (units, f0, lost reason, envelope codes or None)
        self._next = 0
        self._speaker = None
        self._resynth = False  # set from the header: the codec re-voices and the file has pitch statistics
        self._history = None  # (first sample, audio before resynthesis) from the last packet's start

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
            if h.envelope and self.codec.apply_envelope:
                self.codec.check_envelope(h)
            self._speaker = self.codec.speaker_vector(h.speaker)
            self._resynth = self.codec.resynth is not None and h.pitch_stats is not None
        for p in packets:
            self._packets[p.index] = (p.units, p.f0, p.lost, p.envelope)
        out = []
        while h is not None and self._next < h.num_packets and self._ready(self._next):
            out.append(self._emit(self._next))
            self._next += 1
            # Keep only what later windows can still reach (and the packet before, for the F0 decoder).
            oldest = (self._next * h.packet_frames - self.lookbehind) // h.packet_frames - 2
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

    def _streams(self, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
        """Units of unit frames ``[a, b)`` and F0 codes of the F0 frames that cover them (``a`` on
        an F0 frame), with the frames of lost or unknown packets held from their neighbours."""
        h = self.header
        fa, fb = a * h.unit_hop // h.f0_hop, -(-b * h.unit_hop // h.f0_hop)
        units = np.zeros(b - a, np.int32)
        f0 = np.zeros(fb - fa, np.int32)
        units_lost = np.ones(b - a, bool)
        f0_lost = np.ones(fb - fa, bool)
        for q in range(a // h.packet_frames, (b - 1) // h.packet_frames + 1):
            qu, qf, reason, _ = self._packets.get(q, (None, None, "gone", None))
            if reason is not None:
                continue
            q0, q1 = h.unit_span(q)
            lo, hi = max(q0, a), min(q1, b)
            units[lo - a : hi - a], units_lost[lo - a : hi - a] = qu[lo - q0 : hi - q0], False
            g0, g1 = h.f0_span(q)
            lo, hi = max(g0, fa), min(g1, fb)
            if hi > lo:
                f0[lo - fa : hi - fa], f0_lost[lo - fa : hi - fa] = qf[lo - g0 : hi - g0], False
        return hold_fill(units, units_lost), hold_fill(f0, f0_lost)

    def _emit(self, p: int) -> AudioChunk:
        h = self.header
        a, b, u0, u1 = self._window(p)
        units, f0 = self._streams(a, b)
        wav = synthesize(self.codec.decoder, units, f0, self._speaker, h.pitch_cents, h.pitch_stats,
                         self.codec.postfilter)
        if self._resynth:
            start, wav = self._revoice(p, a, b, wav)
        else:
            start = a * h.unit_hop
        # As in the whole-file decode, the smoother and refiner see audio that ends where the file ends.
        wav = self.codec.finish_bands(wav[: max(0, h.num_samples - start)]) * self.codec.output_gain(h.gain)
        if h.envelope and self.codec.apply_envelope:
            wav = self._correct(start, wav)
        s0, s1 = h.sample_span(p)
        audio = wav[s0 - start :][: s1 - s0]
        reason = self._packets[p][2]
        if reason is not None:
            before_ok = p > 0 and self._packets.get(p - 1, (0, 0, None))[2] is None
            after_ok = p + 1 < h.num_packets and self._packets.get(p + 1, (0, 0, "?"))[2] is None
            audio = audio * fade_gain(audio.size, before_ok, after_ok, h.sample_rate)
        return AudioChunk(p, s0, np.clip(audio, -1.0, 1.0).astype(np.float32), reason)

    def _correct(self, start: int, wav: np.ndarray) -> np.ndarray:
        """The envelope layer's corrections applied to a window's audio from sample ``start`` (on an
        envelope frame: windows start on F0 frames), frames of lost or unknown packets uncorrected."""
        h = self.header
        layer = self.codec.layer_for(h.model_id)
        step = layer.config.frame_samples
        e0 = start // step
        e1 = min(h.num_envelope, e0 + layer.num_frames(wav.size))
        codes = np.zeros(e1 - e0, np.int32)
        lost = np.ones(e1 - e0, bool)
        for q in range(e0 * step // h.packet_samples, -(-e1 * step // h.packet_samples)):
            *_, reason, qe = self._packets.get(q, (None, None, "gone", None))
            if reason is not None or qe is None:
                continue
            q0, q1 = h.envelope_span(q)
            lo, hi = max(q0, e0), min(q1, e1)
            if hi > lo:
                codes[lo - e0 : hi - e0], lost[lo - e0 : hi - e0] = qe[lo - q0 : hi - q0], False
        return layer.apply(wav, codes, lost)

    def _revoice(self, p: int, a: int, b: int, wav: np.ndarray) -> tuple[int, np.ndarray]:
        """The pitch resynthesis of packet ``p``'s window (unit frames ``[a, b)``, audio ``wav``):
        ``(first sample, audio)``. The window's audio is prefixed with the audio kept from the
        packet before (so a voiced run that starts there is synthesised from its start, as in the
        whole-file decode), and the F0 contour is decoded from the codes of the packet before on
        (the F0 decoder's context). Then the audio from packet ``p``'s start is kept for the next."""
        h = self.header
        hist_start, hist = self._history if self._history is not None else (a * h.unit_hop, np.zeros(0, np.float32))
        start = min(hist_start, a * h.unit_hop)
        audio = np.concatenate([hist[: a * h.unit_hop - start], wav])
        c0 = h.f0_span(max(0, p - 1))[0] * h.f0_hop // h.unit_hop  # unit frame of the codes' start
        c0 = min(c0, start // h.unit_hop)
        _, codes = self._streams(c0, b)
        skip = (start - c0 * h.unit_hop) // pitch.HOP
        out = self.codec.revoice(audio, codes, h.pitch_stats, h.pitch_cents, skip)
        u0 = h.unit_span(p)[0] * h.unit_hop
        self._history = (u0, audio[u0 - start :])
        return start, out


def stream_decode(codec, source, lookahead: int | None = None, lookbehind: int | None = None) -> Iterator[AudioChunk]:
    """Yield :class:`AudioChunk` per packet from ``source`` (bytes, a binary file, or an iterable
    of byte chunks), each as soon as its window's packets have arrived."""
    dec = StreamDecoder(codec, lookahead, lookbehind)
    for chunk in iter_chunks(source):
        yield from dec.feed(chunk)
    yield from dec.close()


def lost_spans(chunks: list[AudioChunk]) -> list[LostSpan]:
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
