"""Resumable training state: model, optimiser, step and RNG in one file, loaded without pickle code.

Saved with ``torch.save`` (tensors, dicts, numbers, strings only) and read back with
``torch.load(weights_only=True)``, which refuses anything that would execute code. Writes go to a
temporary file renamed into place, so a run killed mid-save leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path

import numpy as np
import torch


def rng_state(gen: np.random.Generator) -> dict:
    return {
        "torch": torch.get_rng_state(),
        "numpy": json.dumps(gen.bit_generator.state),
        "python": json.dumps(random.getstate()),
    }


def set_rng_state(state: dict, gen: np.random.Generator) -> None:
    torch.set_rng_state(state["torch"])
    gen.bit_generator.state = json.loads(state["numpy"])
    s = json.loads(state["python"])
    random.setstate((s[0], tuple(s[1]), s[2]))


def save_checkpoint(path: Path, step: int, modules: dict, optimizers: dict, gen: np.random.Generator, **extra) -> None:
    state = {
        "step": step,
        "modules": {k: m.state_dict() for k, m in modules.items()},
        "optimizers": {k: o.state_dict() for k, o in optimizers.items()},
        "rng": rng_state(gen),
        "extra": extra,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path, modules: dict, optimizers: dict, gen: np.random.Generator) -> dict:
    """Restore in place; returns the saved ``step`` and ``extra``."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    for k, m in modules.items():
        m.load_state_dict(state["modules"][k])
    for k, o in optimizers.items():
        o.load_state_dict(state["optimizers"][k])
    set_rng_state(state["rng"], gen)
    return {"step": state["step"], **state["extra"]}


class JsonlLog:
    """Appends one JSON object per line, with wall-clock time."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, **record) -> None:
        record = {"time": round(time.time(), 3), **record}
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


# --- shards: a checkpoint travels between machines as files of at most ``max_bytes`` each -----------

SHARD_BYTES = 16 * 1024 * 1024 - 4096  # the GPU machine hands back files of at most 16 MiB


def weights_only(path: Path, dest: Path) -> Path:
    """Copy of a checkpoint without optimiser state (about a third of the size): enough to continue
    a run with fresh optimisers (``--init-from``) or to build a bundle."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    state["optimizers"] = {}
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, dest)
    return dest


def split_file(path: Path, out_dir: Path, max_bytes: int = SHARD_BYTES) -> Path:
    """Split ``path`` into ``NAME.000``, ``NAME.001``... of at most ``max_bytes`` plus an index
    ``NAME.shards.json`` (sizes and sha256 of the whole), and return the index's path."""
    import hashlib

    path, out_dir = Path(path), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = path.read_bytes()
    parts = []
    for i, start in enumerate(range(0, max(len(data), 1), max_bytes)):
        name = f"{path.name}.{i:03d}"
        (out_dir / name).write_bytes(data[start : start + max_bytes])
        parts.append(name)
    index = out_dir / f"{path.name}.shards.json"
    index.write_text(json.dumps({"name": path.name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                                 "parts": parts}))
    return index


def join_shards(index: Path, dest: Path | None = None) -> Path:
    """Reassemble what :func:`split_file` wrote; raises ``ValueError`` if a part is missing or altered."""
    import hashlib

    index = Path(index)
    meta = json.loads(index.read_text())
    data = b"".join((index.parent / p).read_bytes() for p in meta["parts"])
    if len(data) != meta["size"] or hashlib.sha256(data).hexdigest() != meta["sha256"]:
        raise ValueError(f"{index}: shards do not match their index (size or sha256)")
    dest = Path(dest) if dest is not None else index.parent / meta["name"]
    tmp = dest.with_suffix(".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, dest)
    return dest


def main(argv: list[str] | None = None) -> None:
    import argparse

    ap = argparse.ArgumentParser(description="split a checkpoint into <=16 MiB shards, or join them back")
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("split")
    s.add_argument("checkpoint")
    s.add_argument("--out", required=True)
    s.add_argument("--weights-only", action="store_true", help="drop optimiser state first")
    s.add_argument("--max-mb", type=float, default=SHARD_BYTES / 2**20)
    j = sub.add_parser("join")
    j.add_argument("index")
    j.add_argument("--dest", default=None)
    a = ap.parse_args(argv)
    if a.cmd == "split":
        src = Path(a.checkpoint)
        if a.weights_only:
            src = weights_only(src, Path(a.out) / src.name)
        print(split_file(src, Path(a.out), int(a.max_mb * 2**20)))
        if a.weights_only:
            src.unlink()
    else:
        print(join_shards(Path(a.index), a.dest and Path(a.dest)))


if __name__ == "__main__":
    main()
