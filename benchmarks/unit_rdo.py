"""How many bits does the encoder's rate-distortion choice of units save, and what does it cost?

    python -m benchmarks.unit_rdo --data ../shared/data/train --every 50 --lambdas 0,0.1,0.2,0.4,0.8 --asr per-file --out benchmarks/results/unit-rdo-train.md

Every ``--every``-th file of ``--data`` is analysed once; for each lambda the units are chosen by
:func:`codec.unit_rdo.choose_units` (lambda 0: each frame's most likely unit, the encoder before
session 7), the file is written (every bit counted: header, packets, speaker) and decoded by the
bundle's full decoder (vocoder, postfilter, pitch resynthesis), and the report's scores are taken
against the original (:class:`benchmarks.render_scores.RenderScorer`; GPE's "frames voiced in the
baseline" column uses lambda 0's decode). Lambda is chosen on the train split and checked once on
dev by the full report, so dev never tunes it.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from benchmarks import dev_script
from benchmarks.markdown import emit


def main(argv=None) -> int:
    ap = dev_script.parser(__doc__, every=50)
    ap.add_argument("--lambdas", default="0,0.1,0.2,0.4,0.8", help="comma-separated lambdas (distortion per bit)")
    ap.add_argument("--distortion", choices=("posterior", "embedding"), default="posterior",
                    help="posterior: -ln p(unit | frame) (codec.unit_rdo); embedding: the expected squared distance, "
                    "under the posterior, between the unit's decoder embedding and the frame's unit's")
    dev_script.add_judges(ap, "lambda")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    codec, items = dev_script.start(args)
    import torch

    from benchmarks.render_scores import RenderScorer
    from benchmarks.report import read_audio
    from bitstream import bitrate_report, write_srb
    from codec.unit_rdo import RateModel, choose_units

    lambdas = [float(v) for v in args.lambdas.split(",")]
    rate = RateModel(codec.tables.units)
    emb = codec.decoder.unit_emb.weight.detach().double().numpy()
    packet = codec.config.packet_frames
    refs, analysed = [], []
    for it in items:
        x = read_audio(it.path)
        streams = codec.encode_streams(x, codec.sample_rate, unit_lambda=0.0, envelope=False)
        with torch.inference_mode():
            logits = codec.content(torch.from_numpy(x)[None])[0]
        lp = torch.log_softmax(logits, dim=0).T.numpy()[: streams.units.size]
        if args.distortion == "embedding":  # the search minimises -lp: hand it minus the distortion
            lp = -expected_embedding_distance(np.exp(lp), emb)
        refs.append(x)
        analysed.append((streams, lp))
    seconds = sum(len(x) for x in refs) / codec.sample_rate
    rows, scorer = [], None
    for lam in lambdas:
        outs, bits, runs, agree, search = [], np.zeros(5), 0, 0, 0.0
        for streams, lp in analysed:
            t1 = time.perf_counter()
            units = choose_units(lp, rate, lam, packet)
            search += time.perf_counter() - t1
            agree += int((units == streams.units).sum())
            runs += 1 + int(np.count_nonzero(np.diff(units)))
            s = dataclasses.replace(streams, units=units)
            r = bitrate_report(write_srb(s, codec.tables, packet), codec.tables)
            bits += [r.units_bits, r.durations_bits, r.f0_bits, r.total_bits - r.units_bits - r.durations_bits
                     - r.f0_bits, r.total_bits]
            outs.append(codec.decode_streams(s))
        if scorer is None:  # lambda 0 (or the first lambda) is the baseline of the kept-frames GPE
            scorer = RenderScorer(items, refs, outs, args.asr, args.distillmos)
        frames = sum(lp.shape[0] for _, lp in analysed)
        rows.append((lam, bits / seconds, frames / max(runs, 1), agree / frames, search / seconds, scorer.score(outs)))
        print(rows[-1], flush=True)
    lines = [
        "# Rate-distortion choice of the content units",
        "",
        f"`python -m benchmarks.unit_rdo --data {args.data} --every {args.every} --lambdas {args.lambdas}"
        f"{' --distortion ' + args.distortion if args.distortion != 'posterior' else ''}"
        f"{dev_script.judges_flags(args)}` "
        f"(model {codec.model_id:08x}; {len(items)} files, {seconds:.0f} s; {time.perf_counter() - t0:.0f} s). "
        "Bits/s of the written files, every bit counted (*other*: speaker, pitch level, header, framing, coder). "
        "*run*: mean frames per unit run; *argmax*: share of frames whose unit is the frame's most likely one; "
        "*search*: CPU seconds per audio second of the unit search alone. Audio: the bundle's full decoder."
        + (f" WER: the {len(scorer.scored)} files with a transcript." if args.asr and scorer.against_text else ""),
        "",
        "| lambda | units | durations | F0 | other | **total** | run | argmax | search s/s " + scorer.header(),
        "|---:" * 20 + "|",
    ]
    for lam, b, run, ag, cost, r in rows:
        lines.append(f"| {lam:g} | {b[0]:.1f} | {b[1]:.1f} | {b[2]:.1f} | {b[3]:.1f} | **{b[4]:.1f}** | {run:.2f} "
                     f"| {100 * ag:.1f} % | {cost:.4f} " + scorer.row(r))
    emit(lines, args.out)
    return 0


def expected_embedding_distance(probs: np.ndarray, emb: np.ndarray) -> np.ndarray:
    """``(T, K)``: for each frame and unit ``u``, ``sum_k p(k) |e_u - e_k|^2`` with ``probs`` ``(T, K)``
    the posteriors and ``emb`` ``(K, D)`` the decoder's unit embeddings."""
    sq = (emb * emb).sum(axis=1)
    return sq[None, :] - 2.0 * (probs @ emb) @ emb.T + (probs @ sq)[:, None]


if __name__ == "__main__":
    raise SystemExit(main())
