"""Does the decoded speech come back at the input's loudness? (the output gain, format 1.3)

    python -m benchmarks.level --data ../shared/data/train --every 50 --out benchmarks/results/level-train.md

Every ``--every``-th file is scaled by each of ``--gains`` (dB), encoded and decoded with the
bundle; the table gives, per input gain, the decoded speech's active level (codec/level.py) minus
the input's, mean and standard deviation over the files, with the file's gain field applied (the
decoder's default) and ignored (``Codec(gain=False)``: the vocoder's own level, as before 1.3),
and the share of output samples at full scale. The input's level is measured as the encoder hears
it: its DC offset removed and high-passed (:func:`codec.audio.load_audio`), so a recording's
rumble below the cutoff does not count as its loudness; ``--dc-above X`` keeps only the files whose
mean exceeds ``X`` in magnitude (27 train files have one over 1e-3: codec.audio.dc_offset).
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks import dev_script
from benchmarks.markdown import emit


def main(argv=None) -> int:
    ap = dev_script.parser(__doc__, every=50)
    ap.add_argument("--gains", default="-30,-20,-10,0", help="comma-separated input gains in dB")
    ap.add_argument("--dc-above", type=float, default=0.0, help="only files whose mean exceeds this in magnitude")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    codec, items = dev_script.start(args)
    from benchmarks.report import read_audio
    from codec.audio import load_audio
    from codec.level import GAIN_STEP_DB, active_level, frame_powers

    def level(w):
        return active_level(frame_powers(w))

    gains = [float(g) for g in args.gains.split(",")]
    rows = []
    refs = [read_audio(it.path) for it in items]
    if args.dc_above > 0:
        keep = [abs(float(x.mean(dtype=np.float64))) > args.dc_above for x in refs]
        items, refs = [it for it, k in zip(items, keep) if k], [x for x, k in zip(refs, keep) if k]
    for g in gains:
        with_gain, without, clipped, fields = [], [], [], []
        for x in refs:
            xs = np.clip(x * 10 ** (g / 20), -1, 1).astype(np.float32)
            streams = codec.encode_streams(xs, codec.sample_rate)  # as shipped (the envelope layer too)
            codec.apply_gain = True
            y = codec.decode_streams(streams)
            codec.apply_gain = False
            y0 = codec.decode_streams(streams)
            codec.apply_gain = True
            speech = level(load_audio(xs, codec.sample_rate, codec.sample_rate, codec.input_highpass).numpy())
            with_gain.append(level(y) - speech)
            without.append(level(y0) - speech)
            clipped.append(float(np.mean(np.abs(y) >= 1.0)))
            fields.append(streams.gain * GAIN_STEP_DB)
        rows.append((g, np.mean(with_gain), np.std(with_gain), np.mean(without), np.std(without),
                     100 * np.mean(clipped), 100 * np.max(clipped), np.mean(fields)))
        print(rows[-1], flush=True)
    seconds = sum(len(x) for x in refs) / codec.sample_rate
    lines = [
        "# Decoded level against the input's",
        "",
        f"`python -m benchmarks.level --data {args.data} --every {args.every} --gains={args.gains}"
        f"{f' --dc-above {args.dc_above:g}' if args.dc_above else ''}` "
        f"(model {codec.model_id:08x}; {len(items)} files, {seconds:.0f} s; {time.perf_counter() - t0:.0f} s). "
        "Active level (codec/level.py: mean power of the 20 ms frames within 40 dB of the loudest) of the "
        "decoded speech minus the input's, in dB, mean and standard deviation over the files; *full scale*: "
        "output samples at +-1 (mean and worst file); *field*: the mean gain the files carry.",
        "",
        "| input gain | with the gain field | without (the vocoder's level) | full scale, mean | worst file | field |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [f"| {g:+.0f} dB | {m:+.2f} ± {s:.2f} dB | {m0:+.2f} ± {s0:.2f} dB | {c:.3f} % | {cw:.3f} % | {f:+.1f} dB |"
              for g, m, s, m0, s0, c, cw, f in rows]
    emit(lines, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
