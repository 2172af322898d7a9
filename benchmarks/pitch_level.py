"""How much of srb's F0 error is the pitch *level*, and does correcting it in the encoder pay?

    python -m benchmarks.pitch_level --data ../shared/data/dev --every 4 --out benchmarks/results/pitch_level.md

The F0 codes carry only each utterance's normalised contour; the decoder takes the level from the
speaker vector. For every ``--every``-th dev file (encode, decode with the bundled model, align as
the report does), with the report's judge (Praat, one pass, 50-800 Hz) on original and decoded:

1. the *level offset*: median over frames voiced in both of 1200 log2(F0 decoded / F0 original);
2. GPE as the report counts it, and GPE after removing each file's offset from the decoded track
   (an oracle: how much of GPE a perfect level would remove);
3. an encoder-side correction that needs no new decoder input: write ``-offset`` into the header's
   ``pitch_cents`` (format 1.1, the field ``srb edit --pitch`` uses; the decoder renders it by
   stretch-then-resample, ``codec.synth``), decode again and measure GPE, VDE, FFE, STOI, MCD and
   Resemblyzer speaker cosine against the plain decode. The offset used is the judge's own, so
   this is the best case for the idea.
4. for a model that sends the pitch statistics (format 1.2): how far the decoded level follows
   the level byte, decoding again with it moved by -300 and +300 cents (12 steps) and measuring
   the median shift against the plain decode (a decoder that obeys moves 300 cents).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from benchmarks import dev_script
from benchmarks.markdown import emit


def level_offset(f0_ref: np.ndarray, f0_deg: np.ndarray) -> tuple[float, int]:
    """``(median cents of deg over ref on frames voiced in both, how many such frames)``."""
    n = min(len(f0_ref), len(f0_deg))
    r, d = f0_ref[:n], f0_deg[:n]
    both = (r > 0) & (d > 0)
    if not both.any():
        return 0.0, 0
    return float(np.median(1200 * np.log2(d[both] / r[both]))), int(both.sum())


def main(argv=None) -> int:
    args = dev_script.parser(__doc__, every=4).parse_args(argv)
    t0 = time.perf_counter()
    codec, rows = dev_script.start(args)
    import soundfile as sf

    from benchmarks import metrics as M

    spk = M.SpeakerSimilarity()
    totals = {k: dict(f0=M.F0Counts(), stoi=[], mcd=[], spk=[]) for k in ("plain", "corrected")}
    oracle, offsets = M.F0Counts(), []
    response = {-12: [], 12: []}
    for r in rows:
        x, sr = sf.read(str(r.path), dtype="float32")
        streams = codec.encode_streams(x, sr, envelope=False)
        e_ref = spk.embed(x, sr)
        offset = None
        for name in ("plain", "corrected"):
            s = streams if name == "plain" else dataclasses.replace(streams, pitch_cents=-int(round(offset)))
            y = codec.decode_streams(s)
            ref, deg, _ = M.align(x, y)
            fr, fd = M.praat_f0(ref), M.praat_f0(deg)
            t = totals[name]
            t["f0"] = t["f0"] + M.f0_counts(fr, fd)
            t["stoi"].append(M.stoi(ref, deg))
            t["mcd"].append(M.mcd(ref, deg))
            t["spk"].append(M.SpeakerSimilarity.cosine(e_ref, spk.embed(y)))
            if name == "plain":
                offset, _ = level_offset(fr, fd)
                offsets.append(offset)
                oracle = oracle + M.f0_counts(fr, fd * 2 ** (-offset / 1200))
                if streams.pitch_stats is not None:
                    level, spread = streams.pitch_stats
                    f_plain = M.praat_f0(y)
                    for step in response:
                        moved = dataclasses.replace(streams, pitch_stats=(min(255, max(0, level + step)), spread))
                        response[step].append(level_offset(f_plain, M.praat_f0(codec.decode_streams(moved)))[0])
        print(f"{r.key}: offset {offset:+.0f} cents", flush=True)
    a = np.abs(np.array(offsets))
    lines = [
        "# Pitch level: how much of srb's F0 error it is, and an encoder-side correction",
        "",
        f"`python -m benchmarks.pitch_level --data {args.data} --every {args.every}"
        f"{f' --model {args.model}' if args.model else ''}` (model {codec.model_id:08x}; "
        f"{len(rows)} files; judge: Praat one pass 50-800 Hz; {time.perf_counter() - t0:.0f} s).",
        "",
        f"Level offset of the decoded speech (|median cents| over files): 25 % {np.percentile(a, 25):.0f}, "
        f"median {np.median(a):.0f}, 75 % {np.percentile(a, 75):.0f}, 90 % {np.percentile(a, 90):.0f}, "
        f"max {a.max():.0f}; mean signed {np.mean(offsets):+.0f}.",
        "",
        f"GPE {100 * totals['plain']['f0'].gpe:.2f} %; with each file's level offset removed from the decoded "
        f"track (oracle, analysis only): {100 * oracle.gpe:.2f} %.",
        "",
    ]
    if response[12]:
        lines += [
            f"Level byte moved by -300 / +300 cents: the decoded level moves a median {np.median(response[-12]):+.0f} / "
            f"{np.median(response[12]):+.0f} cents.",
            "",
        ]
    lines += [
        "| decode | GPE % | VDE % | FFE % | STOI | MCD dB | speaker cos |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, t in totals.items():
        label = "plain" if name == "plain" else "pitch_cents = -offset (resample shift)"
        lines.append(f"| {label} | {100 * t['f0'].gpe:.2f} | {100 * t['f0'].vde:.2f} | {100 * t['f0'].ffe:.2f} | "
                     f"{np.mean(t['stoi']):.4f} | {np.mean(t['mcd']):.3f} | {np.mean(t['spk']):.4f} |")
    emit(lines, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
