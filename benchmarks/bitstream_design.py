"""Measurements behind the bitstream's design choices, on stand-in streams of real speech.

Trains entropy tables on the train split's streams and codes every dev utterance into a real
``.srb`` file, so each figure counts every bit (header, speaker, framing, coder flush). Compares:
unigram vs bigram unit tables, duration tables with and without the unit as context, F0 coded per
frame vs run-length, the escape length ``max_run``, the smoothing pseudo-count, the packet length,
and the unit alphabet K. The streams come from ``benchmarks/standin/make_streams.py`` (log-mel
k-means units and quantised Praat F0) until the codec's own content and F0 models exist; the
speaker is coded as an unseen speaker's 64-bit vector (8 indices of 8 bits), the costlier case.

    .venv/bin/python -m benchmarks.bitstream_design --out benchmarks/results/bitstream.md
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from bitstream import EntropyTables, Profile, SpeakerCode, Streams, bitrate_report, fit_stream_tables, write_srb

UNIT_HOP, F0_HOP, F0_VOCAB = 320, 1280, 21
SPEAKER = SpeakerCode.vector(np.arange(8) * 31 % 256, 256)


def load_split(root: Path, split: str, k: int):
    with np.load(root / f"{split}_k{k}.npz", allow_pickle=False) as z:
        arrays = {key: z[key] for key in ("units", "unit_offsets", "f0", "f0_offsets", "num_samples")}
    uo, fo = arrays["unit_offsets"], arrays["f0_offsets"]
    units = np.split(arrays["units"], uo[1:-1])
    f0 = np.split(arrays["f0"], fo[1:-1])
    return units, f0, arrays["num_samples"].astype(int)


def fit(train, k, *, symbol_order=1, duration_order=1, max_run=32, f0_coding="frame", f0_order=1,
        f0_max_run=16, alpha=0.5, packet_frames=100):
    units, f0, _ = train
    return EntropyTables(
        fit_stream_tables(units, k, "runlength", max_run, symbol_order, duration_order, alpha, packet_frames),
        fit_stream_tables(f0, F0_VOCAB, f0_coding, f0_max_run, f0_order, 1, alpha,
                          max(1, packet_frames * UNIT_HOP // F0_HOP)),
        Profile(16000, UNIT_HOP, F0_HOP, speaker_ids=482, speaker_codebook=256, speaker_length=8),
    )


def measure(dev, k, tables, packet_frames=100):
    """Sum of per-stream bits over dev, and seconds of audio."""
    units, f0, num_samples = dev
    total = {}
    seconds = 0.0
    for u, f, n in zip(units, f0, num_samples):
        s = Streams(u, f, SPEAKER, int(n), unit_vocab=k, f0_vocab=F0_VOCAB)
        rep = bitrate_report(write_srb(s, tables, packet_frames), tables)
        for name, bits in rep.lines() + [("total", rep.total_bits)]:
            total[name] = total.get(name, 0.0) + bits
        seconds += rep.duration
    return {name: bits / seconds for name, bits in total.items()}, seconds


def row(label, bps):
    cols = ["units", "durations", "f0", "speaker", "header", "packet framing", "coder overhead", "total"]
    return f"| {label} | " + " | ".join(f"{bps[c]:.1f}" for c in cols) + " |"


HEAD = ("| setting | units | durations | F0 | speaker | header | packet framing | coder overhead | **total** |\n"
        "|---|---|---|---|---|---|---|---|---|")


def write_example(root: Path, out: Path, tables: EntropyTables, name: str = "LJ001-0017"):
    """A real file for the README: a dev utterance of the LJSpeech reader, a known speaker."""
    out.mkdir(parents=True, exist_ok=True)
    tables.save(out / "standin-k100.tables.npz")
    with np.load(root / "dev_k100.npz", allow_pickle=False) as z:
        i = [j for j, p in enumerate(z["paths"]) if name in str(p)][0]
        uo, fo = z["unit_offsets"], z["f0_offsets"]
        units, f0, n = z["units"][uo[i] : uo[i + 1]], z["f0"][fo[i] : fo[i + 1]], int(z["num_samples"][i])
    with np.load(root / "train_k100.npz", allow_pickle=False) as z:
        speaker_id = int(np.flatnonzero(z["speaker_names"] == "lj")[0])
    s = Streams(units, f0, SpeakerCode.known(speaker_id, 482), n, unit_vocab=100, f0_vocab=F0_VOCAB)
    (out / f"{name}.srb").write_bytes(write_srb(s, tables))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path(".cache/standin"))
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--example-out", type=Path, default=None,
                    help="write the chosen K=100 tables and one dev utterance (LJ001-0017) coded with them here")
    args = ap.parse_args()
    t0 = time.time()
    out = [f"# Bitstream design measurements\n\nCommand: `.venv/bin/python -m benchmarks.bitstream_design "
           f"--out {args.out}`. All figures are bits per second over the dev split, every bit of real `.srb` "
           "files counted, with tables trained on the train split. Streams: stand-in log-mel k-means units and "
           "quantised Praat F0 (see `benchmarks/standin/make_streams.py`); speaker: a 64-bit unseen-speaker vector.\n"]
    data = {k: (load_split(args.data, "train", k), load_split(args.data, "dev", k)) for k in (50, 100, 200)}
    train, dev = data[100]
    dev_seconds = None

    def section(title, note, settings):
        nonlocal dev_seconds
        out.append(f"\n## {title}\n\n{note}\n\n{HEAD}")
        for label, k, kw, pf in settings:
            tr, dv = data[k]
            tables = fit(tr, k, packet_frames=pf, **kw) if kw is not None else EntropyTables.uniform(k, F0_VOCAB)
            bps, dev_seconds = measure(dv, k, tables, pf)
            out.append(row(label, bps))
            print(out[-1], flush=True)

    section("Context models (K = 100, 2 s packets)", "Unigram tables against bigram p(unit | previous unit) and "
            "p(duration | unit), and a trigram p(unit | two previous units) interpolated with the bigram; F0 "
            "per-frame bigram throughout.", [
        ("uniform tables (no training)", 100, None, 100),
        ("unigram units, unigram durations", 100, dict(symbol_order=0, duration_order=0), 100),
        ("bigram units, unigram durations", 100, dict(symbol_order=1, duration_order=0), 100),
        ("unigram units, durations given unit", 100, dict(symbol_order=0, duration_order=1), 100),
        ("bigram units, durations given unit", 100, dict(), 100),
        ("trigram units (interpolated, beta 32), durations given unit", 100, dict(symbol_order=2), 100),
    ])
    section("F0 coding (K = 100, 2 s packets)", "Per-frame context coding against run-length coding of the F0 codes.", [
        ("F0 per frame, unigram", 100, dict(f0_order=0), 100),
        ("F0 per frame, bigram", 100, dict(), 100),
        ("F0 run-length, max_run 8", 100, dict(f0_coding="runlength", f0_max_run=8), 100),
        ("F0 run-length, max_run 16", 100, dict(f0_coding="runlength", f0_max_run=16), 100),
    ])
    section("Escape length of unit runs (K = 100)", "`max_run` D: durations 1..D-1 in one symbol, longer runs "
            "take escapes.", [(f"max_run {d}", 100, dict(max_run=d), 100) for d in (8, 16, 32, 64)])
    section("Smoothing pseudo-count (K = 100)", "Additive smoothing of the trained counts.",
            [(f"alpha {a}", 100, dict(alpha=a), 100) for a in (0.05, 0.2, 0.5, 1.0)])
    section("Packet length (K = 100)", "Each packet pays a length varint, a sequence byte, a CRC-16 and the "
            "range coder's flush, and restarts its contexts.",
            [(f"{pf} frames = {pf / 50:g} s", 100, dict(), pf) for pf in (25, 50, 100, 200, 400)])
    section("Unit alphabet K (2 s packets)", "Fixed-length (paper-style) rates for comparison: K=50: 6 bits x 50 "
            "= 300, K=100: 350, K=200: 400 bits/s for units, plus 5 bits x 12.5 = 62.5 bits/s for F0.",
            [(f"K = {k}", k, dict(), 100) for k in (50, 100, 200)])
    out.append(f"\nDev audio: {dev_seconds:.1f} s in {len(dev[0])} files. Run time: {time.time() - t0:.0f} s.\n")
    text = "\n".join(out)
    if args.out:
        args.out.write_text(text)
    if args.example_out:
        write_example(args.data, args.example_out, fit(train, 100))
    print(text)


if __name__ == "__main__":
    main()
