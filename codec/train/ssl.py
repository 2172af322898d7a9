"""Train the HuBERT-style SSL content encoder (``codec.ssl``): masked prediction of k-means targets.

    # iteration 1: targets = k-means (K=100) of log-mel of train
    python -m codec.train.ssl --out runs/ssl-it1 --targets logmel --steps 900 --minutes 12
    # iteration 2: targets = k-means of iteration 1's layer-4 features
    python -m codec.train.ssl --out runs/ssl-it2 --targets runs/ssl-it1/model --steps 500 --minutes 7
    # compare with the shipped student and the Whisper teacher on dev (docs/CONTENT.md)
    python -m codec.train.ssl --compare runs/ssl-it1/model runs/ssl-it2/model

No teacher is needed to train: the train file list comes from ``DATA/train/manifest.csv``. Only
``--compare`` reads the Whisper teacher's cached units (``--teacher``) to score the result.

Steps: (1) load train audio; (2) target features of every train utterance and k-means on a
subsample of their frames (``codec.train.teacher_units.kmeans``); (3) train with
``codec.train.content.train`` and a masked-prediction objective (resumable as the student's run);
(4) k-means (``--num-codes``) of the trained model's ``feature_layer`` output on train frames,
stored in the model as its unit centroids; (5) ``--out/model.safetensors`` + ``.json``.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")  # shared machine: one thread unless asked otherwise

import argparse
import json
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torch.nn.functional as F

from codec.ssl import SSLConfig, SSLEncoder, span_mask
from codec.train.checkpoint import JsonlLog
from codec.train.content import IGNORE, TrainConfig, UnitCorpus, feature_stats, train
from codec.train.teacher_units import assign, kmeans, read_manifest


def load_audio(split_dir: Path, limit: int | None = None) -> tuple[list[str], list[np.ndarray]]:
    """``(paths, int16 waveforms)`` of a split's manifest, in manifest order."""
    paths, audio = [], []
    for r in read_manifest(split_dir)[:limit]:
        x, sr = sf.read(split_dir / r["path"], dtype="int16", always_2d=False)
        if sr != 16000 or x.ndim != 1:
            raise ValueError(f"{r['path']}: expected 16 kHz mono")
        paths.append(r["path"])
        audio.append(x)
    return paths, audio


