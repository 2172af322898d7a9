"""Rate-distortion choice of the content units (codec/unit_rdo.py)."""

import itertools

import numpy as np
import pytest

from bitstream import SpeakerCode, Streams, bitrate_report, write_srb
from bitstream.tables import StreamTables
from codec.errors import ModelError
from codec.unit_rdo import RateModel, choose_units


def random_tables(rng, k, max_run, trigram=False):
    tri = rng.random(((k + 1) ** 2, k)) * 5 if trigram else None
    return StreamTables(k, "runlength", max_run, rng.random((k + 1, k)) + 0.1, rng.random((k, max_run)) + 0.1,
                        trigram=tri)


def objective(lp, rate, lam, packet, units):
    return -lp[np.arange(len(units)), units].sum() + lam * rate.run_bits(np.asarray(units), packet)


@pytest.mark.parametrize("seed", range(40))
def test_search_finds_the_exhaustive_optimum(seed):
    """On tiny alphabets, every sequence is tried: the search's cost is the least (escapes and
    packet boundaries included, since max_run and the packet are as short as 2 frames)."""
    rng = np.random.default_rng(seed)
    k, max_run, packet, t = int(rng.integers(2, 4)), int(rng.integers(2, 5)), int(rng.integers(2, 7)), int(rng.integers(1, 8))
    rate = RateModel(random_tables(rng, k, max_run))
    lp = np.log(rng.dirichlet(np.ones(k), size=t))
    lam = float(rng.choice([0.05, 0.3, 1.0, 3.0]))
    best = min(itertools.product(range(k), repeat=t), key=lambda u: objective(lp, rate, lam, packet, u))
    got = choose_units(lp, rate, lam, packet)
    assert got.dtype == np.int32 and got.shape == (t,)
    assert objective(lp, rate, lam, packet, got) == pytest.approx(objective(lp, rate, lam, packet, best), abs=1e-9)


@pytest.mark.parametrize("unigram", [False, True], ids=["bigram", "unigram"])
def test_rate_model_matches_the_coders_code_length(unigram):
    """The bits the search minimises are the bitstream's ideal code length for bigram (and
    unigram) unit tables: escapes, exclusion of the previous symbol and packet restarts included."""
    rng = np.random.default_rng(1)
    k, max_run, packet = 6, 4, 50
    sym = rng.random((1 if unigram else k + 1, k)) + 0.1
    tables = StreamTables(k, "runlength", max_run, sym, rng.random((k, max_run)) + 0.1)
    units = np.repeat(rng.integers(0, k, 60), rng.integers(1, 12, 60))
    starts = np.arange(0, units.size, packet)
    ev = tables.events(units, starts)
    assert RateModel(tables).run_bits(units, packet) == pytest.approx(sum(tables.information_bits(ev)))


def test_lambda_zero_is_the_argmax_and_larger_lambdas_send_fewer_bits():
    rng = np.random.default_rng(2)
    k = 8
    rate = RateModel(random_tables(rng, k, 32, trigram=True))
    lp = np.log(rng.dirichlet(np.full(k, 0.3), size=400))
    assert np.array_equal(choose_units(lp, rate, 0.0, 100), lp.argmax(axis=1))
    bits = [rate.run_bits(choose_units(lp, rate, lam, 100), 100) for lam in (0.0, 0.1, 0.5, 2.0)]
    assert all(a > b for a, b in zip(bits, bits[1:])), bits
    # a tiny lambda changes only near-ties: almost every frame keeps its argmax
    assert np.mean(choose_units(lp, rate, 1e-4, 100) == lp.argmax(axis=1)) > 0.99


def test_bad_arguments_raise_model_errors():
    rng = np.random.default_rng(3)
    rate = RateModel(random_tables(rng, 4, 8))
    with pytest.raises(ModelError):
        choose_units(np.zeros((5, 3)), rate, 0.1, 10)
    for lam in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ModelError):
            choose_units(np.zeros((5, 4)), rate, lam, 10)
    with pytest.raises(ModelError):
        RateModel(StreamTables.uniform(4, coding="frame"))
    assert choose_units(np.zeros((0, 4)), rate, 0.5, 10).shape == (0,)


def test_bundled_codec_trades_bits_for_posterior(tmp_path):
    """End to end on the bundled model: lambda 0 is the plain encoder, a positive lambda writes a
    smaller file that decodes, block-wise encoding searches the same way, and the CLI passes it on."""
    from importlib import resources

    import torch

    from bitstream import read_srb
    from codec.api import Codec
    from codec.cli import main

    torch.set_num_threads(1)
    codec = Codec.from_pretrained(resynth=False)
    demo = str(resources.files("codec") / "assets" / "samples" / "demo.flac")
    # Without the envelope layer, which this codec (no resynthesis) would measure on its own decode.
    plain = codec.encode(demo, envelope=False)
    assert codec.encode(demo, unit_lambda=0.0, envelope=False) == plain
    small = codec.encode(demo, unit_lambda=0.4, envelope=False)
    assert len(small) < 0.95 * len(plain)
    a, b = read_srb(plain, codec.tables), read_srb(small, codec.tables)
    assert np.array_equal(a.f0, b.f0) and a.num_samples == b.num_samples
    assert np.count_nonzero(np.diff(b.units)) < 0.9 * np.count_nonzero(np.diff(a.units))
    wav, _ = codec.decode(small)
    assert wav.shape == (a.num_samples,) and np.isfinite(wav).all()
    assert codec.encode_stream(demo, unit_lambda=0.4, envelope=False) == small
    out = tmp_path / "demo.srb"
    assert main(["encode", demo, "-o", str(out), "--unit-lambda", "0.4", "--no-envelope"]) == 0
    assert out.read_bytes() == small
    with pytest.raises(SystemExit):
        main(["encode", demo, "-o", str(tmp_path / "x.srb"), "--unit-lambda", "-1"])
