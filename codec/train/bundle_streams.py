"""The streams a bundle's encoder sends for every file of a data split, as the decoder trainer reads them.

    python -m codec.train.bundle_streams --model codec/assets/default --data ../shared/data/train --out .cache/cpu/train_streams.npz

For continuing a bundle's decoder (``codec.train.decoder --streams OUT --init-from BUNDLE``)
without the intermediate caches of the full pipeline: units and F0 codes come from
:meth:`codec.api.Codec.encode_streams`, exactly what the bundle sends (the speaker is not
analysed: the trainer's reference encoder hears the audio). Layout: ``units``, ``unit_offsets``,
``f0``, ``f0_offsets``, ``num_samples``, ``speaker`` (index into ``speaker_names``), ``paths``.
About 5 minutes for the 3.5 h train split on one thread beside another run (the encoder measures the
output gain with a vocoder pass since session 10; the envelope layer is left out).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import soundfile as sf
import torch

from codec.train.units import read_manifest, save_streams


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
    units, f0, lengths = [], [], []
    t0 = time.time()
    for r in rows:
        wav, sr = sf.read(str(data / r["path"]), dtype="float32")
        # A known ID skips the speaker analysis; the envelope layer (whose codes are not kept here)
        # would decode every file in full.
        s = codec.encode_streams(wav, sr, speaker_id=0, envelope=False)
        units.append(s.units)
        f0.append(s.f0)
        lengths.append(s.num_samples)
    out = save_streams(args.out, rows, units, lengths, f0)
    print(f"{len(rows)} files, {sum(lengths) / codec.sample_rate:.0f} s audio in {time.time() - t0:.0f} s -> {out}")


if __name__ == "__main__":
    main()
