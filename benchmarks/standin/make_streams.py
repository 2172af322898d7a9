"""Stand-in discrete streams for designing and training the entropy coder.

These are NOT the codec's real streams.  The real content units come from a
neural content model that does not exist yet; until it does, this script makes
streams with the same shapes, rates and alphabets from real speech, so the
coder's tables can be trained and measured on something speech-like:

* units    50 Hz (ceil(N/320) frames), alphabet K in {50, 100, 200}: k-means
           clusters of 80-band log-mel (per-utterance mean normalised),
           k-means fitted on train frames only.
* f0       12.5 Hz (ceil(N/1280) frames), alphabet 21: 0 = unvoiced, 1..20 =
           quantile bins (train edges) of per-speaker normalised log-F0, which
           mimics a 20-code F0 VQ-VAE plus an unvoiced symbol.  F0 from Praat
           (parselmouth) autocorrelation at 10 ms, two passes with a
           per-speaker pitch range.
* speaker  one int32 per utterance, index into the split's sorted speaker names.

Usage (train first: it fits the k-means centroids and F0 bin edges that dev
reuses):

    .venv/bin/python -m benchmarks.standin.make_streams --split train
    .venv/bin/python -m benchmarks.standin.make_streams --split dev
    .venv/bin/python -m benchmarks.standin.make_streams --split dev --stats-only

Outputs in .cache/standin/: {split}_k{K}.npz (load with allow_pickle=False),
kmeans_k{K}.npy (centroids), f0_edges.npy (19 inner bin edges).
"""

import argparse
import csv
import math
import time
from pathlib import Path

import numpy as np
import parselmouth
import soundfile as sf
import torch
import torchaudio

SR = 16000
UNIT_HOP = 320  # 50 Hz
F0_HOP = 1280  # 12.5 Hz
F0_STEP = 0.01  # tracker frame step (s); 8 steps per F0 frame
F0_BINS = 20


def log_mel_features(x: np.ndarray, mel: torchaudio.transforms.MelSpectrogram) -> np.ndarray:
    """(ceil(N/320), 80) float32: per-utterance mean-normalised log-mel."""
    m = mel(torch.from_numpy(x)).clamp_min(1e-5).log()  # (80, floor(N/320)+1), centered
    n = math.ceil(len(x) / UNIT_HOP)
    m = m[:, :n]  # centered STFT gives floor+1 frames: equal to ceil, or one too many
    # Mean normalisation removes channel/loudness offsets.  Deltas were tried
    # and left out: at K=100 they did not change the mean run length (1.76).
    return (m - m.mean(dim=1, keepdim=True)).T.contiguous().numpy()


def track_f0(x: np.ndarray, floor: float, ceiling: float) -> np.ndarray:
    """F0 in Hz (0 = unvoiced) on a 10 ms grid covering 8*ceil(N/1280) steps."""
    p = parselmouth.Sound(x.astype(np.float64), SR).to_pitch_ac(
        time_step=F0_STEP, pitch_floor=floor, pitch_ceiling=ceiling)
    f = p.selected_array["frequency"]
    n_grid = 8 * math.ceil(len(x) / F0_HOP)
    # Praat frames start at p.t1 (half a window in); take the nearest frame to
    # each grid centre, unvoiced where Praat has none.
    k = np.rint(((np.arange(n_grid) + 0.5) * F0_STEP - p.t1) / p.dt).astype(np.int64)
    ok = (k >= 0) & (k < len(f))
    out = np.zeros(n_grid)
    out[ok] = f[k[ok]]
    return out


def pool_f0(f: np.ndarray, num_samples: int) -> np.ndarray:
    """Per 80 ms frame: mean log-F0 of its voiced 10 ms steps, NaN if unvoiced.

    A frame is unvoiced if fewer than half of its steps (counting only steps
    inside the signal, so the last frame is not penalised) are voiced.
    """
    valid = ((np.arange(len(f)) + 0.5) * F0_STEP * SR < num_samples).reshape(-1, 8)
    voiced = (f > 0).reshape(-1, 8) & valid
    nv = voiced.sum(1)
    logf = np.where(voiced, np.log(np.maximum(f.reshape(-1, 8), 1e-3)), 0.0).sum(1)
    return np.where((nv > 0) & (2 * nv >= valid.sum(1)), logf / np.maximum(nv, 1), np.nan)


