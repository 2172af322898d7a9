"""What the envelope layer (codec/envelope.py) buys and costs, on speakers it was not trained on.

    python -m benchmarks.envelope --data ../shared/data/train --held-out 50 --every 2 --asr packed --distillmos --out benchmarks/results/envelope-train.md

The layer's codebook and table are trained on train files with the speakers of every 50th file held
out (``srb train envelope --holdout-every 50``); ``--held-out 50`` keeps only those speakers' files
(then every ``--every``-th), so it is scored on voices it never saw. Each file is encoded once
without the layer and once with it (the same units, F0 and speaker codes: the layer is added
last), both decoded by the same bundle, and scored against the original
(:class:`benchmarks.render_scores.RenderScorer`). Bits per second are the files' whole sizes.
Dev is scored once, by the full report, so dev never tunes the layer.
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks import dev_script
from benchmarks.markdown import emit
from benchmarks.paired import markdown, paired_bootstrap


def main(argv=None) -> int:
    ap = dev_script.parser(__doc__, every=1)
    dev_script.add_held_out(ap)
    dev_script.add_judges(ap, "variant")
    ap.add_argument("--envelope-lambda", type=float, default=None,
                    help="the encoder's rate-distortion trade-off for the codes (default: the bundle's)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    codec, items = dev_script.start_held_out(args)
    if codec.envelope is None:
        raise SystemExit("benchmarks.envelope: the bundle has no envelope layer (bundle.json 'envelope')")
    if args.envelope_lambda is not None:
        codec.envelope_lambda = args.envelope_lambda
    from benchmarks.render_scores import RenderScorer
    from benchmarks.report import read_audio

    refs, plain, layered, bits = [], [], [], {"without": 0, "with": 0}
    t_enc = t_dec = 0.0
    for it in items:
        x = read_audio(it.path)
        streams = codec.encode_streams(x, codec.sample_rate, envelope=False)
        t = time.perf_counter()
        with_env = codec.add_envelope(streams, x)
        t_enc += time.perf_counter() - t
        refs.append(x)
        for key, s, out in (("without", streams, plain), ("with", with_env, layered)):
            data = codec.write(s)
            bits[key] += 8 * len(data)
            t = time.perf_counter()
            out.append(codec.decode(data)[0])
            if key == "with":
                t_dec += time.perf_counter() - t
    seconds = sum(len(x) for x in refs) / codec.sample_rate
    scorer = RenderScorer(items, refs, plain, args.asr, args.distillmos)
    rows, files = [], {}
    for name, outs, key in (("without the layer", plain, "without"), ("with the layer", layered, "with")):
        rows.append((name, bits[key] / seconds, scorer.score(outs)))
        files[name] = scorer.files
        print(rows[-1], flush=True)
    c = codec.envelope.config
    lines = [
        "# Envelope layer",
        "",
        f"`python -m benchmarks.envelope --data {args.data} --held-out {args.held_out} --every {args.every}"
        + (f" --model {args.model}" if args.model else "")
        + (f" --envelope-lambda {args.envelope_lambda:g}" if args.envelope_lambda is not None else "")
        + f"{dev_script.judges_flags(args)}` (model {codec.model_id:08x}: codebook {c.size} x {c.bands} bands, "
        f"{1000 * c.frame_samples // c.sample_rate} ms frames, codes chosen at lambda {codec.envelope_lambda:g}; {len(items)} files, {seconds:.0f} s, speakers the "
        f"layer was not trained on; {time.perf_counter() - t0:.0f} s). Both rows decode the same units, F0 and "
        f"speaker codes; bits/s are whole files. The layer's encoder side (a decode and the measurement) took "
        f"{t_enc / seconds:.3f} s per audio second here, the whole decode with it {t_dec / seconds:.3f}."
        + (f" WER: the {len(scorer.scored)} files with a transcript." if args.asr and scorer.against_text else
           " WER: against Whisper's transcripts of the originals (dWER)." if args.asr else ""),
        "",
        "| variant | bits/s " + scorer.header(),
        "|---|---:" + "|---:" * 11 + "|",
    ]
    lines += [f"| {name} | {bps:.1f} " + scorer.row(r) for name, bps, r in rows]
    keys = ["stoi", "mcd", "dnsmos", "gpe", "vde"] + (["distillmos"] if args.distillmos else []) + (
        ["wer", "wer_cap"] if args.asr else [])
    paired = {"with the layer": paired_bootstrap(files["with the layer"], files["without the layer"], keys)}
    lines += [""] + markdown(paired, "without the layer", from_results=False)
    if args.asr and not scorer.against_text:
        lines += ["", "(Word error columns: against Whisper's transcripts of the originals, as in the table above.)"]
    emit(lines, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
