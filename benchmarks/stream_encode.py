"""Streaming encode (``Codec.encode_stream``) vs whole-file encode: same bitstream? peak memory?

    python -m benchmarks.stream_encode --data ../shared/data/dev --minutes 10,60 --whole-up-to 10 \\
        --out benchmarks/results/stream_encode.md

Builds long inputs by concatenating dev files (16 kHz WAV in a temporary folder), and encodes each
in a fresh process (so its peak RSS, ``ru_maxrss``, is its own): streaming always, whole-file up to
``--whole-up-to`` minutes. Also checks bitstream identity on ``--files`` single dev files.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from benchmarks.markdown import emit

CHILD = r"""
import json, resource, sys, time, torch
torch.set_num_threads(1)
from codec.api import Codec
c = Codec.from_pretrained()
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
data = (c.encode_stream if sys.argv[2] == "stream" else c.encode)(sys.argv[1])
dt = time.perf_counter() - t
open(sys.argv[3], "wb").write(data)
print(json.dumps(dict(seconds=dt, rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      model_rss_mb=base / 1024)))
"""


def make_long(data: Path, minutes: float, out: Path) -> float:
    rows = list(csv.DictReader(open(data / "manifest.csv")))
    need, parts, i = int(minutes * 60 * 16000), [], 0
    with sf.SoundFile(str(out), "w", 16000, 1, "PCM_16") as f:
        while need > 0:
            x, sr = sf.read(str(data / rows[i % len(rows)]["path"]), dtype="float32")
            assert sr == 16000
            x = x[:need]
            f.write(x)
            need -= x.size
            i += 1
    return minutes * 60


def run(path: Path, mode: str, out: Path) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, str(path), mode, str(out)], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1])
    if proc.returncode:
        raise RuntimeError(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def compare(a: bytes, b: bytes, tables) -> str:
    from bitstream import read_srb

    sa, sb = read_srb(a, tables), read_srb(b, tables)
    return (f"bytes {'identical' if a == b else 'differ'}; units {np.mean(sa.units == sb.units):.4%}, "
            f"F0 codes {np.mean(sa.f0 == sb.f0):.4%} equal; speaker {'equal' if sa.speaker == sb.speaker else 'differs'}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="../shared/data/dev")
    ap.add_argument("--minutes", default="10,60")
    ap.add_argument("--whole-up-to", type=float, default=10)
    ap.add_argument("--files", type=int, default=10)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    from codec.api import Codec

    codec = Codec.from_pretrained()
    data = Path(args.data)
    lines = ["# Streaming encode vs whole-file encode", "",
             f"Command: `python -m benchmarks.stream_encode --data {args.data} --minutes {args.minutes} "
             f"--whole-up-to {args.whole_up_to} --files {args.files}`", "",
             f"## Bitstream identity on {args.files} dev files", ""]
    same = 0
    rows = list(csv.DictReader(open(data / "manifest.csv")))[: args.files]
    for r in rows:
        a, b = codec.encode(data / r["path"]), codec.encode_stream(data / r["path"])
        same += a == b
        if a != b:
            lines.append(f"- {r['path']}: {compare(a, b, codec.tables)}")
    lines += [f"{same} of {len(rows)} files give identical bytes.", "",
              "## Long inputs (dev files concatenated), each encode in a fresh process", "",
              "| input | mode | peak RSS (MB) | of which model + runtime (MB) | encode time (s) | x real time | bitstream |",
              "|---|---|---:|---:|---:|---:|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        for m in [float(x) for x in args.minutes.split(",")]:
            wav = Path(tmp) / f"long{m:g}.wav"
            secs = make_long(data, m, wav)
            res = {}
            for mode in ("stream", "whole"):
                if mode == "whole" and m > args.whole_up_to:
                    continue
                r = run(wav, mode, Path(tmp) / f"{mode}{m:g}.srb")
                res[mode] = (Path(tmp) / f"{mode}{m:g}.srb").read_bytes()
                note = compare(res["whole"], res["stream"], codec.tables) if mode == "whole" else ""
                lines.append(f"| {m:g} min | {mode} | {r['rss_mb']:.0f} | {r['model_rss_mb']:.0f} | {r['seconds']:.1f} | "
                             f"{secs / r['seconds']:.0f} | {note} |")
                print(lines[-1], flush=True)
    emit(lines, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