def speaker_range(f_hz: np.ndarray) -> tuple[float, float]:
    """Per-speaker Praat range (De Looze & Hirst 2008: 0.72*q35, 1.9*q65)."""
    if len(f_hz) < 50:  # too little voicing to trust; keep the wide range
        return 60.0, 600.0
    q35, q65 = np.quantile(f_hz, [0.35, 0.65])
    return max(50.0, 0.72 * q35), min(900.0, 1.9 * q65)


def kmeans(x: torch.Tensor, k: int, iters: int, seed: int) -> torch.Tensor:
    """Lloyd's k-means with k-means++ init; returns (k, dim) centroids."""
    g = torch.Generator().manual_seed(seed)
    c = x[torch.randint(len(x), (1,), generator=g)]
    d2 = ((x - c) ** 2).sum(1)
    for _ in range(k - 1):
        c_new = x[torch.multinomial(d2, 1, generator=g)]
        c = torch.cat([c, c_new])
        d2 = torch.minimum(d2, ((x - c_new) ** 2).sum(1))
    for it in range(iters):
        a, dist = assign(x, c)
        sums = torch.zeros_like(c).index_add_(0, a, x)
        counts = torch.bincount(a, minlength=k).unsqueeze(1)
        c = torch.where(counts > 0, sums / counts.clamp_min(1), c)  # empty: keep old
        print(f"  k={k} iter {it + 1}/{iters} mean sq dist {dist.mean():.3f}", flush=True)
    return c


def assign(x: torch.Tensor, c: torch.Tensor, chunk: int = 65536):
    """Nearest centroid index and squared distance, in chunks to bound memory."""
    cc = (c ** 2).sum(1)
    idx, dist = [], []
    for i in range(0, len(x), chunk):
        xb = x[i:i + chunk]
        d = (xb ** 2).sum(1, keepdim=True) - 2 * xb @ c.T + cc
        m, j = d.min(1)
        idx.append(j)
        dist.append(m)
    return torch.cat(idx), torch.cat(dist)


def entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log2(p)).sum())


def cond_entropy(x: np.ndarray, offsets: np.ndarray, alphabet: int) -> float:
    """Empirical H(x_t | x_{t-1}) in bits over pairs within each utterance."""
    inside = np.ones(len(x) - 1, bool)
    inside[offsets[1:-1] - 1] = False  # pair that crosses an utterance boundary
    pairs = np.bincount((x[:-1].astype(np.int64) * alphabet + x[1:])[inside], minlength=alphabet ** 2)
    return entropy(pairs) - entropy(pairs.reshape(alphabet, alphabet).sum(1))


def collapse_runs(x: np.ndarray, offsets: np.ndarray):
    """Drop repeats of the previous symbol within each utterance."""
    keep = np.r_[True, x[1:] != x[:-1]]
    keep[offsets[:-1]] = True  # every utterance starts a run
    return x[keep], np.r_[0, np.cumsum(keep)][offsets]


