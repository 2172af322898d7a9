"""Assemble a model bundle from trained components (the last step of training).

    python -m codec.train.bundle --content codec/assets/content-k100 --f0vq codec/assets/f0vq \
        --decoder-run runs/decoder --units .cache/student/train_k100.npz --f0-codes .cache/f0/train_codes.npz \
        --data ../shared/data/train --out codec/assets/default --name srb-default

What it adds on top of the trained weights:
- the speaker table: the mean speaker vector of each training speaker (IDs = sorted speaker names);
- the product quantizer of unseen speakers' vectors (k-means on the training utterances' vectors);
- the entropy tables, counted from the training split's units and F0 codes as the coder cuts them
  into packets (bigram units, durations given the unit, per-frame bigram F0; docs/FORMAT.md).

With ``--reuse BUNDLE --decoder-run RUN`` only the decoder is new: content encoder, F0 VQ-VAE, speaker encoder
(table and quantizer included), entropy tables and the decoder-side finishing (``render.json``:
postfilter, pitch resynthesis, envelope smoother, band refiner) are copied from BUNDLE, so the new bundle codes
every file exactly as BUNDLE does and differs only in how it decodes (a decoder fine-tuned from
BUNDLE's, measured against it with nothing else moving). ``--blend A`` (with ``--reuse``) takes
``(1 - A) * BUNDLE's + A * the run's`` decoder weights instead of the run's alone: network
interpolation between a decoder and its fine-tuned descendant (they share a basin), a dial between
what each was trained toward (docs/TRAINING.md).

With ``--reuse BUNDLE --content ENCODER`` and/or ``--speaker ENCODER`` (no ``--decoder-run``)
only those encoders are new (``codec.train.robust_content`` and ``codec.train.robust_speaker``
train ones that keep BUNDLE's units and speaker vectors and hear them through noise): what they
send is of the same inventory and space, coded with the same tables and decoded by the same
decoder, so the new bundle also decodes BUNDLE's files.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from bitstream import EntropyTables, Profile, fit_f0_given_units, fit_stream_tables
from codec.bundle import RENDER_FILE, BundleConfig, save_bundle
from codec.refiner import WEIGHTS_FILE as REFINER_WEIGHTS
from codec.content import ContentEncoder
from codec.decoder import Decoder, DecoderConfig
from codec.f0vq import F0VQVAE
from codec.speaker import SpeakerConfig, SpeakerEncoder

PACKET_FRAMES = 100  # 2 s at 50 Hz; chosen in benchmarks/results/bitstream.md


def speaker_vectors(speaker: SpeakerEncoder, data: Path, paths, max_seconds: float = 8.0) -> torch.Tensor:
    vecs = []
    with torch.inference_mode():
        for p in paths:
            wav, _ = sf.read(str(data / p), dtype="float32")
            vecs.append(speaker(torch.from_numpy(wav[: int(max_seconds * 16000)])[None])[0])
    return torch.stack(vecs)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--content")
    ap.add_argument("--f0vq")
    ap.add_argument("--speaker", default=None,
                    help="with --reuse (no --decoder-run): a speaker encoder exported by codec.train.robust_speaker")
    ap.add_argument("--decoder-run", default=None, help="folder with config.json and checkpoint.pt")
    ap.add_argument("--units", help="training split's units (codec.train.units)")
    ap.add_argument("--f0-codes", help="training split's F0 codes (codec.train.f0vq)")
    ap.add_argument("--data")
    ap.add_argument("--reuse", default=None,
                    help="bundle whose content, F0, speaker models and tables to keep (then --units, --f0-codes, "
                         "--data are not needed)")
    ap.add_argument("--blend", type=float, default=None, metavar="A",
                    help="with --reuse: decoder weights (1-A) x BUNDLE's + A x the run's (0 < A <= 1)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--name", default="srb-default")
    ap.add_argument("--card", default="{}", help="JSON merged into the model card")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--unit-order", type=int, choices=(1, 2), default=2,
                    help="runs of context of the unit symbols' tables: 1 bigram, 2 trigram interpolated with the "
                         "bigram (default; 11 bits/s less on dev, docs/FORMAT.md)")
    ap.add_argument("--f0-unit-classes", type=int, default=4,
                    help="code each F0 code given the classes (this many) of its frame's first and last unit; "
                         "0: given the previous code only (6 bits/s more on dev, benchmarks/results/context_models.md)")
    ap.add_argument("--trigram-beta", type=float, default=32.0,
                    help="weight of the bigram in the trigram's interpolation (32: best on a held-out tenth of train)")
    args = ap.parse_args(argv)
    if args.blend is not None and not (args.reuse and 0.0 < args.blend <= 1.0):
        raise SystemExit("srb train bundle: error: --blend needs --reuse and 0 < A <= 1")
    torch.set_num_threads(args.threads)
    if args.reuse and (args.content or args.speaker) and args.decoder_run is None:
        return swap_encoders(Path(args.reuse), args)
    if args.decoder_run is None or (args.reuse and (args.content or args.speaker)):
        raise SystemExit("srb train bundle: error: give --decoder-run (with --reuse: a new decoder), "
                         "or --reuse with --content and/or --speaker alone (new encoders)")
    t0 = time.time()
    run = Path(args.decoder_run)
    cfg = json.loads((run / "config.json").read_text())
    state = torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=True)
    decoder = Decoder(DecoderConfig(**cfg["decoder"]))
    decoder.load_state_dict(state["modules"]["decoder"])
    if args.reuse:
        return swap_decoder(Path(args.reuse), decoder, int(state["step"]), args)
    if not (args.content and args.f0vq and args.units and args.f0_codes and args.data):
        raise SystemExit("srb train bundle: error: --content, --f0vq, --units, --f0-codes and --data are needed "
                         "(or --reuse)")
    content = ContentEncoder.load(args.content)
    f0vq = F0VQVAE.load(args.f0vq)

    with np.load(args.units, allow_pickle=False) as z:
        units = np.split(z["units"], z["unit_offsets"][1:-1])
        speaker_idx = z["speaker"].astype(np.int64)
        names = [str(n) for n in z["speaker_names"]]
        paths = [str(p) for p in z["paths"]]
    with np.load(args.f0_codes, allow_pickle=False) as z:
        f0 = np.split(z["f0"], z["f0_offsets"][1:-1])
        if "paths" in z.files and [str(p) for p in z["paths"]] != paths:
            raise SystemExit("srb train bundle: error: --units and --f0-codes list different files")

    spk_cfg = SpeakerConfig(**{**cfg["speaker"], "num_speakers": len(names)})
    speaker = SpeakerEncoder(spk_cfg)
    trained = {k: v for k, v in state["modules"]["speaker"].items() if k not in ("table", "codebooks")}
    speaker.load_state_dict({**speaker.state_dict(), **trained})
    speaker.eval()
    vecs = speaker_vectors(speaker, Path(args.data), paths)
    speaker.fit_quantizer(vecs)
    table = torch.zeros(len(names), spk_cfg.dim)
    table.index_add_(0, torch.from_numpy(speaker_idx), vecs)
    table /= torch.bincount(torch.from_numpy(speaker_idx), minlength=len(names)).clamp(min=1)[:, None]
    speaker.table = table
    pq_error = float((speaker.dequantize(speaker.quantize(vecs)) - vecs).pow(2).mean() / vecs.var(dim=0).sum() * spk_cfg.dim)

    k, nf = content.config.num_units, f0vq.config.num_codes
    profile = Profile(16000, 320, 1280, speaker_ids=len(names), speaker_codebook=spk_cfg.codebook_size,
                      speaker_length=spk_cfg.groups)
    ratio = profile.f0_hop // profile.unit_hop  # unit frames per F0 frame
    f0_packet = PACKET_FRAMES // ratio  # F0 frames per packet
    tables = EntropyTables(
        fit_stream_tables(units, k, "runlength", 32, symbol_order=args.unit_order, packet_frames=PACKET_FRAMES,
                          trigram_beta=args.trigram_beta),
        fit_f0_given_units(f0, units, nf, k, ratio=ratio, num_classes=args.f0_unit_classes, packet_frames=f0_packet)
        if args.f0_unit_classes else fit_stream_tables(f0, nf, "frame", packet_frames=f0_packet),
        profile,
    )
    card = {
        "training_data": "../shared/data/train (3.5 h, 482 speakers: LibriSpeech, LJSpeech, speechocean762)",
        "decoder_steps": int(state["step"]),
        "speaker_pq_relative_error": round(pq_error, 4),
        **json.loads(args.card),
    }
    config = BundleConfig(
        name=args.name,
        packet_frames=PACKET_FRAMES,
        content=content.config.model_dump(),
        f0vq=f0vq.config.model_dump(),
        speaker=spk_cfg.model_dump(),
        decoder=decoder.config.model_dump(),
        card=card,
    )
    model_id = save_bundle(args.out, config, dict(content=content, f0vq=f0vq, speaker=speaker, decoder=decoder), tables)
    size = sum(f.stat().st_size for f in Path(args.out).iterdir()) / 1e6
    print(f"bundle {args.out}: model id {model_id:08x}, {size:.1f} MB, tables {tables.tables_id:08x}, "
          f"speaker PQ relative error {pq_error:.3f}, {time.time() - t0:.0f} s")


def blend_decoders(old: Decoder, new: Decoder, alpha: float) -> Decoder:
    """``(1 - alpha) * old + alpha * new``, tensor by tensor (same config; integer buffers from ``new``)."""
    if old.config != new.config:
        raise SystemExit("srb train bundle: error: --blend needs decoders of the same configuration")
    a, b = old.state_dict(), new.state_dict()
    out = Decoder(new.config)
    out.load_state_dict({k: torch.lerp(a[k].float(), b[k].float(), alpha) if b[k].is_floating_point() else b[k]
                         for k in b})
    return out.eval()


def fitting_content(modules: dict, path, whose: str) -> ContentEncoder:
    """The content encoder exported at ``path``, checked to have the configuration of ``modules``'
    (so its units index the same table).

    Raises:
        ValueError: it does not; the message names ``whose`` encoder it had to match.
    """
    content = ContentEncoder.load(path)
    if content.config != modules["content"].config:
        raise ValueError(f"--content must have the configuration of {whose} encoder")
    return content


def fitting_speaker(modules: dict, path, whose: str) -> SpeakerEncoder:
    """The speaker encoder exported at ``path`` (by ``codec.train.robust_speaker``), checked to fit
    ``modules``' and to keep its codebooks and table (so its codes mean the same voices).

    Raises:
        ValueError: it does not; the message names ``whose`` encoder it had to match.
    """
    from codec.train.robust_speaker import load_exported

    try:
        speaker = load_exported(SpeakerEncoder(modules["speaker"].config), Path(path))
    except RuntimeError as exc:
        raise ValueError(f"--speaker does not fit {whose} encoder: {exc}") from exc
    if not (torch.equal(speaker.codebooks, modules["speaker"].codebooks)
            and torch.equal(speaker.table, modules["speaker"].table)):
        raise ValueError(f"--speaker must keep {whose} codebooks and table")
    return speaker


def swap_encoders(reuse: Path, args) -> None:
    """Write ``reuse``'s bundle with the content encoder ``args.content`` and/or the speaker encoder
    ``args.speaker`` (an export of ``codec.train.robust_speaker``) in place of its own (module doc)."""
    from codec.bundle import load_bundle

    old_config, modules, tables, old_id = load_bundle(reuse)
    new, card = dict(modules), {**old_config.card}
    try:
        if args.content:
            new["content"] = fitting_content(modules, args.content, "the reused bundle's")
            card["content_from"] = f"{old_config.name} ({old_id:08x})"
        if args.speaker:
            new["speaker"] = fitting_speaker(modules, args.speaker, "the reused bundle's")
            card["speaker_from"] = f"{old_config.name} ({old_id:08x})"
    except ValueError as exc:
        raise SystemExit(f"srb train bundle: error: {exc}") from None
    card.update(json.loads(args.card))
    swapped = " and ".join(n for n, a in (("content", args.content), ("speaker", args.speaker)) if a)
    write_reused(reuse, (old_config, modules, tables, old_id), args.out, args.name, new, card, {},
                 f"new {swapped} encoder")


def swap_decoder(reuse: Path, decoder: Decoder, steps: int, args) -> None:
    """Write ``reuse``'s bundle with ``decoder`` in place of its own (see the module doc)."""
    from codec.bundle import load_bundle

    old_config, modules, tables, old_id = load_bundle(reuse)
    card = {**old_config.card, "decoder_steps": steps, "decoder_from": f"{old_config.name} ({old_id:08x})",
            **json.loads(args.card)}
    if args.blend is not None:
        decoder = blend_decoders(modules["decoder"], decoder, args.blend)
        card["decoder_blend"] = f"{1 - args.blend:g} x {old_config.name} ({old_id:08x}) + {args.blend:g} x {args.decoder_run}"
    write_reused(reuse, (old_config, modules, tables, old_id), args.out, args.name, {**modules, "decoder": decoder},
                 card, {"decoder": decoder.config.model_dump()}, f"decoder from {args.decoder_run}")


