"""How much of the envelope codes' error a decoder could predict from what it already has.

The envelope layer's codes leave about 2.2 dB RMS of each band's correction unsent, and applied
whole that error makes the band levels flutter, so the decoder applies 0.65 of each code
(docs/ENVELOPE.md). Exact corrections applied whole would buy many words. A decoder-side
*dequantiser* would replace each frame's codebook vector by a better estimate of the correction,
made from what the decoder has: the codes of the neighbouring frames and the decoded audio's own
band levels. This measures the ceiling of that idea without building it: on every train file's
closed-loop corrections (the decodes ``srb train envelope`` caches), it fits

- a linear map (ridge regression) from the codebook vectors of frames ``t-4 .. t+4`` and the
  decoded band levels of frames ``t-1 .. t+1`` to the correction of frame ``t``;
- a small MLP on the same inputs with the codes embedded (residual on the frame's own vector);

on the speakers ``srb train envelope`` trains on, and reports the RMS error left on the speakers
it holds out, against the codebook vector alone::

    python -m benchmarks.envelope_dequant --data ../shared/data/train --decoded runs/envelope/decoded \\
        --out benchmarks/results/envelope-dequant-train.md
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

CONTEXT = 4  # codes either side
LEVEL_CONTEXT = 1  # decoded band levels either side


def frame_data(codec, data: Path, decoded: Path, rows: list[dict]):
    """Per frame of every file: exact corrections ``(T, bands)``, decoded band levels, the codes
    the encoder sends (its rate-distortion choice per packet), and each frame's file index."""
    from codec.audio import load_audio

    r, levels, codes, file_of = [], [], [], []
    for i, row in enumerate(rows):
        dec = np.load(decoded / f"{i:05d}.npy").astype(np.float32)
        wav = load_audio(data / row["path"]).numpy()
        n = min(len(wav), len(dec))
        corr = codec.envelope.corrections(wav[:n], dec[:n])
        r.append(corr)
        levels.append(codec.envelope.band_levels(dec[:n]))
        codes.append(codec.envelope_codes(corr))
        file_of.append(np.full(len(corr), i))
    return (np.concatenate(r).astype(np.float32), np.concatenate(levels).astype(np.float32),
            np.concatenate(codes).astype(np.int64), np.concatenate(file_of))


def neighbours(x: np.ndarray, file_of: np.ndarray, k: int) -> np.ndarray:
    """``x`` shifted by ``k`` frames within each file, held at the file's ends (``file_of`` is
    each frame's file index, ascending)."""
    first = np.searchsorted(file_of, file_of, side="left")
    last = np.searchsorted(file_of, file_of, side="right") - 1
    return x[np.clip(np.arange(len(x)) + k, first, last)]


class Dequantiser(torch.nn.Module):
    """The frame's codebook vector plus a correction from its neighbours' codes and levels."""

    def __init__(self, size: int, bands: int, width: int = 256):
        super().__init__()
        self.emb = torch.nn.Embedding(size, 16)
        inputs = 16 * (2 * CONTEXT + 1) + bands * (2 * LEVEL_CONTEXT + 1) + bands
        self.net = torch.nn.Sequential(torch.nn.Linear(inputs, width), torch.nn.GELU(),
                                       torch.nn.Linear(width, width), torch.nn.GELU(), torch.nn.Linear(width, bands))

    def forward(self, codes: torch.Tensor, levels: torch.Tensor, vector: torch.Tensor) -> torch.Tensor:
        return vector + self.net(torch.cat([self.emb(codes).flatten(1), levels, vector], 1))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data/train"))
    ap.add_argument("--decoded", type=Path, required=True, help="srb train envelope's WORK/decoded")
    ap.add_argument("--model", default=None, help="bundle (default: the bundled one)")
    ap.add_argument("--holdout-every", type=int, default=50, help="as srb train envelope")
    ap.add_argument("--steps", type=int, default=3000, help="MLP steps of 1024 frames")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)

    from codec.api import Codec
    from codec.train.refiner import held_out_speakers
    from codec.train.units import read_manifest

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    codec = Codec.from_pretrained(args.model)
    rows = read_manifest(args.data)
    held = held_out_speakers(rows, args.holdout_every)
    r, levels, codes, file_of = frame_data(codec, args.data, args.decoded, rows)
    test = np.array([rows[i]["speaker"] in held for i in file_of])
    train = ~test
    book = codec.envelope.codebook.numpy()
    vec = book[codes]

    def rms(pred: np.ndarray, mask: np.ndarray) -> float:
        return float(np.sqrt(((r[mask] - pred[mask]) ** 2).mean()))

    results = [("the codebook vector (what the decoder applies, before its share)", rms(vec, test), rms(vec, train))]
    near = [neighbours(vec, file_of, k) for k in range(-CONTEXT, CONTEXT + 1)]
    lev = [neighbours(levels, file_of, k) / 10 for k in range(-LEVEL_CONTEXT, LEVEL_CONTEXT + 1)]
    x = np.concatenate([*near, *lev, np.ones((len(r), 1), np.float32)], 1)
    w = np.linalg.solve(x[train].T @ x[train] + np.eye(x.shape[1]), x[train].T @ r[train])
    lin = x @ w
    results.append((f"linear, vectors of frames t-{CONTEXT}..t+{CONTEXT} and decoded levels of t-1..t+1",
                    rms(lin, test), rms(lin, train)))

    c = torch.from_numpy(np.stack([neighbours(codes, file_of, k) for k in range(-CONTEXT, CONTEXT + 1)], 1))
    lv, vt, rt = torch.from_numpy(np.concatenate(lev, 1)), torch.from_numpy(vec), torch.from_numpy(r)
    model = Dequantiser(len(book), book.shape[1])
    opt = torch.optim.Adam(model.parameters(), 2e-3)
    where = np.flatnonzero(train)
    for _ in range(args.steps):
        b = torch.from_numpy(rng.choice(where, 1024))
        loss = ((model(c[b], lv[b], vt[b]) - rt[b]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        mlp = model(c, lv, vt).numpy()
    results.append((f"MLP ({args.steps} steps), codes embedded, same inputs", rms(mlp, test), rms(mlp, train)))

    lines = ["# Envelope codes: how much of their error a decoder could predict", "",
             f"`python -m benchmarks.envelope_dequant --data {args.data} --decoded {args.decoded}"
             f"{' --model ' + args.model if args.model else ''} --steps {args.steps}`", "",
             f"- model {codec.model_id:08x}; {len(r)} envelope frames of {len(rows)} files; held out: the speakers of "
             f"every {args.holdout_every}th file ({int(test.sum())} frames), as `srb train envelope` holds them out",
             "- RMS over bands and frames of the exact correction (dB, clipped to +-12) minus the estimate; "
             f"the corrections themselves: {float(np.sqrt((r[test] ** 2).mean())):.3f} dB RMS on the held-out frames",
             f"- {time.perf_counter() - t0:.0f} s", "",
             "| estimate of each frame's correction | RMS dB, held-out speakers | RMS dB, training speakers |",
             "|---|---:|---:|"]
    lines += [f"| {name} | {a:.3f} | {b:.3f} |" for name, a, b in results]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
