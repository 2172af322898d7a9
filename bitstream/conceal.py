"""Concealment of lost packets in the symbol domain (numpy only).

A lost packet leaves frames with no symbols. They are filled by holding neighbours: the first half
of a gap holds the last intact frame before it, the second half the first intact frame after it.
The vocoder then sees plausible context on both sides of every intact packet (its receptive field
reaches ~0.3 s into the gap), so the intact audio next to a gap is decoded as if nothing was lost;
the audio of the gap itself is faded out by the decoder (``codec.synth.loss_gain``) because a held
unit is a buzz, not speech.
"""

from __future__ import annotations

import numpy as np


def hold_fill(symbols: np.ndarray, lost: np.ndarray, default: int = 0) -> np.ndarray:
    """``symbols`` with every lost frame replaced by the nearest intact frame's symbol (ties and
    gap halves: the earlier half holds the left neighbour); ``default`` when nothing is intact."""
    symbols = np.asarray(symbols).copy()
    lost = np.asarray(lost, bool)
    if not lost.any():
        return symbols
    good = np.flatnonzero(~lost)
    if good.size == 0:
        symbols[:] = default
        return symbols
    idx = np.arange(symbols.size)
    right = np.searchsorted(good, idx)  # first intact frame at or after idx
    left = right - 1
    r = good[np.clip(right, 0, good.size - 1)]
    l = good[np.clip(left, 0, good.size - 1)]
    has_l, has_r = left >= 0, right < good.size
    use_left = has_l & (~has_r | (idx - l <= r - idx))
    src = np.where(use_left, l, r)
    symbols[lost] = symbols[src[lost]]
    return symbols
