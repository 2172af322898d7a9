"""Make a bundle's speaker encoder hear the voice through background noise, in the same vector space.

    python -m codec.train.robust_speaker --model codec/assets/default --data ../shared/data --out runs/speaker-robust \
        --steps 1500 --export runs/speaker-robust/export
    python -m codec.train.robust_speaker --model codec/assets/default --data ../shared/data --eval-only

The speaker vector of an unseen voice is product-quantized and sent once per file; the decoder,
the quantizer's codebooks and the known-speaker table all live in the space of the shipped
encoder's vectors for clean speech. Noise moves the vector (pink noise at 20 dB SNR costs srb
0.08 of Resemblyzer's speaker cosine on dev, ``benchmarks/noise.py``), so this trains a copy of the
encoder to give, for a noisy crop, the frozen encoder's vector of the clean crop (mean squared
error relative to the vectors' power), with the noise of :class:`codec.train.robust_content.NoisyCrops`.
Its batch-norm statistics stay the shipped ones (the layers run in eval mode), and the codebooks
and table are copied unchanged, so the decoder and every earlier file are unaffected.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse
import copy
import time
from pathlib import Path

import numpy as np
import torch

from codec.bundle import computed_state, stored_state
from codec.speaker import SpeakerEncoder
from codec.train.checkpoint import JsonlLog
from codec.train.content import TrainConfig, UnitCorpus, lr_at
from codec.train.robust_content import NoisyCrops, add_common_arguments, condition_mixtures, dev_files, frozen


def relative_error(student: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error of ``(B, D)`` vectors over the targets' mean square."""
    return (student - target).pow(2).mean() / target.pow(2).mean().clamp_min(1e-8)


@torch.no_grad()
def agreement(model: SpeakerEncoder, reference: SpeakerEncoder, dev: list[np.ndarray], keys: list[str]) -> dict:
    """``{condition: (mean cosine, share of product-quantizer indices equal)}`` between ``model``'s
    vector of each dev file's mixture (:func:`codec.train.robust_content.condition_mixtures`) and
    ``reference``'s of the clean file."""
    refs = [reference(torch.from_numpy(x)[None]) for x in dev]
    out = {}
    for name, mixes in condition_mixtures(dev, keys):
        vecs = [model(torch.from_numpy(y)[None]) for y in mixes]
        cos = [torch.nn.functional.cosine_similarity(v, r).item() for v, r in zip(vecs, refs)]
        same = sum(int((model.quantize(v) == reference.quantize(r)).sum()) for v, r in zip(vecs, refs))
        out[name] = (float(np.mean(cos)), same / max(1, len(vecs) * model.config.groups))
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_common_arguments(ap, "speaker")
    ap.add_argument("--out", type=Path, default=None, help="log folder (required to train)")
    ap.add_argument("--export", type=Path, default=None, help="write the encoder as PATH.safetensors (float16)")
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--crop-seconds", type=float, default=4.0)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--log-every", type=int, default=50)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    import soundfile as sf

    from codec.api import Codec
    from codec.train.units import read_manifest

    teacher = frozen(Codec.from_pretrained(args.model).speaker)
    dev, keys = dev_files(args.data, args.dev_every)
    student = copy.deepcopy(teacher)
    if args.eval_only:
        if args.student:
            load_exported(student, args.student)
        for k, (c, s) in agreement(student, teacher, dev, keys).items():
            print(f"{k:10s} cosine {c:.3f}  PQ indices {100 * s:.1f} %")
        return
    if args.out is None:
        ap.error("--out is required to train")
    rows = read_manifest(args.data / "train")
    audio = [sf.read(args.data / "train" / r["path"], dtype="int16")[0] for r in rows]
    corpus = UnitCorpus(audio, [np.zeros(-(-len(a) // 320), np.int64) for a in audio])  # the frame grid only
    noisy = NoisyCrops(corpus, args.clean_share, seed=args.seed + 1, reverb_share=args.reverb_share,
                       band_share=args.band_share, band_rates=args.band_rates, phone_share=args.phone_share)
    gen = np.random.default_rng(args.seed)
    torch.manual_seed(args.seed)
    if args.init_student:
        load_exported(student, args.init_student)
    for p in student.parameters():
        p.requires_grad_(True)
    student.eval()  # batch norm keeps the shipped statistics: the vector space stays the decoder's
    opt = torch.optim.AdamW(student.parameters(), lr=args.lr, weight_decay=0.0)
    log = JsonlLog(Path(args.out) / "log.jsonl")
    frames = int(args.crop_seconds * 50)
    schedule = TrainConfig(lr=args.lr, steps=args.steps, warmup=0)
    t0, losses = time.time(), []
    for step in range(1, args.steps + 1):
        wav, _ = corpus.batch(gen, args.batch_size, frames, gain_db=6.0)
        with torch.no_grad():
            target = teacher(wav)
        for g in opt.param_groups:  # cosine decay from lr to 5 % of it, no warm-up
            g["lr"] = lr_at(step, schedule)
        loss = relative_error(student(noisy(wav)), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        if step % args.log_every == 0 or step == args.steps:
            log.write(step=step, loss=float(np.mean(losses)), s_per_step=(time.time() - t0) / step)
            print(f"step {step}: relative error {np.mean(losses):.4f} ({(time.time() - t0) / step:.2f} s/step)",
                  flush=True)
            losses = []
    ev = agreement(student, teacher, dev, keys)
    log.write(event="final_eval", step=args.steps, **{k: list(v) for k, v in ev.items()})
    print("dev, against the bundle's encoder on the clean file (cosine, PQ indices equal): "
          + ", ".join(f"{k} {c:.3f} {100 * s:.0f} %" for k, (c, s) in ev.items()))
    if args.export:
        from safetensors.torch import save_file

        path = Path(args.export).with_suffix(".safetensors")
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file(stored_state(student.state_dict()), str(path))
        print(f"exported {path}")


def load_exported(encoder: SpeakerEncoder, path: Path) -> SpeakerEncoder:
    """Load an exported state (``PATH.safetensors``) into ``encoder`` (same config), float32, eval mode."""
    from safetensors.torch import load_file

    state = load_file(str(Path(path).with_suffix(".safetensors")))
    encoder.load_state_dict(computed_state(state))
    return encoder.eval()


if __name__ == "__main__":
    main()
