"""Would side information about loudness close srb's STOI gap? An oracle says how much at most.

    python -m benchmarks.stoi_oracle --data ../shared/data/train --every 50 --out benchmarks/results/stoi_oracle.md

STOI compares the short-time band envelopes of the decoded speech with the original's. The units
tell the vocoder which sound to make, not how loud each part of the spectrum is at each moment;
sending that would cost bits. Before building such a stream, this measures its ceiling: every
``--every``-th file is decoded (bundle as shipped, postfilter included), and the decoded audio's
energy in a few frequency bands is then set, frame by frame, to the *original's* (an oracle with
unquantised gains, i.e. infinitely many bits). STOI of the result is the most that side
information with those bands and that frame rate can buy; the table gives the number of values
per second each would have to send.
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks import dev_script
from benchmarks.markdown import emit

#: Band edges in Hz of each tested layout.
LAYOUTS = {
    "1 band (broadband gain)": [0, 8000],
    "2 bands": [0, 1000, 8000],
    "4 bands": [0, 500, 1500, 3000, 8000],
    "9 bands": [0, 300, 600, 1000, 1500, 2200, 3000, 4000, 5500, 8000],
}


def impose_band_energies(ref: np.ndarray, deg: np.ndarray, edges: list[float], hop: int,
                         sample_rate: int = 16000) -> np.ndarray:
    """``deg`` with each band's energy per STFT frame (hop ``hop``, window ``2 hop``) set to ``ref``'s
    (gains clipped to +-30 dB)."""
    import torch

    n_fft = 2 * hop
    w = torch.hann_window(n_fft)
    R = torch.stft(torch.from_numpy(ref), n_fft, hop, window=w, return_complex=True)
    D = torch.stft(torch.from_numpy(deg), n_fft, hop, window=w, return_complex=True)
    hz = torch.arange(R.shape[0]) * sample_rate / n_fft
    gain = torch.ones(R.shape, dtype=torch.float32)
    for lo, hi in zip(edges[:-1], edges[1:]):
        band = (hz >= lo) & (hz < hi) if hi < edges[-1] else hz >= lo
        g = (R[band].abs().square().sum(0) + 1e-8) / (D[band].abs().square().sum(0) + 1e-8)
        gain[band] = g.sqrt().clamp(10 ** -1.5, 10 ** 1.5)[None]
    return torch.istft(D * gain, n_fft, hop, window=w, length=len(deg)).numpy()


def main(argv=None) -> int:
    args = dev_script.parser(__doc__, every=50).parse_args(argv)
    t0 = time.perf_counter()
    codec, items = dev_script.start(args)
    from benchmarks import metrics as M
    from benchmarks.report import read_audio

    pairs = []
    for it in items:
        x = read_audio(it.path)
        y, _ = codec.decode(codec.encode(x, codec.sample_rate, envelope=False))
        ref, deg, _ = M.align(x, y)
        pairs.append((ref.astype(np.float32), deg.astype(np.float32)))
    seconds = sum(len(r) for r, _ in pairs) / codec.sample_rate
    base = float(np.mean([M.stoi(r, d) for r, d in pairs]))
    lines = [
        "# STOI with oracle band energies",
        "",
        f"`python -m benchmarks.stoi_oracle --data {args.data} --every {args.every}` (model {codec.model_id:08x}"
        f"{', postfilter ' + str(codec.postfilter.config.strength) if codec.postfilter else ''}; {len(items)} files, "
        f"{seconds:.0f} s; {{wall}} s). STOI of srb as decoded: **{base:.4f}**.",
        "",
        "| side information | frame | values/s | STOI | gain |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, edges in LAYOUTS.items():
        for hop in (320, 640):
            st = float(np.mean([M.stoi(r, impose_band_energies(r, d, edges, hop)) for r, d in pairs]))
            rate = (len(edges) - 1) * codec.sample_rate / hop
            lines.append(f"| {name} | {1000 * hop // codec.sample_rate} ms | {rate:.0f} | {st:.4f} | {st - base:+.4f} |")
            print(lines[-1], flush=True)
    lines[2] = lines[2].replace("{wall}", f"{time.perf_counter() - t0:.0f}")
    emit(lines, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
