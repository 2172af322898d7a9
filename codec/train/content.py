"""Train the content encoder (``codec.content``) to predict the Whisper teacher's units.

    python -m codec.train.content --units .cache/teacher/train_k100.npz --dev-units .cache/teacher/dev_k100.npz \
        --out runs/content-k100 --steps 2200 --minutes 25 --export codec/assets/content-k100
    python -m codec.train.content --bench codec/assets/content-k100      # size, FLOPs, CPU speed

Each step takes random crops (default 3 s) of training utterances, whole 20 ms unit frames
aligned with the teacher's, with a random gain, and minimises the cross-entropy of the student's
logits against the teacher's units (AdamW, linear warm-up then cosine decay over ``--steps``).

A run is resumable: ``--out`` holds ``checkpoint.pt`` (model, optimiser, step, RNG states; written
every ``--ckpt-every`` steps and when ``--minutes`` runs out) and ``log.jsonl``; running the same
command again continues at the saved step with the saved RNG state, so a killed run and an
uninterrupted one end with the same weights. At the end: evaluation on dev (frame accuracy against
the teacher, and the statistics of the student's own units that drive the bitrate) and, with
``--export``, the weights as float16 safetensors + JSON config.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")  # shared machine: one thread unless asked otherwise

import argparse
import json
import math
import re
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict

from codec.content import ContentConfig, ContentEncoder
from codec.train.checkpoint import JsonlLog, load_checkpoint, pick_device, save_checkpoint
from codec.train.unit_stats import collapse_runs, fit_unit_tables, format_stats, run_bigram, unit_stats

HOP = 320
IGNORE = -100  # target of padding frames (crops longer than their utterance)


class TrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    steps: int = 2200  # length of the LR schedule (~20 min on one shared CPU thread)
    batch_size: int = 8
    crop_frames: int = 150  # 3 s
    lr: float = 2e-3
    weight_decay: float = 0.02
    warmup: int = 100
    gain_db: float = 6.0  # crops are scaled by a random gain in [-gain_db, +gain_db] dB
    seed: int = 0
    ckpt_every: int = 200
    log_every: int = 25
    eval_every: int = 0  # 0: evaluate on dev only at the end
    minutes: float = 0.0  # wall-clock limit for this invocation (0: none); a checkpoint is written at the limit
    soft_weight: float = 0.0  # share of the loss on the teacher's soft units (needs UnitCorpus.soft); 0: hard units only


class UnitCorpus:
    """Utterances as int16 waveforms with their teacher units (``ceil(N / 320)`` per utterance).

    Args:
        audio: 1-D int16 (or float in [-1, 1]) waveforms at 16 kHz.
        units: int arrays, ``len(units[i]) == ceil(len(audio[i]) / 320)``.
    """

    def __init__(self, audio: list[np.ndarray], units: list[np.ndarray], soft: list[np.ndarray] | None = None):
        if len(audio) != len(units) or not audio:
            raise ValueError("need as many unit arrays as waveforms, and at least one")
        for i, (a, u) in enumerate(zip(audio, units)):
            if len(u) != -(-len(a) // HOP):
                raise ValueError(f"utterance {i}: {len(u)} units for {len(a)} samples")
        if soft is not None and [len(s) for s in soft] != [len(u) for u in units]:
            raise ValueError("soft targets need one row per unit frame")
        self.audio = audio
        self.units = [np.asarray(u, np.int64) for u in units]
        self.soft = soft  # optional (T_i, K) teacher unit probabilities per utterance (see soft_units)
        self.frames = np.array([len(u) for u in units], np.int64)

    @classmethod
    def from_files(cls, units_npz: Path, data_dir: Path, limit: int | None = None) -> "UnitCorpus":
        """Units from a ``teacher_units`` ``.npz``; audio read from ``data_dir / paths``."""
        with np.load(units_npz, allow_pickle=False) as z:
            units, offsets, paths = z["units"], z["unit_offsets"], z["paths"]
        audio, segs = [], []
        for i, p in enumerate(paths[:limit]):
            x, sr = sf.read(data_dir / str(p), dtype="int16", always_2d=False)
            if sr != 16000 or x.ndim != 1:
                raise ValueError(f"{p}: expected 16 kHz mono")
            audio.append(x)
            segs.append(units[offsets[i]: offsets[i + 1]])
        return cls(audio, segs)

    def wav(self, i: int) -> np.ndarray:
        a = self.audio[i]
        return a.astype(np.float32) / 32768.0 if a.dtype == np.int16 else a.astype(np.float32)

    def batch(self, gen: np.random.Generator, batch_size: int, frames: int, gain_db: float = 0.0, with_soft: bool = False):
        """Random crops: ``(wav (B, frames * 320) float32, units (B, frames) int64)``, and with
        ``with_soft`` also the soft targets ``(B, K, frames)`` float32 (zero on padding).

        Utterances are drawn in proportion to their length; crops start on a unit frame; a crop
        longer than its utterance is zero-padded, with target ``-100`` (ignored) on the padding.
        """
        items = gen.choice(len(self.frames), size=batch_size, p=self.frames / self.frames.sum())
        wav = np.zeros((batch_size, frames * HOP), np.float32)
        tgt = np.full((batch_size, frames), IGNORE, np.int64)
        soft = np.zeros((batch_size, self.soft[0].shape[1], frames), np.float32) if with_soft else None
        for b, i in enumerate(items):
            t0 = int(gen.integers(0, max(self.frames[i] - frames, 0) + 1))
            seg = self.wav(i)[t0 * HOP: (t0 + frames) * HOP]
            wav[b, : len(seg)] = seg
            u = self.units[i][t0: t0 + frames]
            tgt[b, : len(u)] = u
            if with_soft:
                soft[b, :, : len(u)] = self.soft[i][t0: t0 + frames].T
        if gain_db:
            wav *= (10.0 ** (gen.uniform(-gain_db, gain_db, size=(batch_size, 1)) / 20.0)).astype(np.float32)
        if with_soft:
            return torch.from_numpy(wav), torch.from_numpy(tgt), torch.from_numpy(soft)
        return torch.from_numpy(wav), torch.from_numpy(tgt)


def soft_units(teacher_dir: Path, split: str, centroids: np.ndarray, temperature: float,
               offsets: np.ndarray, chunk: int = 65536) -> list[np.ndarray]:
    """The teacher's units as probabilities: ``softmax(-|f - c_k|^2 / temperature)`` over the k-means
    centroids ``c_k`` of each teacher frame ``f``, as float16 ``(T_i, K)`` per utterance.

    The hard unit is the argmax; the rest says which other units the frame was close to, which a
    student with few parameters and 3.5 h of speech learns from more easily than from one label
    (distillation with soft targets). ``temperature`` is in the features' squared-distance units:
    40 puts 0.64 on the nearest centroid on average for the K = 100 teacher here.
    """
    from codec.train.teacher_units import centred, load_features

    feats, pos, pmean = load_features(teacher_dir, split)
    c = torch.from_numpy(np.asarray(centroids, np.float32))
    out = np.empty((len(feats), len(c)), np.float16)
    for i in range(0, len(feats), chunk):
        d = torch.cdist(centred(feats, pos, pmean, slice(i, i + chunk)), c) ** 2
        out[i: i + chunk] = torch.softmax(-d / temperature, 1).numpy()
    return [out[offsets[j]: offsets[j + 1]] for j in range(len(offsets) - 1)]


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up to ``lr``, then cosine decay to 5 % of it at ``steps``."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    t = min(1.0, (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup))
    return cfg.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * t)))


@torch.no_grad()
def feature_stats(model: ContentEncoder, corpus: UnitCorpus, gen: np.random.Generator, crops: int = 64) -> None:
    """Set the model's log-mel standardisation from random training crops (no gain)."""
    wav, _ = corpus.batch(gen, crops, 150)
    saved = model.mel_mean.clone(), model.mel_std.clone()
    model.mel_mean.zero_()
    model.mel_std.fill_(1.0)
    mel = model.log_mel(wav.to(model.mel_mean.device))  # (B, n_mels, F)
    model.mel_mean.copy_(saved[0])
    model.mel_std.copy_(saved[1])
    model.set_feature_stats(mel.transpose(0, 1).reshape(mel.shape[1], -1))


