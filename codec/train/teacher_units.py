"""Teacher units: Whisper-base encoder features of train/dev, k-means on train, units per split.

    python -m codec.train.teacher_units [--data /work/shared/data] [--out .cache/teacher]
    python -m codec.train.teacher_units --time 20      # only time the teacher on 20 train files
    python -m codec.train.teacher_units --stats-only   # reload the .npz files, print statistics

Steps (each skipped when its output exists, so a killed run resumes at the last finished step):

1. Features of every train, then dev, utterance (``codec.teacher``: several utterances packed per
   30 s window). Stored raw, float16: ``{split}_feats.npy`` ``(F, 512)``, with ``{split}_pos.npy``
   (int16, the window position each frame was encoded at) and ``{split}_index.npz``.
2. ``position_mean.npy`` ``(1500, 512)``: mean raw output per window position over the train frames.
   Every use of the features subtracts it (:func:`load_features`); see ``codec.teacher``.
3. k-means (k-means++ init, Lloyd, fixed seed) on a subsample of train frames for each K:
   ``kmeans_k{K}.npy`` ``(K, 512)`` float32 centroids.
4. Units of every frame: ``{split}_k{K}.npz`` (load with ``allow_pickle=False``): ``units`` int32
   (concatenated, ``ceil(N/320)`` per utterance), ``unit_offsets`` int64 ``(n+1,)``, ``num_samples``
   int64, ``speaker`` int32 (index into ``speaker_names``, the split's sorted speaker names),
   ``speaker_names`` <U32, ``paths`` <U128 (relative to the split folder).
5. Statistics per split and K (``codec.train.unit_stats``); ``--check-packing`` also measures how
   much the units depend on the packing (dev re-encoded with other neighbours, and alone).
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")  # shared 2-core machine: numpy's BLAS single-threaded too

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from codec.teacher import DIM, HOP, SAMPLE_RATE, WINDOW_FRAMES, WhisperTeacher, cut
from codec.train.unit_stats import fit_unit_tables, format_stats, run_bigram, collapse_runs, unit_stats


def read_manifest(split_dir: Path) -> list[dict]:
    with open(split_dir / "manifest.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def load_wav(path: Path) -> np.ndarray:
    x, sr = sf.read(path, dtype="float32", always_2d=False)
    if sr != SAMPLE_RATE or x.ndim != 1:
        raise ValueError(f"{path}: expected 16 kHz mono, got {sr} Hz, shape {x.shape}")
    return x


def extract_split(teacher: WhisperTeacher, split_dir: Path, out: Path, split: str, chunk: int,
                  limit: int | None = None) -> dict:
    """Step 1 for one split; returns timing. Writes the three feature files atomically at the end."""
    rows = read_manifest(split_dir)[:limit]
    feats, pos, num_samples = [], [], []
    audio_s = cpu_s = 0.0
    wall0 = time.time()
    for c in range(0, len(rows), chunk):
        wavs = [load_wav(split_dir / r["path"]) for r in rows[c: c + chunk]]
        cpu0 = time.process_time()
        windows, placements = teacher.encode_packed(wavs)
        f, p = cut(windows, placements, len(wavs))
        cpu_s += time.process_time() - cpu0
        audio_s += sum(len(w) for w in wavs) / SAMPLE_RATE
        feats += [x.astype(np.float16) for x in f]
        pos += [x.astype(np.int16) for x in p]
        num_samples += [len(w) for w in wavs]
        print(f"  {split}: {c + len(wavs)}/{len(rows)} files, {audio_s:.0f} s audio, {len(windows)} windows "
              f"in this chunk, {cpu_s / audio_s:.4f} CPU s per audio s, wall {time.time() - wall0:.0f} s", flush=True)
    timing = dict(files=len(rows), audio_s=audio_s, cpu_s=cpu_s, wall_s=time.time() - wall0)
    if limit is not None:
        return timing
    names = sorted({r["speaker"] for r in rows})
    lengths = np.array([len(x) for x in feats])
    assert np.array_equal(lengths, -(-np.array(num_samples) // HOP))
    for name, arr in ((f"{split}_feats.npy", np.concatenate(feats)), (f"{split}_pos.npy", np.concatenate(pos))):
        np.save(out / f"tmp_{name}", arr)
        os.replace(out / f"tmp_{name}", out / name)
    np.savez(out / f"tmp_{split}_index.npz",
             unit_offsets=np.r_[0, np.cumsum(lengths)].astype(np.int64),
             num_samples=np.array(num_samples, np.int64),
             speaker=np.array([names.index(r["speaker"]) for r in rows], np.int32),
             speaker_names=np.array(names, "<U32"), paths=np.array([r["path"] for r in rows], "<U128"),
             timing=json.dumps(timing))
    os.replace(out / f"tmp_{split}_index.npz", out / f"{split}_index.npz")  # written last: marks the split done
    return timing


def load_features(out: Path, split: str, mmap: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw float16 features, their window positions, and the position mean (subtract it per frame).

    Returns:
        ``(feats (F, 512) float16, pos (F,) int16, position_mean (1500, 512) float32)``; the
        teacher's features are ``feats[i] - position_mean[pos[i]]``.
    """
    mode = "r" if mmap else None
    return (np.load(out / f"{split}_feats.npy", mmap_mode=mode), np.load(out / f"{split}_pos.npy", mmap_mode=mode),
            np.load(out / "position_mean.npy"))


