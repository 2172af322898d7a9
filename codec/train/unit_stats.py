"""Statistics of unit streams that predict their bitrate: run length, unigram and bigram entropy.

Units are stored as in ``.cache/teacher/{split}_k{K}.npz``: one concatenated ``units`` array and
``unit_offsets`` (``n + 1`` entries) marking the utterances. numpy (and ``bitstream``) only.
"""

from __future__ import annotations

import numpy as np

from bitstream import DEFAULT_PACKET_FRAMES, fit_stream_tables

FRAME_RATE = 50.0


def split_units(units: np.ndarray, offsets: np.ndarray) -> list[np.ndarray]:
    """Per-utterance views of the concatenated ``units``."""
    return [units[a:b] for a, b in zip(offsets[:-1], offsets[1:])]


def collapse_runs(units: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop repeats of the previous unit within each utterance; returns ``(runs, run_offsets)``."""
    keep = np.ones(len(units), bool)
    keep[1:] = units[1:] != units[:-1]
    keep[offsets[:-1][offsets[:-1] < len(units)]] = True  # every utterance starts a run
    return units[keep], np.r_[0, np.cumsum(keep)][offsets]


def _pairs(runs: np.ndarray, run_offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    inside = np.ones(max(len(runs) - 1, 0), bool)
    cross = run_offsets[1:-1] - 1  # pair from one utterance's last run to the next one's first
    inside[cross[(cross >= 0) & (cross < len(inside))]] = False
    return runs[:-1][inside].astype(np.int64), runs[1:][inside].astype(np.int64)


def run_bigram(runs: np.ndarray, run_offsets: np.ndarray, k: int, alpha: float = 0.5) -> np.ndarray:
    """``(K, K)`` p(next run's unit | this run's unit), add-``alpha``; zero diagonal (a run never repeats)."""
    a, b = _pairs(runs, run_offsets)
    counts = np.bincount(a * k + b, minlength=k * k).reshape(k, k).astype(np.float64) + alpha
    np.fill_diagonal(counts, 0.0)
    return counts / counts.sum(1, keepdims=True)


def entropy_bits(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log2(p)).sum())


def unit_stats(units: np.ndarray, offsets: np.ndarray, k: int, bigram: np.ndarray | None = None,
               tables=None) -> dict:
    """Summary of one split's units.

    Args:
        units, offsets: concatenated units and ``(n + 1,)`` utterance offsets.
        k: alphabet size.
        bigram: ``(K, K)`` run bigram from :func:`run_bigram` on train; default: fitted on these units.
        tables: ``bitstream.StreamTables`` trained on train units (:func:`fit_unit_tables`); if given,
            also the ideal code length of units + durations as the codec would code them.

    Returns:
        frames; ``run_len`` (frames per run); ``H1`` (unigram entropy, bits/frame, plug-in);
        ``H2_runs`` (cross-entropy of each run's unit given the previous run's under ``bigram``,
        bits/run); ``H2_bps`` (that times runs per second); ``coded_bps`` (units + durations, bits/s).
    """
    runs, ro = collapse_runs(units, offsets)
    if bigram is None:
        bigram = run_bigram(runs, ro, k)
    a, b = _pairs(runs, ro)
    h2 = float(-np.log2(bigram[a, b]).mean()) if len(a) else 0.0
    seconds = len(units) / FRAME_RATE
    out = dict(frames=int(len(units)), run_len=len(units) / max(len(runs), 1),
               H1=entropy_bits(np.bincount(units, minlength=k)), H2_runs=h2, H2_bps=h2 * len(runs) / seconds)
    if tables is not None:
        bits = 0.0
        for seq in split_units(units, offsets):
            ev = tables.events(seq.astype(np.int32), np.arange(0, max(len(seq), 1), DEFAULT_PACKET_FRAMES))
            bits += sum(tables.information_bits(ev))
        out["coded_bps"] = bits / seconds
    return out


def fit_unit_tables(units: np.ndarray, offsets: np.ndarray, k: int):
    """The codec's unit tables (run-length, bigram units, durations given unit, 2 s packets)."""
    return fit_stream_tables(split_units(units, offsets), k, packet_frames=DEFAULT_PACKET_FRAMES)


def format_stats(name: str, s: dict) -> str:
    coded = f"  coded {s['coded_bps']:6.1f} bit/s" if "coded_bps" in s else ""
    return (f"{name:14s} frames {s['frames']:7d}  run {s['run_len']:.2f} fr  H1 {s['H1']:.2f} bit/fr  "
            f"H2|runs {s['H2_runs']:.2f} bit/run ({s['H2_bps']:.1f} bit/s){coded}")
