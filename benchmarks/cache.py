"""A content-addressed cache of metric results for the benchmark report, one JSON file per key.

Keys are hashes of the audio itself (and of the metric's configuration), never of file names or
system names: Codec2 and Opus decode a given input to the same samples on every run, so when only
srb's model changes, a re-run of the report finds every peer's scores and every analysis of the
originals here and computes srb's alone. Bump a metric's configuration string in
:mod:`benchmarks.metrics` when its code changes, and old entries stop matching.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np


def default_dir() -> Path:
    """``$SRB_CACHE/bench``, or ``~/.cache/srb/bench`` (beside the Whisper weights srb prepares)."""
    root = os.environ.get("SRB_CACHE")
    return (Path(root) if root else Path.home() / ".cache" / "srb") / "bench"


def audio_hash(wav: np.ndarray) -> str:
    """sha256 of the float32 samples: equal audio, equal hash, wherever it came from."""
    return hashlib.sha256(np.ascontiguousarray(wav, np.float32).tobytes()).hexdigest()


class ScoreCache:
    """``get``/``put`` of JSON values by a key made of strings; ``folder=None`` caches nothing."""

    def __init__(self, folder: str | Path | None):
        self.folder = Path(folder) if folder is not None else None
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(*parts: str) -> str:
        return hashlib.sha256("\x00".join(parts).encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str):
        if self.folder is None:
            return None
        try:
            value = json.loads(self._path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):  # absent, or a torn write from a killed run: recompute
            self.misses += 1
            return None
        self.hits += 1
        return value

    def put(self, key: str, value) -> None:
        if self.folder is None:
            return
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written beside and renamed: a reader never sees half a file, even with --jobs workers.
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(value, fh)
        os.replace(tmp, path)
