"""Train a bundle's envelope layer (codec/envelope.py): its codebook and its entropy table.

    srb train envelope --model codec/assets/default --data ../shared/data/train --work runs/envelope \
        --into runs/envelope/bundle-v07 --size 256 --lam 4 --config '{"scale": 0.65}' --name srb-v0.7

(srb-v0.7 came from srb-v0.6 so, trained with scale 0.5, which the codebook does not depend on,
then set to 0.65 on held-out speakers; srb-v0.6 came from srb-v0.5 with ``--size 64``, scale 0.5
and no ``--lam``.)

Every file of ``--data`` is encoded and decoded by the bundle as it ships, every finishing stage
included and its own envelope layer left out (cached in ``WORK/decoded``, shared with nothing else: the refiner's cache leaves the
refiner out). Each file's band-level corrections (the original's band levels minus the decoded
ones, per envelope frame, clipped) are computed, and k-means over the frames of the files not held
out (the speakers of every ``--holdout-every``-th file, as ``srb train refiner`` holds them out)
gives the codebook (the teacher units' k-means, :func:`codec.train.teacher_units.kmeans`). The
codes of those files train the stream's table (each code given the previous one, as packets code
them). The held-out files report what the layer costs (ideal bits per second)
and how far the codebook leaves the corrections (RMS dB); ``benchmarks/envelope.py`` then measures
what it does to the audio.

``--into`` receives the bundle: ``--model``'s files with ``bundle.json`` naming the envelope layer
(codebook included) and ``tables.npz`` with its table. Both are in the model id, so the bundle is a
new model; it lists ``--model`` (and what that one decodes) under ``decodes``, since the units, F0
codes and speaker codes mean what they meant.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from codec.envelope import EnvelopeConfig, EnvelopeLayer
from codec.train.refiner import decode_all, held_out_speakers
from codec.train.teacher_units import kmeans


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=None, help="bundle whose decodes it learns from (default: the bundled one)")
    ap.add_argument("--data", type=Path, default=Path("../shared/data/train"), help="folder with manifest.csv")
    ap.add_argument("--work", type=Path, required=True, help="decodes cache")
    ap.add_argument("--into", type=Path, required=True, help="bundle folder to write (not --model's own)")
    ap.add_argument("--every", type=int, default=1, help="every N-th file of the manifest")
    ap.add_argument("--holdout-every", type=int, default=50, help="hold out the speakers of every N-th file "
                    "(those with at most 10 files): they measure the layer's bits")
    ap.add_argument("--size", type=int, default=64, help="codebook entries")
    ap.add_argument("--name", default=None, help="the new bundle's name (default: --model's)")
    ap.add_argument("--config", default="{}", help="other EnvelopeConfig fields as JSON (e.g. '{\"bands\": 8}')")
    ap.add_argument("--jobs", type=int, default=2, help="processes decoding the data")
    ap.add_argument("--lam", type=float, default=0.0, help="entropy-constrained codebook: train it for codes "
                    "chosen at this rate-distortion trade-off (dB^2 per bit, codec.frame_rdo), the bundle's "
                    "default from then on (0: nearest codes, plain k-means)")
    ap.add_argument("--rd-iterations", type=int, default=4, help="with --lam: rounds of choosing codes under the "
                    "table, then refitting the vectors and the table")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    from bitstream.tables import fit_stream_tables
    from codec.api import bundle_folder
    from codec.audio import load_audio
    from codec.bundle import RENDER_FILE, BundleConfig
    from codec.bundle_id import BUNDLE_FILES, model_id_of
    from codec.refiner import WEIGHTS_FILE
    from codec.train.units import read_manifest
    from bitstream import EntropyTables
    from codec.earlier_layers import keep_layer
    from codec.frame_rdo import code_lengths

    torch.set_num_threads(2)
    rows = read_manifest(args.data)[:: args.every]
    paths = [args.data / r["path"] for r in rows]
    source = bundle_folder(args.model)
    if source.resolve() == args.into.resolve():
        raise SystemExit("codec.train.envelope: --into must be a new folder (the layer makes a new model)")
    decode_all(str(source), paths, args.work / "decoded", args.jobs, refiner=True)

    config = json.loads((source / "bundle.json").read_text())
    t0 = time.perf_counter()
    fields = {"unit_hop": config["unit_hop"], "sample_rate": config["sample_rate"], **json.loads(args.config)}
    bands = EnvelopeConfig.model_fields["bands"].default if "bands" not in fields else int(fields["bands"])
    probe = EnvelopeConfig(**fields, codebook=[[0.0] * bands])  # measures; the codebook comes later
    layer = EnvelopeLayer(probe)
    held = held_out_speakers(rows, args.holdout_every)
    corr = {True: [], False: []}
    for i, (r, p) in enumerate(zip(rows, paths)):
        decoded = np.load(args.work / "decoded" / f"{i:05d}.npy").astype(np.float32)
        original = load_audio(p).numpy()[: len(decoded)]
        corr[r["speaker"] in held].append(layer.corrections(original, decoded))
    train, test = corr[False], corr[True]
    print(f"corrections of {len(train)} files to train on, {len(test)} held out "
          f"({time.perf_counter() - t0:.0f} s)", flush=True)

    codebook = kmeans(torch.from_numpy(np.concatenate(train)), args.size, 40, args.seed).numpy()
    per_packet = config["packet_frames"] // probe.ratio

    def fit(codebook: np.ndarray, lam: float, table=None):
        """The layer with ``codebook`` at ``lam``, its codes for every file (chosen under
        ``table``'s code lengths when ``lam > 0``) and the table fitted to the training codes."""
        layer = EnvelopeLayer(probe.model_copy(update={"codebook": np.round(codebook, 3).tolist(), "lam": lam}))
        bits = None if table is None else code_lengths(table)
        codes = {k: [layer.quantize(c, lam if bits is not None else 0.0, bits, np.arange(0, len(c), per_packet))
                     for c in v] for k, v in corr.items()}
        table = fit_stream_tables(codes[False], args.size, coding="frame", symbol_order=1, packet_frames=per_packet)
        return layer, codes, table

    layer, codes, table = fit(codebook, args.lam)
    for it in range(args.rd_iterations if args.lam > 0 else 0):
        # Entropy-constrained VQ (Chou, Lookabaugh and Gray 1989): codes chosen for error plus
        # lam * bits under the current table, then each vector moved to the mean of its frames.
        layer, codes, table = fit(codebook, args.lam, table)
        flat, frames = np.concatenate(codes[False]), np.concatenate(train)
        for k in np.unique(flat):
            codebook[k] = frames[flat == k].mean(axis=0)
        print(f"rate-distortion round {it + 1}: {np.unique(flat).size} of {args.size} codes used", flush=True)
    if args.lam > 0:
        layer, codes, table = fit(codebook, args.lam, table)
    env_config = layer.config
    def rate(seqs, corrections) -> tuple[float, float]:
        bits = sum(table.event_bits(table.events(s, np.arange(0, max(s.size, 1), per_packet))).sum() for s in seqs)
        seconds = sum(len(s) for s in seqs) * env_config.frame_samples / config["sample_rate"]
        err = np.concatenate([c - layer.codebook.numpy()[s] for s, c in zip(seqs, corrections)])
        return bits / seconds, float(np.sqrt(np.mean(err**2)))

    train_bps, train_rms = rate(codes[False], train)
    test_bps, test_rms = rate(codes[True], test)
    raw_rms = float(np.sqrt(np.mean(np.concatenate(test) ** 2)))
    print(f"codebook {args.size} x {env_config.bands}: train {train_bps:.1f} bits/s (RMS left {train_rms:.2f} dB); "
          f"held out {test_bps:.1f} bits/s, RMS {raw_rms:.2f} -> {test_rms:.2f} dB", flush=True)

    args.into.mkdir(parents=True, exist_ok=True)
    for name in (*BUNDLE_FILES, RENDER_FILE, WEIGHTS_FILE):
        if (source / name).is_file():
            shutil.copyfile(source / name, args.into / name)
    tables = EntropyTables.load(source / "tables.npz").with_envelope(table, env_config.ratio)
    tables.save(args.into / "tables.npz")
    src_id = f"{model_id_of(source):08x}"
    card = dict(config.get("card", {}))
    kind = f"entropy-constrained k-means at lambda {args.lam:g}" if args.lam > 0 else "k-means"
    card["envelope"] = (f"codebook of {args.size} x {env_config.bands} mel-band corrections ({kind} on "
                        f"{len(train)} train files' closed-loop corrections), one code per "
                        f"{env_config.frame_samples * 1000 // env_config.sample_rate} ms; held-out speakers "
                        f"({len(test)} files): {test_bps:.1f} bits/s ideal, RMS {raw_rms:.2f} -> {test_rms:.2f} dB")
    earlier = list(config.get("envelope_earlier", []))
    if config.get("envelope") is not None:
        # --model had a layer of its own: its files carry those codes, which this bundle must
        # still read (its table) and decode (its codebook) (codec.earlier_layers).
        earlier = keep_layer(earlier, int(src_id, 16), config["envelope"], EntropyTables.load(source / "tables.npz"))
    if earlier:
        config["envelope_earlier"] = earlier
    layer_fields = env_config.model_dump()
    if not layer_fields["lam"]:
        del layer_fields["lam"]  # nearest codes, as bundles before the field
    config.update(envelope=layer_fields, card=card, name=args.name or config["name"],
                  decodes=[src_id] + [i for i in config.get("decodes", []) if i != src_id])
    BundleConfig(**config)  # validate before writing
    (args.into / "bundle.json").write_text(json.dumps(config, indent=1, sort_keys=True))
    print(f"wrote {args.into} (model {model_id_of(args.into):08x}; decodes {', '.join(config['decodes'])})",
          flush=True)


if __name__ == "__main__":
    main()