def centred(feats: np.ndarray, pos: np.ndarray, pmean: np.ndarray, rows: np.ndarray | slice = slice(None)) -> torch.Tensor:
    """float32 teacher features ``feats[rows] - position_mean[pos[rows]]`` as a tensor."""
    return torch.from_numpy(feats[rows].astype(np.float32) - pmean[pos[rows].astype(np.int64)])


def position_mean(feats: np.ndarray, pos: np.ndarray, chunk: int = 1 << 16) -> np.ndarray:
    """``(1500, 512)`` mean feature at each window position (float64 sums, in chunks)."""
    s = torch.zeros(WINDOW_FRAMES, DIM, dtype=torch.float64)
    n = torch.zeros(WINDOW_FRAMES, dtype=torch.float64)
    for i in range(0, len(feats), chunk):
        p = torch.from_numpy(pos[i: i + chunk].astype(np.int64))
        s.index_add_(0, p, torch.from_numpy(feats[i: i + chunk].astype(np.float64)))
        n += torch.bincount(p, minlength=WINDOW_FRAMES)
    return (s / n.clamp_min(1)[:, None]).float().numpy()


def assign(x: torch.Tensor, c: torch.Tensor, chunk: int = 32768) -> tuple[torch.Tensor, torch.Tensor]:
    """Nearest centroid of each row of ``x (F, D)`` among ``c (K, D)``: ``(index, squared distance)``."""
    cc = (c * c).sum(1)
    idx, dist = [], []
    for i in range(0, len(x), chunk):
        xb = x[i: i + chunk]
        d = (xb * xb).sum(1, keepdim=True) - 2 * xb @ c.T + cc
        m, j = d.min(1)
        idx.append(j)
        dist.append(m.clamp_min(0))
    return torch.cat(idx), torch.cat(dist)


def kmeans(x: torch.Tensor, k: int, iters: int, seed: int) -> torch.Tensor:
    """Lloyd's k-means with k-means++ initialisation; returns ``(K, D)`` centroids.

    Args:
        x: ``(F, D)`` float32 frames.
    """
    g = torch.Generator().manual_seed(seed)
    c = x[torch.randint(len(x), (1,), generator=g)]
    d2 = ((x - c) ** 2).sum(1)
    for _ in range(k - 1):  # k-means++: next centre drawn with probability ~ squared distance
        new = x[torch.multinomial(d2, 1, generator=g)]
        c = torch.cat([c, new])
        d2 = torch.minimum(d2, ((x - new) ** 2).sum(1))
    for it in range(iters):
        a, dist = assign(x, c)
        sums = torch.zeros_like(c).index_add_(0, a, x)
        counts = torch.bincount(a, minlength=k).unsqueeze(1)
        c = torch.where(counts > 0, sums / counts.clamp_min(1), c)  # an empty cluster keeps its centre
        if it == 0 or (it + 1) % 5 == 0:
            print(f"  k={k} iter {it + 1}/{iters}: mean squared distance {dist.mean():.2f}, "
                  f"empty clusters {(counts == 0).sum().item()}", flush=True)
    return c


def write_units(out: Path, split: str, k: int, centroids: torch.Tensor) -> None:
    feats, pos, pmean = load_features(out, split)
    units = torch.cat([assign(centred(feats, pos, pmean, slice(i, i + 65536)), centroids)[0]
                       for i in range(0, len(feats), 65536)])
    with np.load(out / f"{split}_index.npz", allow_pickle=False) as z:
        meta = {n: z[n] for n in ("unit_offsets", "num_samples", "speaker", "speaker_names", "paths")}
    tmp = out / f"tmp_{split}_k{k}.npz"
    np.savez(tmp, units=units.numpy().astype(np.int32), **meta)
    os.replace(tmp, out / f"{split}_k{k}.npz")


