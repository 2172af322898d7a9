"""Pack a training split to travel to a GPU machine that has no network and a 64 MiB upload.

    python -m codec.train.pack --data ../shared/data/train --streams .cache/student/train_k100_v2.npz \
        --f0-codes .cache/f0/train_codes.npz [--f0-hz .cache/f0/train.npz] --out .gpu [--level 0.935] [--workers 2]

Audio is re-coded to Ogg/Opus at 16 kHz (libsndfile through soundfile; ``--level`` is libsndfile's
compression level, 0.935 gave 22.8 kbit/s: 3.5 h of train in 35.8 MB, against 219 MB of FLAC) and
the stream files are re-saved compressed (3.6 + 2.8 MB -> 0.55 MB). ``codec.train.decoder`` reads
the pack with ``--data .gpu/audio --audio-ext ogg``. ``--f0-hz`` adds the F0 tracks (as
``f0hz.npz``) for a decoder that takes the pitch statistics. Opus at that rate is not transparent, so the
vocoder learns from slightly coloured targets; what that costs was not measured separately.
"""

from __future__ import annotations

import argparse
import csv
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf


def _recode(job: tuple[str, str, float]) -> int:
    src, dst, level = job
    wav, sr = sf.read(src, dtype="float32")
    if sr != 16000:
        raise ValueError(f"{src}: {sr} Hz, expected 16000")
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    sf.write(dst, wav, sr, format="OGG", subtype="OPUS", compression_level=level)
    return os.path.getsize(dst)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True, help="folder with manifest.csv")
    ap.add_argument("--streams", required=True)
    ap.add_argument("--f0-codes", required=True)
    ap.add_argument("--f0-hz", default=None, help="F0 tracks (for a pitch_stats decoder), packed as f0hz.npz")
    ap.add_argument("--out", required=True)
    ap.add_argument("--level", type=float, default=0.935)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args(argv)
    data, out = Path(a.data), Path(a.out)
    rows = list(csv.DictReader((data / "manifest.csv").open()))
    jobs = [(str(data / r["path"]), str((out / "audio" / r["path"]).with_suffix(".ogg")), a.level) for r in rows]
    with ProcessPoolExecutor(a.workers) as ex:
        size = sum(ex.map(_recode, jobs, chunksize=16))
    seconds = sum(float(r["seconds"]) for r in rows)
    for src, name in ((a.streams, "streams.npz"), (a.f0_codes, "f0codes.npz"), (a.f0_hz, "f0hz.npz")):
        if src is None:
            continue
        with np.load(src, allow_pickle=False) as z:
            np.savez_compressed(out / name, **{k: z[k] for k in z.files})
    print(f"{len(rows)} files, {seconds / 3600:.2f} h -> {size / 1e6:.1f} MB ({size * 8 / seconds / 1000:.1f} kbit/s) in {out}")


if __name__ == "__main__":
    main()
