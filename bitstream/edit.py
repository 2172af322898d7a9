"""Edits made on the streams, without decoding audio (numpy only: no model, no torch).

    >>> s2 = change_tempo(set_speaker(s, other.speaker), 1.25)      # doctest: +SKIP
    >>> write_srb(shift_pitch(s2, 2.0), tables)                     # doctest: +SKIP

- **speaker** (voice conversion): the speaker code is one header field; swapping it makes the
  decoder speak the same units and intonation with another voice. The utterance's pitch level and
  spread (``pitch_stats``) belong to the voice: taken from the other file with its speaker, dropped
  with a bare speaker code (the decoder then takes the level from the speaker vector).
- **tempo**: units are runs at 50 Hz, so speaking faster is shorter runs. Run boundaries are scaled
  on the cumulative time axis and rounded (a run that rounds to nothing is dropped: at 1.25x that
  is a 1-frame run between two kept ones, 20 ms); F0 codes are resampled by nearest neighbour.
- **pitch**: F0 codes are normalised per utterance (the pitch level comes from the speaker code),
  so a shift of the level is not a code change: it is a header field (``pitch_cents``, format 1.1)
  that the decoder applies (``codec.synth``).

Every edit keeps the file's output gain (``gain``, format 1.3: how loud the input was), measured
against the original voice's decoder output; with another voice the decoded level may differ by
the few dB by which the vocoder's own level differs between voices.

Envelope codes (format 1.4) are corrections the encoder measured against its own decode of these
very streams: a speaker or tempo edit changes that decode (another voice's band levels, other
frame timing), so both drop them; a pitch shift leaves the streams as they are and keeps them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection

import numpy as np

from .errors import SrbStreamsError
from .streams import MAX_PITCH_CENTS, SpeakerCode, Streams, num_frames

#: Tempo factors outside this range are refused: beyond it runs vanish or the audio is mostly holds.
MIN_TEMPO, MAX_TEMPO = 0.25, 4.0


def set_speaker(streams: Streams, speaker: SpeakerCode | Streams, same_coding: Collection[int] = ()) -> Streams:
    """The same streams spoken by ``speaker``: a code, or the streams of a file to take it from
    (with that file's pitch level and spread; a bare code drops them, see the module doc).

    A file's speaker code means something only to its own model's speaker encoder, so the two files
    must come from the same model, or both from models in ``same_coding``: ids known to code
    speakers alike (a bundle and the models it lists under ``decodes``, which share its encoders).

    Envelope codes are dropped: they correct the band levels of the original voice's decode, which
    another voice does not have.
    """
    stats = None
    if isinstance(speaker, Streams):
        a, b = speaker.model_id, streams.model_id
        if a != b and not (a in same_coding and b in same_coding):
            raise SrbStreamsError(f"speaker comes from model {a:08x}, the streams from {b:08x}")
        speaker, stats = speaker.speaker, speaker.pitch_stats
    if not isinstance(speaker, SpeakerCode):
        raise SrbStreamsError(f"speaker must be a SpeakerCode or Streams, got {type(speaker).__name__}")
    return dataclasses.replace(streams.without_envelope(), speaker=speaker, pitch_stats=stats)


def shift_pitch(streams: Streams, semitones: float) -> Streams:
    """Ask the decoder to shift the pitch by ``semitones`` (added to any shift already asked for).
    The streams are unchanged, so envelope codes (measured against their decode) are kept."""
    cents = streams.pitch_cents + int(round(100 * semitones))
    if not -MAX_PITCH_CENTS <= cents <= MAX_PITCH_CENTS:
        raise SrbStreamsError(f"pitch shift of {cents} cents is outside +-{MAX_PITCH_CENTS}")
    return dataclasses.replace(streams, pitch_cents=cents)


def stretch_runs(symbols: np.ndarray, new_len: int) -> np.ndarray:
    """Runs of ``symbols`` scaled to ``new_len`` frames in all.

    Each run's end is mapped to ``round(end * new_len / len)`` on the cumulative axis, so the total
    is exact and rounding errors do not accumulate; runs whose scaled length is 0 disappear.
    """
    symbols = np.asarray(symbols)
    n = symbols.size
    if n == 0 or new_len == 0:
        return np.zeros(new_len, np.int32) if n else np.zeros(new_len, np.int32)
    change = np.flatnonzero(np.diff(symbols)) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [n]])
    new_ends = np.round(ends * (new_len / n)).astype(np.int64)
    new_ends[-1] = new_len
    lengths = np.diff(np.concatenate([[0], new_ends]))
    return np.repeat(symbols[starts], np.maximum(lengths, 0)).astype(np.int32)


def resample_nearest(codes: np.ndarray, new_len: int) -> np.ndarray:
    """``new_len`` codes, each the code whose frame covers the new frame's centre."""
    codes = np.asarray(codes)
    if codes.size == 0 or new_len == 0:
        return np.zeros(new_len, np.int32)
    src = np.floor((np.arange(new_len) + 0.5) * codes.size / new_len).astype(np.int64)
    return codes[np.clip(src, 0, codes.size - 1)].astype(np.int32)


def change_tempo(streams: Streams, factor: float) -> Streams:
    """Speak ``factor`` times faster (``factor > 1`` shortens): the duration becomes
    ``round(duration / factor)``; pitch is kept (the codes are resampled, not re-valued).

    Envelope codes are dropped: each corrects the decode of the frames it was measured on, and
    stretched runs put other frames (and other run boundaries) where it was."""
    if not MIN_TEMPO <= factor <= MAX_TEMPO:
        raise SrbStreamsError(f"tempo factor must be in [{MIN_TEMPO}, {MAX_TEMPO}], got {factor}")
    n = max(1, int(round(streams.num_samples / factor)))
    units = stretch_runs(streams.units, num_frames(n, streams.unit_hop))
    f0 = resample_nearest(streams.f0, num_frames(n, streams.f0_hop))
    return dataclasses.replace(streams.without_envelope(), units=units, f0=f0, num_samples=n)


def edit_srb(
    data: bytes,
    tables=None,
    *,
    speaker: SpeakerCode | Streams | None = None,
    semitones: float = 0.0,
    tempo: float = 1.0,
    same_coding: Collection[int] = (),
) -> bytes:
    """Edit ``.srb`` bytes: decode the symbols (not audio), edit, re-code with the same tables and
    packet size. ``tables`` as for :func:`bitstream.read_srb`; ``same_coding`` as for
    :func:`set_speaker`. Envelope codes survive a pitch shift only (see the module doc); a file
    that loses them is written without them (flag bit 6 clear).

    Raises:
        SrbFormatError: damaged input. SrbStreamsError: an edit out of range or a foreign speaker.
    """
    from .container import read_header, resolve_tables
    from .srbfile import read_srb, write_srb

    h = read_header(data, tables)
    streams = read_srb(data, tables)
    if speaker is not None:
        streams = set_speaker(streams, speaker, same_coding)
    if tempo != 1.0:
        streams = change_tempo(streams, tempo)
    if semitones:
        streams = shift_pitch(streams, semitones)
    if h.tables_id == 0:  # uniform tables: rebuilt from the header, as the reader did
        t = h.tables
    else:
        t = resolve_tables(h.tables_id, tables)
    return write_srb(streams, t, h.packet_frames, model_tables=h.model_tables)
