"""A model that replaced its predecessor's envelope layer still decodes the predecessor's files
(codec/earlier_layers.py, bundle.json's envelope_earlier)."""

import json
import shutil

import numpy as np
import pytest

from bitstream import EntropyTables, SrbFormatError, SrbModelMismatchError, read_srb
from bitstream.tables import fit_stream_tables
from codec.api import Codec
from codec.bundle_id import model_id_of
from codec.earlier_layers import bundle_reading_tables, earlier_entry
from codec.errors import ModelError
from tests.codec.test_envelope import SR, _speech_like
from tests.codec.tiny_bundle import make_tiny_bundle

pytestmark = pytest.mark.usefixtures("one_thread")


def replace_layer(src, dst, earlier: bool = True):
    """``dst``: ``src`` with a new layer (5 other codes, another table), listing ``src`` under decodes."""
    shutil.copytree(src, dst)
    cfg = json.loads((src / "bundle.json").read_text())
    tables = EntropyTables.load(src / "tables.npz")
    rng = np.random.default_rng(1)
    new = tables.with_envelope(fit_stream_tables([rng.integers(0, 5, 300)], 5, "frame", packet_frames=50), 2)
    new.save(dst / "tables.npz")
    src_id = model_id_of(src)
    if earlier:
        cfg["envelope_earlier"] = [earlier_entry(src_id, cfg["envelope"], tables)]
    cfg["envelope"] = {**cfg["envelope"], "codebook": np.round(rng.normal(0, 4, (5, 4)), 3).tolist()}
    cfg["decodes"] = [f"{src_id:08x}"]
    (dst / "bundle.json").write_text(json.dumps(cfg))


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    root = tmp_path_factory.mktemp("earlier")
    make_tiny_bundle(root / "old", seed=0, envelope=True)
    replace_layer(root / "old", root / "new")
    return Codec.from_pretrained(root / "old"), Codec.from_pretrained(root / "new"), root


def test_the_entry_rebuilds_the_old_tables_exactly(pair):
    old, _, root = pair
    found = bundle_reading_tables(root / "new")
    assert old.tables.tables_id in found
    assert EntropyTables.load(root / "new" / "tables.npz").tables_id in found
    assert old.tables.without_envelope().tables_id in found


def test_old_files_decode_with_the_old_layer(pair):
    old, new, _ = pair
    data = old.encode(_speech_like(3.0, seed=1), SR)
    assert read_srb(data, new.reading_tables).envelope is not None
    want, _ = old.decode(data)
    got, _ = new.decode(data)
    assert np.abs(got - want).max() < 1e-6
    streamed = np.concatenate([c.audio for c in new.stream_decode(data, lookahead=new.context_frames())])
    assert np.abs(streamed - want).max() < 1e-4


def test_new_files_use_the_new_layer_and_the_old_model_refuses_them(pair):
    old, new, _ = pair
    x = _speech_like(3.0, seed=2)
    s = read_srb(new.encode(x, SR), new.reading_tables)
    assert s.envelope_vocab == 5 and s.model_id == new.model_id
    with pytest.raises(SrbModelMismatchError):
        old.decode(new.encode(x, SR))


def test_without_the_entry_old_files_are_refused_not_misread(pair, tmp_path):
    old, _, root = pair
    replace_layer(root / "old", tmp_path / "bare", earlier=False)
    bare = Codec.from_pretrained(tmp_path / "bare")
    data = old.encode(_speech_like(2.0, seed=3), SR)
    with pytest.raises(SrbFormatError, match=f"model {old.model_id:08x}'s entropy tables"):
        bare.decode(data)


def test_an_entry_for_a_model_it_does_not_decode_is_refused(pair, tmp_path):
    _, _, root = pair
    shutil.copytree(root / "new", tmp_path / "wrong")
    cfg = json.loads((tmp_path / "wrong" / "bundle.json").read_text())
    cfg["decodes"] = []
    (tmp_path / "wrong" / "bundle.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelError, match="envelope_earlier"):
        Codec.from_pretrained(tmp_path / "wrong")


def test_the_cli_reads_old_files_with_the_new_model(pair, tmp_path, capsys):
    from codec.cli import main

    old, _, root = pair
    (tmp_path / "a.srb").write_bytes(old.encode(_speech_like(2.0, seed=4), SR))
    assert main(["info", str(tmp_path / "a.srb"), "--model", str(root / "new")]) == 0
    assert "envelope" in capsys.readouterr().out