def write_reused(reuse: Path, loaded: tuple, out, name: str, modules: dict, card: dict, update: dict,
                 what: str) -> None:
    """Write ``reuse``'s bundle (``loaded``: what :func:`codec.bundle.load_bundle` gave for it) to
    ``out`` with ``modules`` (some of them new), ``card`` and the config ``update``, its tables and
    ``render.json`` (the decoder-side finishing, outside the model id). The new bundle decodes
    ``reuse``'s files and those ``reuse`` decoded: every component file not replaced is checked to
    be byte-identical, so they carry the same streams and are decoded alike. ``what`` says what is
    new, for the printed summary."""
    old_config, old_modules, tables, old_id = loaded
    decodes = [f"{old_id:08x}", *(i for i in old_config.decodes if i != f"{old_id:08x}")]
    if old_config.envelope is not None:
        # reuse's own files carry its layer's codes under its id: the new model keeps that layer
        # as an earlier one (codec.earlier_layers), or it could not decode what it claims to.
        from codec.earlier_layers import keep_layer

        update = {"envelope_earlier": keep_layer(old_config.envelope_earlier, old_id, dict(old_config.envelope),
                                                 tables), **update}
    config = old_config.model_copy(update={"name": name, **update, "card": card, "decodes": decodes})
    model_id = save_bundle(out, config, modules, tables)
    for file in (RENDER_FILE, REFINER_WEIGHTS):  # the finishing, outside the model id
        if (reuse / file).is_file():
            shutil.copyfile(reuse / file, Path(out) / file)
    kept = [f"{c}.safetensors" for c in old_modules if modules[c] is old_modules[c]]
    for file in kept + ["tables.npz"]:  # the claim, checked
        if (reuse / file).read_bytes() != (Path(out) / file).read_bytes():
            raise SystemExit(f"srb train bundle: {file} differs from {reuse}'s: the new bundle cannot claim its files")
    print(f"bundle {out}: model id {model_id:08x}, {what}, the rest from {reuse} "
          f"(tables {tables.tables_id:08x}); also decodes files of {', '.join(decodes)}")


if __name__ == "__main__":
    main()
