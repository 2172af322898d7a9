"""Rebuild a complete model bundle from speech alone: every stage of docs/TRAINING.md in order.

    srb train all --data DATA --out DIR [--work DIR/work] [--preset default|tiny] [--device auto]

``DATA`` holds ``train/`` and ``dev/``, each with a ``manifest.csv`` (columns ``path,seconds,speaker``
at least; the format of ``../shared/data``) and 16 kHz audio. Stages, each skipped when its output
exists, so running the same command again continues where a time limit or a kill stopped it (the
trainers themselves resume from their checkpoints):

1. teacher units: Whisper-base encoder features -> k-means K units (needs the ``teacher`` extra;
   ``--teacher-units FOLDER`` with ``train_k<K>.npz`` and ``dev_k<K>.npz`` skips it);
2. content encoder (student of those units), then continued with the teacher's soft units (k-means
   posteriors of its features; skipped, with a note, when the teacher folder has no features, as
   with ``--teacher-units`` made elsewhere), exported float16;
3. Praat F0 of both splits and the F0 VQ-VAE, with its code streams;
4. the student's units of the train split (what the decoder and the entropy tables see);
5. decoder + speaker encoder (``--decoder-minutes`` per invocation; mel loss, then GAN);
6. the bundle (in ``WORK/bundle-clean``): speaker table and quantizer, entropy tables, model id;
7. the content and speaker encoders taught to hear through noise (``codec.train.robust_content``
   and ``codec.train.robust_speaker``: noisy crops, step 6's encoders on the clean crops as
   targets), swapped into that bundle: ``DIR``;
8. the band refiner (``codec.train.refiner``), trained on ``DIR``'s own decodes of the train split
   and added to its ``render.json`` (outside the model id);
9. the envelope layer (``codec.train.envelope``): a codebook of band-level corrections and its table,
   trained on the decodes of that bundle; it makes a new model (in ``WORK/bundle-envelope``), whose
   ``bundle.json`` and ``tables.npz`` then replace ``DIR``'s.
10. the narrowband encoders (``codec.narrowband``): the robust content and speaker encoders taught
   again with every crop through an 8 kHz channel or a G.711 landline, the bundle's encoders on the
   clean crops as targets, and added to ``DIR`` (outside the model id) for input whose high band
   is empty.
   ``Codec.from_pretrained(DIR)`` and ``srb ... --model DIR`` load it.

``--preset default`` is the shipped recipe's settings, from scratch on the CPU (the shipped v0.2
decoder also had 25 GPU minutes of GAN training; docs/TRAINING.md). ``--preset tiny`` makes
minute-long toy models for tests and for checking a new corpus end to end.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

#: What the narrowband encoders hear (stage 10): every crop through a telephone channel, half of
#: them a G.711 landline, 40 % without noise, 30 % in a room (as the shipped pair's last stage,
#: docs/NOISE.md).
NARROWBAND_CROPS = ["--band-share", "1.0", "--band-rates", "8000", "--phone-share", "0.5", "--clean-share", "0.4",
                    "--reverb-share", "0.3"]

#: Per-stage extra arguments of each preset.
PRESETS = {
    "default": {
        "content": [],
        "content_soft": ["--steps", "4000", "--lr", "1e-3", "--soft-weight", "0.5"],
        "f0vq": [],
        "decoder": ["--gan-after", "3000"],
        # one stage each; the shipped v0.5 had two (noise only, then with rooms: docs/NOISE.md)
        "robust_content": ["--steps", "6000", "--lr", "5e-4", "--warmup", "50", "--reverb-share", "0.3"],
        "robust_speaker": ["--steps", "1500", "--reverb-share", "0.3"],
        "refiner": ["--steps", "2500", "--config", json.dumps({"scale": 0.5})],  # the shipped scale
        "envelope": ["--size", "256", "--lam", "4", "--config", json.dumps({"scale": 0.65})],  # as shipped (docs/ENVELOPE.md)
        # one stage each; the shipped pair had three (a share of telephone crops, all, half landline: docs/NOISE.md)
        "narrowband_content": ["--steps", "5000", "--lr", "3e-4", "--warmup", "50"],
        "narrowband_speaker": ["--steps", "2000", "--lr", "1e-4"],
    },
    "tiny": {
        "content": ["--channels", "16", "--layers", "1", "--expansion", "2", "--steps", "6", "--batch-size", "2",
                    "--crop-frames", "20", "--warmup", "1", "--ckpt-every", "3", "--log-every", "3"],
        "content_soft": ["--channels", "16", "--layers", "1", "--expansion", "2", "--steps", "4", "--batch-size", "2",
                         "--crop-frames", "20", "--warmup", "1", "--log-every", "2", "--soft-weight", "0.5"],
        "f0vq": ["--steps", "6", "--batch", "2", "--crop-frames", "40", "--hidden", "8", "--code-dim", "4",
                 "--codebook-size", "4"],
        "decoder": ["--steps", "6", "--batch", "2", "--f0-frames", "4", "--ref-seconds", "0.5", "--gan-after", "3",
                    "--log-every", "3", "--save-every", "3",
                    "--decoder-config", json.dumps(dict(speaker_dim=8, embed_dim=8, channels=16, intermediate=32,
                                                        layers=1)),
                    "--speaker-config", json.dumps(dict(channels=8, layers=1, dim=8, groups=2, codebook_size=4)),
                    "--disc-config", json.dumps(dict(periods=[2], period_channels=[4, 8], resolutions=[[256, 64]],
                                                     resolution_channels=4))],
        "robust_content": ["--steps", "3", "--batch-size", "2", "--crop-frames", "20", "--warmup", "1",
                           "--log-every", "1", "--threads", "1"],
        "robust_speaker": ["--steps", "3", "--batch-size", "2", "--crop-seconds", "0.5", "--log-every", "1",
                           "--threads", "1"],
        "refiner": ["--steps", "2", "--batch-size", "2", "--crop-frames", "30", "--warmup", "1", "--eval-every", "1",
                    "--holdout-every", "2", "--jobs", "1", "--threads", "1",
                    "--config", json.dumps(dict(bands=8, mels=16, channels=8, dilations=[1, 2]))],
        "envelope": ["--size", "4", "--lam", "2", "--rd-iterations", "1", "--holdout-every", "2", "--jobs", "1",
                     "--config", json.dumps(dict(bands=4))],
        "narrowband_content": ["--steps", "2", "--batch-size", "2", "--crop-frames", "20", "--warmup", "1",
                               "--log-every", "1", "--threads", "1"],
        "narrowband_speaker": ["--steps", "2", "--batch-size", "2", "--crop-seconds", "0.5", "--log-every", "1",
                               "--threads", "1"],
    },
}


class StageIncomplete(RuntimeError):
    """A stage stopped at its time limit; the same command continues it."""


def _stage(name: str, done: Path, run) -> None:
    if done.exists():
        print(f"[{name}] done already ({done})", flush=True)
        return
    t = time.time()
    print(f"[{name}] starting", flush=True)
    run()
    if not done.exists():
        raise StageIncomplete(f"stage {name} stopped before it finished; run the same command again to continue")
    print(f"[{name}] finished in {time.time() - t:.0f} s", flush=True)


def run_all(args: argparse.Namespace) -> Path:
    from codec.bundle import RENDER_FILE
    from codec.refiner import WEIGHTS_FILE as REFINER_WEIGHTS
    from codec.train import (bundle, content, decoder, envelope, f0vq, narrowband, refiner, robust_content,
                             robust_speaker, teacher_units, units)

    data, out = Path(args.data), Path(args.out)
    work = Path(args.work) if args.work else out / "work"
    for split in ("train", "dev"):
        if not (data / split / "manifest.csv").is_file():
            raise SystemExit(f"srb train all: error: {data / split / 'manifest.csv'} not found")
    preset = PRESETS[args.preset]
    k = args.k
    teacher = Path(args.teacher_units) if args.teacher_units else work / "teacher"
    if not args.teacher_units:
        _stage("teacher units", teacher / f"dev_k{k}.npz",
               lambda: teacher_units.main(["--data", str(data), "--out", str(teacher), "--ks", str(k)]))
    student, hard = work / "content", work / "content-hard"
    unit_args = ["--units", str(teacher / f"train_k{k}.npz"), "--dev-units", str(teacher / f"dev_k{k}.npz"),
                 "--data", str(data), "--device", args.device]
    _stage("content encoder", hard.with_suffix(".safetensors"), lambda: content.main([
        *unit_args, "--out", str(work / "content-run"), "--export", str(hard), *preset["content"]]))
    if (teacher / "train_feats.npy").is_file():
        _stage("content encoder, soft targets", student.with_suffix(".safetensors"), lambda: content.main([
            *unit_args, "--out", str(work / "content-soft-run"), "--export", str(student), "--teacher-dir", str(teacher),
            "--init-from", str(work / "content-run" / "checkpoint.pt"), *preset["content_soft"]]))
    elif not student.with_suffix(".safetensors").exists():
        print(f"[content encoder, soft targets] skipped: no teacher features in {teacher}; the student is "
              "the hard-unit one", flush=True)
        for suffix in (".safetensors", ".json"):
            student.with_suffix(suffix).write_bytes(hard.with_suffix(suffix).read_bytes())
    pitch = work / "f0vq"
    _stage("F0 VQ-VAE", work / "f0" / "dev_codes.npz", lambda: f0vq.main([
        "--data", str(data), "--cache", str(work / "f0"), "--run", str(work / "f0vq-run"), "--export",
        "--assets", str(pitch), "--device", args.device, *preset["f0vq"]]))
    student_units = work / f"train_units_k{k}.npz"
    _stage("student units", student_units, lambda: units.main([
        "--content", str(student), "--data", str(data / "train"), "--out", str(student_units)]))
    dec_run = work / "decoder-run"
    dec_args = decoder.build_parser().parse_args([
        "--streams", str(student_units), "--f0-codes", str(work / "f0" / "train_codes.npz"),
        "--data", str(data / "train"), "--out", str(dec_run), "--minutes", str(args.decoder_minutes),
        "--device", args.device, *preset["decoder"]])
    dec_args.decoder_config = json.dumps({**json.loads(dec_args.decoder_config or "{}"), "num_units": k,
                                          "num_f0": _f0_alphabet(pitch)})
    decoder.train(dec_args)  # resumes; each invocation adds up to --decoder-minutes
    clean = work / "bundle-clean"
    card = json.dumps({"recipe": f"srb train all --preset {args.preset}"})
    bundle.main(["--content", str(student), "--f0vq", str(pitch), "--decoder-run", str(dec_run),
                 "--units", str(student_units), "--f0-codes", str(work / "f0" / "train_codes.npz"),
                 "--data", str(data / "train"), "--out", str(clean), "--name", args.name, "--card", card])
    robust = work / "content-robust"
    _stage("content encoder, robust to noise", robust.with_suffix(".safetensors"), lambda: robust_content.main([
        "--model", str(clean), "--data", str(data), "--streams", str(student_units), "--out",
        str(work / "content-robust-run"), "--export", str(robust), *preset["robust_content"]]))
    robust_spk = work / "speaker-robust"
    _stage("speaker encoder, robust to noise", robust_spk.with_suffix(".safetensors"), lambda: robust_speaker.main([
        "--model", str(clean), "--data", str(data), "--out", str(work / "speaker-robust-run"), "--export",
        str(robust_spk), *preset["robust_speaker"]]))
    bundle.main(["--reuse", str(clean), "--content", str(robust), "--speaker", str(robust_spk), "--out", str(out),
                 "--name", args.name, "--card", card])
    # The band refiner learns from this bundle's own decodes; it goes into a copy (WORK/bundle-refined)
    # so that a rerun, which writes DIR again, finds the stage done and only copies its two files over.
    refined = work / "bundle-refined"
    _stage("band refiner", refined / REFINER_WEIGHTS, lambda: refiner.main([
        "--model", str(out), "--data", str(data / "train"), "--work", str(work / "refiner"), "--into", str(refined),
        *preset["refiner"]]))
    for name in (REFINER_WEIGHTS, RENDER_FILE):
        shutil.copyfile(refined / name, out / name)
    print(f"bundle {out}: band refiner added (render.json, {REFINER_WEIGHTS}; the model id is unchanged)", flush=True)
    # The envelope layer is measured on the refined bundle's decodes and makes a new model; as with
    # the refiner, it is built in a copy and its two changed files are copied over.
    layered = work / "bundle-envelope"
    _stage("envelope layer", layered / "bundle.json", lambda: envelope.main([
        "--model", str(out), "--data", str(data / "train"), "--work", str(work / "envelope"), "--into", str(layered),
        "--name", args.name, *preset["envelope"]]))
    for name in ("bundle.json", "tables.npz"):
        shutil.copyfile(layered / name, out / name)
    print(f"bundle {out}: envelope layer added (a new model id; it decodes the files of the bundle before)", flush=True)
    # The narrowband pair starts from the robust encoders and is taught by them (DIR's own).
    nb_content, nb_speaker = work / "content-narrowband", work / "speaker-narrowband"
    _stage("content encoder, narrowband", nb_content.with_suffix(".safetensors"), lambda: robust_content.main([
        "--model", str(out), "--data", str(data), "--streams", str(student_units), "--init-student", str(robust),
        "--out", str(work / "content-narrowband-run"), "--export", str(nb_content), *NARROWBAND_CROPS,
        *preset["narrowband_content"]]))
    _stage("speaker encoder, narrowband", nb_speaker.with_suffix(".safetensors"), lambda: robust_speaker.main([
        "--model", str(out), "--data", str(data), "--init-student", str(robust_spk), "--out",
        str(work / "speaker-narrowband-run"), "--export", str(nb_speaker), *NARROWBAND_CROPS,
        *preset["narrowband_speaker"]]))
    narrowband.main(["--bundle", str(out), "--out", str(out), "--content", str(nb_content), "--speaker",
                     str(nb_speaker), "--card", card])
    return out


def _f0_alphabet(assets: Path) -> int:
    from codec.f0vq import F0VQVAE

    return F0VQVAE.load(assets).config.num_codes


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="srb train all", description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True, help="folder with train/ and dev/, each with manifest.csv")
    ap.add_argument("--out", required=True, help="the bundle folder to write")
    ap.add_argument("--work", default=None, help="intermediate files and checkpoints (default OUT/work)")
    ap.add_argument("--preset", choices=sorted(PRESETS), default="default")
    ap.add_argument("--k", type=int, default=100, help="content units (K)")
    ap.add_argument("--teacher-units", default=None,
                    help="folder with train_k<K>.npz and dev_k<K>.npz made earlier (skips the Whisper stage)")
    ap.add_argument("--decoder-minutes", type=float, default=120.0, help="decoder training time per invocation")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--name", default="srb-custom")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        out = run_all(args)
    except StageIncomplete as e:
        print(f"srb train all: {e}")
        return 3
    print(f"bundle written to {out}; use it with Codec.from_pretrained('{out}') or srb ... --model {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
