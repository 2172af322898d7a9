"""The :class:`Streams` value: everything the codec transmits, as plain numpy arrays.

``Streams`` is the only interface between the torch side (``codec``) and this package. It holds
symbols, not audio: content units at the unit frame rate, F0 codes at the F0 frame rate, the
speaker code and, optionally (format 1.4), envelope codes at the envelope frame rate. Frame counts
are implied by the number of samples, ``ceil(num_samples / hop)``, so the container never spends
bits on them and a codec cannot produce streams of inconsistent length.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from .errors import SrbStreamsError

#: Largest symbol alphabet of any stream (units, F0, speaker codebook); keeps tables and the
#: decoder's per-context model cache bounded.
MAX_VOCAB = 1 << 16
#: Bits per speaker index are stored in 5 bits of the header, so at most 16.
MAX_SPEAKER_BITS = 16
#: A speaker embedding is at most this many codebook indices (64 x 16 bits = 128 bytes).
MAX_SPEAKER_LENGTH = 64
#: Largest sample count a header may claim (2**40 samples is 2 years at 16 kHz).
MAX_SAMPLES = 1 << 40
MAX_SAMPLE_RATE = 1 << 20
MAX_HOP = 1 << 16
#: Largest pitch shift a file may ask the decoder for: two octaves either way.
MAX_PITCH_CENTS = 2400
#: Output gain (format 1.3): one signed byte of GAIN_STEP_DB steps, -64 .. +63.5 dB.
MIN_GAIN, MAX_GAIN = -128, 127
GAIN_STEP_DB = 0.5


def num_frames(num_samples: int, hop: int) -> int:
    """Frames of a stream with ``hop`` samples per frame covering ``num_samples`` samples."""
    return -(-num_samples // hop)


def index_bits(alphabet: int) -> int:
    """Bits of a fixed-length code for ``alphabet`` symbols: ``ceil(log2(alphabet))`` (0 for 1)."""
    return max(0, math.ceil(math.log2(alphabet))) if alphabet > 1 else 0


@dataclass(frozen=True, eq=False)
class SpeakerCode:
    """Who speaks: an ID in the model's table of known speakers, or an embedding coded as indices.

    Args:
        indices: ``(L,)`` int32. One entry (the speaker ID) for a known speaker; ``L`` codebook
            indices for an unseen speaker.
        alphabet: size of the ID table or of the codebook; every index is below it.
        kind: ``"id"`` or ``"vector"``.
    """

    indices: np.ndarray
    alphabet: int
    kind: str = "id"

    def __post_init__(self):
        idx = np.ascontiguousarray(np.asarray(self.indices).reshape(-1))
        if idx.dtype.kind not in "iu" and idx.size:
            raise SrbStreamsError(f"speaker indices must be integers, got {idx.dtype}")
        idx = idx.astype(np.int32)
        object.__setattr__(self, "indices", idx)
        if self.kind not in ("id", "vector"):
            raise SrbStreamsError(f"speaker kind must be 'id' or 'vector', got {self.kind!r}")
        if not 1 <= self.alphabet <= 1 << MAX_SPEAKER_BITS:
            raise SrbStreamsError(f"speaker alphabet must be in 1..{1 << MAX_SPEAKER_BITS}, got {self.alphabet}")
        if self.kind == "id" and idx.size != 1:
            raise SrbStreamsError(f"a known speaker is one ID, got {idx.size} indices")
        if not 1 <= idx.size <= MAX_SPEAKER_LENGTH:
            raise SrbStreamsError(f"speaker code needs 1..{MAX_SPEAKER_LENGTH} indices, got {idx.size}")
        if idx.min() < 0 or idx.max() >= self.alphabet:
            raise SrbStreamsError(f"speaker indices must lie in [0, {self.alphabet})")

    @classmethod
    def known(cls, speaker_id: int, num_speakers: int) -> "SpeakerCode":
        """The speaker ``speaker_id`` of a table of ``num_speakers`` known speakers."""
        return cls(np.array([speaker_id]), num_speakers, "id")

    @classmethod
    def vector(cls, indices, codebook_size: int) -> "SpeakerCode":
        """An unseen speaker, as indices into a codebook of ``codebook_size`` entries."""
        return cls(np.asarray(indices), codebook_size, "vector")

    @property
    def bits(self) -> int:
        """Bits this code occupies in the header (fixed-length)."""
        return index_bits(self.alphabet) * self.indices.size

    def __eq__(self, other):
        return (
            isinstance(other, SpeakerCode)
            and self.kind == other.kind
            and self.alphabet == other.alphabet
            and np.array_equal(self.indices, other.indices)
        )

    def __repr__(self):
        return f"SpeakerCode(kind={self.kind!r}, alphabet={self.alphabet}, indices={self.indices.tolist()})"


def _symbols(name: str, values, vocab: int, expected: int) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise SrbStreamsError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size and arr.dtype.kind not in "iu":
        raise SrbStreamsError(f"{name} must be integers, got {arr.dtype}")
    if arr.size != expected:
        raise SrbStreamsError(f"{name} has {arr.size} frames, expected {expected} for this many samples")
    if arr.size and (arr.min() < 0 or arr.max() >= vocab):
        raise SrbStreamsError(f"{name} symbols must lie in [0, {vocab}), got [{arr.min()}, {arr.max()}]")
    return np.ascontiguousarray(arr, dtype=np.int32)


@dataclass(frozen=True, eq=False)
class Streams:
    """What one ``.srb`` file carries.

    Args:
        units: ``(T_u,)`` int32 content units, ``T_u = ceil(num_samples / unit_hop)``.
        f0: ``(T_f,)`` int32 F0 codes, ``T_f = ceil(num_samples / f0_hop)``; which code means
            "unvoiced" is the model's business (srb's models use 0).
        speaker: the speaker code.
        num_samples: length of the audio these streams describe.
        sample_rate: of that audio, in Hz.
        unit_hop: samples per unit frame (320 at 16 kHz = 50 Hz).
        f0_hop: samples per F0 frame (1280 at 16 kHz = 12.5 Hz).
        unit_vocab: number of distinct units (k-means K).
        f0_vocab: number of distinct F0 codes, unvoiced included.
        model_id: 32-bit id of the model that produced (and can decode) these streams.
        pitch_cents: pitch shift the decoder applies, in cents (an edit made in the bitstream,
            see :mod:`bitstream.edit`; F0 codes are per-utterance normalised, so a shift of the
            pitch level cannot be expressed in them). 0 = none.
        pitch_stats: ``(level, spread)``, two bytes describing the utterance's pitch level and
            spread, which the per-utterance normalised F0 codes leave out (their meaning is the
            model's business: srb's is in ``codec.pitch.stats_code``); ``None`` = not sent
            (a model without them, or nothing voiced).
        gain: the gain the decoder applies to its output, in 0.5 dB steps (-128..127: -64 to
            +63.5 dB; format 1.3): the encoder's measure of how much louder or quieter the
            input was than the decoder's output, since units, F0 codes and speaker codes carry
            no loudness. ``None`` = none (the decoder's own level).
        envelope: ``None``, or (format 1.4) ``(T_e,)`` int32 envelope codes,
            ``T_e = ceil(num_samples / envelope_hop)``: one vector-quantiser index per envelope
            frame. What a code means is the model's business; srb's codec sends a correction of
            its band levels, chosen by the encoder against its own decode of the other streams,
            so the codes describe what that decode got wrong rather than the audio itself.
        envelope_vocab: codebook size of the envelope codes, ``1..MAX_VOCAB``; 0 without them.
        envelope_hop: samples per envelope frame, a multiple of ``unit_hop`` (packets then hold
            whole envelope frames, see docs/FORMAT.md); 0 without envelope codes.
    """

    units: np.ndarray
    f0: np.ndarray
    speaker: SpeakerCode
    num_samples: int
    sample_rate: int = 16000
    unit_hop: int = 320
    f0_hop: int = 1280
    unit_vocab: int = 100
    f0_vocab: int = 21
    model_id: int = 0
    pitch_cents: int = 0
    pitch_stats: tuple[int, int] | None = None
    gain: int | None = None
    envelope: np.ndarray | None = None
    envelope_vocab: int = 0
    envelope_hop: int = 0

    def __post_init__(self):
        for name, value, lo, hi in (
            ("num_samples", self.num_samples, 0, MAX_SAMPLES),
            ("sample_rate", self.sample_rate, 1, MAX_SAMPLE_RATE),
            ("unit_hop", self.unit_hop, 1, MAX_HOP),
            ("f0_hop", self.f0_hop, 1, MAX_HOP),
            ("unit_vocab", self.unit_vocab, 1, MAX_VOCAB),
            ("f0_vocab", self.f0_vocab, 1, MAX_VOCAB),
            ("model_id", self.model_id, 0, (1 << 32) - 1),
            ("pitch_cents", self.pitch_cents, -MAX_PITCH_CENTS, MAX_PITCH_CENTS),
            ("envelope_vocab", self.envelope_vocab, 0, MAX_VOCAB),
            ("envelope_hop", self.envelope_hop, 0, MAX_HOP),
        ):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or not lo <= value <= hi:
                raise SrbStreamsError(f"{name} must be an integer in [{lo}, {hi}], got {value!r}")
            object.__setattr__(self, name, int(value))
        if self.pitch_stats is not None:
            stats = tuple(self.pitch_stats)
            if len(stats) != 2 or not all(
                isinstance(v, (int, np.integer)) and not isinstance(v, bool) and 0 <= v <= 255 for v in stats
            ):
                raise SrbStreamsError(f"pitch_stats must be two integers in [0, 255], got {self.pitch_stats!r}")
            object.__setattr__(self, "pitch_stats", (int(stats[0]), int(stats[1])))
        if self.gain is not None:
            g = self.gain
            if not isinstance(g, (int, np.integer)) or isinstance(g, bool) or not MIN_GAIN <= g <= MAX_GAIN:
                raise SrbStreamsError(f"gain must be an integer in [{MIN_GAIN}, {MAX_GAIN}] (0.5 dB steps), got {g!r}")
            object.__setattr__(self, "gain", int(g))
        if not isinstance(self.speaker, SpeakerCode):
            raise SrbStreamsError(f"speaker must be a SpeakerCode, got {type(self.speaker).__name__}")
        object.__setattr__(
            self, "units", _symbols("units", self.units, self.unit_vocab, num_frames(self.num_samples, self.unit_hop))
        )
        object.__setattr__(
            self, "f0", _symbols("f0", self.f0, self.f0_vocab, num_frames(self.num_samples, self.f0_hop))
        )
        if self.envelope is None:
            if self.envelope_vocab or self.envelope_hop:
                raise SrbStreamsError(
                    f"envelope_vocab and envelope_hop must be 0 without envelope codes, got {self.envelope_vocab} "
                    f"and {self.envelope_hop}"
                )
        else:
            if self.envelope_vocab < 1:
                raise SrbStreamsError(f"envelope codes need an envelope_vocab in 1..{MAX_VOCAB}, got 0")
            # Packets hold whole unit frames; an envelope frame of whole unit frames lets them hold
            # whole envelope frames too, so each packet stays decodable on its own.
            if self.envelope_hop < 1 or self.envelope_hop % self.unit_hop:
                raise SrbStreamsError(
                    f"envelope_hop must be a positive multiple of unit_hop ({self.unit_hop}), got {self.envelope_hop}"
                )
            expected = num_frames(self.num_samples, self.envelope_hop)
            object.__setattr__(self, "envelope", _symbols("envelope", self.envelope, self.envelope_vocab, expected))

    @property
    def duration(self) -> float:
        """Seconds of audio."""
        return self.num_samples / self.sample_rate

    @property
    def unit_rate(self) -> float:
        """Unit frames per second."""
        return self.sample_rate / self.unit_hop

    @property
    def f0_rate(self) -> float:
        """F0 frames per second."""
        return self.sample_rate / self.f0_hop

    @property
    def envelope_rate(self) -> float:
        """Envelope frames per second (0.0 without envelope codes)."""
        return self.sample_rate / self.envelope_hop if self.envelope is not None else 0.0

    def without_envelope(self) -> "Streams":
        """These streams without envelope codes (what edits that invalidate them return)."""
        return dataclasses.replace(self, envelope=None, envelope_vocab=0, envelope_hop=0)

    def __eq__(self, other):
        if not isinstance(other, Streams):
            return NotImplemented
        return (
            np.array_equal(self.units, other.units)
            and np.array_equal(self.f0, other.f0)
            and self.speaker == other.speaker
            and (self.envelope is None) == (other.envelope is None)
            and (self.envelope is None or np.array_equal(self.envelope, other.envelope))
            and all(
                getattr(self, k) == getattr(other, k)
                for k in ("num_samples", "sample_rate", "unit_hop", "f0_hop", "unit_vocab", "f0_vocab", "model_id",
                          "pitch_cents", "pitch_stats", "gain", "envelope_vocab", "envelope_hop")
            )
        )

    def __repr__(self):
        envelope = f", envelope {self.envelope.size}x<{self.envelope_vocab}" if self.envelope is not None else ""
        return (
            f"Streams({self.duration:.2f} s at {self.sample_rate} Hz, units {self.units.size}x<{self.unit_vocab}, "
            f"f0 {self.f0.size}x<{self.f0_vocab}{envelope}, {self.speaker!r}, model {self.model_id:08x})"
        )
