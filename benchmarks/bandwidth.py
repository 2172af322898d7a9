"""Which input came through a narrow channel: the measure that picks a bundle's encoders, on real files.

    python -m benchmarks.bandwidth --data ../shared/data --every 1 --score-below-db -35 \
        --out benchmarks/results/bandwidth.md

For every file of the train and dev splits, :func:`codec.bandwidth.high_band_db` (the level of the
5.5-7.5 kHz band relative to the speech band) of the file, and of every ``--every``-th file put
through an 8 kHz and an 11.025 kHz channel (``benchmarks.noise``'s ``band/RATE``,
:func:`codec.train.noise.band_limit`) and a G.711 landline (``phone/8000``,
:func:`codec.train.noise.phone_line`). The narrowband encoders of a bundle (:mod:`codec.narrowband`)
must catch the 8 kHz channel and the landline and leave the files alone; the report counts what the default rule
(:class:`codec.narrowband.NarrowbandConfig`) picks and lists the files with the emptiest high band.

``--conditions clean,pink/10,...`` also measures every ``--every``-th dev file in those conditions
of ``benchmarks.noise`` (noise, rooms, channels): noisy or reverberant wideband speech must not
look like a channel.

``--score-below-db DB`` also codes the files whose high band measures under DB with both of the
bundle's pairs of encoders (``--model``) and scores the decodes against the originals: STOI,
Resemblyzer speaker cosine, and Whisper's word errors per file (against the transcripts where the
manifest has them, else against Whisper's transcripts of the originals), paired over the files.
Needs the ``eval`` extra.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from benchmarks.report import load_items, read_audio
from codec.bandwidth import high_band_db
from codec.narrowband import NarrowbandConfig
from codec.train.noise import band_limit, phone_line

SR = 16000
#: name in the report -> the channel
CHANNELS = {
    "through an 8 kHz channel": lambda x: band_limit(x, 8000),
    "through an 11.025 kHz channel": lambda x: band_limit(x, 11025),
    "through a G.711 landline": phone_line,
}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"), help="holds train/ and dev/")
    ap.add_argument("--splits", default="train,dev")
    ap.add_argument("--every", type=int, default=10, help="every N-th file also through the channels")
    ap.add_argument("--list", type=int, default=20, help="list the files with the N emptiest high bands")
    ap.add_argument("--score-below-db", type=float, default=None, metavar="DB",
                    help="code the files whose high band is under DB with both pairs of encoders and score them")
    ap.add_argument("--model", default=None, help="bundle for --score-below-db (default: the bundled one)")
    ap.add_argument("--conditions", default=None,
                    help="benchmarks.noise conditions to measure every --every-th dev file in (e.g. pink/10,babble/10)")
    ap.add_argument("--out", type=Path, default=None, help="markdown report (default: print)")
    args = ap.parse_args(argv)
    t0 = time.time()
    files, channel, low = [], {name: [] for name in CHANNELS}, []
    for split in args.splits.split(","):
        for item in load_items(args.data / split):
            x, sr = sf.read(item.path, dtype="float32", always_2d=True)
            if sr != SR:
                raise SystemExit(f"{item.key}: {sr} Hz; the splits are {SR} Hz")
            x = x.mean(axis=1)
            files.append((f"{split}/{item.key}", high_band_db(x, SR)))
            if args.score_below_db is not None and files[-1][1] < args.score_below_db:
                low.append((item, x))
            if (len(files) - 1) % args.every == 0:
                for name, through in CHANNELS.items():
                    channel[name].append(high_band_db(through(x), SR))
    rule = NarrowbandConfig()
    levels = np.array([db for _, db in files])
    q = (0, 0.1, 1, 50, 99, 99.9, 100)
    row = lambda name, v: f"| {name} | {len(v)} | " + " | ".join(f"{p:.1f}" for p in np.percentile(v, q)) + \
        f" | {sum(map(rule.picks, v))} |"  # noqa: E731
    lines = [
        "# The high band of the train and dev files, and of the same files through a narrow channel",
        "",
        f"`python -m benchmarks.bandwidth --data {args.data} --splits {args.splits} --every {args.every}"
        + (f" --score-below-db {args.score_below_db:g}" if args.score_below_db is not None else "")
        + (f" --conditions {args.conditions}" if args.conditions else "")
        + (f" --model {args.model}" if args.model else "") + f"` (measured in {time.time() - t0:.0f} s)",
        "",
        "The level of the 5.5-7.5 kHz band relative to the 300-3000 Hz band (`codec.bandwidth.high_band_db`, dB), "
        f"percentiles, and how many the narrowband encoders' rule (under {rule.high_below_db:g} dB) picks.",
        "",
        "| | files | " + " | ".join(f"{p:g} %" for p in q) + " | picked |",
        "|---|---:|" + "---:|" * (len(q) + 1),
        row("the files", levels),
        *(row(f"every {args.every}-th file {name}" if args.every > 1 else f"the files {name}", np.array(v))
          for name, v in channel.items()),
        *(condition_rows(args.data / "dev", args.every, args.conditions, row) if args.conditions else []),
        "",
        f"The {args.list} files with the emptiest high band:",
        "",
        *[f"- {name}: {db:.1f} dB" for name, db in sorted(files, key=lambda f: f[1])[: args.list]],
    ]
    if args.score_below_db is not None:
        lines += ["", *score_pairs(low, args.score_below_db, args.model)]
    text = "\n".join(lines) + "\n"
    if args.out:
        args.out.write_text(text)
    print(text)


def condition_rows(dev: Path, every: int, conditions: str, row) -> list[str]:
    """Table rows: the high band of every ``every``-th file of ``dev`` in each of ``conditions``."""
    from benchmarks.noise import noisy_versions, parse_conditions

    items = load_items(dev)[::every]
    refs = [read_audio(it.path) for it in items]
    versions = noisy_versions(items, refs, parse_conditions(conditions))
    return [row(f"dev, every {every}-th file, {name}", np.array([high_band_db(x, SR) for x in mixes]))
            for name, mixes in versions.items()]


def score_pairs(low: list, db: float, model: str | None) -> list[str]:
    """Markdown: the files in ``low`` (``(benchmarks.report.Item, audio)``) coded with the narrowband
    and the wideband encoders of ``model``, scored against the originals and paired over files."""
    from benchmarks.metrics import SpeakerSimilarity
    from benchmarks.paired import markdown, paired_bootstrap
    from benchmarks.render_scores import RenderScorer
    from codec.api import Codec

    codec = Codec.from_pretrained(model)
    if codec.narrowband is None or not low:
        return [f"No scores: {'the model has no narrowband encoders' if low else f'no file under {db:g} dB'}."]
    items, refs = [it for it, _ in low], [x for _, x in low]
    scorer, judge = RenderScorer(items, refs, refs, asr="per-file"), SpeakerSimilarity()
    rows, files = [], {}
    for name, narrowband in (("narrowband encoders", True), ("wideband encoders", False)):
        outs = [codec.decode_streams(codec.encode_streams(x, SR, narrowband=narrowband)) for x in refs]
        r = scorer.score(outs)
        cos = [float(judge.cosine(judge.embed(x), judge.embed(y))) for x, y in zip(refs, outs)]
        files[name] = [{**f, "spk_cos": c} for f, c in zip(scorer.files, cos)]
        rows.append(f"| {name} | {r['stoi']:.4f} | {np.mean(cos):.3f} | {100 * r['wer']:.1f} % "
                    f"| {100 * r['wer_capped']:.1f} % |")
    wer = "WER" if scorer.against_text else "dWER"
    paired = {"narrowband encoders": paired_bootstrap(files["narrowband encoders"], files["wideband encoders"],
                                                      ["stoi", "spk_cos", "wer", "wer_cap"])}
    return [f"## The {len(refs)} files whose high band is under {db:g} dB, coded with each pair "
            f"(model {codec.model_id:08x})", "",
            f"Whisper per file; {wer}: against "
            + ("the transcripts." if scorer.against_text else "Whisper's transcripts of the originals."), "",
            f"| encoders | STOI | speaker cos | {wer} | {wer} capped |", "|---|---:|---:|---:|---:|", *rows, "",
            *markdown(paired, "wideband encoders", from_results=False)]


if __name__ == "__main__":
    main()
