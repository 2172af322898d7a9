"""Where the bits of an ``.srb`` file go, stream by stream.

Each payload is split by the ideal code length (``-log2 p`` under the file's tables) of the symbols
it carries (units, their durations, F0 and, in files that carry them, envelope codes); what the
range coder spends beyond that (its final flush, probability quantisation) is reported as coder
overhead. Header, speaker and packet framing are counted from their bytes, so the
lines add up exactly to the file size.
"""

from __future__ import annotations

from dataclasses import dataclass

from .container import Header
from .container import TablesArg
from .srbfile import parse_srb
from .streams import GAIN_STEP_DB, index_bits


@dataclass(frozen=True)
class BitrateReport:
    """Bits per component of one file. ``lines()`` gives (name, bits) in display order."""

    duration: float
    header_bits: int
    speaker_bits: int
    pitch_stats_bits: int  # the utterance's pitch level and spread (format 1.2), when sent
    gain_bits: int  # the decoder's output gain (format 1.3), when sent
    units_bits: float
    durations_bits: float
    f0_bits: float
    framing_bits: int
    coder_bits: float
    total_bits: int
    num_packets: int
    fixed_length_bps: float  # paper-style: ceil(log2 K) bits per unit frame and per F0 frame
    header: Header
    envelope_bits: float = 0.0  # the envelope codes (format 1.4); 0 in a file without them

    def lines(self) -> list[tuple[str, float]]:
        """``(name, bits)`` in display order; the "envelope" line only for files that carry it."""
        envelope = [("envelope", self.envelope_bits)] if self.header.envelope else []
        return [
            ("units", self.units_bits),
            ("durations", self.durations_bits),
            ("f0", self.f0_bits),
            *envelope,
            ("speaker", self.speaker_bits),
            ("pitch level", self.pitch_stats_bits),
            ("gain", self.gain_bits),
            ("header", self.header_bits),
            ("packet framing", self.framing_bits),
            ("coder overhead", self.coder_bits),
        ]

    @property
    def bps(self) -> float:
        return self.total_bits / self.duration if self.duration else 0.0

    def format(self) -> str:
        """A human-readable table (what ``srb info`` prints)."""
        h = self.header
        d = self.duration or float("nan")
        tables_note = " (uniform)" if h.tables_id == 0 else " (the model's)" if h.model_tables else ""
        rows = [
            f"duration        {self.duration:.3f} s, {h.num_packets} packets of {h.packet_frames} unit frames "
            f"({h.packet_samples / h.sample_rate:.2f} s)",
            f"model {h.model_id:08x}  tables {h.tables_id:08x}{tables_note}  "
            f"units K={h.unit_vocab} @ {h.sample_rate / h.unit_hop:g} Hz  F0 K={h.f0_vocab} @ "
            f"{h.sample_rate / h.f0_hop:g} Hz ({h.f0_coding})  speaker {h.speaker.kind} of {h.speaker.alphabet}"
            + (f"  pitch level/spread {h.pitch_stats[0]}/{h.pitch_stats[1]}" if h.pitch_stats is not None else "")
            + (f"  gain {h.gain * GAIN_STEP_DB:+.1f} dB" if h.gain is not None else "")
            + (f"  envelope K={h.envelope_vocab} @ {h.sample_rate / h.envelope_hop:g} Hz" if h.envelope else ""),
            f"{'stream':<16}{'bits':>10}{'bits/s':>10}{'share':>8}",
        ]
        for name, bits in self.lines():
            rows.append(f"{name:<16}{bits:>10.1f}{bits / d:>10.1f}{bits / max(self.total_bits, 1):>8.1%}")
        rows.append(f"{'total':<16}{self.total_bits:>10d}{self.total_bits / d:>10.1f}{1:>8.0%}")
        rows.append(
            f"paper-style fixed-length (units + F0, no speaker, no framing): {self.fixed_length_bps:.1f} bits/s"
        )
        return "\n".join(rows)


def bitrate_report(data: bytes, tables: TablesArg = None) -> BitrateReport:
    """Decode ``data`` and account for every bit of it."""
    h, t, packets, units, f0, envelope = parse_srb(data, tables)
    unit_bits = dur_bits = f0_bits = envelope_bits = 0.0
    framing = payload = 0
    for packet, u, f, e in zip(packets, units, f0, envelope):
        s, d = t.units.information_bits(t.units.events(u))
        fs, fd = t.f0.information_bits(t.f0.events(f, units=u, ratio=t.f0_ratio))
        unit_bits += s
        dur_bits += d
        f0_bits += fs + fd
        if e is not None:
            envelope_bits += sum(t.envelope.information_bits(t.envelope.events(e)))
        framing += 8 * packet.framing_bytes
        payload += 8 * len(packet.payload)
    duration = h.num_samples / h.sample_rate
    stats_bits = 16 if h.pitch_stats is not None else 0
    gain_bits = 8 if h.gain is not None else 0
    fixed = index_bits(h.unit_vocab) * h.sample_rate / h.unit_hop + index_bits(h.f0_vocab) * h.sample_rate / h.f0_hop
    return BitrateReport(
        duration=duration,
        header_bits=8 * (h.size - h.speaker_bytes) - stats_bits - gain_bits,
        speaker_bits=8 * h.speaker_bytes,
        pitch_stats_bits=stats_bits,
        gain_bits=gain_bits,
        units_bits=unit_bits,
        durations_bits=dur_bits,
        f0_bits=f0_bits,
        framing_bits=framing,
        coder_bits=payload - unit_bits - dur_bits - f0_bits - envelope_bits,
        total_bits=8 * len(data),
        num_packets=h.num_packets,
        fixed_length_bps=fixed,
        header=h,
        envelope_bits=envelope_bits,
    )
