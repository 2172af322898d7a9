"""Give a bundle encoders for band-limited input (:mod:`codec.narrowband`).

    python -m codec.train.narrowband --bundle codec/assets/default --out runs/cand-nb \\
        --content runs/content-nb/export --speaker runs/speaker-band/export

``--content`` is an export of ``codec.train.robust_content`` and ``--speaker`` one of
``codec.train.robust_speaker``, both taught by the bundle's own encoders with band-limited crops
(``--band-share``). The bundle is copied to ``--out`` (or changed in place when ``--out`` is the
bundle) with the three narrowband files added; its model id stays the same, which is checked.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import torch

from codec.bundle import load_bundle
from codec.bundle_id import model_id_of
from codec.content import ContentEncoder
from codec.narrowband import NarrowbandConfig, NarrowbandEncoders
from codec.speaker import SpeakerEncoder


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bundle", required=True, help="the bundle folder whose encoders taught the two")
    ap.add_argument("--out", required=True, help="bundle folder to write (the bundle itself: change it in place)")
    ap.add_argument("--content", required=True, help="narrowband content encoder (PATH of PATH.safetensors + .json)")
    ap.add_argument("--speaker", required=True, help="narrowband speaker encoder (PATH of PATH.safetensors)")
    ap.add_argument("--high-below-db", type=float, default=NarrowbandConfig().high_below_db,
                    help="inputs whose 5.5-7.5 kHz band measures under this many dB relative to the speech band "
                    "are analysed by the pair (codec.bandwidth)")
    ap.add_argument("--card", default="{}", help="JSON: the pair's model card")
    args = ap.parse_args(argv)
    from codec.train.robust_speaker import load_exported

    bundle, out = Path(args.bundle), Path(args.out)
    _, modules, _, model_id = load_bundle(bundle)
    content = ContentEncoder.load(args.content)
    if content.config != modules["content"].config:
        ap.error("--content must have the configuration of the bundle's content encoder")
    try:
        speaker = load_exported(SpeakerEncoder(modules["speaker"].config), Path(args.speaker))
    except RuntimeError as exc:
        ap.error(f"--speaker does not fit the bundle's speaker encoder: {exc}")
    if not (torch.equal(speaker.codebooks, modules["speaker"].codebooks)
            and torch.equal(speaker.table, modules["speaker"].table)):
        ap.error("--speaker must keep the bundle's codebooks and table")
    if out.resolve() != bundle.resolve():
        shutil.copytree(bundle, out, dirs_exist_ok=False)
    config = NarrowbandConfig(high_below_db=args.high_below_db, card=json.loads(args.card))
    pair = NarrowbandEncoders(config, content, speaker)
    pair.save(out)
    if model_id_of(out) != model_id:  # the claim of codec.narrowband: same streams, same id
        raise SystemExit(f"srb train narrowband: {out}'s model id changed")
    print(f"bundle {out}: model id {model_id:08x} (unchanged), narrowband encoders for input whose high band "
          f"measures under {args.high_below_db:g} dB")


if __name__ == "__main__":
    main()
