"""Richer context models for the unit, duration and F0 streams: ideal code lengths on dev.

    srb train units --content codec/assets/content-k100 --data ../shared/data/dev --out .cache/student/dev_k100_v2.npz
    python -m benchmarks.context_models --train-units .cache/student/train_k100_v2.npz \
        --train-f0 .cache/f0/train_codes.npz --dev-units .cache/student/dev_k100_v2.npz \
        --dev-f0 .cache/f0/dev_codes.npz --out benchmarks/results/context_models.md

Counts come from train, code lengths (``-log2 p`` summed, over dev seconds) from dev, with the
coder's packets (2 s of units, 25 F0 codes) restarting every context, as in the bitstream. Models:

- units: bigram ``p(u | prev)`` (what v0.2 shipped), trigram ``p(u | prev, prev2)`` interpolated with
  the bigram, ``(n(c, u) + beta * p2(u | prev)) / (n(c) + beta)``, beta chosen on a held-out tenth
  of train (what v0.3 ships, ``bitstream.tables``); runs are maximal, so the previous symbol is
  excluded from every row;
- durations: given the unit, and given (unit, previous unit) interpolated the same way;
- F0 codes (per 80 ms frame): bigram ``p(f | prev f)``, and conditioned also on the *classes* of the
  first and last unit of the frame (``M`` classes: ``bitstream.tables.unit_classes_by_f0``, k-means of
  each unit's F0-code distribution on train), which the decoder knows before the F0 codes since units come first in a packet.

Ideal code lengths, not files: the range coder adds ~1-2 bits per packet (bitrate_dev.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from benchmarks.markdown import emit
from bitstream.tables import unit_classes_by_f0

UNIT_PACKET = 100  # unit frames per packet
F0_PACKET = 25  # F0 frames per packet
MAX_RUN = 32  # duration alphabet (escape included)


def load_split(units_npz: Path, f0_npz: Path | None = None):
    """Per-utterance unit arrays (and F0 code arrays, same order) of a split."""
    with np.load(units_npz, allow_pickle=False) as z:
        units = np.split(z["units"].astype(np.int64), z["unit_offsets"][1:-1])
        paths = [str(p) for p in z["paths"]]
    if f0_npz is None:
        return units, None
    with np.load(f0_npz, allow_pickle=False) as z:
        f0 = np.split(z["f0"].astype(np.int64), z["f0_offsets"][1:-1])
        if [str(p) for p in z["paths"]] != paths:
            raise SystemExit("units and F0 codes list different files")
    return units, f0


def unit_runs(units, k: int):
    """``(prev2, prev1, value, duration symbol)`` of every run, packets restarting the contexts."""
    cols = [[], [], [], []]
    for u in units:
        for s in range(0, len(u), UNIT_PACKET):
            seg = u[s: s + UNIT_PACKET]
            first = np.r_[0, np.flatnonzero(np.diff(seg)) + 1]
            vals, lens = seg[first], np.diff(np.r_[first, seg.size])
            p1 = np.r_[k, vals[:-1]]
            p2 = np.r_[k, k, vals[:-2]][: vals.size]
            cols[0].append(p2)
            cols[1].append(p1)
            cols[2].append(vals)
            cols[3].append(np.minimum(lens, MAX_RUN) - 1)  # escapes are rare; their first symbol stands in
    return [np.concatenate(c) for c in cols]


def counts(ctx, y, n_ctx, n_sym, alpha=0.0):
    c = np.full((n_ctx, n_sym), alpha)
    np.add.at(c, (ctx, y), 1.0)
    return c


def interpolated(c_hi: np.ndarray, p_lo_rows: np.ndarray, beta: float) -> np.ndarray:
    return (c_hi + beta * p_lo_rows) / (c_hi.sum(1, keepdims=True) + beta)


def run_symbol_bits(p: np.ndarray, ctx, prev1, y, k) -> float:
    """Total bits of run symbols ``y`` in rows ``ctx``, the previous run's symbol excluded."""
    q = p[ctx, y]
    inside = prev1 < k
    q[inside] /= 1.0 - p[ctx[inside], prev1[inside]]
    return float(-np.log2(q).sum())


