"""Train a bundle's band refiner (codec/refiner.py) on its own decodes of train speech.

    srb train refiner --model codec/assets/default --data ../shared/data/train --work runs/refiner \
        --into runs/refiner/bundle --steps 2500 --threads 1 --config '{"scale": 0.5}'

Every file of ``--data`` is encoded and decoded by the bundle as it ships (vocoder and every
finishing stage its ``render.json`` names, except a refiner it may already have; decodes cached in
``WORK/decoded``). The network then learns, from the decoded audio's log-mel spectrogram, the log
ratio of the original's band power to the decoded one (L1), on 4 s crops at random levels (the
ratio does not depend on the level, so the network must not either). ``--level-weight`` adds a
term that keeps each crop's total power where it was; it kept the loudness but lost most of what
the refiner gains, so the shipped refiner was trained without it, and the encoder measures its
gain field through the refiner instead (docs/REFINER.md). The files of the speakers of
every ``--holdout-every``-th file are held out (speakers with at most 10 files: :func:`held_out_speakers`):
their loss picks the step whose weights are kept.

``--into`` receives the bundle: ``--model``'s files (copied unless they are the same folder), the
weights in ``refiner.safetensors`` and ``render.json`` with the refiner added. Neither is part of
the model id, so the bundle reads and writes the same files as before.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse
import copy
import math
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

from codec.refiner import BandAnalysis, BandGainNet, BandRefiner, RefinerConfig
from codec.train.checkpoint import JsonlLog

#: Silence floor of the target ratio, relative to the original file's mean band power: below it a
#: band is silence in both, and its ratio says nothing.
FLOOR = 1e-5


def _decode_shard(model: str | None, files: list[tuple[int, str]], out: str, refiner: bool = False) -> int:
    """Worker: encode and decode ``files`` (index, path) with the bundle (without its band refiner
    unless ``refiner``, and always without its envelope layer: both the refiner and the layer learn
    from the decode before the layer, see :meth:`codec.api.Codec.render`), save float16 ``.npy``."""
    torch.set_num_threads(1)
    from codec.api import Codec

    codec = Codec.from_pretrained(model, refiner=refiner)
    for i, path in files:
        target = Path(out) / f"{i:05d}.npy"
        if target.is_file():
            continue
        y, _ = codec.decode(codec.encode(path, envelope=False))  # the file as a user's encode reads it
        np.save(target.with_suffix(".tmp.npy"), y.astype(np.float16))
        os.replace(target.with_suffix(".tmp.npy"), target)
    return len(files)


def decode_all(model: str | None, paths: list[Path], out: Path, jobs: int, refiner: bool = False) -> None:
    """Decode every file of ``paths`` into ``out/{index:05d}.npy`` (resumable), with ``jobs``
    processes, by the bundle without its band refiner unless ``refiner``, and without its envelope
    layer."""
    out.mkdir(parents=True, exist_ok=True)
    todo = [(i, str(p)) for i, p in enumerate(paths) if not (out / f"{i:05d}.npy").is_file()]
    if not todo:
        return
    t0 = time.perf_counter()
    if jobs <= 1:
        _decode_shard(model, todo, str(out), refiner)
    else:
        with ProcessPoolExecutor(jobs) as pool:
            list(pool.map(_decode_shard, [model] * jobs, [todo[j::jobs] for j in range(jobs)], [str(out)] * jobs,
                          [refiner] * jobs))
    print(f"decoded {len(todo)} files in {time.perf_counter() - t0:.0f} s", flush=True)


def features(analysis: BandAnalysis, original: np.ndarray, decoded: np.ndarray) -> np.ndarray:
    """One float16 array of ``mels + 2 * bands`` rows and ``T`` frames: the decoded audio's log mel
    (the input), the target (half the log ratio of the original's band power to the decoded one: a
    log-amplitude gain) and the decoded band powers' logs (what the level term weighs)."""
    n = min(len(original), len(decoded))
    ref = analysis.band_power(analysis.stft(torch.from_numpy(original[:n])))
    spec = analysis.stft(torch.from_numpy(decoded[:n].astype(np.float32)))
    power = analysis.band_power(spec)
    eps = FLOOR * float(ref.mean()) + 1e-10
    target = 0.5 * torch.log((ref + eps) / (power + eps))
    return torch.cat([analysis.logmel(spec), target, torch.log(power + 1e-10)]).numpy().astype(np.float16)


