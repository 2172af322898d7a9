"""Should srb's decoder steady its output's band envelopes (codec/smoother.py), and how much?

    python -m benchmarks.smoother --data ../shared/data/train --every 50 --variants after/5,before/5,after/5/depth=0.5 --distillmos --peer 700C --out benchmarks/results/smoother-train.md

Every ``--every``-th file of ``--data`` is encoded once and decoded with the bundle's vocoder and
postfilter; the pitch resynthesis the bundle names then follows as shipped (row ``none``: the
shipped decoder). Each variant ``WHERE/FRAMES[/FIELD=VALUE...]`` (e.g. ``after/5/depth=0.5``)
(:class:`codec.smoother.SmootherConfig`) smooths either the finished audio (``after``: the last
stage) or the postfilter's output, before the resynthesis (``before``). With ``--peer MODE`` the
same variants (``after`` only) are also applied to Codec2 MODE's output of the same files: a
control for whether a change helps srb's audio or only pleases the judges. Scores against the
originals (:class:`benchmarks.render_scores.RenderScorer`). Variants are chosen on the train split
and checked once on dev by the full report, so dev never tunes them.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from benchmarks import dev_script
from benchmarks.markdown import emit


def parse_variant(text: str):
    """``"after/5/depth=0.5"`` -> ``("after", SmootherConfig(frames=5, depth=0.5))``; any
    :class:`~codec.smoother.SmootherConfig` field may follow as ``NAME=VALUE``."""
    from codec.smoother import SmootherConfig

    where, frames, *opts = text.split("/")
    if where not in ("after", "before"):
        raise SystemExit(f"variant {text!r}: where must be after or before")
    kw = {k: float(v) if k in ("depth", "max_boost_db", "max_cut_db") else int(v) for k, v in (o.split("=") for o in opts)}
    return where, SmootherConfig(frames=int(frames), **kw)


def main(argv=None) -> int:
    ap = dev_script.parser(__doc__, every=50)
    ap.add_argument("--variants", default="after/5,before/5")
    ap.add_argument("--peer", default=None, help="also smooth this Codec2 mode's output (e.g. 700C), as a control")
    ap.add_argument("--heard", action="store_true",
                    help="also the units the content encoder hears again in srb's output (benchmarks.units_heard)")
    dev_script.add_judges(ap, "variant")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    codec, items = dev_script.start(args)
    from benchmarks.render_scores import RenderScorer
    from benchmarks.report import read_audio
    from benchmarks.units_heard import heard
    from codec.smoother import EnvelopeSmoother

    variants = [(v, *parse_variant(v)) for v in args.variants.split(",")]
    codec.smoother = None  # the bundle's own (render.json), if any: the variants replace it
    codec.refiner = None  # trained after the smoother, on its output (codec/train/refiner.py)
    resynth, codec.resynth, codec.apply_gain = codec.resynth, None, False
    refs, pf, streams = [], [], []
    for it in items:
        x = read_audio(it.path)
        s = codec.encode_streams(x, codec.sample_rate, envelope=False)
        refs.append(x)
        streams.append(s)
        pf.append(codec.decode_streams(s))  # vocoder + postfilter, before the gain
    codec.resynth, codec.apply_gain = resynth, True

    spent = [0.0]  # CPU seconds in the smoother alone

    def smooth(smoother, y: np.ndarray) -> np.ndarray:
        t = time.perf_counter()
        out = smoother(torch.from_numpy(np.ascontiguousarray(y, np.float32))).numpy()
        spent[0] += time.perf_counter() - t
        return out

    def finish(audio: list[np.ndarray], smoother=None, where="after") -> list[np.ndarray]:
        """The shipped decoder's last steps (resynthesis, gain, clamp) with ``smoother`` ``where`` named."""
        out = []
        for y, s in zip(audio, streams):
            if smoother is not None and where == "before":
                y = smooth(smoother, y)
            if codec.resynth is not None and s.pitch_stats is not None:
                y = codec.revoice(y, s.f0, s.pitch_stats, s.pitch_cents)
            if smoother is not None and where == "after":
                y = smooth(smoother, y)
            out.append(np.clip(y * codec.output_gain(s.gain), -1, 1).astype(np.float32))
        return out

    def score(outs: list[np.ndarray]) -> dict:
        row = scorer.score(outs)
        if args.heard:  # frames whose unit comes back, 4 left out at each end as in benchmarks.units_heard
            counts = np.array([heard(codec, y, s.units, 4) for y, s in zip(outs, streams)]).sum(0)
            row["heard"] = counts[0] / max(1, counts[1])
        return row

    seconds = sum(len(x) for x in refs) / codec.sample_rate
    shipped = finish(pf)
    scorer = RenderScorer(items, refs, shipped, args.asr, args.distillmos)
    rows = [("srb", "none", score(shipped), 0.0)]
    print(rows[-1], flush=True)
    for name, where, cfg in variants:
        spent[0] = 0.0
        outs = finish(pf, EnvelopeSmoother(cfg), where)
        cost = spent[0] / seconds
        rows.append(("srb", name, score(outs), cost))
        print(rows[-1], flush=True)
    if args.peer:
        from benchmarks.peers import Codec2

        peer = Codec2(args.peer)
        coded = [peer.run(x).wav for x in refs]
        rows.append((f"Codec2 {args.peer}", "none", scorer.score(coded), 0.0))
        print(rows[-1], flush=True)
        for name, where, cfg in variants:
            if where == "after":
                sm = EnvelopeSmoother(cfg)
                outs = [np.clip(sm(torch.from_numpy(y)).numpy(), -1, 1) for y in coded]
                rows.append((f"Codec2 {args.peer}", name, scorer.score(outs), float("nan")))
                print(rows[-1], flush=True)
    lines = [
        "# Envelope smoother variants",
        "",
        f"`python -m benchmarks.smoother --data {args.data} --every {args.every} --variants {args.variants}"
        + (f" --peer {args.peer}" if args.peer else "") + (f" --model {args.model}" if args.model else "")
        + (" --heard" if args.heard else "")
        + f"{dev_script.judges_flags(args)}` "
        f"(model {codec.model_id:08x}, postfilter "
        f"{'off' if codec.postfilter is None else f'strength {codec.postfilter.config.strength:g}'}, resynthesis "
        f"{'on' if codec.resynth is not None else 'off'}; {len(items)} files, {seconds:.0f} s; "
        f"{time.perf_counter() - t0:.0f} s). Variant WHERE/FRAMES[/FIELD=VALUE...] (fields of SmootherConfig): `none` = "
        "the decoder without the smoother (srb: vocoder, postfilter, resynthesis, gain). Cost: CPU seconds per audio "
        "second of the smoother alone, one thread. GPE's second column: the frames voiced in srb's `none` row."
        + (f" WER: the {len(scorer.scored)} files with a transcript." if args.asr and scorer.against_text else "")
        + (" *Units heard*: the share of unit frames the content encoder hears again in the output "
           "(benchmarks/units_heard.py; 4 frames left out at each end of a file)." if args.heard else ""),
        "",
        "| system | variant | cost s/s " + ("| units heard " if args.heard else "") + scorer.header(),
        "|---|---" + "|---:" * (13 if args.heard else 12) + "|",
    ]

    def heard_cell(r: dict) -> str:
        return (f"| {100 * r['heard']:.1f} % " if "heard" in r else "| – ") if args.heard else ""

    lines += [f"| {sys_} | {name} | {f'{cost:.3f}' if np.isfinite(cost) else '–'} " + heard_cell(r) + scorer.row(r)
              for sys_, name, r, cost in rows]
    emit(lines, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
