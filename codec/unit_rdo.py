"""Rate-distortion choice of the content units: the encoder picks, per packet, the unit sequence
that minimises ``distortion + lambda * bits`` instead of each frame's most likely unit.

The content encoder gives every 20 ms frame a distribution over the K units; its argmax flickers
(runs of 1.9 frames on average), and every change of unit costs a unit symbol and a duration in
the bitstream. Like a video encoder's rate-distortion optimisation, this module trades a little
posterior probability for fewer runs:

    cost(u_1..u_T) = sum_t -ln p(u_t | frame t)  +  lambda * bits(u_1..u_T)

``bits`` is the run-length code of :mod:`bitstream.runlength` under the bundle's unit tables:
for each run, ``-log2`` of its symbol given the previous run's (the bigram rows of the tables,
with the previous symbol excluded as the coder excludes it; a trigram, if the tables have one, is
not used here, so this is the bigram's code length), and of its duration given its symbol,
escapes for runs of ``max_run`` frames or more included. Runs end and contexts restart at packet
boundaries, exactly as the coder does, so the optimum of one packet does not depend on any other:
the search runs packet by packet (a streaming encoder can do the same with no extra delay).

The search is a segment Viterbi over (frame boundary, unit) with two kinds of state, "a run of
``u`` is open here" and "a run of ``u`` ended here"; each step takes a chunk of 1 .. ``max_run - 1``
frames that ends the run or an escape chunk of ``max_run - 1`` frames that does not. Work per
frame: ``O(K^2 + K * max_run)``. ``lambda = 0`` gives the argmax exactly (no search is run).
"""

from __future__ import annotations

import numpy as np

from bitstream.tables import StreamTables

from .errors import ModelError


class RateModel:
    """Code lengths (bits) of the run-length unit coding under ``tables``, as the search uses them.

    Args:
        tables: the bundle's unit :class:`bitstream.tables.StreamTables` (run-length coding).
    """

    def __init__(self, tables: StreamTables):
        if tables.coding != "runlength":
            raise ModelError("rate-distortion unit choice needs run-length coded unit tables")
        k = self.vocab = tables.vocab
        self.max_run = tables.max_run
        # The tables without their trigram: what the search's code lengths are exact for.
        self._bigram = StreamTables(k, "runlength", tables.max_run, tables.weights["symbol"], tables.weights["duration"])
        sym = tables.symbol
        if sym.shape[0] == 1:  # unigram: same row after every symbol and at START
            sym = np.repeat(sym, k + 1, axis=0)
        with np.errstate(divide="ignore"):
            bits = -np.log2(sym)  # (K + 1, K): row = previous run's symbol (K = START)
            # The coder removes the previous symbol from the row: renormalise, and forbid it.
            keep = 1.0 - sym[np.arange(k), np.arange(k)]
            bits[:k] += np.log2(np.maximum(keep, 1e-300))[:, None]
        bits[np.arange(k), np.arange(k)] = np.inf
        if k == 1:  # a one-symbol alphabet codes no symbols
            bits[:] = 0.0
        self.symbol_bits = bits  # (K + 1, K)
        dur = tables.duration if tables.duration.shape[0] == k else np.repeat(tables.duration, k, axis=0)
        with np.errstate(divide="ignore"):
            self.duration_bits = -np.log2(dur)  # (K, max_run): [:, d - 1] ends after d frames; [:, -1] escape

    def run_bits(self, units: np.ndarray, packet_frames: int) -> float:
        """Code length of ``units`` under this model (for tests and diagnostics): the coder's own
        count (:mod:`bitstream.runlength` events) under the bigram part of the tables."""
        starts = np.arange(0, units.size, packet_frames)
        return float(sum(self._bigram.information_bits(self._bigram.events(np.asarray(units), starts))))


def choose_units(log_probs: np.ndarray, rate: RateModel, lam: float, packet_frames: int) -> np.ndarray:
    """The unit sequence of least ``-sum log_probs + lam * bits``.

    Args:
        log_probs: ``(T, K)`` natural-log posteriors of each frame's unit (log-softmax of the
            content encoder's logits).
        rate: the bitstream's code lengths (:class:`RateModel`).
        lam: nats of posterior traded per bit; 0 gives the per-frame argmax.
        packet_frames: unit frames per packet (runs and contexts restart at each packet).

    Returns:
        ``(T,)`` int32 unit ids.
    """
    lp = np.asarray(log_probs, np.float64)
    if lp.ndim != 2 or lp.shape[1] != rate.vocab:
        raise ModelError(f"log_probs must be (T, {rate.vocab}), got {lp.shape}")
    if not np.isfinite(lam) or lam < 0:
        raise ModelError(f"lambda must be finite and >= 0, got {lam}")
    if lam == 0 or lp.shape[0] == 0:
        return lp.argmax(axis=1).astype(np.int32) if lp.shape[0] else np.zeros(0, np.int32)
    out = [_packet(lp[s:s + packet_frames], rate, lam) for s in range(0, lp.shape[0], packet_frames)]
    return np.concatenate(out).astype(np.int32)


def _packet(lp: np.ndarray, rate: RateModel, lam: float) -> np.ndarray:
    """Segment Viterbi over one packet's frames (see the module doc)."""
    t_max, k = lp.shape
    step = rate.max_run - 1  # frames per escape chunk; final chunks are 1..step frames
    sym = lam * rate.symbol_bits  # (K + 1, K)
    dur_end = lam * rate.duration_bits[:, :step].T  # (step, K): row d - 1 ends the run after d frames
    dur_esc = lam * rate.duration_bits[:, step]  # (K,)
    cum = np.zeros((t_max + 1, k))
    cum[1:] = np.cumsum(-lp, axis=0)
    opened = np.full((t_max + 1, k), np.inf)  # a run of u open at boundary t, its symbol paid
    closed = np.full((t_max + 1, k), np.inf)  # a run of u ended at boundary t
    opened[0] = sym[rate.vocab]
    end_len = np.zeros((t_max + 1, k), np.int64)  # chunk length that closed the run
    open_from = np.full((t_max + 1, k), -1, np.int64)  # previous run's unit, or -1: after an escape
    cols = np.arange(k)
    for t in range(1, t_max + 1):
        dm = min(step, t)
        # closed[t][u] = min over d of opened[t - d][u] + distortion of frames t-d..t-1 + duration
        cand = opened[t - dm:t][::-1] + (cum[t] - cum[t - dm:t][::-1]) + dur_end[:dm]
        best = cand.argmin(axis=0)
        closed[t] = cand[best, cols]
        end_len[t] = best + 1
        # a new run after a closed one (the same unit cannot follow itself)
        trans = closed[t][:, None] + sym[:k]  # (previous u', next u)
        prev = trans.argmin(axis=0)
        opened[t] = trans[prev, cols]
        open_from[t] = prev
        if t >= step:  # or an escape chunk: the run goes on past t
            esc = opened[t - step] + (cum[t] - cum[t - step]) + dur_esc
            take = esc < opened[t]
            opened[t] = np.where(take, esc, opened[t])
            open_from[t] = np.where(take, -1, open_from[t])
    units = np.empty(t_max, np.int64)
    t, u, is_open = t_max, int(closed[t_max].argmin()), False
    while t > 0:
        if not is_open:
            d = int(end_len[t, u])
            units[t - d:t] = u
            t, is_open = t - d, True
        else:
            src = int(open_from[t, u])
            if src < 0:
                units[t - step:t] = u
                t -= step
            else:
                u, is_open = src, False
    return units
