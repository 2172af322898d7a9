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
    assert_refused(dict(vocab=5, coding="runlength", max_run=8, symbol=np.ones((1, 5)), duration=np.ones((1, 8))),
                   kw, message)


def assert_refused(base: dict, changes: dict, message: str) -> None:
    """``StreamTables(**base)`` with ``changes`` raises SrbTablesError matching ``message``."""
    with pytest.raises(SrbTablesError, match=message):
        StreamTables(**{**base, **changes})


def test_models_are_cached():
    t = StreamTables.uniform(5, "runlength", 8)
    m = t.models(SYMBOL, [1, 2])
    assert m[1] is t.models(SYMBOL, [1])[1] and m[0] is None
    assert t.models(DURATION, [4])[4] is not None


def cycle_with_memory(n_cycles=300):
    """Runs of 0, 1, 0, 2, 0, 1, 0, 2, ...: after a 0 the next symbol depends on the run before the 0,
    which a bigram cannot see and a trigram can."""
    return np.repeat(np.tile([0, 1, 0, 2], n_cycles), 2).astype(np.int32)


def test_trigram_sees_two_runs_back():
    seq = cycle_with_memory()
    bi = fit_stream_tables([seq], 3, symbol_order=1, alpha=0.01)
    tri = fit_stream_tables([seq], 3, symbol_order=2, alpha=0.01, trigram_beta=1.0)
    assert tri.order == 2 and tri.num_symbol_contexts == 16
    assert bi.information_bits(bi.events(seq))[0] > 500  # ~1 bit for each symbol after a 0
    assert tri.information_bits(tri.events(seq))[0] < 20


def test_trigram_rows_fall_back_on_the_bigram_and_exclude_the_previous_run():
    seq = cycle_with_memory(50)
    t = fit_stream_tables([seq], 3, symbol_order=2, alpha=0.5, trigram_beta=4.0)
    k = 3
    unseen = 2 + (k + 1) * 2  # "2 after 2" never happens: the row is the bigram's for prev1 = 2
    bigram = t.symbol[2].copy()
    bigram[2] = 0
    assert np.allclose(t.symbol_row(unseen), bigram / bigram.sum())
    for ctx in range(t.num_symbol_contexts):
        row = t.symbol_row(ctx)
        prev1 = ctx % (k + 1)
        assert np.isclose(row.sum(), 1) and (prev1 == k or row[prev1] == 0)
    ev = t.events(seq)
    bits = t.event_bits(ev)  # the accounting agrees with the rows the coder uses
    sym = ev.part == SYMBOL
    expect = [-np.log2(t.symbol_row(int(c))[s]) for c, s in zip(ev.ctx[sym], ev.sym[sym])]
    assert np.allclose(bits[sym], expect)


def test_trigram_tables_round_trip_and_bigram_ids_do_not_move(tmp_path):
    rng = np.random.default_rng(3)
    seqs = [random_runs(rng, 800, 12) for _ in range(3)]
    f0 = fit_stream_tables([random_runs(rng, 120, 5, 1.5)], 5, "frame")
    bi = EntropyTables(fit_stream_tables(seqs, 12, symbol_order=1), f0, Profile(speaker_ids=3))
    tri = EntropyTables(fit_stream_tables(seqs, 12, symbol_order=2), f0, Profile(speaker_ids=3))
    assert tri.tables_id != bi.tables_id
    assert "trigram" not in bi.units.weights and bi._meta()["version"] == 1  # bigram files unchanged
    tri.save(tmp_path / "t.npz")
    back = EntropyTables.load(tmp_path / "t.npz")
    assert back.tables_id == tri.tables_id and back.units.order == 2
    assert back.units.trigram_beta == tri.units.trigram_beta
    assert np.array_equal(back.units.trigram, tri.units.trigram)


@pytest.mark.parametrize(
    "kw, message",
    [
        pytest.param(dict(trigram=np.ones((35, 5))), "does not fit", id="trigram-shape"),
        pytest.param(dict(trigram=-np.ones((36, 5))), "non-negative", id="trigram-negative"),
        pytest.param(dict(trigram=np.ones((36, 5)), trigram_beta=0.0), "positive", id="trigram-beta"),
        pytest.param(dict(trigram=np.ones((36, 5)), symbol=np.ones((1, 5))), "bigram", id="trigram-needs-bigram"),
    ],
)
def test_invalid_trigram_tables(kw, message):
    assert_refused(dict(vocab=5, coding="runlength", max_run=8, symbol=np.ones((6, 5)), duration=np.ones((1, 8))),
                   kw, message)


def test_trigram_declared_without_its_array_is_refused(tmp_path):
    import io
    import json

    rng = np.random.default_rng(4)
    f0 = fit_stream_tables([random_runs(rng, 120, 5, 1.5)], 5, "frame")
    t = EntropyTables(fit_stream_tables([random_runs(rng, 800, 12)], 12, symbol_order=2), f0, Profile(speaker_ids=3))
    with np.load(io.BytesIO(t.to_bytes())) as z:
        arrays = {k: z[k] for k in z.files if k != "units_trigram"}
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    with pytest.raises(SrbTablesError, match="disagree"):
        EntropyTables.from_bytes(buf.getvalue())
    meta = json.loads(arrays["meta"].tobytes().decode())
    meta["version"] = 1  # a trigram in a version-1 file
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    with np.load(io.BytesIO(t.to_bytes())) as z:
        arrays["units_trigram"] = z["units_trigram"]
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    with pytest.raises(SrbTablesError, match="disagree"):
        EntropyTables.from_bytes(buf.getvalue())


