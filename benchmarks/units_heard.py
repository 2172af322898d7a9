"""How many of the transmitted units can the content encoder hear again in the decoded audio?

    python -m benchmarks.units_heard --data ../shared/data/train --every 50 --model BUNDLE [--model BUNDLE2 ...]

Each file is encoded by the bundle, decoded (the vocoder alone, and the full decoder with the
finishing its ``render.json`` names: postfilter, pitch resynthesis, envelope smoother, band refiner), and the decoded audio is encoded again by the same content
encoder: the share of unit frames that come back unchanged (decoding the original exactly would
score 100 %). It asks whether the decoder says what the bitstream carries without an ASR judge,
in the encoder's own terms (which it learned from Whisper). Frames within
``--edge`` of either end are left out (the encoder sees padding there). No training file is
needed: it runs on any split.
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks import dev_script
from benchmarks.markdown import emit


def heard(codec, audio: np.ndarray, units: np.ndarray, edge: int) -> tuple[int, int]:
    """``(frames agreeing, frames compared)`` between ``units`` and the units of ``audio``."""
    again = codec.encode_streams(audio, codec.sample_rate).units
    n = min(len(again), len(units))
    keep = slice(edge, max(edge, n - edge))
    return int(np.sum(again[:n][keep] == units[:n][keep])), len(range(n)[keep])


def measure(codec, items, edge: int) -> dict:
    """Units heard through ``codec``'s vocoder alone and through its full decoder (the finishing
    its ``render.json`` names), over ``items``."""
    from benchmarks.report import read_audio

    bare = codec.vocoder_only()
    totals = {"vocoder": [0, 0], "full": [0, 0]}
    for it in items:
        x = read_audio(it.path)
        streams = codec.encode_streams(x, codec.sample_rate)
        for name, decoder in (("vocoder", bare), ("full", codec)):
            ok, n = heard(codec, decoder.decode_streams(streams), streams.units, edge)
            totals[name][0] += ok
            totals[name][1] += n
    return {"model_id": f"{codec.model_id:08x}", "name": codec.config.name, "frames": totals["full"][1],
            **{k: v[0] / max(1, v[1]) for k, v in totals.items()}}


def main(argv=None) -> int:
    ap = dev_script.parser(__doc__, every=50, models=True)
    ap.add_argument("--edge", type=int, default=4, help="unit frames left out at each end of a file")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    models = args.model or [None]
    args.model = models[0]
    first, items = dev_script.start(args)  # the first bundle, full decoder
    from codec.api import Codec

    codecs = (first if i == 0 else Codec.from_pretrained(m) for i, m in enumerate(models))  # one at a time
    rows = [measure(codec, items, args.edge) for codec in codecs]
    flags = "".join(f" --model {m}" for m in models if m)
    lines = [
        "# Units heard again in the decoded audio", "",
        f"`python -m benchmarks.units_heard --data {args.data} --every {args.every}{flags}` "
        f"({len(items)} files, {rows[0]['frames']} unit frames compared per model, {args.edge} left out at each "
        f"end of a file; {time.perf_counter() - t0:.0f} s). *vocoder*: the vocoder's output; *full*: with the "
        "postfilter, pitch resynthesis, envelope smoother and band refiner of the bundle's render.json.", "",
        "| model | name | vocoder | full |", "|---|---|---:|---:|",
        *(f"| {r['model_id']} | {r['name']} | {100 * r['vocoder']:.1f} % | {100 * r['full']:.1f} % |" for r in rows),
    ]
    emit(lines, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
