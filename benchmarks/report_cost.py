"""What the benchmark report costs, per metric and per system, measured on a sample of files.

    python -m benchmarks.report_cost DATA [--every 15] [--systems ...] [--out FILE.md]

Takes every N-th file of ``DATA`` (as :mod:`benchmarks.report` reads it), codes it with every
system once and times every way the report can score it, with no cache: the defaults (Praat F0,
DNSMOS hopped by 9.01 s, Whisper on packed windows) and what they replaced or what is opt-in
(Harvest F0, DNSMOS with the reference script's 1 s hop, Whisper one file per call, DistillMOS,
PocketSphinx). From the wall seconds per audio second it estimates a whole run over ``DATA``:
every system codes and is scored on every file, and the originals are analysed once.
One thread, as the report runs.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks import metrics as M  # noqa: E402
from benchmarks.report import all_system_names, build_systems, load_items, read_audio  # noqa: E402

#: The report's default metric set, by the keys timed below; "old" is what it ran before.
DEFAULT = ("code", "align", "stoi", "mcd", "f0 praat", "speaker", "dnsmos", "whisper packed")
OLD = ("code", "align", "stoi", "mcd", "f0 harvest", "speaker", "dnsmos 1 s hop", "distillmos", "whisper per file",
       "pocketsphinx")
#: Costs the originals pay too (each original is analysed once); coding and pairwise ones are not.
ON_ORIGINAL = {"f0 praat", "f0 harvest", "speaker", "dnsmos", "dnsmos 1 s hop", "distillmos", "whisper packed",
               "whisper per file", "pocketsphinx"}


def _timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


def measure(items, systems, models) -> dict[str, dict[str, float]]:
    """``{system or 'original': {cost key: wall seconds summed over the files}}``."""
    cost: dict[str, dict[str, float]] = {}
    decoded: dict[str, list[np.ndarray]] = {}

    def add(name, key, seconds):
        cost.setdefault(name, {}).setdefault(key, 0.0)
        cost[name][key] += seconds

    for item in items:
        wav = read_audio(item.path)
        for name, x in [("original", wav)] + [(s.name, None) for s in systems]:
            if x is None:
                s = next(s for s in systems if s.name == name)
                dt, coded = _timed(s.run, wav)
                add(name, "code", dt)
                x = coded.wav
                dt, lag = _timed(M.estimate_lag, wav, x)
                add(name, "align", dt)
                r, d = M.overlap(wav, x, lag)
                add(name, "stoi", _timed(M.stoi, r, d)[0])
                add(name, "mcd", _timed(M.mcd, r, d)[0])
            decoded.setdefault(name, []).append(x)
            add(name, "f0 praat", _timed(M.praat_f0, x)[0])
            add(name, "f0 harvest", _timed(M.harvest_f0, x)[0])
            add(name, "speaker", _timed(models["speaker"].embed, x)[0])
            add(name, "dnsmos", _timed(models["dnsmos"], x)[0])
            add(name, "dnsmos 1 s hop", _timed(models["dnsmos"].model, np.clip(x, -1, 1), M.SR, False)[0])
            add(name, "distillmos", _timed(models["distillmos"], x)[0])
            add(name, "whisper per file", _timed(models["whisper"].transcribe, x)[0])
            add(name, "pocketsphinx", _timed(models["pocketsphinx"].transcribe, x)[0])
        print(f"{item.key}: {len(wav) / M.SR:.1f} s", file=sys.stderr, flush=True)
    for name, wavs in decoded.items():
        add(name, "whisper packed", _timed(models["whisper"].transcribe_many, wavs)[0])
    return cost


def estimate(cost: dict, seconds: float, total_seconds: float, keys) -> float:
    """Wall seconds of a whole run over ``total_seconds`` of audio with the metric set ``keys``."""
    per_s = sum(v for name, c in cost.items() for k, v in c.items()
                if k in keys and (name != "original" or k in ON_ORIGINAL)) / seconds
    return per_s * total_seconds


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.report_cost", description=__doc__.split("\n\n")[0])
    p.add_argument("data", type=Path)
    p.add_argument("--every", type=int, default=15, help="every N-th file (default 15)")
    p.add_argument("--systems", default=",".join(all_system_names()))
    p.add_argument("--model", default=None)
    p.add_argument("--out", type=Path, default=None, help="also write the tables here (markdown)")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1)
    except ImportError:
        pass
    all_items = load_items(args.data)
    items = all_items[:: args.every]
    total = sum(len(read_audio(i.path)) for i in all_items) / M.SR
    systems = build_systems([s for s in args.systems.split(",") if s], args.model)
    systems = [s for s in systems if s.available()[0]]
    models = {"speaker": M.SpeakerSimilarity(), "dnsmos": M.DNSMOS(), "distillmos": M.DistillMOS(),
              "whisper": M.WhisperASR(), "pocketsphinx": M.PocketsphinxASR()}
    t0 = time.perf_counter()
    cost = measure(items, systems, models)
    wall = time.perf_counter() - t0
    seconds = sum(len(read_audio(i.path)) for i in items) / M.SR
    keys = list(dict.fromkeys(k for c in cost.values() for k in c))
    names = list(cost)
    lines = [f"`python -m benchmarks.report_cost {' '.join(argv if argv is not None else sys.argv[1:])}`", "",
             f"{len(items)} of {len(all_items)} files (every {args.every}th), {seconds:.1f} s of audio; "
             f"{wall:.0f} s to measure. Wall seconds per audio second, one thread, no cache "
             "(*code*: encode + decode; srb's model load not counted):", "",
             "| cost | " + " | ".join(names) + " | default | before |",
             "|---|" + "---:|" * (len(names) + 2)]
    for k in keys:
        cells = [f"{cost[n].get(k, 0.0) / seconds:.3f}" if k in cost[n] else "–" for n in names]
        lines.append(f"| {k} | " + " | ".join(cells) + f" | {'yes' if k in DEFAULT else ''} | "
                     f"{'yes' if k in OLD else ''} |")
    new, old = estimate(cost, seconds, total, DEFAULT), estimate(cost, seconds, total, OLD)
    lines += ["", f"Estimated whole run over {total:.0f} s of audio ({len(all_items)} files) with "
              f"{len(systems)} systems: **default metrics {new / 60:.1f} min**, the metrics as they ran before "
              f"(all groups, Harvest, DNSMOS 1 s hop, Whisper per file) {old / 60:.1f} min.", ""]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