class Crops:
    """Random fixed-length crops of :func:`features` arrays, the input at a random level."""

    def __init__(self, files: list[np.ndarray], mels: int, frames: int, level_db: float, seed: int):
        self.files, self.mels, self.frames = files, mels, frames
        self.level = level_db / (10 / math.log(10))  # dB -> natural log of power
        self.gen = np.random.default_rng(seed)

    def batch(self, size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(x, target, log band power)``: ``(size, mels, frames)`` and twice ``(size, bands, frames)``."""
        crops = []
        for _ in range(size):
            f = self.files[int(self.gen.integers(len(self.files)))]
            s = int(self.gen.integers(0, max(1, f.shape[1] - self.frames)))
            c = f[:, s : s + self.frames].astype(np.float32)
            if c.shape[1] < self.frames:  # a short file: silence after it (no gain to learn there)
                pad = np.zeros((c.shape[0], self.frames - c.shape[1]), np.float32)  # target 0
                bands = (c.shape[0] - self.mels) // 2
                pad[: self.mels] = math.log(1e-9)  # the input's floor (codec.refiner.BandAnalysis.logmel)
                pad[self.mels + bands :] = math.log(1e-10)  # the band powers' floor (features)
                c = np.concatenate([c, pad], 1)
            c[: self.mels] += self.gen.uniform(-self.level, self.level)
            crops.append(c)
        return split(torch.from_numpy(np.stack(crops)), self.mels)


def split(f: torch.Tensor, mels: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A :func:`features` array (or a batch of them) -> ``(input, target, log band power)``."""
    bands = (f.shape[-2] - mels) // 2
    return f[..., :mels, :], f[..., mels : mels + bands, :], f[..., mels + bands :, :]


def loss_terms(net: BandGainNet, x: torch.Tensor, y: torch.Tensor, log_power: torch.Tensor):
    """``(l1, level)`` per item: the mean absolute error to the target (clamped to the gains the
    network can give), and how far the gains move the item's total power (natural log, absolute).
    The level term keeps the stage from changing loudness, which the file's gain field has already
    set: the median band ratio alone cut the active level by about 2 dB (peaks cut, dips not raised)."""
    g = net(x)
    l1 = (g - y.clamp(net.lo, net.hi)).abs().mean((-2, -1))
    level = (torch.logsumexp(log_power + 2 * g, (-2, -1)) - torch.logsumexp(log_power, (-2, -1))).abs()
    return l1, level


@torch.no_grad()
def held_out_loss(net: BandGainNet, files: list[np.ndarray], mels: int, level_weight: float) -> tuple[float, float]:
    """``(loss, mean level change in dB)`` over the held-out files, each whole; the loss is the
    frame-weighted L1 plus ``level_weight`` times the mean level term."""
    net.eval()
    total = count = level = 0.0
    for f in files:
        l1, lv = loss_terms(net, *split(torch.from_numpy(f.astype(np.float32))[None], mels))
        total += float(l1) * f.shape[1]
        count += f.shape[1]
        level += float(lv)
    net.train()
    return total / max(1.0, count) + level_weight * level / len(files), 10 / math.log(10) * level / len(files)


def held_out_speakers(rows: list[dict], every: int, max_files: int = 10) -> set[str]:
    """The speakers of every ``every``-th row that have at most ``max_files`` rows: held out from
    training. The cap keeps a corpus that is one voice (LJSpeech: 355 train files) in training, and
    the held-out choice from being one voice's."""
    files: dict[str, int] = {}
    for r in rows:
        files[r["speaker"]] = files.get(r["speaker"], 0) + 1
    return {r["speaker"] for r in rows[::every] if files[r["speaker"]] <= max_files}


def copy_bundle(src: Path, dst: Path) -> None:
    """``src``'s bundle files and ``render.json`` into ``dst`` (nothing when they are the same folder)."""
    from codec.bundle import RENDER_FILE
    from codec.bundle_id import BUNDLE_FILES

    dst.mkdir(parents=True, exist_ok=True)
    if src.resolve() == dst.resolve():
        return
    for name in (*BUNDLE_FILES, RENDER_FILE):
        if (src / name).is_file():
            shutil.copyfile(src / name, dst / name)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=None, help="bundle whose decodes it learns from (default: the bundled one)")
    ap.add_argument("--data", type=Path, default=Path("../shared/data/train"), help="folder with manifest.csv")
    ap.add_argument("--work", type=Path, required=True, help="decodes cache and log")
    ap.add_argument("--into", type=Path, required=True, help="bundle folder to write (may be --model's own)")
    ap.add_argument("--every", type=int, default=1, help="every N-th file of the manifest")
    ap.add_argument("--holdout-every", type=int, default=50,
                    help="hold out the speakers of every N-th file, those with at most 10 files (they choose the "
                    "step kept)")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--crop-frames", type=int, default=400, help="10 ms frames per crop")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--level-db", type=float, default=10.0, help="crops at a random level within +-this")
    ap.add_argument("--level-weight", type=float, default=0.0,
                    help="weight of the level term (how far the gains move a crop's power) beside the L1; "
                    "1 keeps the level but lost most of the STOI gain (docs/REFINER.md), so 0")
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--config", default="{}", help="RefinerConfig fields as JSON (e.g. '{\"bands\": 24}')")
    ap.add_argument("--jobs", type=int, default=2, help="processes decoding the data")
    ap.add_argument("--threads", type=int, default=2, help="torch threads for training")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    import json

    from codec.api import bundle_folder
    from codec.audio import load_audio
    from codec.bundle import load_render, save_render
    from codec.train.units import read_manifest

    config = RefinerConfig(**json.loads(args.config))
    rows = read_manifest(args.data)[:: args.every]
    paths = [args.data / r["path"] for r in rows]
    source = bundle_folder(args.model)
    decode_all(str(source), paths, args.work / "decoded", args.jobs)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    analysis = BandAnalysis(config)
    held_speakers = held_out_speakers(rows, args.holdout_every)
    sets: dict[bool, list] = {True: [], False: []}
    for i, (r, p) in enumerate(zip(rows, paths)):
        f = features(analysis, load_audio(p).numpy(), np.load(args.work / "decoded" / f"{i:05d}.npy"))
        sets[r["speaker"] in held_speakers].append(f)
    if not sets[False] or not sets[True]:
        raise SystemExit("codec.train.refiner: need files both to train on and to hold out (see --holdout-every)")
    print(f"{len(sets[False])} files to train on, {len(sets[True])} held out "
          f"({len(held_speakers)} speakers)", flush=True)

    net = BandGainNet(config)
    crops = Crops(sets[False], config.mels, args.crop_frames, args.level_db, args.seed)
    opt = torch.optim.AdamW(net.parameters(), args.lr, weight_decay=1e-4)
    log = JsonlLog(args.work / "log.jsonl")
    held, level_db = held_out_loss(net, sets[True], config.mels, args.level_weight)
    best = (held, 0, copy.deepcopy(net.state_dict()))
    log.write(step=0, held_out=held, level_db=level_db)
    print(f"step 0 (no gain): held-out loss {held:.4f}", flush=True)
    t0 = time.perf_counter()
    for step in range(1, args.steps + 1):
        t = (step - args.warmup) / max(1, args.steps - args.warmup)
        lr = args.lr * (step / args.warmup if step < args.warmup else 0.5 * (1 + math.cos(math.pi * min(1.0, t))))
        for g in opt.param_groups:
            g["lr"] = lr
        l1, level = loss_terms(net, *crops.batch(args.batch_size))
        loss = (l1 + args.level_weight * level).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % args.eval_every == 0 or step == args.steps:
            held, level_db = held_out_loss(net, sets[True], config.mels, args.level_weight)
            if held < best[0]:
                best = (held, step, copy.deepcopy(net.state_dict()))
            log.write(step=step, loss=loss.item(), held_out=held, level_db=level_db, lr=lr,
                      seconds=time.perf_counter() - t0)
            print(f"step {step}: train loss {loss.item():.4f}, held-out {held:.4f} (level moved {level_db:.2f} dB; "
                  f"{time.perf_counter() - t0:.0f} s)", flush=True)
    net.load_state_dict(best[2])
    copy_bundle(source, args.into)
    BandRefiner(config, net).save(args.into)
    render = load_render(args.into)
    save_render(args.into, render.model_copy(update={"refiner": config}))
    print(f"refiner: kept step {best[1]} (held-out loss {best[0]:.4f}); wrote {args.into}", flush=True)


if __name__ == "__main__":
    main()
