"""Which F0 tracker for ``codec.pitch``: Praat and torchcrepe against pyworld Harvest.

Every tracker gives F0 on the codec's 100 Hz grid (``codec.pitch.frame_times``). Harvest is the
reference; the others are scored against it on the dev split:

* GPE: frames both call voiced where the tracker is more than 20 % off the reference. "common":
  the same, on the frames that the reference and *every* tracker in the table call voiced, so a
  tracker that voices less is not rewarded for skipping hard frames.
* VDE: frames where the two disagree on voicing, over all frames. Harvest voices far more than
  the others (it was built for WORLD resynthesis and rarely says unvoiced, pauses included), so
  "VDE gated" also scores against Harvest with frames more than 40 dB below the utterance's
  loudest 25 ms made unvoiced.
* fine: mean absolute error in cents on the both-voiced frames that are not gross errors.
* CPU: process CPU seconds per second of audio, one thread, model loading excluded.

torchcrepe's voicing is a threshold on its periodicity (median-filtered over 3 frames). The
threshold is chosen on a slice of the *train* split (lowest gated VDE), then applied
unchanged to dev, so dev numbers are not tuned on dev. crepe-full costs ~11 CPU s per audio
second, so it runs on a subset of dev (the first utterances of each corpus) and is tuned on a
smaller train slice; the other trackers are also reported on that subset for a like-for-like row.

Usage (raw tracks are cached in ``.cache/pitch_compare``, so a rerun only re-scores)::

    .venv/bin/python -m benchmarks.pitch_trackers            # ~35 min CPU, prints markdown
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from codec.pitch import HOP, WIDE_CEILING, WIDE_FLOOR, cents, extract_f0, num_frames, praat_f0

SR = 16000
CREPE_WINDOW = 1024


def harvest(x: np.ndarray) -> np.ndarray:
    """Reference: pyworld Harvest, 50..800 Hz, frames centred on the grid."""
    import pyworld

    # Harvest's frame i sits at i * 10 ms; dropping the first half hop puts it on (i + 0.5) * 10 ms.
    f, _ = pyworld.harvest(np.ascontiguousarray(x[HOP // 2:]), SR, f0_floor=WIDE_FLOOR,
                           f0_ceil=WIDE_CEILING, frame_period=1000 * HOP / SR)
    n = num_frames(len(x))
    return np.pad(f, (0, max(0, n - len(f))))[:n]


def crepe(x: np.ndarray, model: str) -> tuple[np.ndarray, np.ndarray]:
    """torchcrepe ``model`` with Viterbi decoding: ``(f0, periodicity)``, both ``(T,)``, no voicing."""
    import torchcrepe
    from torchcrepe.filter import median

    n = num_frames(len(x))
    # Window i starts half a window before the grid centre 160 i + 80.
    left = CREPE_WINDOW // 2 - HOP // 2
    need = (n - 1) * HOP + CREPE_WINDOW  # padded length for exactly n windows
    audio = torch.from_numpy(np.pad(x, (left, max(0, need - left - len(x))))[:need].astype(np.float32))
    frames = audio.unfold(0, CREPE_WINDOW, HOP)  # (T, 1024)
    frames = frames - frames.mean(1, keepdim=True)
    frames = frames / frames.std(1, keepdim=True).clamp_min(1e-10)  # as torchcrepe.preprocess
    with torch.no_grad():
        probs = torch.cat([torchcrepe.infer(b, model) for b in frames.split(512)])  # (T, 360)
        probs = probs.T[None].clone()  # (1, 360, T)
        _, period = torchcrepe.postprocess(probs.clone(), WIDE_FLOOR, WIDE_CEILING, viterbi_bins,
                                           return_periodicity=True)
        period = median(period, 3)
        # Viterbi picks 20-cent bins; refine with the probability-weighted mean of the 9 bins around
        # the path (as CREPE's own local average), so the fine-error column is not the bin width.
        bins = viterbi_bins.last[0]  # (T,)
        near = (bins[:, None] + torch.arange(-4, 5)).clamp(0, 359)  # (T, 9)
        p = probs[0].T.gather(1, near)
        c = torchcrepe.convert.bins_to_cents(near.double())
        f0 = torchcrepe.convert.cents_to_frequency((p * c).sum(1) / p.sum(1).clamp_min(1e-12))
    return f0.double().numpy(), period[0].double().numpy()


def viterbi_bins(logits):
    """torchcrepe's Viterbi decoder, keeping the bin path for the local refinement."""
    import torchcrepe

    bins, f0 = torchcrepe.decode.viterbi(logits)
    viterbi_bins.last = bins
    return bins, f0


