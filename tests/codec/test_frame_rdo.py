"""Rate-distortion choice of per-frame codes (codec/frame_rdo.py)."""

import itertools

import numpy as np
import pytest

from bitstream.tables import StreamTables
from codec.errors import ModelError
from codec.frame_rdo import choose_codes, code_lengths


def frame_tables(rng, k, unigram=False):
    return StreamTables(k, "frame", 0, rng.random((1 if unigram else k + 1, k)) + 0.05, np.ones((1, 1)))


def objective(d, bits, lam, starts, codes):
    prev = np.concatenate([[d.shape[1]], codes[:-1]])
    prev[list(starts)] = d.shape[1]
    return d[np.arange(len(codes)), codes].sum() + lam * bits[prev, codes].sum()


@pytest.mark.parametrize("seed", range(30))
def test_search_finds_the_exhaustive_optimum(seed):
    """Every sequence of a tiny alphabet is tried, packet restarts included."""
    rng = np.random.default_rng(seed)
    k, t = int(rng.integers(2, 5)), int(rng.integers(1, 7))
    bits = code_lengths(frame_tables(rng, k, unigram=seed % 5 == 0))
    d = rng.random((t, k)) * 10
    lam = float(rng.choice([0.3, 1.0, 4.0, 20.0]))
    starts = sorted({0, *rng.integers(0, t, size=2).tolist()})
    best = min(itertools.product(range(k), repeat=t), key=lambda c: objective(d, bits, lam, starts, np.array(c)))
    got = choose_codes(d, bits, lam, starts)
    assert got.dtype == np.int32 and got.shape == (t,)
    assert objective(d, bits, lam, starts, got) == pytest.approx(objective(d, bits, lam, starts, np.array(best)))


@pytest.mark.parametrize("unigram", [False, True], ids=["bigram", "unigram"])
def test_code_lengths_are_the_coders(unigram):
    rng = np.random.default_rng(3)
    tables = frame_tables(rng, 6, unigram)
    seq = rng.integers(0, 6, size=40).astype(np.int32)
    starts = np.array([0, 17, 30])
    prev = np.concatenate([[6], seq[:-1]])
    prev[starts] = 6
    ours = code_lengths(tables)[prev, seq].sum()
    assert ours == pytest.approx(tables.event_bits(tables.events(seq, starts)).sum())


def test_lambda_zero_is_the_nearest_code_and_more_lambda_fewer_bits():
    rng = np.random.default_rng(4)
    bits = code_lengths(frame_tables(rng, 8))
    d = rng.random((200, 8)) * 20
    starts = np.arange(0, 200, 50)
    assert np.array_equal(choose_codes(d, bits, 0.0, starts), d.argmin(1))
    rates = []
    for lam in (0.0, 1.0, 4.0, 16.0):
        c = choose_codes(d, bits, lam, starts)
        prev = np.concatenate([[8], c[:-1]])
        prev[starts] = 8
        rates.append(bits[prev, c].sum())
    assert all(a >= b for a, b in zip(rates, rates[1:])) and rates[-1] < rates[0]


def test_run_length_or_unit_context_tables_are_refused():
    with pytest.raises(ModelError, match="per-frame"):
        code_lengths(StreamTables.uniform(4, "runlength", 8))


@pytest.mark.parametrize("lam", [-1.0, float("nan"), float("inf")], ids=["negative", "nan", "inf"])
def test_bad_lambda_is_refused(lam):
    with pytest.raises(ValueError, match="lambda"):
        choose_codes(np.zeros((3, 2)), np.zeros((3, 2)), lam)
