"""The streams a bundle's encoder sends for every file of a data split, as the decoder trainer reads them.

    python -m codec.train.bundle_streams --model codec/assets/default --data ../shared/data/train --out .cache/cpu/train_streams.npz

For continuing a bundle's decoder (``codec.train.decoder --streams OUT --init-from BUNDLE``)
without the intermediate caches of the full pipeline: units and F0 codes come from
:meth:`codec.api.Codec.encode_streams`, exactly what the bundle sends (the speaker is not
analysed: the trainer's reference encoder hears the audio). Layout: ``units``, ``unit_offsets``,
``f0``, ``f0_offsets``, ``num_samples``, ``speaker`` (index into ``speaker_names``), ``paths``.
About 2.5 minutes for the 3.5 h train split on one thread.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from codec.train.units import read_manifest


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=None, help="bundle (default: the bundled default)")
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    from codec.api import Codec

    codec = Codec.from_pretrained(args.model, postfilter=False, resynth=False)
    data = Path(args.data)
    rows = read_manifest(data)
    names = sorted({r["speaker"] for r in rows})
    units, f0, lengths, speakers = [], [], [], []
    t0 = time.time()
    for r in rows:
        wav, sr = sf.read(str(data / r["path"]), dtype="float32")
        s = codec.encode_streams(wav, sr, speaker_id=0)  # a known ID: skips the speaker analysis
        units.append(s.units.astype(np.int32))
        f0.append(s.f0.astype(np.int32))
        lengths.append(s.num_samples)
        speakers.append(names.index(r["speaker"]))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    offsets = lambda xs: np.cumsum([0] + [len(x) for x in xs]).astype(np.int64)  # noqa: E731
    np.savez(out, units=np.concatenate(units), unit_offsets=offsets(units), f0=np.concatenate(f0),
             f0_offsets=offsets(f0), num_samples=np.array(lengths, np.int64), speaker=np.array(speakers, np.int32),
             speaker_names=np.array(names, dtype="<U32"), paths=np.array([r["path"] for r in rows], dtype="<U128"))
    print(f"{len(rows)} files, {sum(lengths) / codec.sample_rate:.0f} s audio in {time.time() - t0:.0f} s -> {out}")


if __name__ == "__main__":
    main()