def unit_models(train, dev, k: int, betas=(4, 8, 16, 32, 64, 128)):
    """Bits of units and durations on ``dev`` (totals) per model, and the held-out choice of beta."""
    t2, t1, tv, td = unit_runs(train, k)
    d2, d1, dv, dd = unit_runs(dev, k)
    # beta on a held-out tenth of train
    fit = [u for i, u in enumerate(train) if i % 10]
    held = [u for i, u in enumerate(train) if i % 10 == 0]
    f2, f1, fv, _ = unit_runs(fit, k)
    h2, h1, hv, _ = unit_runs(held, k)
    c2 = counts(f1, fv, k + 1, k, 0.5)
    c2[np.arange(k), np.arange(k)] = 0
    p2 = c2 / c2.sum(1, keepdims=True)
    c3 = counts(f2 * (k + 1) + f1, fv, (k + 1) ** 2, k)
    held_bits = {b: run_symbol_bits(interpolated(c3, p2[np.arange((k + 1) ** 2) % (k + 1)], b), h2 * (k + 1) + h1,
                                    h1, hv, k) for b in betas}
    beta = min(held_bits, key=held_bits.get)
    # final models on all of train
    c2 = counts(t1, tv, k + 1, k, 0.5)
    c2[np.arange(k), np.arange(k)] = 0
    p2 = c2 / c2.sum(1, keepdims=True)
    p3 = interpolated(counts(t2 * (k + 1) + t1, tv, (k + 1) ** 2, k), p2[np.arange((k + 1) ** 2) % (k + 1)], beta)
    cd = counts(tv, td, k, MAX_RUN, 0.5)
    pd = cd / cd.sum(1, keepdims=True)
    pd2 = interpolated(counts(t1 * k + tv, td, (k + 1) * k, MAX_RUN), pd[np.arange((k + 1) * k) % k], beta)
    out = {
        "units, bigram": run_symbol_bits(p2, d1, d1, dv, k),
        f"units, trigram (beta {beta:g})": run_symbol_bits(p3, d2 * (k + 1) + d1, d1, dv, k),
        "durations given unit": float(-np.log2(pd[dv, dd]).sum()),
        f"durations given unit and previous unit (beta {beta:g})": float(-np.log2(pd2[d1 * k + dv, dd]).sum()),
    }
    return out, beta, held_bits


def f0_frames(units, f0, nf: int):
    """``(prev code, first unit, last unit, code)`` of every F0 frame (4 unit frames per F0 frame)."""
    cols = [[], [], [], []]
    for u, c in zip(units, f0):
        need = 4 * c.size
        up = np.pad(u, (0, max(0, need - u.size)), mode="edge")[:need].reshape(c.size, 4)
        prev = np.r_[nf, c[:-1]]
        prev[::F0_PACKET] = nf  # packets restart
        for col, x in zip(cols, (prev, up[:, 0], up[:, 3], c)):
            col.append(x)
    return [np.concatenate(x) for x in cols]


def f0_models(train_u, train_f, dev_u, dev_f, k: int, nf: int, classes=(2, 4, 8)):
    tp, ta, tb, ty = f0_frames(train_u, train_f, nf)
    dp, da, db, dy = f0_frames(dev_u, dev_f, nf)

    def bits(ctx_t, ctx_d, n_ctx):
        c = counts(ctx_t, ty, n_ctx, nf, 0.5)
        return float(-np.log2((c / c.sum(1, keepdims=True))[ctx_d, dy]).sum())

    out = {"F0, bigram": bits(tp, dp, nf + 1)}
    for m in classes:
        lab = unit_classes_by_f0(train_f, train_u, nf, k, 4, m)  # the classes srb's tables fit
        n = (nf + 1) * m * m
        out[f"F0 given previous code and {m} classes of the frame's first and last unit"] = bits(
            (tp * m + lab[ta]) * m + lab[tb], (dp * m + lab[da]) * m + lab[db], n)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train-units", type=Path, required=True)
    ap.add_argument("--train-f0", type=Path, required=True)
    ap.add_argument("--dev-units", type=Path, required=True)
    ap.add_argument("--dev-f0", type=Path, required=True)
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument("--f0-vocab", type=int, default=20)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    tu, tf = load_split(args.train_units, args.train_f0)
    du, df = load_split(args.dev_units, args.dev_f0)
    seconds = sum(u.size for u in du) / 50
    units, beta, held = unit_models(tu, du, args.k)
    f0 = f0_models(tu, tf, du, df, args.k, args.f0_vocab)
    lines = [
        "# Context models: ideal code lengths on dev",
        "",
        f"`python -m benchmarks.context_models --train-units {args.train_units} --train-f0 {args.train_f0} "
        f"--dev-units {args.dev_units} --dev-f0 {args.dev_f0} --out {args.out}`: {len(tu)} train / {len(du)} dev "
        f"utterances, {seconds:.1f} s of dev. Units at 50 Hz (K = {args.k}), F0 codes at 12.5 Hz "
        f"({args.f0_vocab} codes).",
        "",
        "| stream and model | bits/s |",
        "|---|---:|",
    ]
    lines += [f"| {name} | {bits / seconds:.2f} |" for name, bits in {**units, **f0}.items()]
    held_s = sum(u.size for i, u in enumerate(tu) if i % 10 == 0) / 50
    lines += ["", "Trigram beta on the held-out tenth of train (unit symbols, bits/s): "
              + ", ".join(f"{b:g}: {v / held_s:.2f}" for b, v in held.items()) + f"; chosen {beta:g}."]
    emit(lines, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