def load_rows(data: Path, split: str) -> list[dict]:
    with open(data / split / "manifest.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def subset(rows: list[dict], per_corpus: int) -> list[dict]:
    """The first ``per_corpus`` utterances of each corpus, in manifest order."""
    out, seen = [], {}
    for r in rows:
        if seen.get(r["corpus"], 0) < per_corpus:
            seen[r["corpus"]] = seen.get(r["corpus"], 0) + 1
            out.append(r)
    return out


def run_tracker(name: str, rows: list[dict], data: Path, split: str, cache: Path) -> dict:
    """Tracks of ``name`` for ``rows`` (cached per utterance set): f0 list, periodicity list, CPU s."""
    key = cache / f"{split}_{name}_{len(rows)}_{rows[0]['path'].replace('/', '_')}.npz"
    if key.exists():
        z = np.load(key, allow_pickle=False)
        off = z["offsets"]
        cut = lambda a: [a[off[i]:off[i + 1]] for i in range(len(off) - 1)]  # noqa: E731
        return dict(f0=cut(z["f0"]), per=cut(z["per"]), cpu=float(z["cpu"]), seconds=float(z["seconds"]))
    fn = {
        "harvest": lambda x: (harvest(x), None),
        "praat-1pass": lambda x: (praat_f0(x, WIDE_FLOOR, WIDE_CEILING), None),
        "praat-2pass": lambda x: (extract_f0(x).astype(np.float64), None),
        "crepe-tiny": lambda x: crepe(x, "tiny"),
        "crepe-full": lambda x: crepe(x, "full"),
    }[name]
    fn(np.random.default_rng(0).standard_normal(SR) * 0.1)  # load models, warm up
    f0s, pers, cpu, secs = [], [], 0.0, 0.0
    for i, r in enumerate(rows):
        x, sr = sf.read(data / split / r["path"], dtype="float64")
        assert sr == SR and x.ndim == 1, r["path"]
        t0 = time.process_time()
        f, p = fn(x)
        cpu += time.process_time() - t0
        secs += len(x) / SR
        assert len(f) == num_frames(len(x)), (name, r["path"], len(f), num_frames(len(x)))
        f0s.append(f)
        pers.append(p if p is not None else np.ones(len(f)))
        if i % 20 == 0:
            print(f"  {name} {split} {i}/{len(rows)} cpu {cpu:.0f}s", flush=True)
    off = np.r_[0, np.cumsum([len(f) for f in f0s])]
    np.savez(key, f0=np.concatenate(f0s), per=np.concatenate(pers), offsets=off, cpu=cpu, seconds=secs)
    return dict(f0=f0s, per=pers, cpu=cpu, seconds=secs)


def scores(f0: np.ndarray, ref: np.ndarray, ref_gated: np.ndarray | None = None,
           common: np.ndarray | None = None) -> dict:
    """GPE, VDE, fine error (cents) and voiced fraction of a concatenated track against ``ref``.

    ``ref_gated`` adds ``vde_gated``; ``common`` (bool frames) adds ``gpe_common``, the GPE on
    frames every compared tracker calls voiced.
    """
    v, vr = f0 > 0, ref > 0
    both = v & vr
    err = np.abs(cents(f0[both], ref[both]))
    gross = np.abs(f0[both] / ref[both] - 1) > 0.2
    out = dict(gpe=float(gross.mean()) if both.any() else float("nan"),
               vde=float((v != vr).mean()), fine=float(err[~gross].mean()) if (~gross).any() else float("nan"),
               voiced=float(v.mean()))
    if ref_gated is not None:
        out["vde_gated"] = float((v != (ref_gated > 0)).mean())
    if common is not None and common.any():
        out["gpe_common"] = float((np.abs(f0[common] / ref[common] - 1) > 0.2).mean())
    return out


def voiced_track(track: dict, threshold: float | None) -> np.ndarray:
    f, p = np.concatenate(track["f0"]), np.concatenate(track["per"])
    return f if threshold is None else np.where(p >= threshold, f, 0.0)


def best_threshold(track: dict, ref: np.ndarray) -> float:
    grid = np.round(np.arange(0.05, 0.901, 0.025), 3)
    return float(grid[np.argmin([scores(voiced_track(track, t), ref)["vde"] for t in grid])])


def levels(rows: list[dict], data: Path, split: str) -> np.ndarray:
    """Concatenated level (dB re the utterance's loudest frame) in 25 ms around each frame centre."""
    out = []
    for r in rows:
        x, _ = sf.read(data / split / r["path"], dtype="float64")
        n = num_frames(len(x))
        xp = np.pad(x, (200 - HOP // 2, n * HOP + 200))
        win = np.lib.stride_tricks.sliding_window_view(xp, 400)[::HOP][:n]
        db = 10 * np.log10((win ** 2).mean(1) + 1e-12)
        out.append(db - db.max())
    return np.concatenate(out)


def gate(ref: np.ndarray, level_db: np.ndarray, floor_db: float) -> np.ndarray:
    """The reference with frames below ``floor_db`` (re the utterance peak) made unvoiced."""
    return np.where(level_db >= floor_db, ref, 0.0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    ap.add_argument("--cache", type=Path, default=Path(".cache/pitch_compare"))
    ap.add_argument("--tune-every", type=int, default=50, help="train slice: every n-th utterance")
    ap.add_argument("--full-dev-per-corpus", type=int, default=3)
    ap.add_argument("--full-tune", type=int, default=6, help="train utterances to tune crepe-full on")
    ap.add_argument("--gate-db", type=float, default=-40.0, help="silence gate of the gated reference")
    args = ap.parse_args()
    torch.set_num_threads(1)  # shared 2-core machine, and the CPU column is single-threaded
    args.cache.mkdir(parents=True, exist_ok=True)

    dev = load_rows(args.data, "dev")
    tune = load_rows(args.data, "train")[::args.tune_every]
    dev_sub = subset(dev, args.full_dev_per_corpus)
    full_tune = tune[:: max(1, len(tune) // args.full_tune)][:args.full_tune]

    # Periodicity thresholds from train: lowest VDE against the gated reference.
    thr = {}
    for name, rows in (("crepe-tiny", tune), ("crepe-full", full_tune)):
        ref = np.concatenate(run_tracker("harvest", rows, args.data, "train", args.cache)["f0"])
        ref = gate(ref, levels(rows, args.data, "train"), args.gate_db)
        thr[name] = best_threshold(run_tracker(name, rows, args.data, "train", args.cache), ref)
    print(f"periodicity thresholds tuned on train: {thr}", flush=True)

    names = ["praat-1pass", "praat-2pass", "crepe-tiny"]
    tables = []
    for label, rows, trackers in (("dev, all", dev, names), ("dev subset", dev_sub, names + ["crepe-full"])):
        ref_t = run_tracker("harvest", rows, args.data, "dev", args.cache)
        ref = np.concatenate(ref_t["f0"])
        lev = levels(rows, args.data, "dev")
        ref_g = gate(ref, lev, args.gate_db)
        corpus = np.concatenate([[r["corpus"]] * len(f) for r, f in zip(rows, ref_t["f0"])])
        corpora = sorted(set(corpus))
        secs = ref_t["seconds"]
        tracks = {n: voiced_track(run_tracker(n, rows, args.data, "dev", args.cache), thr.get(n)) for n in trackers}
        common = (ref > 0) & np.logical_and.reduce([f > 0 for f in tracks.values()])
        head = (f"| tracker ({label}: {len(rows)} utts, {secs:.0f} s) | GPE % | GPE % common | fine (cents) | "
                f"VDE % | VDE % gated | voiced % | " + " | ".join(f"GPE % {c}" for c in corpora)
                + " | CPU s per audio s |")
        lines = [head, "|" + "---|" * (head.count("|") - 1)]
        lines.append(f"| harvest (reference) | – | – | – | – | {100 * scores(ref, ref_g)['vde']:.2f} | "
                     f"{100 * (ref > 0).mean():.1f} | " + " | ".join("–" for _ in corpora)
                     + f" | {ref_t['cpu'] / secs:.3f} |")
        for name in trackers:
            t = run_tracker(name, rows, args.data, "dev", args.cache)
            f = tracks[name]
            s = scores(f, ref, ref_g, common)
            per = [scores(f[corpus == c], ref[corpus == c]) for c in corpora]
            shown = name + (f" (periodicity ≥ {thr[name]:g})" if name in thr else "")
            lines.append(f"| {shown} | {100 * s['gpe']:.2f} | {100 * s['gpe_common']:.2f} | {s['fine']:.1f} | "
                         f"{100 * s['vde']:.2f} | {100 * s['vde_gated']:.2f} | {100 * s['voiced']:.1f} | "
                         + " | ".join(f"{100 * p['gpe']:.2f}" for p in per) + f" | {t['cpu'] / secs:.3f} |")
            if name in thr:  # the best threshold on dev itself (an optimistic bound, not a result)
                t_dev = best_threshold(t, ref_g)
                s2 = scores(voiced_track(t, t_dev), ref, ref_g)
                lines.append(f"| {name} (oracle dev threshold {t_dev:g}) | {100 * s2['gpe']:.2f} | | "
                             f"{s2['fine']:.1f} | {100 * s2['vde']:.2f} | {100 * s2['vde_gated']:.2f} | "
                             f"{100 * s2['voiced']:.1f} | " + " | ".join("" for _ in corpora) + " | |")
        lines.append(f"\nframes: {len(ref)}; both-voiced by all trackers (GPE common): {int(common.sum())}; "
                     f"harvest-voiced frames more than {-args.gate_db:g} dB below the utterance peak: "
                     f"{100 * ((ref > 0) & (ref_g == 0)).sum() / max(1, (ref > 0).sum()):.1f} %")
        tables.append("\n".join(lines))
    print("\n\n".join(tables))


if __name__ == "__main__":
    main()
