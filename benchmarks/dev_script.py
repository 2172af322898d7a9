"""What the measurement scripts that decode dev files with a bundle share: options and start-up."""

from __future__ import annotations

import argparse
from pathlib import Path


def parser(doc: str) -> argparse.ArgumentParser:
    """An argument parser (described by ``doc``'s first line) with ``--data``, ``--model``, ``--out``."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--data", default="../shared/data/dev")
    ap.add_argument("--model", default=None, help="bundle (default: the bundled default)")
    ap.add_argument("--out", default=None)
    return ap


def start(args: argparse.Namespace):
    """One torch thread (a shared 2-core machine), then ``(codec, items)``: the bundle named by
    ``--model`` and the utterances of ``--data`` (:func:`benchmarks.report.load_items`)."""
    import torch

    torch.set_num_threads(1)
    from benchmarks.report import load_items
    from codec.api import Codec

    return Codec.from_pretrained(args.model), load_items(Path(args.data))
