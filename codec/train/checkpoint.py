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
