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


def save_streams(out, rows: list[dict], units: list[np.ndarray], lengths: list[int],
                 f0: list[np.ndarray] | None = None) -> Path:
    """Write the stream cache of the manifest ``rows`` (see the module doc; ``f0`` adds ``f0`` and
    ``f0_offsets``) to ``out``, and return its path."""
    names = sorted({r["speaker"] for r in rows})
    offsets = lambda xs: np.cumsum([0] + [len(x) for x in xs]).astype(np.int64)  # noqa: E731
    extra = {} if f0 is None else {"f0": np.concatenate(f0).astype(np.int32), "f0_offsets": offsets(f0)}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, units=np.concatenate(units).astype(np.int32), unit_offsets=offsets(units),
             num_samples=np.array(lengths, np.int64),
             speaker=np.array([names.index(r["speaker"]) for r in rows], np.int32),
             speaker_names=np.array(names, dtype="<U32"), paths=np.array([r["path"] for r in rows], dtype="<U128"),
             **extra)
    return out


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
    units, lengths = [], []
    t0 = time.time()
    with torch.inference_mode():
        for r in rows:
            wav, sr = sf.read(str(data / r["path"]), dtype="float32")
            units.append(model.units(torch.from_numpy(wav)[None])[0].numpy().astype(np.int32))
            lengths.append(len(wav))
    out = save_streams(args.out, rows, units, lengths)
    audio_s = sum(lengths) / 16000
    print(f"{len(rows)} files, {audio_s:.0f} s audio in {time.time() - t0:.0f} s -> {out}")


if __name__ == "__main__":
    main()
