"""srb's bitrate on a data split, every bit counted, per stream (no quality metrics: fast).

    python -m benchmarks.bitrate ../shared/data/dev [--model BUNDLE] [--out benchmarks/results/bitrate_dev.md]

Encodes every file of the manifest, sums each stream's bits from :func:`bitstream.bitrate_report`
over all files, and divides by the total audio duration. Also times encoding (audio seconds per
wall second, one thread).
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import torch

from bitstream import bitrate_report
from codec.api import Codec
from benchmarks.markdown import emit


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data", type=Path)
    ap.add_argument("--model", default=None)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    codec = Codec.from_pretrained(args.model)
    with open(args.data / "manifest.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    totals: dict[str, float] = {}
    seconds = wall = 0.0
    fixed = 0.0
    for r in rows:
        t0 = time.perf_counter()
        data = codec.encode(args.data / r["path"])
        wall += time.perf_counter() - t0
        rep = bitrate_report(data, codec.tables)
        for name, bits in rep.lines() + [("total", rep.total_bits)]:
            totals[name] = totals.get(name, 0.0) + bits
        seconds += rep.duration
        fixed = rep.fixed_length_bps
    lines = [
        f"# srb bitrate on {args.data}",
        "",
        f"Command: `python -m benchmarks.bitrate {args.data}{' --model ' + str(args.model) if args.model else ''} --out {args.out}`; model `{codec.config.name}` "
        f"(id {codec.model_id:08x}); {len(rows)} files, {seconds:.1f} s of audio; unseen speakers sent as "
        "64-bit vectors.",
        "",
        "| stream | bits/s |",
        "|---|---|",
    ]
    lines += [f"| {name} | {bits / seconds:.1f} |" for name, bits in totals.items()]
    lines += [
        "",
        f"Paper-style fixed-length count (units + F0 only): {fixed:.1f} bits/s.",
        f"Encoding speed: {seconds / wall:.1f}x real time (one thread, this machine).",
    ]
    emit(lines, args.out)


if __name__ == "__main__":
    main()