def voiced_by_unit(rng, n_f0, ratio=4):
    """Units 0..11 in 3 groups; an F0 frame's code is 0 when its units are of group 0 (unvoiced),
    else a code that depends on the group: F0 is predictable from the units, not from itself."""
    group = rng.integers(0, 3, size=n_f0)
    units = np.repeat(group * 4 + rng.integers(0, 4, size=n_f0), ratio)
    f0 = np.where(group == 0, 0, group * 2 - rng.integers(0, 2, size=n_f0))
    return units, f0.astype(np.int32)


def test_f0_given_units_learns_what_units_say():
    from bitstream import fit_f0_given_units

    rng = np.random.default_rng(0)
    train = [voiced_by_unit(rng, 300) for _ in range(8)]
    given = fit_f0_given_units([f for _, f in train], [u for u, _ in train], 5, 12, ratio=4, num_classes=4,
                               packet_frames=25)
    plain = fit_stream_tables([f for _, f in train], 5, "frame", packet_frames=25)
    assert given.num_classes == 4 and given.num_symbol_contexts == 6 * 16
    # no class mixes units of two groups (4 classes for 3 groups: one group may be split)
    groups = np.arange(12) // 4
    assert all(len(set(groups[given.unit_classes == c].tolist())) <= 1 for c in range(4))
    u, f = voiced_by_unit(rng, 200)
    starts = np.arange(0, 200, 25)
    bits_given = given.information_bits(given.events(f, starts, units=u, ratio=4))[0]
    bits_plain = plain.information_bits(plain.events(f, starts))[0]
    assert bits_given < 0.5 * bits_plain


def test_unit_context_spans_each_frame_and_clips_at_the_end():
    t = StreamTables(3, "frame", 0, np.ones((4 * 4, 3)), np.ones((1, 1)), unit_classes=np.array([0, 1, 1, 0]),
                     num_classes=2)
    units = np.array([0, 0, 1, 1, 2, 3, 3])  # 7 unit frames, 4 F0 frames of 2 units (the last has one)
    # frame i: M * class(first) + class(last), classes 0 1 1 0
    assert t.unit_context(units, 4, 2).tolist() == [0 * 2 + 0, 1 * 2 + 1, 1 * 2 + 0, 0 * 2 + 0]
    with pytest.raises(SrbTablesError, match="outside"):
        t.unit_context(np.array([0, 9]), 1, 2)
    with pytest.raises(SrbTablesError, match="pass the units"):
        t.events(np.array([0, 1, 2]))


@pytest.mark.parametrize(
    "kw, message",
    [
        pytest.param(dict(num_classes=2, unit_classes=np.array([0, 2])), "integers in", id="class-out-of-range"),
        pytest.param(dict(num_classes=2, unit_classes=np.array([0, 1]), symbol=np.ones((6, 5))), "does not fit",
                     id="symbol-shape"),
        pytest.param(dict(num_classes=2, unit_classes=np.array([0, 1]), coding="runlength", max_run=8,
                          duration=np.ones((1, 8))), "per-frame", id="runlength"),
    ],
)
def test_invalid_unit_class_tables(kw, message):
    assert_refused(dict(vocab=5, coding="frame", max_run=0, symbol=np.ones((24, 5)), duration=np.ones((1, 1))),
                   kw, message)


def test_f0_given_units_tables_round_trip_and_code_files(tmp_path):
    from bitstream import SpeakerCode, Streams, fit_f0_given_units, read_srb, recover_srb, write_srb

    rng = np.random.default_rng(5)
    train = [voiced_by_unit(rng, 300) for _ in range(6)]
    f0_tables = fit_f0_given_units([f for _, f in train], [u for u, _ in train], 5, 12, ratio=4, packet_frames=25)
    tables = EntropyTables(fit_stream_tables([u for u, _ in train], 12, symbol_order=2, packet_frames=100),
                           f0_tables, Profile(speaker_ids=3))
    tables.save(tmp_path / "t.npz")
    back = EntropyTables.load(tmp_path / "t.npz")
    assert back.tables_id == tables.tables_id and np.array_equal(back.f0.unit_classes, tables.f0.unit_classes)
    u, f = voiced_by_unit(rng, 130)
    s = Streams(units=u[:517], f0=f, speaker=SpeakerCode.known(2, 3), num_samples=517 * 320 - 3, unit_vocab=12,
                f0_vocab=5)
    data = write_srb(s, tables)
    assert read_srb(data, back) == s and recover_srb(data, back).streams == s
    with pytest.raises(SrbTablesError, match="multiple of 4"):
        write_srb(s, tables, packet_frames=50 + 1)
    with pytest.raises(SrbTablesError, match="F0 hop is a multiple"):
        EntropyTables(tables.units, f0_tables, Profile(unit_hop=320, f0_hop=1000, speaker_ids=3))
