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
    ap.add_argument("--asr", choices=("packed", "per-file"), default=None,
                    help="also Whisper base word errors (packed: 0.2 s per audio second and strength; per-file: 0.4 s)")
    ap.add_argument("--distillmos", action="store_true", help="also DistillMOS (0.16 s per audio second and strength)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    codec, items = dev_script.start(args, postfilter=False)  # each strength filters the same raw decode
    import torch

    from benchmarks import metrics as M
    from benchmarks.report import read_audio
    from codec.postfilter import Postfilter, PostfilterConfig

    strengths = [float(s) for s in args.strengths.split(",")]
    refs, raws, tracks = [], [], []
    for it in items:
        x = read_audio(it.path)
        y, _ = codec.decode(codec.encode(x, codec.sample_rate))
        refs.append(x)
        raws.append(y)
        ref, deg, _ = M.align(x, y)
        tracks.append((M.praat_f0(ref), M.praat_f0(deg)))
    seconds = sum(len(x) for x in refs) / codec.sample_rate
    dns = M.DNSMOS()
    dmos = M.DistillMOS() if args.distillmos else None
    asr = M.WhisperASR() if args.asr else None
    transcribe = (asr.transcribe_many if args.asr == "packed" else lambda ws: [asr.transcribe(w) for w in ws]) if asr else None
    texts = [it.text for it in items]
    against_text = any(texts)  # dev: the files with a transcript (cmu_arctic's have none); train: dWER
    scored = [i for i, t in enumerate(texts) if t] if against_text else list(range(len(items)))
    if asr:
        ref_text = texts if against_text else transcribe(refs)
    rows = []
    for s in strengths:
        pf = Postfilter(PostfilterConfig(strength=s))
        outs = [np.clip(pf(torch.from_numpy(y)).numpy(), -1, 1) for y in raws]
        sc = dict(stoi=[], mcd=[], dnsmos=[], sig=[], distillmos=[])
        f0, kept = M.F0Counts(), M.F0Counts()
        for x, y, (f_ref, f_raw) in zip(refs, outs, tracks):
            ref, deg, _ = M.align(x, y)
            sc["stoi"].append(M.stoi(ref, deg))
            sc["mcd"].append(M.mcd(ref, deg))
            d = dns(y)
            sc["dnsmos"].append(d["dnsmos"])
            sc["sig"].append(d["dnsmos_sig"])
            if dmos:
                sc["distillmos"].append(dmos(y))
            f_deg = M.praat_f0(deg)
            f0 = f0 + M.f0_counts(f_ref, f_deg)
            n = min(len(f_ref), len(f_raw))
            kept = kept + M.f0_counts(f_ref, f_deg, (f_ref[:n] > 0) & (f_raw[:n] > 0))
        row = {k: float(np.mean(v)) if v else float("nan") for k, v in sc.items()}
        row.update(strength=s, gpe=f0.gpe, vde=f0.vde, ffe=f0.ffe, gpe_kept=kept.gpe)
        if asr:
            hyps = transcribe([outs[i] for i in scored]) if args.asr == "per-file" else transcribe(outs)
            if args.asr == "packed":  # the whole split packed as the report packs it, then the scored files
                hyps = [hyps[i] for i in scored]
            errors = [M.word_errors(ref_text[i], h) for i, h in zip(scored, hyps)]
            words = max(1, sum(n for _, n in errors))
            row["wer"] = sum(e for e, _ in errors) / words
            row["wer_capped"] = sum(min(e, n) for e, n in errors) / words
        rows.append(row)
        print(row, flush=True)
    lines = [
        "# Postfilter strength",
        "",
        f"`python -m benchmarks.postfilter --data {args.data} --every {args.every} "
        f"--strengths {args.strengths}{' --asr ' + args.asr if args.asr else ''}{' --distillmos' if args.distillmos else ''}` "
        f"(model {codec.model_id:08x}; {len(items)} files, {seconds:.0f} s; {time.perf_counter() - t0:.0f} s). "
        "Strength 1 = the vocoder's output as it is."
        + (f" WER: the {len(scored)} files with a transcript." if asr and against_text else ""),
        "",
        "| strength | STOI | MCD dB | DNSMOS | DNSMOS SIG | DistillMOS | GPE | GPE, frames voiced unfiltered | VDE | FFE | {wer} | {wer} capped |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines[-2] = lines[-2].replace("{wer}", "WER" if asr and against_text else "dWER")
    for r in rows:
        wer = f"{100 * r['wer']:.1f} % | {100 * r['wer_capped']:.1f} %" if "wer" in r else "– | –"
        dm = f"{r['distillmos']:.3f}" if np.isfinite(r["distillmos"]) else "–"
        lines.append(f"| {r['strength']:g} | {r['stoi']:.4f} | {r['mcd']:.3f} | {r['dnsmos']:.3f} | {r['sig']:.3f} | {dm} "
                     f"| {100 * r['gpe']:.1f} % | {100 * r['gpe_kept']:.1f} % | {100 * r['vde']:.1f} % | {100 * r['ffe']:.1f} % | {wer} |")
    emit(lines, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
