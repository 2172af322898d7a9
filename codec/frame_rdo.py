"""Rate-distortion choice of per-frame codes: the sequence of least ``distortion + lambda * bits``.

A vector quantiser's nearest code is the least distortion, but not the best trade: the bitstream
codes each frame's code given the previous one (:mod:`bitstream.runlength`, per-frame coding with
a bigram table), so a code a little farther away that is much more likely after its predecessor
can save more bits than it costs. With ``d[t, k]`` the distortion of code ``k`` at frame ``t``:

    cost(c_1..c_T) = sum_t d[t, c_t]  +  lambda * sum_t bits(c_t | c_{t-1})      (c_0 = START)

Contexts restart at every packet (as the coder restarts them), so packets are searched one by one
by a Viterbi over the ``K`` codes: ``O(T K^2)`` work, a packet's choice independent of every other
packet's. ``lambda = 0`` gives the nearest codes exactly (no search is run). Used by the envelope
layer (:mod:`codec.envelope`); the unit stream's run-length version is :mod:`codec.unit_rdo`.
"""

from __future__ import annotations

import numpy as np

from bitstream.tables import StreamTables

from .errors import ModelError


def code_lengths(tables: StreamTables) -> np.ndarray:
    """``(K + 1, K)`` bits of each code after each previous code (row ``K``: a packet's first
    frame), exactly the coder's ``-log2 p`` under ``tables``.

    Raises:
        ModelError: tables that are not per-frame, or that code given the units.
    """
    if tables.coding != "frame" or tables.unit_classes is not None:
        raise ModelError("rate-distortion code choice needs per-frame tables without unit contexts")
    k = tables.vocab
    sym = tables.symbol if tables.symbol.shape[0] == k + 1 else np.repeat(tables.symbol, k + 1, axis=0)
    with np.errstate(divide="ignore"):
        return -np.log2(sym)


def choose_codes(distortion: np.ndarray, bits: np.ndarray, lam: float, starts=None) -> np.ndarray:
    """The codes of least ``sum distortion + lam * bits`` (module doc).

    Args:
        distortion: ``(T, K)`` cost of each code at each frame.
        bits: ``(K + 1, K)`` code lengths (:func:`code_lengths`).
        lam: distortion traded per bit; 0 gives the per-frame minimum.
        starts: frames where packets (and contexts) start; ``None``: frame 0 only.

    Returns:
        ``(T,)`` int32 codes.
    """
    d = np.asarray(distortion, np.float64)
    t_all, k = d.shape
    if bits.shape != (k + 1, k):
        raise ValueError(f"code lengths {bits.shape} do not fit {k} codes")
    if lam < 0 or not np.isfinite(lam):
        raise ValueError(f"lambda must be finite and >= 0, got {lam}")
    if lam == 0 or t_all == 0:
        return d.argmin(axis=1).astype(np.int32) if t_all else np.zeros(0, np.int32)
    bounds = sorted({0, *(int(s) for s in ([] if starts is None else starts) if 0 < s < t_all), t_all})
    step = lam * bits[:k]  # (previous, next)
    out = np.empty(t_all, np.int32)
    cols = np.arange(k)
    for a, b in zip(bounds[:-1], bounds[1:]):
        cost = d[a] + lam * bits[k]
        back = np.empty((b - a, k), np.int64)
        for t in range(a + 1, b):
            total = cost[:, None] + step
            back[t - a] = total.argmin(axis=0)
            cost = total[back[t - a], cols] + d[t]
        c = int(cost.argmin())
        for t in range(b - 1, a - 1, -1):
            out[t] = c
            c = int(back[t - a, c])
    return out