def verify_and_stats(path: Path, k: int) -> dict:
    """Reload without pickle, check every length, return summary statistics."""
    z = np.load(path, allow_pickle=False)
    n, units, uo, f0, fo = (z[a] for a in ("num_samples", "units", "unit_offsets", "f0", "f0_offsets"))
    assert units.dtype == f0.dtype == z["speaker"].dtype == np.int32
    assert np.array_equal(np.diff(uo), -(-n // UNIT_HOP)), "unit lengths != ceil(N/320)"
    assert np.array_equal(np.diff(fo), -(-n // F0_HOP)), "f0 lengths != ceil(N/1280)"
    assert uo[0] == fo[0] == 0 and uo[-1] == len(units) and fo[-1] == len(f0)
    assert units.min() >= 0 and units.max() < k and f0.min() >= 0 and f0.max() <= F0_BINS
    runs, ro = collapse_runs(units, uo)
    return dict(
        utts=len(n), unit_frames=len(units), run_len=len(units) / len(runs),
        unit_H1=entropy(np.bincount(units, minlength=k)),
        unit_H2_runs=cond_entropy(runs, ro, k),
        f0_frames=len(f0), unvoiced=float((f0 == 0).mean()),
        f0_H1=entropy(np.bincount(f0, minlength=F0_BINS + 1)),
        f0_H2=cond_entropy(f0, fo, F0_BINS + 1),
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--split", required=True, choices=["train", "dev"])
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    ap.add_argument("--out", type=Path, default=Path(".cache/standin"))
    ap.add_argument("--ks", type=int, nargs="+", default=[50, 100, 200])
    ap.add_argument("--kmeans-frames", type=int, default=300_000)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--stats-only", action="store_true", help="only verify and print existing files")
    args = ap.parse_args()
    torch.set_num_threads(1)  # shared 2-core machine
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()

    if not args.stats_only:
        with open(args.data / args.split / "manifest.csv", newline="") as fh:
            rows = list(csv.DictReader(fh))
        names = sorted({r["speaker"] for r in rows})
        speaker = np.array([names.index(r["speaker"]) for r in rows], np.int32)
        mel = torchaudio.transforms.MelSpectrogram(
            SR, n_fft=1024, win_length=400, hop_length=UNIT_HOP, n_mels=80, center=True)

        def load(r):
            x, sr = sf.read(args.data / args.split / r["path"], dtype="float32")
            assert sr == SR and x.ndim == 1, r["path"]
            return x

        # Pass 1: features and a wide-range F0 track to find each speaker's range.
        feats, num_samples, wide = [], [], []
        for i, r in enumerate(rows):
            x = load(r)
            num_samples.append(len(x))
            feats.append(log_mel_features(x, mel))
            wide.append(track_f0(x, 60.0, 600.0))
            if i % 500 == 0:
                print(f"pass 1 {i}/{len(rows)} {time.time() - t0:.0f}s", flush=True)
        num_samples = np.array(num_samples, np.int64)
        ranges = [speaker_range(np.concatenate([f[f > 0] for f, s in zip(wide, speaker) if s == j]))
                  for j in range(len(names))]

        # Pass 2: F0 with the speaker's range, pooled to 80 ms, speaker-normalised.
        logf0 = [pool_f0(track_f0(load(r), *ranges[s]), n) for r, s, n in zip(rows, speaker, num_samples)]
        print(f"pass 2 done {time.time() - t0:.0f}s", flush=True)
        norm = [None] * len(rows)
        for j in range(len(names)):
            idx = np.flatnonzero(speaker == j)
            v = np.concatenate([logf0[i] for i in idx])
            v = v[~np.isnan(v)]
            mu, sd = (v.mean(), v.std()) if len(v) else (0.0, 1.0)
            sd = sd if sd > 1e-3 else 1.0  # a single voiced frame has no spread
            for i in idx:
                norm[i] = (logf0[i] - mu) / sd
        edges_path = args.out / "f0_edges.npy"
        if args.split == "train":
            v = np.concatenate(norm)
            edges = np.quantile(v[~np.isnan(v)], np.arange(1, F0_BINS) / F0_BINS)
            np.save(edges_path, edges)
        edges = np.load(edges_path)
        f0 = [np.where(np.isnan(v), 0, 1 + np.searchsorted(edges, np.nan_to_num(v), side="right")).astype(np.int32)
              for v in norm]

        feats_all = torch.from_numpy(np.concatenate(feats))
        unit_offsets = np.r_[0, np.cumsum([len(f) for f in feats])].astype(np.int64)
        f0_offsets = np.r_[0, np.cumsum([len(f) for f in f0])].astype(np.int64)
        del feats
        for k in args.ks:
            c_path = args.out / f"kmeans_k{k}.npy"
            if args.split == "train":
                g = torch.Generator().manual_seed(args.seed)
                sub = torch.randperm(len(feats_all), generator=g)[:args.kmeans_frames]
                np.save(c_path, kmeans(feats_all[sub], k, args.iters, args.seed).numpy())
                print(f"k-means k={k} done {time.time() - t0:.0f}s", flush=True)
            units, _ = assign(feats_all, torch.from_numpy(np.load(c_path)))
            np.savez(args.out / f"{args.split}_k{k}.npz",
                     units=units.numpy().astype(np.int32), unit_offsets=unit_offsets,
                     f0=np.concatenate(f0), f0_offsets=f0_offsets,
                     num_samples=num_samples, speaker=speaker,
                     speaker_names=np.array(names, dtype="<U32"),
                     paths=np.array([r["path"] for r in rows], dtype="<U128"))

    print(f"{'split':5} {'K':>3} {'utts':>5} {'frames':>7} {'runlen':>6} {'H1':>5} {'H2run':>5} "
          f"{'f0frm':>6} {'unv':>5} {'f0H1':>5} {'f0H2':>5}")
    for k in args.ks:
        s = verify_and_stats(args.out / f"{args.split}_k{k}.npz", k)
        print(f"{args.split:5} {k:>3} {s['utts']:>5} {s['unit_frames']:>7} {s['run_len']:>6.2f} "
              f"{s['unit_H1']:>5.2f} {s['unit_H2_runs']:>5.2f} {s['f0_frames']:>6} {s['unvoiced']:>5.3f} "
              f"{s['f0_H1']:>5.2f} {s['f0_H2']:>5.2f}")
    print(f"total {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
