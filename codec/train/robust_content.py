"""Make a bundle's content encoder hear through background noise, keeping the units it sends.

    python -m codec.train.robust_content --model codec/assets/default --data ../shared/data --out runs/content-robust \
        --steps 1500 --threads 2 --export runs/content-robust/export
    python -m codec.train.robust_content --model V03 --init-student runs/content-robust2/export --reverb-share 0.3 \
        --out runs/content-robust3 --steps 3000 --lr 3e-4 --threads 1 --export runs/content-robust3/export   # v0.5: rooms too
    python -m codec.train.robust_content --model codec/assets/default --data ../shared/data --eval-only

The shipped content encoder learned from clean read speech: in babble at 5 dB SNR it chooses the
unit it would have chosen on the clean file for about a fifth of the frames (``benchmarks/noise.py``),
and the vocoder then speaks nonsense. The decoder and the entropy tables were trained on the units
the encoder sends for *clean* speech, so the useful target under noise is exactly those units.
Training is self-distillation: a frozen copy of the bundle's encoder hears each clean crop and
gives its unit posteriors; the student (initialised from the same weights) hears the crop with
noise added (``codec.train.noise``: babble of other training utterances, white, pink or brown
noise, at a random SNR; a share of crops stays clean) and is trained with the cross-entropy to
those posteriors. Only training audio is used; nothing needs transcripts or the Whisper teacher.

Evaluation (``--eval-only`` for the bundle's own encoder): on dev, the share of unit frames on
which the encoder, hearing a noisy mixture (or the clean file), chooses the unit the *bundle's*
encoder chooses on the clean file.
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
import torch.nn.functional as F

from codec.content import ContentEncoder
from codec.train.checkpoint import JsonlLog, save_checkpoint
from codec.train.content import IGNORE, TrainConfig, UnitCorpus, train
from codec.train.noise import band_limit, condition_version, make_noise, mix, phone_line, reverberate

#: kinds of noise drawn for a noisy crop, babble twice as often as each other kind
KIND_DRAW = ("babble", "babble", "white", "pink", "brown")
#: conditions of the dev evaluation: (kind, SNR dB) or ("reverb", RT60 ms), None = the clean file
EVAL_CONDITIONS = (None, ("babble", 20.0), ("babble", 10.0), ("babble", 5.0), ("pink", 20.0), ("pink", 10.0),
                   ("pink", 5.0), ("white", 10.0), ("reverb", 300.0), ("reverb", 600.0), ("band", 8000.0),
                   ("phone", 8000.0))


class NoisyCrops:
    """Adds noise to batches of clean crops.

    Args:
        corpus: where babble talkers come from (random utterances of it).
        clean_share: probability that a crop stays clean.
        snr_range: SNRs in dB are drawn uniformly from this range.
        talkers: ``(min, max)`` utterances summed into one babble.
        seed: the augmentation's own random stream.
        reverb_share: probability that a crop is first played in a synthetic room
            (:func:`codec.train.noise.reverberate`, RT60 drawn from ``rt60_range`` seconds); a
            reverberant crop then gets noise like any other, or stays without it with ``clean_share``.
        band_share: probability that a crop, after the room and the noise, goes through a narrower
            channel (:func:`codec.train.noise.band_limit` at a rate drawn from ``band_rates``:
            telephone speech, whatever else it has).
        phone_share: of those, the share that goes through a G.711 landline instead
            (:func:`codec.train.noise.phone_line`: 300-3400 Hz, 8-bit mu-law).
    """

    def __init__(self, corpus: UnitCorpus, clean_share: float = 0.2, snr_range=(0.0, 30.0), talkers=(3, 7),
                 seed: int = 1, reverb_share: float = 0.0, rt60_range=(0.2, 0.9), band_share: float = 0.0,
                 band_rates=(8000, 11025), phone_share: float = 0.0):
        self.corpus, self.clean_share, self.snr_range, self.talkers = corpus, clean_share, snr_range, talkers
        self.reverb_share, self.rt60_range = reverb_share, rt60_range
        self.band_share, self.band_rates, self.phone_share = band_share, band_rates, phone_share
        self.rng = np.random.default_rng(seed)

    def __call__(self, wav: torch.Tensor) -> torch.Tensor:
        out = wav.clone().numpy()
        for b in range(out.shape[0]):
            self._one(out, b)
            if self.band_share and self.rng.random() < self.band_share:
                rate = int(self.rng.choice(self.band_rates))
                phone = self.phone_share and self.rng.random() < self.phone_share
                out[b] = phone_line(out[b], rate) if phone else band_limit(out[b], rate)
        return torch.from_numpy(out)

    def _one(self, out: np.ndarray, b: int) -> None:
        """Crop ``b`` of ``out`` in a room and in noise (or clean), in place."""
        if self.reverb_share and self.rng.random() < self.reverb_share:
            try:
                out[b] = reverberate(out[b], float(self.rng.uniform(*self.rt60_range)), self.rng)
            except ValueError:  # a silent crop
                pass
        if self.rng.random() < self.clean_share:
            return
        kind = str(self.rng.choice(KIND_DRAW))
        talkers = None
        if kind == "babble":
            pick = self.rng.choice(len(self.corpus.audio), size=int(self.rng.integers(*self.talkers)))
            talkers = [self.corpus.wav(int(j)) for j in pick]
        try:
            noise = make_noise(kind, out.shape[1], self.rng, talkers)
            out[b] = mix(out[b], noise, float(self.rng.uniform(*self.snr_range)))
        except ValueError:  # a silent crop (or silent talkers): leave it clean
            pass


def distillation(teacher: ContentEncoder, noisy: NoisyCrops):
    """The ``objective`` for :func:`codec.train.content.train`: cross-entropy of the student on the
    noisy crop against the teacher's posteriors on the clean crop (frames of padding left out)."""

    def objective(model, wav, tgt):
        with torch.no_grad():
            p = torch.softmax(teacher(wav), dim=1)  # (B, K, T)
        logits = model(noisy(wav.cpu()).to(wav.device))
        mask = tgt != IGNORE
        loss = -(p * F.log_softmax(logits, dim=1)).sum(dim=1)[mask].mean()
        scored = torch.where(mask, p.argmax(dim=1), torch.full_like(tgt, IGNORE))
        return loss, logits, scored

    return objective


