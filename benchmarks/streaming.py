"""Streaming decode vs whole-file decode on dev files: error per lookahead, and concealment.

    python -m benchmarks.streaming --data ../shared/data/dev --files 10 --out benchmarks/results/streaming.md

For each file: encode with the bundled model, decode the whole file (``Codec.decode``), then decode
it packet by packet (``Codec.stream_decode``) with lookbehind = the receptive field and several
lookaheads, and compare: max |diff| and SNR (whole-file output as the signal, the difference as
noise) over all samples of all files, and the pitch of the two (Praat on both, pooled over the
files: gross errors and voicing disagreements between them, median distance in cents). The pitch
resynthesis (codec/resynth.py) places its pulses anew in each window, so with it on the samples
differ where a window cuts a voiced run while the pitch stays the same; ``--no-resynth`` measures
the decoder without it, whose windows are exact with the full context.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.markdown import emit


def dev_files(data: Path, count: int, min_seconds: float = 6.0) -> list[Path]:
    """The ``count`` first manifest rows at least ``min_seconds`` long (several packets each)."""
    rows = list(csv.DictReader(open(data / "manifest.csv")))
    rows = [r for r in rows if float(r["seconds"]) >= min_seconds]
    return [data / r["path"] for r in rows[:count]]


def snr_db(ref: np.ndarray, out: np.ndarray) -> float:
    noise = float(np.sum((ref.astype(np.float64) - out) ** 2))
    return float("inf") if noise == 0 else 10 * np.log10(float(np.sum(ref.astype(np.float64) ** 2)) / noise)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="../shared/data/dev")
    ap.add_argument("--files", type=int, default=10)
    ap.add_argument("--lookaheads", default=None, help="comma-separated unit frames (default: 0,5,10,15 and the full context)")
    ap.add_argument("--no-resynth", action="store_true", help="the bundle without its pitch resynthesis")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    from codec.api import Codec

    from codec import pitch

    codec = Codec.from_pretrained(resynth=not args.no_resynth)
    files = dev_files(Path(args.data), args.files)
    R = codec.context_frames()  # the vocoder's receptive field, plus the postfilter's when it has one
    las = [int(x) for x in args.lookaheads.split(",")] if args.lookaheads else sorted({0, 5, 10, 15, R})
    refs, datas = [], []
    t_dec = 0.0
    for f in files:
        data = codec.encode(f)
        t0 = time.perf_counter()
        ref, _ = codec.decode(data)
        t_dec += time.perf_counter() - t0
        refs.append(ref)
        datas.append(data)
    total_s = sum(r.size for r in refs) / codec.sample_rate
    lines = [
        f"# Streaming decode vs whole-file decode ({len(files)} dev files, {total_s:.1f} s)",
        "",
        f"Command: `python -m benchmarks.streaming --data {args.data} --files {args.files}"
        f"{' --no-resynth' if args.no_resynth else ''}` (pitch resynthesis {'on' if codec.resynth else 'off'})",
        "",
        f"Receptive field of the vocoder and the finishing stages after it (postfilter, envelope smoother, band refiner): {R} unit frames ({R * 20} ms) each side. Lookbehind = {R} frames.",
        "Pitch columns: Praat (codec.pitch.extract_f0) on the streamed and the whole-file output: frames voiced in both "
        "more than 20 % apart, frames voiced in one only, median |cents| where both are voiced.",
        "",
        "| lookahead (frames) | lookahead (ms) | max abs diff | SNR vs whole-file (dB) | pitch: gross | pitch: voicing | "
        "pitch: median cents | decode time / whole-file |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    ref_f0 = [pitch.extract_f0(r) for r in refs]
    for la in las:
        diffs, sig, noise, t = [], 0.0, 0.0, 0.0
        gross = voicing = frames = both_n = 0
        cents = []
        for ref, data, fr in zip(refs, datas, ref_f0):
            t0 = time.perf_counter()
            out = np.concatenate([c.audio for c in codec.stream_decode(data, lookahead=la)])
            t += time.perf_counter() - t0
            assert out.size == ref.size
            d = ref.astype(np.float64) - out
            diffs.append(np.abs(d).max())
            sig += float(np.sum(ref.astype(np.float64) ** 2))
            noise += float(np.sum(d**2))
            fo = pitch.extract_f0(out)
            both = (fr > 0) & (fo > 0)
            gross += int(np.sum(np.abs(fo[both] / fr[both] - 1) > 0.2))
            both_n += int(both.sum())
            voicing += int(np.sum((fr > 0) != (fo > 0)))
            frames += fr.size
            cents.append(np.abs(pitch.cents(fo[both], fr[both])))
        snr = float("inf") if noise == 0 else 10 * np.log10(sig / noise)
        med = float(np.median(np.concatenate(cents))) if both_n else float("nan")
        lines.append(f"| {la} | {la * 20} | {max(diffs):.2e} | {snr:.1f} | {100 * gross / max(1, both_n):.2f} % "
                     f"| {100 * voicing / max(1, frames):.2f} % | {med:.1f} | {t / t_dec:.2f} |")
        print(lines[-1], flush=True)
    # Concealment: drop packet 1 of every file, compare the intact packets' audio with the reference.
    lines += ["", "## One lost packet (packet 1 deleted from each file)", ""]
    from bitstream.container import read_header, read_packet

    worst, snrs = 0.0, []
    for ref, data in zip(refs, datas):
        h = read_header(data, codec.tables)
        p0 = read_packet(data, h.size, 0)
        p1 = read_packet(data, h.size + p0.size, 1)
        damaged = data[: h.size + p0.size] + data[h.size + p0.size + p1.size :]
        wav, _, lost = codec.decode_lossy(damaged)
        assert wav.size == ref.size and len(lost) == 1 and lost[0].first_packet == 1
        s0, s1 = lost[0].start_sample, lost[0].end_sample
        keep = np.ones(ref.size, bool)
        keep[s0:s1] = False
        snrs.append(snr_db(ref[keep], wav[keep]))
        worst = max(worst, float(np.abs(ref[keep] - wav[keep]).max()))
    lines.append(f"Intact packets' audio vs the undamaged decode: worst max abs diff {worst:.2e}, "
                 f"SNR min {min(snrs):.1f} dB, median {np.median(snrs):.1f} dB (the packets next to the gap "
                 f"see concealment instead of real streams within {R * 20} ms of it).")
    emit(lines, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
