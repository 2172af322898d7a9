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

from codec.bundle import load_bundle
from codec.bundle_id import model_id_of
from codec.narrowband import NarrowbandConfig, NarrowbandEncoders
from codec.train.bundle import fitting_content, fitting_speaker


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
    bundle, out = Path(args.bundle), Path(args.out)
    _, modules, _, model_id = load_bundle(bundle)
    try:
        content = fitting_content(modules, args.content, "the bundle's content")
        speaker = fitting_speaker(modules, args.speaker, "the bundle's speaker")
    except ValueError as exc:
        ap.error(str(exc))
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
