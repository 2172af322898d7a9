"""How strong a harmonic postfilter (codec/postfilter.py) should srb's decoder apply?

    python -m benchmarks.postfilter --data ../shared/data/train --every 50 --strengths 1,1.5,2.2,3.2,4.5 --out benchmarks/results/postfilter-train.md

Every ``--every``-th file of ``--data`` is encoded and decoded once with the bundle's vocoder (no
postfilter); each strength then filters that audio, and the report's scores are taken against the
original: STOI, MCD, DNSMOS (overall and signal), DistillMOS, F0 errors with the report's judge
(Praat: GPE, VDE, FFE, and GPE on the frames voiced in both the original and the unfiltered
decode: sharpening makes the judge call more frames voiced, and frames that were voicing errors
before come into GPE, so this column tells a changed pitch from a changed count), and, with ``--asr``, Whisper's transcripts of the decoded audio against
its transcripts of the original (dWER; needs no reference text, so it works on the train split,
whose files have none). Strength 1 is the vocoder as it is.

The strength is chosen on the train split (the speakers the vocoder learned), then checked once
on dev by the full report (``--systems srb,srb-raw``), so dev never tunes it.
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks import dev_script
from benchmarks.markdown import emit


def main(argv=None) -> int:
    ap = dev_script.parser(__doc__, every=50)
    ap.add_argument("--strengths", default="1,1.5,2.2,3.2", help="comma-separated postfilter strengths")
    dev_script.add_judges(ap, "strength")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    codec, items = dev_script.start(args, finish=False)  # each strength filters the same raw decode
    import torch

    from benchmarks.render_scores import RenderScorer
    from benchmarks.report import read_audio
    from codec.postfilter import Postfilter, PostfilterConfig

    strengths = [float(s) for s in args.strengths.split(",")]
    refs = [read_audio(it.path) for it in items]
    raws = [codec.decode(codec.encode(x, codec.sample_rate, envelope=False))[0] for x in refs]
    seconds = sum(len(x) for x in refs) / codec.sample_rate
    scorer = RenderScorer(items, refs, raws, args.asr, args.distillmos)
    rows = []
    for s in strengths:
        pf = Postfilter(PostfilterConfig(strength=s))
        row = scorer.score([np.clip(pf(torch.from_numpy(y)).numpy(), -1, 1) for y in raws])
        rows.append(row)
        print(s, row, flush=True)
    lines = [
        "# Postfilter strength",
        "",
        f"`python -m benchmarks.postfilter --data {args.data} --every {args.every} "
        f"--strengths {args.strengths}{dev_script.judges_flags(args)}` "
        f"(model {codec.model_id:08x}; {len(items)} files, {seconds:.0f} s; {time.perf_counter() - t0:.0f} s). "
        "Strength 1 = the vocoder's output as it is (the baseline of the GPE column)."
        + (f" WER: the {len(scorer.scored)} files with a transcript." if args.asr and scorer.against_text else ""),
        "",
        "| strength " + scorer.header(),
        "|---:" * 12 + "|",
    ]
    lines += [f"| {s:g} " + scorer.row(r) for s, r in zip(strengths, rows)]
    emit(lines, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
