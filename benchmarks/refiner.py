"""What the band refiner (codec/refiner.py) does to the decoded speech, on files it was not trained on.

    python -m benchmarks.refiner --data ../shared/data/train --held-out 50 --every 5 --scales 1,0.5 --asr per-file --distillmos --out benchmarks/results/refiner-train.md

The refiner is trained on train files with the speakers of every 50th file held out
(``codec.train.refiner --holdout-every 50``, :func:`codec.train.refiner.held_out_speakers`);
``--held-out 50`` keeps only those speakers' files
(then every ``--every``-th of them), so it is scored on voices it never heard. Each file is encoded
once and decoded with the bundle's decoder without the refiner (row ``none``: sessions 11-12's
decoder), then refined with the bundle's refiner at each ``--scales`` share of its gain. Scores
against the originals (:class:`benchmarks.render_scores.RenderScorer`). Dev is checked once, by the
full report (``--systems srb,srb-sm``), so dev never tunes the refiner.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from benchmarks import dev_script
from benchmarks.markdown import emit


def main(argv=None) -> int:
    ap = dev_script.parser(__doc__, every=1)
    dev_script.add_held_out(ap)
    ap.add_argument("--scales", default="1", help="shares of the refiner's gain to score (comma-separated)")
    dev_script.add_judges(ap, "scale")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    codec, items = dev_script.start_held_out(args)
    if codec.refiner is None:
        raise SystemExit("benchmarks.refiner: the bundle has no band refiner (render.json, refiner.safetensors)")
    from benchmarks.render_scores import RenderScorer
    from benchmarks.report import read_audio
    from codec.refiner import BandRefiner

    refiner, codec.refiner, codec.apply_gain = codec.refiner, None, False
    refs, unrefined, gains = [], [], []
    for it in items:
        x = read_audio(it.path)
        s = codec.encode_streams(x, codec.sample_rate, envelope=False)
        refs.append(x)
        unrefined.append(codec.decode_streams(s))  # every stage but the refiner, before the gain
        gains.append(s.gain)
    codec.apply_gain = True
    gains = [codec.output_gain(g) for g in gains]

    def finish(audio: list[np.ndarray]) -> list[np.ndarray]:
        """The decoder's last step: the file's gain, then the clamp."""
        return [np.clip(y * g, -1, 1).astype(np.float32) for y, g in zip(audio, gains)]

    base = finish(unrefined)
    seconds = sum(len(x) for x in refs) / codec.sample_rate
    scorer = RenderScorer(items, refs, base, args.asr, args.distillmos)
    rows = [("none", scorer.score(base), 0.0)]
    print(rows[-1], flush=True)
    for scale in (float(s) for s in args.scales.split(",")):
        stage = BandRefiner(refiner.config.model_copy(update={"scale": scale}), refiner.net)
        t = time.perf_counter()
        refined = [stage(torch.from_numpy(np.ascontiguousarray(y, np.float32))).numpy() for y in unrefined]
        cost = (time.perf_counter() - t) / seconds
        outs = finish(refined)
        rows.append((f"refiner x{scale:g}", scorer.score(outs), cost))
        print(rows[-1], flush=True)
    lines = [
        "# Band refiner",
        "",
        f"`python -m benchmarks.refiner --data {args.data} --held-out {args.held_out} --every {args.every} "
        f"--scales {args.scales}" + (f" --model {args.model}" if args.model else "")
        + f"{dev_script.judges_flags(args)}` (model {codec.model_id:08x}; {len(items)} files, {seconds:.0f} s, "
        f"speakers the refiner was not trained on; {time.perf_counter() - t0:.0f} s). `none`: the decoder "
        "without the refiner (vocoder, postfilter, pitch resynthesis, envelope smoother, gain). Cost: CPU seconds "
        "per audio second of the refiner alone, one thread. GPE's second column: the frames voiced in `none`."
        + (f" WER: the {len(scorer.scored)} files with a transcript." if args.asr and scorer.against_text else
           " WER: against Whisper's transcripts of the originals (dWER)." if args.asr else ""),
        "",
        "| variant | cost s/s " + scorer.header(),
        "|---|---" + "|---:" * 11 + "|",
    ]
    lines += [f"| {name} | {f'{cost:.3f}' if cost else '–'} " + scorer.row(r) for name, r, cost in rows]
    emit(lines, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