def dev_files(data: Path, every: int) -> tuple[list[np.ndarray], list[str]]:
    """Every ``every``-th file of ``data / "dev"`` (16 kHz float32) and its manifest path."""
    from codec.audio import load_audio
    from codec.train.units import read_manifest

    keys = [r["path"] for r in read_manifest(data / "dev")][::every]
    return [load_audio(data / "dev" / k).numpy() for k in keys], keys


def condition_mixtures(dev: list[np.ndarray], keys: list[str]):
    """For each of :data:`EVAL_CONDITIONS`, ``(name, [mixture per file])``: the clean files, or each
    mixed with noise seeded by its key and the condition (babble: five other files of ``dev``)."""
    for cond in EVAL_CONDITIONS:
        if cond is None:
            yield "clean", dev
            continue
        name, mixes = f"{cond[0]}/{cond[1]:g}", []
        for i, (x, key) in enumerate(zip(dev, keys)):
            def talkers_for(rng, i=i):  # five other files, drawn for every kind (babble uses them)
                others = [j for j in range(len(dev)) if j != i] or [i]
                return [dev[j] for j in rng.choice(others, size=min(5, len(others)), replace=False)]

            mixes.append(condition_version(x, key, cond[0], cond[1], talkers_for))
        yield name, mixes


def frozen(module: torch.nn.Module) -> torch.nn.Module:
    """``module`` in eval mode without gradients (a teacher)."""
    for p in module.parameters():
        p.requires_grad_(False)
    return module.eval()


@torch.no_grad()
def agreement(model: ContentEncoder, reference: ContentEncoder, dev: list[np.ndarray], keys: list[str]) -> dict:
    """``{condition: share of frames}`` on which ``model`` hearing the condition's mixture chooses
    ``reference``'s unit for the clean file (:func:`condition_mixtures`)."""
    model.eval()
    refs = [reference.units(torch.from_numpy(x)[None])[0].numpy() for x in dev]
    out = {}
    for name, mixes in condition_mixtures(dev, keys):
        same = sum(int(np.sum(model.units(torch.from_numpy(y)[None])[0].numpy() == r)) for y, r in zip(mixes, refs))
        out[name] = same / max(1, sum(len(r) for r in refs))
    return out


