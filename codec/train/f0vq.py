"""Train and evaluate the F0 VQ-VAE; write the F0 code streams.

    python -m codec.train.f0vq --run .cache/f0vq/main --export [--steps 4000] [--device auto]

1. F0 of every train and dev utterance (``codec.pitch.extract_f0``) is extracted once into
   ``.cache/f0/{split}.npz``: ``f0`` (concatenated float32 Hz at 100 Hz, 0 = unvoiced),
   ``offsets`` (int64, utterances + 1), ``num_samples`` (int64), ``speaker`` (int32 index into the
   split's sorted ``speaker_names``), ``paths``; no object arrays.
2. The VQ-VAE trains on random crops of per-utterance normalised contours from train (AdamW,
   warm-up then cosine decay). ``--run`` holds ``checkpoint.pt`` (model, optimiser, step, RNG)
   and ``log.jsonl``; the same command after a kill continues at the saved step with the saved
   RNG, and reaches the same weights as an uninterrupted run.
3. Evaluation on dev (and train), utterance by utterance as the codec will run it: encode, decode,
   de-normalise with the utterance's own statistics, compare with the input contour (F0 RMSE in
   cents on frames voiced in both, VDE, GPE), plus codebook usage, perplexity and the empirical
   entropy of the codes (unigram and bigram-conditional, bits per code and bits/s). A non-learned
   baseline (80 ms means in per-utterance quantile bins, plus an unvoiced symbol) is scored the
   same way. Results go to ``{run}/eval.json``.
4. ``--export``: weights to ``codec/assets/f0vq.safetensors`` + ``.json`` and codes to
   ``.cache/f0/{split}_codes.npz`` (``f0`` int32, exactly ``ceil(N / 1280)`` per utterance,
   ``f0_offsets``, ``num_samples``, ``speaker``, ``speaker_names``, ``paths``).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import shutil
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from codec.f0vq import DOWNSAMPLE, F0VQConfig, F0VQVAE, code_frames
from codec.pitch import F0Stats, cents, denormalise, extract_f0, normalise
from codec.train.checkpoint import JsonlLog, load_checkpoint, pick_device, save_checkpoint

CODE_RATE = 12.5  # codes per second


# -- F0 cache ------------------------------------------------------------------------------------

def extract_split(data: Path, split: str, out: Path) -> Path:
    """Track every utterance of ``data/split`` into ``out/{split}.npz`` (skipped if it exists)."""
    path = out / f"{split}.npz"
    if path.exists():
        return path
    with open(data / split / "manifest.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    names = sorted({r["speaker"] for r in rows})
    f0s, num_samples, t0 = [], [], time.time()
    for i, r in enumerate(rows):
        x, sr = sf.read(data / split / r["path"], dtype="float32")
        f0s.append(extract_f0(x, sr))
        num_samples.append(len(x))
        if i % 200 == 0:
            print(f"f0 {split} {i}/{len(rows)} {time.time() - t0:.0f}s", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f"{split}.tmp.npz"
    np.savez(tmp, f0=np.concatenate(f0s).astype(np.float32),
             offsets=np.r_[0, np.cumsum([len(f) for f in f0s])].astype(np.int64),
             num_samples=np.array(num_samples, np.int64),
             speaker=np.array([names.index(r["speaker"]) for r in rows], np.int32),
             speaker_names=np.array(names, dtype="<U64"),
             paths=np.array([r["path"] for r in rows], dtype="<U256"))
    tmp.replace(path)
    return path


class Contours:
    """One split's F0 tracks, normalised per utterance, with crop sampling.

    Args:
        path: a ``{split}.npz`` written by :func:`extract_split`.
    """

    def __init__(self, path: Path):
        with np.load(path, allow_pickle=False) as z:
            self.f0_concat = z["f0"].astype(np.float32)
            self.offsets = z["offsets"].astype(np.int64)
            self.num_samples = z["num_samples"].astype(np.int64)
            self.speaker = z["speaker"].astype(np.int32)
            self.speaker_names = z["speaker_names"]
            self.paths = z["paths"]
        lengths = np.diff(self.offsets)
        if not np.array_equal(lengths, -(-self.num_samples // 160)):
            raise ValueError(f"{path}: F0 lengths are not ceil(N / 160)")
        self.lf0 = np.zeros_like(self.f0_concat)
        self.voiced = np.zeros(len(self.f0_concat), bool)
        self.stats: list[F0Stats] = []
        for i in range(len(self)):
            a, b = self.offsets[i], self.offsets[i + 1]
            self.lf0[a:b], self.voiced[a:b], s = normalise(self.f0_concat[a:b])
            self.stats.append(s)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def f0(self, i: int) -> np.ndarray:
        return self.f0_concat[self.offsets[i]:self.offsets[i + 1]]

    def batch(self, rng: np.random.Generator, size: int, frames: int):
        """``(x (B, 2, frames), mask (B, frames))``: random crops, utterances drawn by length.

        Crops start anywhere (not on 80 ms boundaries): the convolutions should not care where a
        code frame starts. Utterances shorter than the crop are zero-padded and masked.
        """
        lengths = np.diff(self.offsets)
        utt = rng.choice(len(lengths), size, p=lengths / lengths.sum())
        start = (rng.random(size) * np.maximum(lengths[utt] - frames + 1, 1)).astype(np.int64)
        pos = start[:, None] + np.arange(frames)
        mask = pos < lengths[utt, None]
        idx = np.where(mask, self.offsets[utt, None] + pos, 0)
        lf0 = torch.from_numpy(np.where(mask, self.lf0[idx], 0.0).astype(np.float32))
        voiced = torch.from_numpy(mask & self.voiced[idx])
        return F0VQVAE.make_input(lf0, voiced), torch.from_numpy(mask)


# -- training ------------------------------------------------------------------------------------

def learning_rate(step: int, peak: float, warmup: int, total: int) -> float:
    """Linear warm-up to ``peak``, then cosine decay to ``peak / 10`` at ``total``; stateless."""
    if step < warmup:
        return peak * (step + 1) / warmup
    t = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (0.1 + 0.45 * (1 + math.cos(math.pi * t)))


def train(model: F0VQVAE, data: Contours, run: Path, *, steps: int, batch: int, frames: int, lr: float,
          warmup: int = 200, weight_decay: float = 0.01, seed: int = 0, ckpt_every: int = 500,
          log_every: int = 50, device: torch.device = torch.device("cpu"), max_minutes: float | None = None,
          restart_until: float = 0.75, quiet: bool = False) -> int:
    """Train ``model`` in place for ``steps`` steps, resuming from ``run/checkpoint.pt`` if present.

    Args:
        model: the VQ-VAE, on ``device``.
        data: training contours.
        run: folder for ``checkpoint.pt`` and ``log.jsonl``.
        steps: total optimiser steps (the learning-rate schedule spans them).
        batch, frames: crops per step and 100 Hz frames per crop.
        max_minutes: stop (with a checkpoint) after this much wall time; a rerun continues.
        restart_until: dead codes are restarted only in this first fraction of the steps, so the
            decoder settles on a fixed codebook at the end.

    Returns:
        the step reached.
    """
    ckpt, log = run / "checkpoint.pt", JsonlLog(run / "log.jsonl")
    # The seed fixes everything: initial weights (re-drawn here, whatever the caller's RNG did
    # before building the model), crops (numpy), codebook init and restarts (torch CPU RNG).
    torch.manual_seed(seed)
    model.load_state_dict(F0VQVAE.from_config(model.config).state_dict())
    rng = np.random.default_rng(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    config = model.config.model_dump_json()
    step = 0
    if ckpt.exists():
        extra = load_checkpoint(ckpt, {"model": model}, {"opt": opt}, rng)
        if extra.get("config") != config:
            raise SystemExit(f"{ckpt} was trained with another config: {extra.get('config')}")
        step = extra["step"]
        if not quiet:
            print(f"resumed at step {step}", flush=True)

    def save():
        save_checkpoint(ckpt, step, {"model": model}, {"opt": opt}, rng, config=config)

    model.train()
    t0 = time.time()
    acc: dict[str, float] = {}
    while step < steps:
        x, mask = data.batch(rng, batch, frames)
        for g in opt.param_groups:
            g["lr"] = learning_rate(step, lr, warmup, steps)
        model.quantiser.allow_restarts = step < restart_until * steps  # from the step: resume-safe
        loss, parts = model.loss(x.to(device), mask.to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        for k, v in parts.items():
            acc[k] = acc.get(k, 0.0) + v
        if step % log_every == 0 or step == steps:
            n = (step - 1) % log_every + 1
            rec = {k: round(v / n, 5) if k != "restarts" else int(v) for k, v in acc.items()}
            log.write(step=step, lr=round(opt.param_groups[0]["lr"], 7), seconds=round(time.time() - t0, 1), **rec)
            if not quiet:
                print(f"step {step} " + " ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                                                 for k, v in rec.items())
                      + f" {time.time() - t0:.0f}s", flush=True)
            acc = {}
        if step % ckpt_every == 0 or step == steps:
            save()
        if max_minutes is not None and time.time() - t0 > 60 * max_minutes and step < steps:
            save()
            print(f"stopping at step {step} after {max_minutes} minutes; rerun to continue", flush=True)
            break
    model.eval()
    return step


# -- evaluation ----------------------------------------------------------------------------------

def entropy_bits(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log2(p)).sum()) if len(p) else 0.0


def code_entropy(codes: list[np.ndarray], alphabet: int) -> dict:
    """Usage, perplexity, unigram entropy and bigram-conditional entropy H(c_t | c_t-1) of codes."""
    flat = np.concatenate(codes).astype(np.int64)
    uni = np.bincount(flat, minlength=alphabet)
    pairs = np.concatenate([c[:-1].astype(np.int64) * alphabet + c[1:] for c in codes if len(c) > 1])
    joint = np.bincount(pairs, minlength=alphabet ** 2).reshape(alphabet, alphabet)
    h1 = entropy_bits(uni)
    h2 = entropy_bits(joint.reshape(-1)) - entropy_bits(joint.sum(1))
    return dict(alphabet=alphabet, used=int((uni > 0).sum()), perplexity=2 ** h1, h1_bits=h1, h2_bits=h2,
                h1_bps=h1 * CODE_RATE, h2_bps=h2 * CODE_RATE, share=(uni / uni.sum()).round(4).tolist())


def contour_errors(pairs: list[tuple[np.ndarray, np.ndarray]]) -> dict:
    """F0 RMSE (cents, frames voiced in both), VDE and GPE of reconstructions against references."""
    f = np.concatenate([p[0] for p in pairs]).astype(np.float64)
    r = np.concatenate([p[1] for p in pairs]).astype(np.float64)
    both = (f > 0) & (r > 0)
    c = cents(f[both], r[both])
    return dict(rmse_cents=float(np.sqrt((c ** 2).mean())), vde=float(((f > 0) != (r > 0)).mean()),
                gpe=float((np.abs(f[both] / r[both] - 1) > 0.2).mean()), frames=int(len(f)),
                voiced_ref=float((r > 0).mean()), voiced_hat=float((f > 0).mean()))


def encode_all(model: F0VQVAE, data: Contours, device: torch.device):
    """Codes and reconstructed F0 (Hz) of every utterance, one at a time as the codec runs."""
    model.eval()
    codes, recon = [], []
    for i in range(len(data)):
        a, b = data.offsets[i], data.offsets[i + 1]
        x = F0VQVAE.make_input(torch.from_numpy(data.lf0[a:b])[None], torch.from_numpy(data.voiced[a:b])[None])
        c = model.encode(x.to(device))
        lf0, p = model.decode(c)
        codes.append(c[0].cpu().numpy())
        recon.append(denormalise(lf0[0, :b - a].cpu().numpy(), p[0, :b - a].cpu().numpy(), data.stats[i]))
    return codes, recon


class QuantileBaseline:
    """Non-learned reference: per 80 ms frame the mean normalised log-F0 of its voiced 10 ms frames,
    quantised to ``k`` bins (equal-mass on train), code 0 for mostly-unvoiced frames; decoded as
    the bin's median, held for the 8 frames."""

    def __init__(self, train: Contours, k: int):
        means = np.concatenate([self._frame_means(train, i)[0] for i in range(len(train))])
        means = means[~np.isnan(means)]
        self.edges = np.quantile(means, np.arange(1, k) / k)
        bins = np.searchsorted(self.edges, means)
        self.centres = np.array([np.median(means[bins == j]) for j in range(k)])

    @staticmethod
    def _frame_means(data: Contours, i: int):
        a, b = data.offsets[i], data.offsets[i + 1]
        pad = (-(b - a)) % DOWNSAMPLE
        lf0 = np.pad(data.lf0[a:b], (0, pad)).reshape(-1, DOWNSAMPLE)
        v = np.pad(data.voiced[a:b], (0, pad)).reshape(-1, DOWNSAMPLE)
        valid = np.pad(np.ones(b - a, bool), (0, pad)).reshape(-1, DOWNSAMPLE).sum(1)
        nv = v.sum(1)
        mean = np.where(2 * nv >= valid, (lf0 * v).sum(1) / np.maximum(nv, 1), np.nan)
        mean[nv == 0] = np.nan
        return mean, b - a

    def run(self, data: Contours):
        codes, recon = [], []
        for i in range(len(data)):
            mean, t = self._frame_means(data, i)
            c = np.where(np.isnan(mean), 0, 1 + np.searchsorted(self.edges, np.nan_to_num(mean)))
            lf0 = np.repeat(np.where(c > 0, self.centres[np.maximum(c - 1, 0)], 0.0), DOWNSAMPLE)[:t]
            voiced = np.repeat(c > 0, DOWNSAMPLE)[:t]
            codes.append(c)
            recon.append(denormalise(lf0, voiced, data.stats[i]))
        return codes, recon