@torch.no_grad()
def predict(model: ContentEncoder, corpus: UnitCorpus, device: torch.device) -> tuple[list[np.ndarray], float]:
    """Student units of every utterance, one utterance at a time, and the mean CE against the corpus units."""
    model.eval()
    out, nll, n = [], 0.0, 0
    for i in range(len(corpus.audio)):
        logits = model(torch.from_numpy(corpus.wav(i))[None].to(device))
        tgt = torch.from_numpy(corpus.units[i])[None].to(device)
        nll += F.cross_entropy(logits, tgt, reduction="sum").item()
        n += tgt.numel()
        out.append(logits.argmax(1)[0].cpu().numpy().astype(np.int32))
    return out, nll / max(n, 1)


def evaluate(model: ContentEncoder, dev: UnitCorpus, device: torch.device, train: UnitCorpus | None = None) -> dict:
    """Dev frame accuracy and CE vs the teacher; run length and entropies of the student's units.

    With ``train``, the run bigram and the codec's tables come from the student's units of
    ``train`` (as they would be trained for the codec); otherwise from its dev units themselves.
    """
    k = model.config.num_units
    pred, ce = predict(model, dev, device)
    u = np.concatenate(pred)
    ref = np.concatenate(dev.units)
    offsets = np.r_[0, np.cumsum([len(p) for p in pred])]
    bigram = tables = None
    if train is not None:
        tp, _ = predict(model, train, device)
        tu, to = np.concatenate(tp), np.r_[0, np.cumsum([len(p) for p in tp])]
        bigram, tables = run_bigram(*collapse_runs(tu, to), k), fit_unit_tables(tu, to, k)
    stats = unit_stats(u, offsets, k, bigram, tables)
    return dict(acc=float((u == ref).mean()), ce=ce, used=int(len(np.unique(u))), **stats)


