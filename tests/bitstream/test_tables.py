import numpy as np
import pytest

from bitstream import EntropyTables, Profile, SrbTablesError, StreamTables, fit_stream_tables
from bitstream.runlength import DURATION, SYMBOL
from tests.bitstream.helpers import random_runs


def test_uniform_tables_have_id_zero():
    assert EntropyTables.uniform(100, 21).tables_id == 0


def trained(seed=0, **kw):
    rng = np.random.default_rng(seed)
    seqs = [random_runs(rng, 500, 50) for _ in range(5)]
    f0 = [random_runs(rng, 120, 21, 1.5) for _ in range(5)]
    return EntropyTables(
        fit_stream_tables(seqs, 50, "runlength", 32, **kw),
        fit_stream_tables(f0, 21, "frame"),
        Profile(speaker_ids=10),
    )


def test_id_is_a_content_hash():
    a, b = trained(0), trained(0)
    assert a.tables_id == b.tables_id != 0
    assert trained(1).tables_id != a.tables_id
    assert trained(0, alpha=1.0).tables_id != a.tables_id


def test_save_load_round_trip(tmp_path):
    t = trained()
    t.save(tmp_path / "t.npz")
    u = EntropyTables.load(tmp_path / "t.npz")
    assert u.tables_id == t.tables_id
    assert np.array_equal(u.units.symbol, t.units.symbol)
    assert u.f0.coding == "frame"


@pytest.mark.parametrize(
    "data",
    [pytest.param(b"", id="empty"), pytest.param(b"PK\x03\x04garbage", id="bad-zip"), pytest.param(b"x" * 100, id="junk")],
)
def test_load_rejects_garbage(tmp_path, data):
    (tmp_path / "bad.npz").write_bytes(data)
    with pytest.raises(SrbTablesError):
        EntropyTables.load(tmp_path / "bad.npz")


def test_load_missing_file(tmp_path):
    with pytest.raises(SrbTablesError, match="cannot read"):
        EntropyTables.load(tmp_path / "nope.npz")


def test_bigram_learns_transitions():
    # Units always cycle 0 -> 1 -> 2 -> 0: a bigram model should make the next unit nearly certain.
    seq = np.repeat(np.tile([0, 1, 2], 200), 2).astype(np.int32)
    bi = fit_stream_tables([seq], 3, symbol_order=1, alpha=0.01)
    uni = fit_stream_tables([seq], 3, symbol_order=0, alpha=0.01)
    ev = bi.events(seq)
    assert bi.information_bits(ev)[0] < 0.05 * uni.information_bits(ev)[0] + 1


def test_runlength_row_excludes_previous_symbol():
    t = StreamTables.uniform(4, "runlength", 8)
    row = t.symbol_row(2)
    assert row[2] == 0 and np.allclose(row.sum(), 1) and np.allclose(row[[0, 1, 3]], 1 / 3)
    assert np.allclose(t.symbol_row(4), 0.25)  # START context keeps every symbol


@pytest.mark.parametrize(
    "kw, message",
    [
        pytest.param(dict(symbol=np.ones((2, 5))), "fits neither", id="symbol-shape"),
        pytest.param(dict(symbol=np.zeros((1, 5))), "positive", id="zero-row"),
        pytest.param(dict(symbol=np.full((1, 5), np.nan)), "finite", id="nan"),
        pytest.param(dict(duration=np.ones((3, 8))), "does not fit", id="duration-shape"),
        pytest.param(dict(max_run=1), "max_run", id="max-run"),
        pytest.param(dict(coding="huffman"), "coding", id="coding"),
    ],
)
def test_invalid_tables(kw, message):
    args = dict(vocab=5, coding="runlength", max_run=8, symbol=np.ones((1, 5)), duration=np.ones((1, 8)))
    args.update(kw)
    with pytest.raises(SrbTablesError, match=message):
        StreamTables(**args)


def test_models_are_cached():
    t = StreamTables.uniform(5, "runlength", 8)
    m = t.models(SYMBOL, [1, 2])
    assert m[1] is t.models(SYMBOL, [1])[1] and m[0] is None
    assert t.models(DURATION, [4])[4] is not None
