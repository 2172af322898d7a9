"""The envelope layer with other decoder-side shares: boosts and cuts apart, or a share per band.

    python -m benchmarks.envelope_shares --boost 0.5 --cut 0.9 -- --data ../shared/data/train --held-out 50 \
        --every 2 --asr packed --distillmos --out benchmarks/results/envelope-train-v07-boost05-cut09.md

The shipped layer applies one share (``scale``, 0.65) of every code's vector. This runs
``benchmarks.envelope`` (the arguments after ``--``) with the layer's gains replaced for the whole
run, encoder and decoder alike (the encoder's gain field is measured on the corrected decode): a
positive correction times ``--boost`` and a negative one times ``--cut``, or band ``b`` times the
``b``-th of ``--bands``. The codes do not change (they are chosen for the whole correction).
Measured in session 16 (docs/ENVELOPE.md); none of the variants is a bundle setting.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import torch


def shared_gains(boost: float | None, cut: float | None, bands: list[float] | None):
    """A replacement for :meth:`codec.envelope.EnvelopeLayer.frame_gains` that applies these shares."""

    def frame_gains(self, codes, lost=None):
        g = self.codebook[torch.from_numpy(np.asarray(codes, np.int64))]
        if bands is not None:
            if len(bands) != g.shape[1]:
                raise SystemExit(f"benchmarks.envelope_shares: --bands needs {g.shape[1]} shares")
            g = g * torch.tensor(bands, dtype=g.dtype)
        else:
            g = torch.where(g > 0, boost * g, cut * g)
        g = g * (math.log(10) / 20)
        if lost is not None:
            g[torch.from_numpy(np.asarray(lost, bool))] = 0.0
        return g

    return frame_gains


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    own, rest = (argv[: argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--boost", type=float, default=None, help="share of positive corrections")
    ap.add_argument("--cut", type=float, default=None, help="share of negative corrections")
    ap.add_argument("--bands", default=None, help="comma-separated share per band")
    args = ap.parse_args(own)
    bands = [float(v) for v in args.bands.split(",")] if args.bands else None
    if bands is None and (args.boost is None or args.cut is None):
        ap.error("give --boost and --cut, or --bands")
    from benchmarks import envelope
    from codec.envelope import EnvelopeLayer

    EnvelopeLayer.frame_gains = shared_gains(args.boost, args.cut, bands)
    code = envelope.main(rest)
    if "--out" in rest:  # name the command that made the file
        out = Path(rest[rest.index("--out") + 1])
        text = out.read_text()
        shown = " ".join(["python -m benchmarks.envelope_shares", *own, "--"])
        out.write_text(text.replace("`python -m benchmarks.envelope ", f"`{shown} ", 1))
    return code


if __name__ == "__main__":
    raise SystemExit(main())
