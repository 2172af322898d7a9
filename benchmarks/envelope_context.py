"""Could the units tell the envelope coder anything? Ideal bits of the envelope codes under contexts.

    python -m benchmarks.envelope_context --data ../shared/data/train --decoded runs/envelope/decoded \
        --every 3 --out benchmarks/results/envelope-context-train.md

The envelope stream codes each code given the previous one (docs/FORMAT.md). F0 codes gained 6
bits/s from classes of the units they span (benchmarks/results/context_models.md); this measures
whether the envelope codes would too. For each train file whose decode (without the layer) is in
``--decoded`` (``srb train envelope --work W`` fills ``W/decoded``, in manifest order), the codes
are chosen as the encoder chooses them (:meth:`codec.api.Codec.envelope_codes`, packets of the
bundle's length) and the units as it sends them. Tables are counted on the files of the speakers
the layer trained on (every ``--every``-th) and scored on the held-out speakers' files
(``--held-out``, as ``srb train envelope --holdout-every``): ideal code lengths, ``-log2 p``.
Contexts with unit information back off to the previous-code table (``(n(c | ctx) + beta *
p(c | prev)) / (n(ctx) + beta)``), so a context never seen costs what the shipped coder pays.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

PRIOR = 0.2  # add-constant of the counted tables (chosen among 0.05 / 0.2 / 0.5 on these files: 0.2)
BETAS = (4, 16, 64)


def _previous(codes: np.ndarray, per_packet: int, start: int) -> np.ndarray:
    """Each frame's previous code in its packet, ``start`` at a packet's first frame."""
    prev = np.empty_like(codes)
    prev[1:] = codes[:-1]
    prev[::per_packet] = start
    return prev


def context_bits(train: list[tuple[np.ndarray, np.ndarray]], held: list[tuple[np.ndarray, np.ndarray]],
                 vocab: int, per_packet: int, classes: np.ndarray, num_classes: int) -> dict[str, float]:
    """Ideal bits over the ``held`` files of envelope codes under each context, tables counted on
    ``train``. Each item is ``(codes (T,), units (T, r))``: a file's codes and the unit frames each
    code's frame spans. Returns ``{context: bits}``."""

    def arrays(items):
        prev = np.concatenate([_previous(c, per_packet, vocab) for c, _ in items])
        codes = np.concatenate([c for c, _ in items])
        units = np.concatenate([u for _, u in items])
        return prev, codes, units

    p_tr, c_tr, u_tr = arrays(train)
    p_he, c_he, u_he = arrays(held)
    uni = np.bincount(c_tr, minlength=vocab) + PRIOR
    uni /= uni.sum()
    n = np.full((vocab + 1, vocab), PRIOR)
    np.add.at(n, (p_tr, c_tr), 1.0)
    big = n / n.sum(axis=1, keepdims=True)
    out = {"none (unigram)": float(-np.log2(uni[c_he]).sum()),
           "previous code (as shipped)": float(-np.log2(big[p_he, c_he]).sum())}
    pair = lambda u: classes[u[:, 0]] * num_classes + classes[u[:, -1]]  # noqa: E731
    for name, x_tr, x_he, nx in (
            (f"{num_classes} x {num_classes} classes of the first and last unit", pair(u_tr), pair(u_he),
             num_classes**2),
            ("the last unit", u_tr[:, -1], u_he[:, -1], int(max(u_tr.max(), u_he.max())) + 1)):
        counts = np.zeros((nx, vocab))
        np.add.at(counts, (x_tr, c_tr), 1.0)
        for beta in BETAS:
            p = (counts[x_he, c_he] + beta * uni[c_he]) / (counts[x_he].sum(axis=1) + beta)
            out[f"{name} (beta {beta})"] = float(-np.log2(p).sum())
        # previous code and unit context together: counted per (previous, context) pair, sparse
        key_tr, key_he = p_tr * nx + x_tr, p_he * nx + x_he
        keys, inverse = np.unique(key_tr, return_inverse=True)
        joint = np.zeros((keys.size, vocab))
        np.add.at(joint, (inverse, c_tr), 1.0)
        where = np.searchsorted(keys, key_he)
        seen = (where < keys.size) & (keys[np.minimum(where, keys.size - 1)] == key_he)
        for beta in BETAS:
            p = big[p_he, c_he].copy()
            rows = joint[where[seen]]
            p[seen] = (rows[np.arange(rows.shape[0]), c_he[seen]] + beta * p[seen]) / (rows.sum(axis=1) + beta)
            out[f"previous code and {name} (beta {beta})"] = float(-np.log2(p).sum())
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data/train"))
    ap.add_argument("--decoded", type=Path, required=True, help="NNNNN.npy decodes without the layer, manifest order")
    ap.add_argument("--model", default=None)
    ap.add_argument("--every", type=int, default=3, help="every N-th training file (held-out files: all)")
    ap.add_argument("--held-out", type=int, default=50)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)

    import torch

    from benchmarks.markdown import emit
    from codec.api import Codec
    from codec.audio import load_audio
    from codec.train.refiner import held_out_speakers
    from codec.train.units import read_manifest

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    codec = Codec.from_pretrained(args.model)
    if codec.envelope is None:
        raise SystemExit("benchmarks.envelope_context: the bundle has no envelope layer")
    cfg = codec.envelope.config
    rows = read_manifest(args.data)
    held = held_out_speakers(rows, args.held_out)
    per_packet = codec.packet_frames() // cfg.ratio
    items: dict[bool, list] = {True: [], False: []}
    for i, r in enumerate(rows):
        is_held = r["speaker"] in held
        path = args.decoded / f"{i:05d}.npy"
        if (not is_held and i % args.every) or not path.is_file():
            continue
        decoded = np.load(path).astype(np.float32)
        x = load_audio(args.data / r["path"])[: len(decoded)]
        codes = codec.envelope_codes(codec.envelope.corrections(x.numpy(), decoded[: x.numel()]))
        units = codec.choose_units(codec.content(x[None])[0])
        need = codes.size * cfg.ratio
        units = np.pad(units, (0, max(0, need - units.size)), mode="edge")[:need].reshape(codes.size, cfg.ratio)
        items[is_held].append((codes.astype(np.int64), units.astype(np.int64)))
    if not items[True] or not items[False]:
        raise SystemExit("benchmarks.envelope_context: no held-out or no training files with decodes")
    f0 = codec.tables.f0
    bits = context_bits(items[False], items[True], cfg.size, per_packet, f0.unit_classes, f0.num_classes)
    seconds = sum(c.size for c, _ in items[True]) * cfg.frame_samples / cfg.sample_rate
    lines = ["# Envelope codes: what the units could tell their coder", "",
             f"`python -m benchmarks.envelope_context --data {args.data} --decoded {args.decoded} --every {args.every}`"
             f" (model {codec.model_id:08x}; tables counted on {len(items[False])} files, scored on "
             f"{len(items[True])} held-out files, {seconds:.0f} s; {time.perf_counter() - t0:.0f} s).", "",
             "| context of each code | bits/s (ideal, held-out speakers) |", "|---|---:|"]
    lines += [f"| {k} | {v / seconds:.1f} |" for k, v in bits.items()]
    emit(lines, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