def add_common_arguments(ap: argparse.ArgumentParser, encoder: str) -> None:
    """The options both robust trainers take (this one and ``codec.train.robust_speaker``)."""
    ap.add_argument("--model", default=None, help=f"bundle whose {encoder} encoder teaches (default: the bundled one)")
    ap.add_argument("--data", type=Path, default=Path("../shared/data"), help="holds train/ and dev/")
    ap.add_argument("--clean-share", type=float, default=0.2, help="share of crops left without noise")
    ap.add_argument("--reverb-share", type=float, default=0.0,
                    help="share of crops first played in a synthetic room (RT60 0.2-0.9 s); v0.4 was trained with 0")
    ap.add_argument("--band-share", type=float, default=0.0,
                    help="share of crops then put through an 8 or 11.025 kHz channel (telephone); v0.5 was trained with 0")
    ap.add_argument("--band-rates", type=lambda s: tuple(int(r) for r in s.split(",")), default=(8000, 11025),
                    help="the channels' sample rates, comma-separated; a crop's is drawn from them")
    ap.add_argument("--phone-share", type=float, default=0.0,
                    help="share of the channel's crops that go through a G.711 landline (300-3400 Hz, mu-law) instead")
    ap.add_argument("--init-student", type=Path, default=None,
                    help="start the student from this export (e.g. an earlier robust run) instead of the teacher")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dev-every", type=int, default=4, help="every N-th dev file for the evaluation")
    ap.add_argument("--eval-only", action="store_true", help="only evaluate the bundle's encoder (or --student)")
    ap.add_argument("--student", type=Path, default=None, help="with --eval-only: an exported encoder to evaluate")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_common_arguments(ap, "content")
    ap.add_argument("--streams", type=Path, default=Path(".cache/cpu/train_streams.npz"),
                    help="the bundle's train streams (codec.train.bundle_streams): the crops' frame grid")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--export", type=Path, default=None, help="write PATH.safetensors (float16) + PATH.json")
    ap.add_argument("--snr-min", type=float, default=0.0)
    ap.add_argument("--snr-max", type=float, default=30.0)
    for name in ("steps", "batch_size", "crop_frames", "lr", "warmup", "seed", "minutes", "ckpt_every", "log_every"):
        field = TrainConfig.model_fields[name]
        ap.add_argument("--" + name.replace("_", "-"), type=type(field.default), default=field.default)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    import soundfile as sf

    from codec.api import Codec

    teacher = frozen(Codec.from_pretrained(args.model).content)
    dev, keys = dev_files(args.data, args.dev_every)
    if args.eval_only:
        model = ContentEncoder.load(args.student) if args.student else teacher
        for k, v in agreement(model, teacher, dev, keys).items():
            print(f"{k:10s} {100 * v:.1f} %")
        return
    if args.out is None:
        ap.error("--out is required to train")
    with np.load(args.streams, allow_pickle=False) as z:
        units, offsets, paths = z["units"], z["unit_offsets"], z["paths"]
    audio = [sf.read(args.data / "train" / str(p), dtype="int16")[0] for p in paths]
    corpus = UnitCorpus(audio, [units[offsets[i]: offsets[i + 1]] for i in range(len(paths))])
    cfg = TrainConfig(**{n: getattr(args, n) for n in ("steps", "batch_size", "crop_frames", "lr", "warmup", "seed",
                                                        "minutes", "ckpt_every", "log_every")})
    student = ContentEncoder.load(args.init_student) if args.init_student else copy.deepcopy(teacher)
    for p in student.parameters():
        p.requires_grad_(True)
    args.out.mkdir(parents=True, exist_ok=True)
    init = args.out / "init.pt"  # the bundle's weights and log-mel statistics as the start
    if not init.exists():
        save_checkpoint(init, 0, {"model": student}, {}, np.random.default_rng(0))
    noisy = NoisyCrops(corpus, args.clean_share, (args.snr_min, args.snr_max), seed=args.seed + 1,
                       reverb_share=args.reverb_share, band_share=args.band_share, band_rates=args.band_rates,
                       phone_share=args.phone_share)
    t0 = time.time()
    result = train(student, corpus, cfg, args.out, torch.device("cpu"), objective=distillation(teacher, noisy),
                   init_from=init)
    print(f"{result['step']} steps ({time.time() - t0:.0f} s in this call), loss {result['loss']:.3f}", flush=True)
    if not result["finished"]:
        print("stopped before the last step; run again to continue")
        return
    ev = agreement(student, teacher, dev, keys)
    JsonlLog(args.out / "log.jsonl").write(event="final_eval", step=result["step"], **ev)
    print("dev units agreeing with the bundle's encoder on the clean file: "
          + ", ".join(f"{k} {100 * v:.1f} %" for k, v in ev.items()))
    if args.export:
        w, _ = student.cpu().save(args.export, dtype=torch.float16)
        print(f"exported {w}")


if __name__ == "__main__":
    main()
