"""Turning a packet's slice of a symbol stream into coding events, and the rules to undo it.

Two codings, chosen per stream:

``"runlength"``: the slice is cut into maximal runs; each run is coded as its symbol (context:
the previous run's symbol, or START at the packet's first run) followed by its duration
(context: the run's symbol). Durations use an alphabet of ``max_run`` symbols: ``d < max_run - 1``
means "the run ends after ``d + 1`` frames"; ``d = max_run - 1`` is the escape, "``max_run - 1``
frames and the run goes on", so runs of any length need no extra table. Because runs are maximal,
a run's symbol never equals the previous one; the coder removes that symbol from the context's
distribution (which also means a two-symbol alphabet costs no symbol bits at all).

With ``order=2`` (trigram symbol tables) a run's symbol has two runs of context: its context is
``prev1 + (vocab + 1) * prev2``, the previous run's symbol and the one before it, each START
(``vocab``) where the packet has no such run.

``"frame"``: every frame's symbol is coded with the previous frame's symbol (or START) as context;
with ``extra`` (one small integer per frame, e.g. what the unit stream says about the frame) the
context is ``prev + (vocab + 1) * extra``.

A stream whose alphabet has one symbol codes no symbols (constriction cannot build a one-symbol
model, and no bits are needed): only durations, in run-length coding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CODINGS = ("runlength", "frame")
SYMBOL, DURATION = 0, 1


@dataclass(frozen=True)
class Events:
    """Coding events of a stream, in coding order, grouped by packet.

    Attributes:
        part: ``(E,)`` int8, SYMBOL or DURATION.
        ctx: ``(E,)`` int64 context of each event (for symbols: previous symbol, ``vocab`` = START,
            or with ``order=2`` ``prev1 + (vocab + 1) * prev2``; for durations: the run's symbol).
        sym: ``(E,)`` int32 the symbol coded.
        offsets: ``(P + 1,)`` events of packet ``p`` are ``offsets[p]:offsets[p + 1]``.
    """

    part: np.ndarray
    ctx: np.ndarray
    sym: np.ndarray
    offsets: np.ndarray

    def __len__(self):
        return int(self.sym.size)

    def select(self, part: int) -> tuple[np.ndarray, np.ndarray]:
        mask = self.part == part
        return self.ctx[mask], self.sym[mask]


def _empty(num_packets: int) -> Events:
    return Events(np.zeros(0, np.int8), np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(num_packets + 1, np.int64))


def _packet_starts(starts) -> np.ndarray:
    return np.asarray([0] if starts is None else starts, dtype=np.int64)


def runlength_events(seq: np.ndarray, vocab: int, max_run: int, starts=None, order: int = 1) -> Events:
    """Events of ``seq`` in run-length coding; ``starts`` are the frames where packets begin;
    ``order`` 1 or 2 runs of symbol context (see the module doc)."""
    starts = _packet_starts(starts)
    if seq.size == 0:
        return _empty(starts.size)
    new = np.ones(seq.size, bool)
    new[1:] = seq[1:] != seq[:-1]
    packet_first = np.zeros(seq.size, bool)
    packet_first[starts[starts < seq.size]] = True
    new |= packet_first
    first = np.flatnonzero(new)
    values = seq[first]
    lengths = np.diff(np.append(first, seq.size))
    step = max_run - 1  # frames carried by the escape symbol
    escapes = (lengths - 1) // step
    final = lengths - escapes * step  # in 1..max_run-1
    has_symbol = 1 if vocab > 1 else 0
    per_run = has_symbol + escapes + 1
    run_of = np.repeat(np.arange(values.size), per_run)
    run_first_event = np.cumsum(per_run) - per_run
    pos = np.arange(run_of.size) - run_first_event[run_of]
    is_symbol = (pos == 0) & bool(has_symbol)
    is_last = pos == per_run[run_of] - 1
    prev = np.empty(values.size, np.int64)
    prev[0] = vocab
    prev[1:] = values[:-1]
    starts_packet = packet_first[first]
    prev[starts_packet] = vocab  # each packet starts afresh
    if order == 2:
        prev2 = np.empty(values.size, np.int64)
        prev2[0] = vocab
        prev2[1:] = prev[:-1]
        prev2[starts_packet] = vocab
        prev = prev + (vocab + 1) * prev2
    part = np.where(is_symbol, SYMBOL, DURATION).astype(np.int8)
    ctx = np.where(is_symbol, prev[run_of], values[run_of]).astype(np.int64)
    sym = np.where(is_symbol, values[run_of], np.where(is_last, final[run_of] - 1, step)).astype(np.int32)
    # Packet p's events start at its first run's first event.
    first_run = np.searchsorted(first, starts)
    offsets = np.append(np.append(run_first_event, run_of.size)[first_run], run_of.size)
    return Events(part, ctx, sym, offsets)


def frame_events(seq: np.ndarray, vocab: int, starts=None, extra: np.ndarray | None = None) -> Events:
    """Events of ``seq`` in per-frame context coding (none for a one-symbol alphabet); ``extra``:
    ``(len(seq),)`` further context of each frame (see the module doc)."""
    starts = _packet_starts(starts)
    if seq.size == 0 or vocab == 1:
        return _empty(starts.size)
    ctx = np.empty(seq.size, np.int64)
    ctx[0] = vocab
    ctx[1:] = seq[:-1]
    ctx[starts[starts < seq.size]] = vocab
    if extra is not None:
        ctx += (vocab + 1) * np.asarray(extra, np.int64)
    offsets = np.append(np.minimum(starts, seq.size), seq.size)
    return Events(np.zeros(seq.size, np.int8), ctx, seq.astype(np.int32), offsets)


def events(seq: np.ndarray, vocab: int, coding: str, max_run: int, starts=None, order: int = 1, extra=None) -> Events:
    """Events of ``seq`` with packets beginning at frames ``starts`` (default: one packet);
    ``order=2`` (run-length coding only) gives symbols two runs of context, ``extra`` (per-frame
    coding only) a further context per frame."""
    if coding == "runlength":
        return runlength_events(seq, vocab, max_run, starts, order)
    return frame_events(seq, vocab, starts, extra)