def evaluate(model: F0VQVAE, splits: dict[str, Contours], device: torch.device, baseline_from: Contours | None):
    """Metrics per split (and for the quantile baseline); see the module docstring."""
    out = {}
    base = QuantileBaseline(baseline_from, model.config.codebook_size) if baseline_from is not None else None
    for name, data in splits.items():
        codes, recon = encode_all(model, data, device)
        refs = [data.f0(i) for i in range(len(data))]
        out[name] = dict(**contour_errors(list(zip(recon, refs))), **code_entropy(codes, model.config.num_codes))
        if base is not None:
            bc, br = base.run(data)
            out[f"{name}_quantile_baseline"] = dict(**contour_errors(list(zip(br, refs))),
                                                   **code_entropy(bc, model.config.codebook_size + 1))
    return out


def write_codes(model: F0VQVAE, data: Contours, path: Path, device: torch.device) -> None:
    """``.cache/f0/{split}_codes.npz``: int32 codes, exactly ``ceil(N / 1280)`` per utterance."""
    codes, _ = encode_all(model, data, device)
    fixed = []
    for c, n in zip(codes, data.num_samples):
        want = code_frames(int(n))
        # encode gives ceil(ceil(N/160)/8) = ceil(N/1280) codes already; pad/trim only as a guard.
        fixed.append(np.pad(c, (0, max(0, want - len(c))), mode="edge")[:want].astype(np.int32))
    np.savez(path, f0=np.concatenate(fixed), f0_offsets=np.r_[0, np.cumsum([len(c) for c in fixed])].astype(np.int64),
             num_samples=data.num_samples, speaker=data.speaker, speaker_names=data.speaker_names,
             paths=data.paths, f0_alphabet=np.int64(model.config.num_codes))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    ap.add_argument("--cache", type=Path, default=Path(".cache/f0"))
    ap.add_argument("--run", type=Path, default=Path(".cache/f0vq/main"))
    ap.add_argument("--fresh", action="store_true", help="delete --run first")
    ap.add_argument("--steps", type=int, default=4000)  # ~12 CPU minutes at 0.17 s a step
    ap.add_argument("--restart-until", type=float, default=0.75, help="fraction of steps with dead-code restarts")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--crop-frames", type=int, default=160, help="100 Hz frames per crop (1.6 s)")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--max-minutes", type=float, default=None)
    ap.add_argument("--codebook-size", type=int, default=20)
    ap.add_argument("--unvoiced-code", action="store_true", help="reserve code 0 for unvoiced frames")
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--code-dim", type=int, default=32)
    ap.add_argument("--kernel-size", type=int, default=5)
    ap.add_argument("--export", action="store_true", help="write codec/assets/f0vq.* and the code streams")
    ap.add_argument("--assets", type=Path, default=Path("codec/assets/f0vq"))
    args = ap.parse_args(argv)
    torch.set_num_threads(1)  # shared machine; the model is too small to gain from more
    device = pick_device(args.device)
    if args.crop_frames % DOWNSAMPLE:
        raise SystemExit("--crop-frames must be a multiple of 8")
    if args.fresh and args.run.exists():
        shutil.rmtree(args.run)

    paths = {s: extract_split(args.data, s, args.cache) for s in ("train", "dev")}
    splits = {s: Contours(p) for s, p in paths.items()}
    config = F0VQConfig(codebook_size=args.codebook_size, unvoiced_code=args.unvoiced_code, hidden=args.hidden,
                        code_dim=args.code_dim, kernel_size=args.kernel_size)
    model = F0VQVAE.from_config(config).to(device)
    print(f"F0 VQ-VAE {model.num_parameters()} parameters, {config.num_codes} codes, device {device}", flush=True)
    t0 = time.process_time()
    step = train(model, splits["train"], args.run, steps=args.steps, batch=args.batch, frames=args.crop_frames,
                 lr=args.lr, seed=args.seed, device=device, max_minutes=args.max_minutes,
                 restart_until=args.restart_until)
    if step < args.steps:
        return 0
    results = evaluate(model, splits, device, baseline_from=splits["train"])
    results["meta"] = dict(steps=step, parameters=model.num_parameters(), config=config.model_dump(),
                           train_cpu_seconds_this_process=round(time.process_time() - t0, 1))
    (args.run / "eval.json").write_text(json.dumps(results, indent=1) + "\n")
    for name, r in results.items():
        if name != "meta":
            print(f"{name:>26}: RMSE {r['rmse_cents']:6.1f} cents  VDE {100 * r['vde']:5.2f}%  "
                  f"GPE {100 * r['gpe']:5.2f}%  used {r['used']}/{r['alphabet']}  perplexity {r['perplexity']:5.2f}  "
                  f"H1 {r['h1_bits']:.3f} ({r['h1_bps']:.1f} b/s)  H2 {r['h2_bits']:.3f} ({r['h2_bps']:.1f} b/s)")
    if args.export:
        model.to("cpu").save(args.assets)
        for s, data in splits.items():
            write_codes(model, data, args.cache / f"{s}_codes.npz", torch.device("cpu"))
        print(f"wrote {args.assets}.safetensors/.json and {args.cache}/{{train,dev}}_codes.npz", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
