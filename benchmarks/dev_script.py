"""What the measurement scripts that decode dev files with a bundle share: options and start-up."""

from __future__ import annotations

import argparse
from pathlib import Path


def parser(doc: str, every: int | None = None, models: bool = False) -> argparse.ArgumentParser:
    """An argument parser (described by ``doc``'s first line) with ``--data``, ``--model`` (a list
    of them, when ``models``), ``--out``, and ``--every`` (default ``every``) when ``every`` is given."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--data", default="../shared/data/dev")
    if models:
        ap.add_argument("--model", action="append", default=None,
                        help="bundle (repeat for several; default: the bundled default)")
    else:
        ap.add_argument("--model", default=None, help="bundle (default: the bundled default)")
    ap.add_argument("--out", default=None)
    if every is not None:
        ap.add_argument("--every", type=int, default=every, help="every N-th file of the manifest")
    return ap


def add_judges(ap: argparse.ArgumentParser, per: str, distillmos: bool = True) -> None:
    """``--asr`` (Whisper base word errors, on packed windows or one call per file) and, with
    ``distillmos``, ``--distillmos``: the optional judges of :class:`benchmarks.render_scores.RenderScorer`;
    ``per`` names what each costs its time per (a variant, a strength, ...)."""
    ap.add_argument("--asr", choices=("packed", "per-file"), default=None,
                    help=f"also Whisper base word errors (packed: 0.2 s per audio second and {per}; per-file: 0.4 s)")
    if distillmos:
        ap.add_argument("--distillmos", action="store_true", help=f"also DistillMOS (0.16 s per audio second and {per})")


def judges_flags(args: argparse.Namespace) -> str:
    """The judge options of ``args`` as they were given on the command line (for result headers)."""
    return (f" --asr {args.asr}" if args.asr else "") + (" --distillmos" if getattr(args, "distillmos", False) else "")


def start(args: argparse.Namespace, finish: bool = True):
    """One torch thread (a shared 2-core machine), then ``(codec, items)``: the bundle named by
    ``--model`` (with the finishing its ``render.json`` names, postfilter, pitch resynthesis, envelope smoother and band refiner, or
    without: the vocoder's output, :meth:`codec.api.Codec.from_pretrained`) and the
    utterances of ``--data`` (:func:`benchmarks.report.load_items`), every ``--every``-th of them
    when the parser has that option."""
    import torch

    torch.set_num_threads(1)
    from benchmarks.report import load_items
    from codec.api import Codec

    items = load_items(Path(args.data))
    return (Codec.from_pretrained(args.model, postfilter=finish, resynth=finish, smoother=finish, refiner=finish),
            items[:: getattr(args, "every", 1)])


def add_held_out(ap: argparse.ArgumentParser) -> None:
    """``--held-out N``: score only the speakers a trainer held out with ``--holdout-every N``."""
    ap.add_argument("--held-out", type=int, default=50,
                    help="only the files of the speakers of every N-th file (the trainer's --holdout-every); 0: all")


def start_held_out(args: argparse.Namespace):
    """:func:`start`, then the files of the speakers ``--held-out`` names
    (:func:`codec.train.refiner.held_out_speakers`, over the whole manifest), then every
    ``--every``-th of those: ``(codec, items)``."""
    every, args.every = args.every, 1  # the held-out selection comes first
    codec, items = start(args)
    args.every = every
    if args.held_out:
        from codec.train.refiner import held_out_speakers

        speakers = held_out_speakers([{"speaker": it.speaker} for it in items], args.held_out)
        items = [it for it in items if it.speaker in speakers]
    return codec, items[::every]
