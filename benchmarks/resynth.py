"""Which pitch resynthesis (codec/resynth.py), if any, should srb's decoder apply?

    python -m benchmarks.resynth --data ../shared/data/train --every 50 --variants target/both,target/target,decoded/both --asr per-file --distillmos --out benchmarks/results/resynth-train.md

Every ``--every``-th file of ``--data`` is encoded and decoded once with the bundle's vocoder and
postfilter (no resynthesis: the baseline, row ``none``); each variant ``ANALYSIS/MASK[/MAX_HZ]``
(:class:`codec.resynth.ResynthConfig`: the F0 WORLD analyses the decoded audio at, which frames
are re-voiced, and optionally the band: below MAX_HZ only) then re-voices that audio at the file's transmitted F0 contour, and the
report's scores are taken against the original (:class:`benchmarks.render_scores.RenderScorer`).
Variants are chosen on the train split and checked once on dev by the full report
(``--systems srb,srb-pf``), so dev never tunes them.
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks import dev_script
from benchmarks.markdown import emit


def main(argv=None) -> int:
    ap = dev_script.parser(__doc__, every=50)
    ap.add_argument("--variants", default="target/both,target/target,decoded/both",
                    help="comma-separated ANALYSIS/MASK[/MAX_HZ][/trim=N][/formant=B][/method=psola] (analysis: decoded|target; mask: "
                    "both|target; MAX_HZ: re-voice only below it; trim: frames left to the vocoder at run ends; "
                    "formant: envelope sharpening; method: world or psola)")
    dev_script.add_judges(ap, "variant")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    codec, items = dev_script.start(args)
    from benchmarks.render_scores import RenderScorer
    from benchmarks.report import read_audio
    from codec.resynth import Resynth, ResynthConfig, resynth_range

    codec.resynth = None  # the baseline: vocoder and postfilter; each variant re-voices that audio
    codec.smoother = None  # (chosen after the resynthesis, on its output: benchmarks/smoother.py)
    codec.refiner = None  # (trained after them, on their output: codec/train/refiner.py)
    variants = [v.split("/") for v in args.variants.split(",")]
    refs, base, targets, ranges = [], [], [], []
    for it in items:
        x = read_audio(it.path)
        streams = codec.encode_streams(x, codec.sample_rate, envelope=False)
        refs.append(x)
        base.append(codec.decode_streams(streams))
        stats = streams.pitch_stats
        targets.append(codec.transmitted_f0(streams) if stats is not None else np.zeros(0))
        ranges.append(resynth_range(stats) if stats is not None else None)  # as Codec.decode_streams
    seconds = sum(len(x) for x in refs) / codec.sample_rate
    scorer = RenderScorer(items, refs, base, args.asr, args.distillmos)
    rows = [("none", scorer.score(base), 0.0)]
    print(rows[-1], flush=True)
    for analysis, mask, *extra in variants:
        opts = dict(e.split("=") for e in extra if "=" in e)  # e.g. trim=2
        band = [e for e in extra if "=" not in e]
        rs = Resynth(ResynthConfig(analysis=analysis, mask=mask, max_hz=float(band[0]) if band else None,
                                   trim=int(opts.get("trim", 0)), formant=float(opts.get("formant", 1)),
                                   method=opts.get("method", "world")))
        t1 = time.perf_counter()
        outs = [np.clip(rs(y, f, r), -1, 1) for y, f, r in zip(base, targets, ranges)]
        cost = (time.perf_counter() - t1) / seconds
        rows.append(("/".join([analysis, mask, *extra]), scorer.score(outs), cost))
        print(rows[-1], flush=True)
    lines = [
        "# Pitch resynthesis variants",
        "",
        f"`python -m benchmarks.resynth --data {args.data} --every {args.every} --variants {args.variants}"
        f"{dev_script.judges_flags(args)}` "
        f"(model {codec.model_id:08x}, postfilter "
        f"{'off' if codec.postfilter is None else f'strength {codec.postfilter.config.strength:g}'}; {len(items)} files, {seconds:.0f} s; {time.perf_counter() - t0:.0f} s). "
        "Variant ANALYSIS/MASK[/MAX_HZ][/trim=N][/formant=B][/method=M]; `none` = vocoder and postfilter without resynthesis (the GPE column's baseline). "
        "Cost: CPU seconds per audio second of the resynthesis alone, one thread."
        + (f" WER: the {len(scorer.scored)} files with a transcript." if args.asr and scorer.against_text else ""),
        "",
        "| variant | cost s/s " + scorer.header(),
        "|---" + "|---:" * 12 + "|",
    ]
    lines += [f"| {name} | {cost:.3f} " + scorer.row(r) for name, r, cost in rows]
    emit(lines, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
