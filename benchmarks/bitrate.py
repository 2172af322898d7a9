"""srb's bitrate on a data split, every bit counted, per stream (no quality metrics: fast).

    python -m benchmarks.bitrate ../shared/data/dev [--model BUNDLE] [--packet-seconds 2,8] [--out benchmarks/results/bitrate_dev.md]

Encodes every file of the manifest, sums each stream's bits from :func:`bitstream.bitrate_report`
over all files, and divides by the total audio duration; with ``--packet-seconds``, one column per
packet length (the same streams written with each). Also times encoding (audio seconds per wall
second, one thread).
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
    ap.add_argument("--packet-seconds", default=None, help="comma-separated packet lengths (default: the bundle's)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    codec = Codec.from_pretrained(args.model)
    frames_per_s = codec.sample_rate / codec.config.unit_hop
    packets = ([codec.packet_frames(round(float(v) * frames_per_s)) for v in args.packet_seconds.split(",")]
               if args.packet_seconds else [codec.config.packet_frames])
    with open(args.data / "manifest.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    totals: dict[str, list[float]] = {}
    seconds = wall = 0.0
    fixed = 0.0
    for r in rows:
        t0 = time.perf_counter()
        streams = codec.encode_streams(args.data / r["path"])
        data = [codec.write(streams, p) for p in packets]
        wall += time.perf_counter() - t0
        for i, d in enumerate(data):
            rep = bitrate_report(d, codec.tables)
            for name, bits in rep.lines() + [("total", rep.total_bits)]:
                totals.setdefault(name, [0.0] * len(packets))[i] += bits
        seconds += rep.duration
        fixed = rep.fixed_length_bps
    lines = [
        f"# srb bitrate on {args.data}",
        "",
        f"Command: `python -m benchmarks.bitrate {args.data}{' --model ' + str(args.model) if args.model else ''}"
        f"{' --packet-seconds ' + args.packet_seconds if args.packet_seconds else ''} --out {args.out}`; model `{codec.config.name}` "
        f"(id {codec.model_id:08x}); {len(rows)} files, {seconds:.1f} s of audio; unseen speakers sent as "
        "64-bit vectors.",
        "",
    ]
    if len(packets) == 1:
        lines += ["| stream | bits/s |", "|---|---|"]
    else:
        lines += ["| stream | " + " | ".join(f"bits/s, {p / frames_per_s:g} s packets" for p in packets) + " |",
                  "|---" + "|---:" * len(packets) + "|"]
    lines += [f"| {name} | " + " | ".join(f"{b / seconds:.1f}" for b in bits) + " |" for name, bits in totals.items()]
    lines += [
        "",
        f"Paper-style fixed-length count (units + F0 only): {fixed:.1f} bits/s.",
        f"Encoding speed: {seconds / wall:.1f}x real time (one thread, this machine).",
    ]
    emit(lines, args.out)


if __name__ == "__main__":
    main()