def train(model: ContentEncoder, corpus: UnitCorpus, cfg: TrainConfig, out: Path, device: torch.device,
          dev: UnitCorpus | None = None, stop_after: int | None = None, objective=None,
          init_from: Path | None = None) -> dict:
    """Train (or resume) until ``cfg.steps``, ``stop_after`` steps in this call, or ``cfg.minutes``.

    ``objective(model, wav, tgt) -> (loss, logits, scored)`` replaces the default loss (cross-entropy
    on every frame); ``scored`` is ``tgt`` with ``-100`` on the frames the loss ignores, for the
    logged accuracy. ``codec.train.ssl`` uses it for masked prediction.

    ``init_from``: a ``checkpoint.pt`` of another run whose model weights start this one (only
    when this run has no checkpoint yet); the optimiser and schedule start afresh.

    Returns:
        ``{"step": steps done, "finished": bool, "loss": mean loss of the last log interval}``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt, log = out / "checkpoint.pt", JsonlLog(out / "log.jsonl")
    torch.manual_seed(cfg.seed)
    gen = np.random.default_rng(cfg.seed)
    model.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.98))
    if ckpt.exists():
        step = load_checkpoint(ckpt, {"model": model}, {"opt": opt}, gen)["step"]
        log.write(event="resume", step=step)
    else:
        step = 0
        if init_from is not None:  # weights (and log-mel statistics) of an earlier run; a fresh schedule
            model.load_state_dict(torch.load(init_from, map_location="cpu", weights_only=True)["modules"]["model"])
            model.to(device)
            log.write(event="init_from", path=str(init_from))
        else:
            feature_stats(model, corpus, gen)
        log.write(event="start", step=0, params=model.num_parameters(), model=model.config.model_dump(),
                  train=cfg.model_dump(), device=str(device))
    t0, t_log, done_here, losses, accs, last_loss = time.time(), time.time(), 0, [], [], float("nan")
    model.train()
    use_soft = objective is None and cfg.soft_weight > 0
    if use_soft and corpus.soft is None:
        raise ValueError("soft_weight > 0 needs a corpus with soft targets")
    while step < cfg.steps:
        batch = corpus.batch(gen, cfg.batch_size, cfg.crop_frames, cfg.gain_db, with_soft=use_soft)
        wav, tgt = batch[0].to(device), batch[1].to(device)
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg)
        if objective is None:
            logits = model(wav)
            loss = F.cross_entropy(logits, tgt, ignore_index=IGNORE)
            if use_soft:  # cross-entropy against the soft targets, averaged over the real frames
                soft = batch[2].to(device)
                mask = tgt != IGNORE
                soft_ce = -(soft * F.log_softmax(logits, 1)).sum(1)[mask].mean()
                loss = (1 - cfg.soft_weight) * loss + cfg.soft_weight * soft_ce
        else:
            loss, logits, tgt = objective(model, wav, tgt)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        done_here += 1
        losses.append(loss.item())
        mask = tgt != IGNORE
        accs.append(((logits.argmax(1) == tgt) & mask).sum().item() / max(mask.sum().item(), 1))
        if step % cfg.log_every == 0 or step == cfg.steps:
            log.write(step=step, loss=float(np.mean(losses)), acc=float(np.mean(accs)), lr=lr_at(step - 1, cfg),
                      s_per_step=(time.time() - t_log) / len(losses))
            print(f"step {step}: loss {np.mean(losses):.3f} acc {np.mean(accs):.3f} "
                  f"({(time.time() - t_log) / len(losses):.2f} s/step)", flush=True)
            last_loss, losses, accs, t_log = float(np.mean(losses)), [], [], time.time()
        if dev is not None and cfg.eval_every and step % cfg.eval_every == 0 and step < cfg.steps:
            ev = evaluate(model, dev, device)
            model.train()
            log.write(event="eval", step=step, **ev)
            print(format_stats(f"dev @{step}", ev) + f"  acc {ev['acc']:.3f}", flush=True)
        out_of_time = cfg.minutes and time.time() - t0 > 60 * cfg.minutes
        stop = (stop_after is not None and done_here >= stop_after) or out_of_time
        if step % cfg.ckpt_every == 0 or step == cfg.steps or stop:
            save_checkpoint(ckpt, step, {"model": model}, {"opt": opt}, gen)
        if stop:
            log.write(event="stopped", step=step, reason="time" if out_of_time else "stop_after")
            break
    model.eval()
    return {"step": step, "finished": step >= cfg.steps, "loss": float(np.mean(losses)) if losses else last_loss}


def speed_report(model: ContentEncoder, seconds: float = 10.0, repeats: int = 5) -> dict:
    """Parameters, multiply-adds per audio second, and single-thread CPU real-time factor.

    Multiply-adds are counted by ``torch.utils.flop_counter`` (convolutions and matmuls: all the
    learned layers; the STFT and mel projection add ~4 M more per second, not counted).
    """
    from torch.utils.flop_counter import FlopCounterMode

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    model = model.cpu().eval()
    wav = 0.1 * torch.randn(1, int(seconds * model.config.sample_rate), generator=torch.Generator().manual_seed(0))
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        model(wav)
    macs = fc.get_total_flops() / 2 / seconds
    times = []
    with torch.no_grad():
        model.units(wav)  # warm-up
        for _ in range(repeats):
            c0 = time.process_time()
            model.units(wav)
            times.append(time.process_time() - c0)
    torch.set_num_threads(threads)
    return dict(params=model.num_parameters(), macs_per_s=macs, cpu_s_per_s=min(times) / seconds,
                rtf=seconds / min(times), receptive_field_s=model.receptive_field_s)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--units", type=Path, default=Path(".cache/teacher/train_k100.npz"))
    ap.add_argument("--dev-units", type=Path, default=Path(".cache/teacher/dev_k100.npz"))
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data"), help="holds train/ and dev/")
    ap.add_argument("--out", type=Path, default=None, help="checkpoint and log folder (required to train)")
    ap.add_argument("--num-units", type=int, default=None, help="K (default: from '_k<K>' in --units)")
    ap.add_argument("--channels", type=int, default=256)
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--kernel-size", type=int, default=7)
    ap.add_argument("--expansion", type=int, default=3)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--table-files", type=int, default=600,
                    help="train files whose student units estimate the bigram/tables in the final eval")
    ap.add_argument("--export", type=Path, default=None, help="write PATH.safetensors (float16) + PATH.json")
    ap.add_argument("--init-from", type=Path, default=None, metavar="CHECKPOINT",
                    help="start from the model weights of another run's checkpoint.pt (fresh optimiser and schedule)")
    ap.add_argument("--teacher-dir", type=Path, default=Path(".cache/teacher"),
                    help="teacher features and k-means centroids (for --soft-weight)")
    ap.add_argument("--soft-temperature", type=float, default=40.0,
                    help="temperature of the soft targets, in squared-distance units (see soft_units)")
    for name, field in TrainConfig.model_fields.items():
        ap.add_argument("--" + name.replace("_", "-"), type=type(field.default), default=field.default)
    ap.add_argument("--bench", type=Path, default=None, metavar="PATH",
                    help="only print size, multiply-adds and CPU speed of the saved model PATH")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.bench:
        r = speed_report(ContentEncoder.load(args.bench))
        print(f"{args.bench}: {r['params'] / 1e6:.2f} M parameters, {r['macs_per_s'] / 1e6:.0f} M multiply-adds "
              f"per audio second, {r['cpu_s_per_s'] * 1000:.1f} ms CPU per audio second (one thread): "
              f"{r['rtf']:.0f}x real time; receptive field {r['receptive_field_s']:.2f} s")
        return
    if args.out is None:
        ap.error("--out is required to train")
    cfg = TrainConfig(**{n: getattr(args, n) for n in TrainConfig.model_fields})
    k = args.num_units
    if k is None:
        m = re.search(r"_k(\d+)", args.units.name)
        if not m:
            ap.error("--num-units is needed when --units has no '_k<K>' in its name")
        k = int(m.group(1))
    model = ContentEncoder.from_config(ContentConfig(channels=args.channels, layers=args.layers,
                                                     kernel_size=args.kernel_size, expansion=args.expansion,
                                                     num_units=k))
    device = pick_device(args.device)
    t = time.time()
    corpus = UnitCorpus.from_files(args.units, args.data / "train")
    if cfg.soft_weight > 0:
        offsets = np.r_[0, np.cumsum(corpus.frames)]  # the units file's offsets: the teacher's frames, in order
        corpus.soft = soft_units(args.teacher_dir, "train", np.load(args.teacher_dir / f"kmeans_k{k}.npy"),
                                 args.soft_temperature, offsets)
        hard = np.concatenate([s.argmax(1) for s in corpus.soft]) == np.concatenate(corpus.units)
        print(f"soft targets (temperature {args.soft_temperature:g}): argmax agrees with the units on "
              f"{hard.mean():.4f} of train frames", flush=True)
    dev = UnitCorpus.from_files(args.dev_units, args.data / "dev")
    print(f"{len(corpus.audio)} train / {len(dev.audio)} dev utterances loaded in {time.time() - t:.0f} s; "
          f"model {model.num_parameters() / 1e6:.2f} M parameters, receptive field {model.receptive_field_s:.2f} s",
          flush=True)
    result = train(model, corpus, cfg, args.out, device, dev, init_from=args.init_from)
    if not result["finished"]:
        print(f"stopped at step {result['step']} of {cfg.steps}; run again to continue")
        return
    sub = UnitCorpus(corpus.audio[:: max(1, len(corpus.audio) // args.table_files)],
                     corpus.units[:: max(1, len(corpus.audio) // args.table_files)])
    ev = evaluate(model, dev, device, train=sub)
    JsonlLog(args.out / "log.jsonl").write(event="final_eval", step=result["step"], table_files=len(sub.audio), **ev)
    print(format_stats("dev (student)", ev) + f"  acc {ev['acc']:.3f}  CE {ev['ce']:.3f}  used {ev['used']}/{k}")
    if args.export:
        model.cpu()
        w, c = model.save(args.export, dtype=torch.float16)
        back = ContentEncoder.load(args.export)
        agree = np.mean(np.concatenate(predict(back, dev, torch.device("cpu"))[0]) ==
                        np.concatenate(predict(model, dev, torch.device("cpu"))[0]))
        print(f"exported {w} ({w.stat().st_size / 1e6:.1f} MB) and {c}; float16 vs float32 dev unit agreement {agree:.4f}")
        JsonlLog(args.out / "log.jsonl").write(event="export", path=str(w), bytes=w.stat().st_size, fp16_agreement=agree)


if __name__ == "__main__":
    main()
