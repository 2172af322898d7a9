"""Envelope layers of earlier models, kept so that a model with a new layer still decodes their files.

A model that replaces its predecessor's envelope layer (a new codebook and table, ``srb train
envelope`` on a bundle that has one) shares every other stream with it, so it lists the
predecessor under ``decodes``. The predecessor's files carry codes of the *old* layer, written
with the old layer's table: reading them needs that table (the header names the tables by id), and
decoding them needs that codebook. ``bundle.json`` keeps both under ``envelope_earlier``, one entry
per model:

    {"model": "342da442", "layer": {EnvelopeConfig fields}, "symbol": (K + 1, K) table weights,
     "max_run": 0}

Rebuilt here exactly (same weights, same tables id). No torch: ``srb info`` and ``srb edit`` read
files with these tables too.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bitstream import EntropyTables
from bitstream.tables import StreamTables


def earlier_entry(model_id: int, layer: dict, tables: EntropyTables) -> dict:
    """The ``envelope_earlier`` entry of a model whose layer is ``layer`` (EnvelopeConfig fields)
    and whose tables are ``tables``."""
    env = tables.envelope
    if env is None:
        raise ValueError("these tables have no envelope stream")
    return {"model": f"{model_id:08x}", "layer": layer, "symbol": np.asarray(env.weights["symbol"]).tolist(),
            "max_run": int(env.max_run)}


def keep_layer(entries: list[dict], model_id: int, layer: dict, tables: EntropyTables) -> list[dict]:
    """``entries`` (a bundle's ``envelope_earlier``) with model ``model_id``'s layer first, in place
    of any entry it had: what a bundle that replaces that model (``decodes`` it) must keep."""
    mine = f"{model_id:08x}"
    return [earlier_entry(model_id, layer, tables), *(e for e in entries if e["model"] != mine)]


def earlier_layers(tables: EntropyTables, entries: list[dict]) -> dict[int, tuple[EntropyTables, dict]]:
    """Model id -> (the tables that model's files were written with, its layer's fields): ``tables``
    (the bundle's own) with each entry's envelope table in place of their own."""
    base = tables.without_envelope()
    out = {}
    for e in entries:
        symbol = np.asarray(e["symbol"], dtype=np.float64)
        env = StreamTables(symbol.shape[1], "frame", int(e.get("max_run", 0)), symbol, np.ones((1, 1)))
        out[int(e["model"], 16)] = (base.with_envelope(env, int(e["layer"].get("ratio", 2))), e["layer"])
    return out


def reading_tables(tables: EntropyTables, earlier: dict[int, tuple[EntropyTables, dict]]) -> dict[int, EntropyTables]:
    """Every tables a bundle reads files with, by tables id: its own, its own less the envelope
    stream (:meth:`~bitstream.EntropyTables.by_id`) and those of its ``earlier`` layers
    (:func:`earlier_layers`)."""
    found = tables.by_id()
    for t, _ in earlier.values():
        found[t.tables_id] = t
    return found


def bundle_reading_tables(folder) -> dict[int, EntropyTables]:
    """:func:`reading_tables` of the bundle in ``folder`` (its ``tables.npz`` and ``bundle.json``)."""
    entries = json.loads((Path(folder) / "bundle.json").read_text()).get("envelope_earlier", [])
    tables = EntropyTables.load(Path(folder) / "tables.npz")
    return reading_tables(tables, earlier_layers(tables, entries))
