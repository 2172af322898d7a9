"""Run a trained content encoder over a data split and store its units (the decoder's inputs).

    python -m codec.train.units --content codec/assets/content-k100 --data ../shared/data/train \
        --out .cache/student/train_k100.npz

Output layout as the other stream caches: ``units`` (concatenated int32, ``ceil(N / 320)`` per
utterance), ``unit_offsets``, ``num_samples``, ``speaker`` (index into ``speaker_names``), ``paths``.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from codec.content import ContentEncoder


def read_manifest(data: Path) -> list[dict]:
    with open(data / "manifest.csv", newline="") as f:
        return list(csv.DictReader(f))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--content", required=True, help="content encoder (path stem of .safetensors + .json)")
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = ContentEncoder.load(args.content)
    data = Path(args.data)
    rows = read_manifest(data)
    names = sorted({r["speaker"] for r in rows})
    units, lengths, speakers = [], [], []
    t0 = time.time()
    with torch.inference_mode():
        for r in rows:
            wav, sr = sf.read(str(data / r["path"]), dtype="float32")
            units.append(model.units(torch.from_numpy(wav)[None])[0].numpy().astype(np.int32))
            lengths.append(len(wav))
            speakers.append(names.index(r["speaker"]))
    offsets = np.cumsum([0] + [len(u) for u in units]).astype(np.int64)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, units=np.concatenate(units), unit_offsets=offsets, num_samples=np.array(lengths, np.int64),
             speaker=np.array(speakers, np.int32), speaker_names=np.array(names, dtype="<U32"),
             paths=np.array([r["path"] for r in rows], dtype="<U128"))
    audio_s = sum(lengths) / 16000
    print(f"{len(rows)} files, {audio_s:.0f} s audio in {time.time() - t0:.0f} s -> {out}")


if __name__ == "__main__":
    main()