def load_units(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        units, offsets, n = z["units"], z["unit_offsets"], z["num_samples"]
    assert units.dtype == np.int32 and np.array_equal(np.diff(offsets), -(-n // HOP)), path
    return units, offsets


def print_stats(out: Path, ks: list[int]) -> None:
    for k in ks:
        tu, to = load_units(out / f"train_k{k}.npz")
        runs, ro = collapse_runs(tu, to)
        bigram, tables = run_bigram(runs, ro, k), fit_unit_tables(tu, to, k)
        for split in ("train", "dev"):
            u, o = (tu, to) if split == "train" else load_units(out / f"dev_k{k}.npz")
            s = unit_stats(u, o, k, bigram, tables)
            print(format_stats(f"{split} K={k}", s) + f"  used {len(np.unique(u))}/{k}", flush=True)


def check_packing(teacher: WhisperTeacher, data: Path, out: Path, ks: list[int], every: int = 7) -> None:
    """Unit agreement of dev encoded with other neighbours (another gap), and alone in a window."""
    rows = read_manifest(data / "dev")
    wavs = [load_wav(data / "dev" / r["path"]) for r in rows]
    pmean = np.load(out / "position_mean.npy")
    cents = {k: torch.from_numpy(np.load(out / f"kmeans_k{k}.npy")) for k in ks}
    teacher.position_mean = pmean
    gap = teacher.gap_frames
    teacher.gap_frames = gap + 27  # shifts every later utterance in its window
    other = [f for c in range(0, len(wavs), 50) for f in teacher.features_batch(wavs[c: c + 50])]
    teacher.gap_frames = gap
    alone_idx = list(range(0, len(wavs), every))
    alone = [teacher.features(wavs[i]) for i in alone_idx]
    for k in ks:
        u, o = load_units(out / f"dev_k{k}.npz")
        ref = [u[a:b] for a, b in zip(o[:-1], o[1:])]
        re = torch.cat([assign(torch.from_numpy(f), cents[k])[0] for f in other]).numpy()
        al = np.concatenate([assign(torch.from_numpy(alone[j]), cents[k])[0].numpy() for j in range(len(alone_idx))])
        print(f"dev K={k}: unit agreement with other neighbours {np.mean(re == u):.3f}, alone in a window "
              f"{np.mean(al == np.concatenate([ref[i] for i in alone_idx])):.3f} ({len(alone_idx)} files)", flush=True)
    teacher.position_mean = None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    ap.add_argument("--out", type=Path, default=Path(".cache/teacher"))
    ap.add_argument("--cache-dir", type=Path, default=None, help="where the Whisper weights are joined")
    ap.add_argument("--ks", type=int, nargs="+", default=[50, 100, 200])
    ap.add_argument("--kmeans-frames", type=int, default=300_000)
    ap.add_argument("--kmeans-files", type=int, default=None, help="fit k-means on the first N train files only")
    ap.add_argument("--iters", type=int, default=25)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--chunk", type=int, default=120, help="utterances packed together per call")
    ap.add_argument("--time", type=int, default=None, metavar="N", help="only time the teacher on N train files")
    ap.add_argument("--stats-only", action="store_true")
    ap.add_argument("--check-packing", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    teacher = None

    def get_teacher():
        nonlocal teacher
        if teacher is None:
            teacher = WhisperTeacher(cache_dir=args.cache_dir, threads=1)
        return teacher

    if args.time:
        t = extract_split(get_teacher(), args.data / "train", args.out, "train", args.chunk, limit=args.time)
        print(f"teacher: {t['cpu_s'] / t['audio_s']:.4f} CPU s per audio s ({t['audio_s']:.0f} s audio, "
              f"wall {t['wall_s']:.0f} s incl. reading)")
        return
    if not args.stats_only:
        for split in ("train", "dev"):
            if (args.out / f"{split}_index.npz").exists():
                print(f"{split}: features exist, skipping extraction")
                continue
            t = extract_split(get_teacher(), args.data / split, args.out, split, args.chunk)
            print(f"{split}: {t['files']} files, {t['audio_s']:.0f} s audio, teacher {t['cpu_s']:.0f} CPU s "
                  f"({t['cpu_s'] / t['audio_s']:.4f} per audio s), wall {t['wall_s']:.0f} s", flush=True)
        if not (args.out / "position_mean.npy").exists():
            np.save(args.out / "position_mean.npy", position_mean(
                np.load(args.out / "train_feats.npy", mmap_mode="r"), np.load(args.out / "train_pos.npy")))
        feats, pos, pmean = load_features(args.out, "train")
        with np.load(args.out / "train_index.npz") as z:
            offsets = z["unit_offsets"]
        pool = offsets[args.kmeans_files] if args.kmeans_files else len(feats)
        rows = np.sort(np.random.default_rng(args.seed).permutation(pool)[: args.kmeans_frames])
        x = None
        for k in args.ks:
            if not (args.out / f"kmeans_k{k}.npy").exists():
                if x is None:
                    x = centred(feats, pos, pmean, rows)
                    print(f"k-means on {len(x)} of {pool} train frames", flush=True)
                tk = time.time()
                np.save(args.out / f"kmeans_k{k}.npy", kmeans(x, k, args.iters, args.seed).numpy())
                print(f"  k={k}: {time.time() - tk:.0f} s", flush=True)
            c = torch.from_numpy(np.load(args.out / f"kmeans_k{k}.npy"))
            for split in ("train", "dev"):
                if not (args.out / f"{split}_k{k}.npz").exists():
                    write_units(args.out, split, k, c)
        del x
    print_stats(args.out, args.ks)
    if args.check_packing:
        check_packing(get_teacher(), args.data, args.out, args.ks)
    print(f"done in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
