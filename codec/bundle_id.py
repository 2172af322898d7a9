"""A bundle's identity without torch: which files it is, its model id, the ids whose files it reads.

``srb edit`` works on the bitstream alone (no torch import, so it starts fast); it still needs to
know which models code speakers alike, and that is written in the bundle's files.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

COMPONENTS = ("content", "f0vq", "speaker", "decoder")
BUNDLE_FILES = ("bundle.json",) + tuple(f"{c}.safetensors" for c in COMPONENTS) + ("tables.npz",)


def model_id_of(folder: Path) -> int:
    """The model id: the first 4 bytes of a SHA-256 over the bundle's files (0, the id of files
    made without a model, is never a bundle's)."""
    digest = hashlib.sha256()
    for name in BUNDLE_FILES:
        digest.update(name.encode())
        digest.update((Path(folder) / name).read_bytes())
    return int.from_bytes(digest.digest()[:4], "big") or 1


def is_model_id(text: str) -> bool:
    """8 lowercase hex digits, as model ids are written in ``bundle.json``."""
    return len(text) == 8 and all(c in "0123456789abcdef" for c in text)


def same_coding_ids(folder: Path) -> frozenset[int]:
    """The bundle's own model id and those listed under ``decodes`` in its ``bundle.json``: models
    whose files carry the same kind of streams (same encoders and tables). Ids that are not 8
    lowercase hex digits are skipped here; loading the bundle refuses them."""
    listed = json.loads((Path(folder) / "bundle.json").read_text()).get("decodes", [])
    ids = {int(i, 16) for i in listed if isinstance(i, str) and is_model_id(i)}
    return frozenset({model_id_of(folder), *ids})