def _wav(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(a.astype(np.float32) / 32768.0 if a.dtype == np.int16 else a.astype(np.float32))[None]


@torch.no_grad()
def logmel_50hz(model: SSLEncoder, wav: torch.Tensor) -> torch.Tensor:
    """Standardised log-mel at 50 Hz ``(T, n_mels)``: mel frames ``2t-1, 2t, 2t+1`` weighted 1/4, 1/2, 1/4.

    The triangle centres each target on sample ``320 t`` like the unit frame it labels.
    """
    mel = model.log_mel(wav)  # (1, n_mels, 2T), frame i centred on 160 i
    s = model.config.stride
    kernel = torch.tensor([0.25, 0.5, 0.25]).repeat(mel.shape[1], 1, 1)
    return F.conv1d(F.pad(mel, (1, 1), mode="replicate"), kernel, stride=s, groups=mel.shape[1])[0].T


@torch.no_grad()
def target_features(audio: list[np.ndarray], model: SSLEncoder, source: SSLEncoder | None,
                    layer: int | None = None) -> list[torch.Tensor]:
    """Per-utterance ``(T, D)`` features to cluster: log-mel (``source`` None) or a model's layer."""
    if source is None:
        return [logmel_50hz(model, _wav(a)) for a in audio]
    return [source.hidden(_wav(a), layer)[0] for a in audio]


def fit_targets(feats: list[torch.Tensor], k: int, frames: int, iters: int, seed: int) -> tuple[torch.Tensor, list[np.ndarray]]:
    """k-means on ``frames`` random frames; returns centroids and every utterance's cluster ids."""
    x = torch.cat(feats)
    rows = torch.from_numpy(np.sort(np.random.default_rng(seed).permutation(len(x))[:frames]))
    c = kmeans(x[rows].contiguous(), k, iters, seed)
    return c, [assign(f, c)[0].numpy() for f in feats]


def masked_objective(prob: float, span: int):
    """Masked prediction: cross-entropy on masked frames only (HuBERT's alpha = 1)."""

    def objective(model: SSLEncoder, wav: torch.Tensor, tgt: torch.Tensor):
        mask = span_mask(tgt.shape[0], tgt.shape[1], prob, span, device=tgt.device)
        logits = model(wav, mask)
        scored = tgt.masked_fill(~mask, IGNORE)
        return F.cross_entropy(logits, scored, ignore_index=IGNORE), logits, scored

    return objective


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data"), help="holds train/ and dev/")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--targets", default="logmel", help="'logmel' (iteration 1) or a saved SSL model (its feature layer)")
    ap.add_argument("--target-k", type=int, default=100, help="k-means classes of the training targets")
    ap.add_argument("--num-codes", type=int, default=100, help="K of the output units")
    ap.add_argument("--feature-layer", type=int, default=4)
    ap.add_argument("--kmeans-frames", type=int, default=100_000)
    ap.add_argument("--kmeans-iters", type=int, default=20)
    ap.add_argument("--mask-prob", type=float, default=0.08)
    ap.add_argument("--mask-span", type=int, default=6, help="frames (20 ms each) per masked span")
    ap.add_argument("--channels", type=int, default=256)
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--kernel-size", type=int, default=7)
    ap.add_argument("--expansion", type=int, default=3)
    ap.add_argument("--limit", type=int, default=None, help="use only the first N train files")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--teacher", type=Path, default=Path("/work/main/.cache/teacher"),
                    help="cached Whisper teacher units ({train,dev}_k{50,100,200}.npz), for --compare only")
    ap.add_argument("--compare", type=Path, nargs="+", default=None, metavar="MODEL",
                    help="only compare saved SSL models with the student and teacher on dev")
    for name, field in TrainConfig.model_fields.items():
        if name != "steps":
            ap.add_argument("--" + name.replace("_", "-"), type=type(field.default), default=field.default)
    ap.add_argument("--steps", type=int, default=900)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.compare:
        from codec.train.ssl_compare import compare
        compare(args.compare, args.data, args.teacher)
        return
    if args.out is None:
        ap.error("--out is required to train")
    cfg = TrainConfig(**{n: getattr(args, n) for n in TrainConfig.model_fields})
    log = JsonlLog(args.out / "log.jsonl")
    model = SSLEncoder.from_config(SSLConfig(channels=args.channels, layers=args.layers, kernel_size=args.kernel_size,
                                             expansion=args.expansion, num_units=args.target_k,
                                             feature_layer=args.feature_layer, num_codes=args.num_codes))
    t0 = time.time()
    _, audio = load_audio(args.data / "train", args.limit)
    print(f"{len(audio)} train files loaded in {time.time() - t0:.0f} s", flush=True)
    targets_file = args.out / "targets.npz"
    args.out.mkdir(parents=True, exist_ok=True)
    if targets_file.exists():  # a resumed run keeps its targets (k-means is the slow, seeded part)
        with np.load(targets_file) as z:
            units, offsets = z["units"], z["offsets"]
        targets = [units[a:b] for a, b in zip(offsets[:-1], offsets[1:])]
    else:
        t = time.time()
        source = None if args.targets == "logmel" else SSLEncoder.load(args.targets)
        feature_stats(model, UnitCorpus(audio, [np.zeros(-(-len(a) // 320), np.int64) for a in audio]),
                      np.random.default_rng(cfg.seed))  # log-mel standardisation, needed for log-mel targets
        # (train() sets it again at step 0 from the same seed and the same crops: identical values)
        feats = target_features(audio, model, source)
        _, targets = fit_targets(feats, args.target_k, args.kmeans_frames, args.kmeans_iters, cfg.seed)
        del feats
        offsets = np.r_[0, np.cumsum([len(u) for u in targets])]
        np.savez(targets_file, units=np.concatenate(targets).astype(np.int32), offsets=offsets)
        log.write(event="targets", source=args.targets, k=args.target_k, seconds=time.time() - t)
        print(f"targets ({args.targets}, K={args.target_k}) in {time.time() - t:.0f} s", flush=True)
    corpus = UnitCorpus(audio, targets)
    result = train(model, corpus, cfg, args.out, torch.device("cpu"), objective=masked_objective(args.mask_prob, args.mask_span))
    print(f"training: step {result['step']} of {cfg.steps}, finished {result['finished']}", flush=True)
    # Output units: k-means of the trained model's feature layer on train frames.
    t = time.time()
    model.eval()
    # A quarter of the files (~50 min of audio, ~160k frames) is plenty for 100 centroids and
    # keeps this step to a minute of one CPU thread.
    feats = target_features(audio[::4], model, model, args.feature_layer)
    centroids, _ = fit_targets(feats, args.num_codes, args.kmeans_frames, args.kmeans_iters, cfg.seed + 1)
    model.set_centroids(centroids)
    w, c = model.save(args.out / "model")
    log.write(event="export", step=result["step"], finished=result["finished"], path=str(w), kmeans_s=time.time() - t)
    print(f"unit k-means in {time.time() - t:.0f} s; wrote {w} and {c}", flush=True)


if __name__ == "__main__":
    main()
