"""Would choosing units by analysis-by-synthesis (as CELP codecs choose excitations) help?

    python -m benchmarks.abs_units --data ../shared/data/train --every 200 --candidates 4 --radius 8 --asr per-file --out benchmarks/results/abs-units-train.md

An experiment, not an encoder mode: for every unit frame in turn, the encoder tries the content
encoder's ``--candidates`` likeliest units there, decodes each (the bundle's vocoder, on a window
of twice ``--radius`` frames either side, the candidates as one batch) and keeps the unit whose
audio within ``--radius`` frames is closest to the original in log-mel (the vocoder's training
loss, three resolutions); one greedy pass, left to right, each choice seen by the next. The files
are then decoded as shipped and scored against the originals with the report's metrics. Bits/s
are those of the written files.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from benchmarks import dev_script
from benchmarks.markdown import emit


def main(argv=None) -> int:
    ap = dev_script.parser(__doc__, every=200)
    ap.add_argument("--candidates", type=int, default=4, help="likeliest units tried per frame")
    ap.add_argument("--radius", type=int, default=8, help="unit frames either side a choice is judged on")
    dev_script.add_judges(ap, "system", distillmos=False)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    codec, items = dev_script.start(args)
    import torch

    from benchmarks.render_scores import RenderScorer
    from benchmarks.report import read_audio
    from bitstream import write_srb
    from codec.synth import stats_tensor
    from codec.train.decoder import MelLoss

    mels = MelLoss().mels
    hop, ratio = codec.config.unit_hop, codec.config.f0_hop // codec.config.unit_hop

    def mel_l1(fake, real):  # (B, n) against (n,) -> (B,)
        return sum((torch.log(m(fake) + 1e-5) - torch.log(m(real[None]) + 1e-5)).abs().mean(dim=(1, 2))
                   for m in mels) / len(mels)

    refs, base, chosen, bits, search, changed, frames, loss = [], [], [], np.zeros(2), 0.0, 0, 0, np.zeros(2)
    for it in items:
        x = read_audio(it.path)
        xt = torch.from_numpy(x)
        streams = codec.encode_streams(x, codec.sample_rate, envelope=False)
        t1 = time.perf_counter()
        with torch.inference_mode():
            n = streams.units.size
            top = codec.content(xt[None])[0][:, :n].topk(args.candidates, dim=0).indices.T.numpy()
            spk, st = codec.speaker_vector(streams.speaker), stats_tensor(streams.pitch_stats)
            f0 = torch.from_numpy(streams.f0.astype(np.int64))
            xp = torch.nn.functional.pad(xt, (0, n * hop - xt.numel()))
            units = streams.units.astype(np.int64).copy()

            def whole(u):
                return float(mel_l1(codec.decoder(torch.from_numpy(u)[None], f0[None], spk, st), xp)[0])

            before = whole(units)
            for t in range(n):
                cands = [int(c) for c in top[t] if c != units[t]]
                a = max(0, t - 2 * args.radius)
                a -= a % ratio  # windows start on an F0 frame
                b = min(n, t + 2 * args.radius + 1)
                batch = np.repeat(units[None, a:b], len(cands) + 1, axis=0)
                batch[1:, t - a] = cands
                f = f0[a // ratio: -(-b // ratio)][None].expand(len(batch), -1)
                y = codec.decoder(torch.from_numpy(batch), f, spk.expand(len(batch), -1),
                                  None if st is None else st.expand(len(batch), -1))
                ra, rb = max(a, t - args.radius), min(b, t + args.radius + 1)
                k = int(mel_l1(y[:, (ra - a) * hop: (rb - a) * hop], xp[ra * hop: rb * hop]).argmin())
                if k:
                    units[t] = cands[k - 1]
            loss += [before, whole(units)]
        search += time.perf_counter() - t1
        new = dataclasses.replace(streams, units=units.astype(np.int32))
        changed += int((units != streams.units).sum())
        frames += n
        bits += [8 * len(write_srb(s, codec.tables, codec.config.packet_frames)) for s in (streams, new)]
        refs.append(x)
        base.append(codec.decode_streams(streams))
        chosen.append(codec.decode_streams(new))
        print(f"{it.path}: {n} frames, {100 * np.mean(units != streams.units):.0f} % changed", flush=True)
    seconds = sum(len(x) for x in refs) / codec.sample_rate
    scorer = RenderScorer(items, refs, base, args.asr)
    rows = [("argmax (shipped)", bits[0], loss[0], scorer.score(base)),
            ("analysis-by-synthesis", bits[1], loss[1], scorer.score(chosen))]
    lines = [
        "# Units chosen by analysis-by-synthesis",
        "",
        f"`python -m benchmarks.abs_units --data {args.data} --every {args.every} --candidates {args.candidates} "
        f"--radius {args.radius}{dev_script.judges_flags(args)}` (model {codec.model_id:08x}; {len(items)} files, "
        f"{seconds:.0f} s; {time.perf_counter() - t0:.0f} s). The search changed {100 * changed / max(frames, 1):.1f} % of the "
        f"unit frames and took {search / seconds:.2f} CPU s per audio second (one thread). *mel*: the vocoder's log-mel "
        "L1 against the original, mean over files. Audio scored: the shipped decoder's."
        + (f" WER: the {len(scorer.scored)} files with a transcript." if args.asr and scorer.against_text else ""),
        "",
        "| units | bits/s | mel " + scorer.header(),
        "|---" + "|---:" * 13 + "|",
    ]
    lines += [f"| {name} | {b / seconds:.1f} | {m / len(items):.3f} " + scorer.row(r) for name, b, m, r in rows]
    emit(lines, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
