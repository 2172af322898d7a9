"""Round trips of Streams through .srb bytes, including property tests over random streams."""

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bitstream import (
    EntropyTables,
    Profile,
    SpeakerCode,
    SrbModelMismatchError,
    SrbTablesError,
    bitrate_report,
    Streams,
    fit_stream_tables,
    read_header,
    read_srb,
    recover_srb,
    write_srb,
)
from tests.bitstream.helpers import random_runs, random_streams

SR = 16000


def tables_for(unit_vocab, f0_vocab, f0_coding="frame", seed=0, max_run=32, streams=None, unit_order=1):
    """Tables trained on random runs, with a profile that fits ``streams`` (default geometry if None);
    ``unit_order=2``: trigram unit symbols."""
    rng = np.random.default_rng(seed)
    units = [random_runs(rng, 2000, unit_vocab) for _ in range(4)]
    f0 = [random_runs(rng, 500, f0_vocab, 1.5) for _ in range(4)]
    profile = Profile(speaker_ids=482, speaker_codebook=256, speaker_length=8)
    if streams is not None:
        spk = streams.speaker
        profile = Profile(
            streams.sample_rate,
            streams.unit_hop,
            streams.f0_hop,
            speaker_ids=spk.alphabet if spk.kind == "id" else 0,
            speaker_codebook=spk.alphabet if spk.kind == "vector" else 0,
            speaker_length=spk.indices.size if spk.kind == "vector" else 0,
        )
    return EntropyTables(
        fit_stream_tables(units, unit_vocab, "runlength", max_run, symbol_order=unit_order, packet_frames=100),
        fit_stream_tables(f0, f0_vocab, f0_coding, 16, packet_frames=25),
        profile,
    )


@st.composite
def streams_and_tables(draw):
    unit_vocab = draw(st.sampled_from([1, 2, 3, 50, 100, 200, 1024]) | st.integers(1, 1024))
    f0_vocab = draw(st.sampled_from([1, 2, 21, 33]))
    unit_hop = draw(st.sampled_from([320, 160, 441, 1]))
    f0_hop = draw(st.sampled_from([unit_hop * 4, unit_hop, 1280, 999]))
    # Lengths from 0 to 100 000 unit frames.
    frames = draw(st.integers(0, 100_000) | st.sampled_from([0, 1, 2, 99, 100, 101]))
    num_samples = max(0, frames * unit_hop - draw(st.integers(0, unit_hop - 1)))
    seed = draw(st.integers(0, 2**32 - 1))
    mean_run = draw(st.floats(1.0, 40.0))
    long_run_prob = draw(st.sampled_from([0.0, 0.01, 0.5]))
    if draw(st.booleans()):
        speaker = SpeakerCode.known(draw(st.integers(0, 481)), 482)
    else:
        size = draw(st.sampled_from([1, 2, 256, 1000, 65536]))
        n = draw(st.integers(1, 64))
        speaker = SpeakerCode.vector(draw(st.lists(st.integers(0, size - 1), min_size=n, max_size=n)), size)
    rng = np.random.default_rng(seed)
    s = random_streams(
        rng,
        num_samples,
        unit_vocab=unit_vocab,
        f0_vocab=f0_vocab,
        unit_hop=unit_hop,
        f0_hop=f0_hop,
        speaker=speaker,
        mean_run=mean_run,
        long_run_prob=long_run_prob,
        model_id=draw(st.integers(0, 2**32 - 1)),
    )
    if draw(st.booleans()):  # the format 1.1 and 1.2 header fields
        s = dataclasses.replace(s, pitch_cents=draw(st.integers(-2400, 2400)),
                                pitch_stats=draw(st.none() | st.tuples(st.integers(0, 255), st.integers(0, 255))))
    kind = draw(st.sampled_from(["uniform", "trained-frame", "trained-runlength", "trigram-frame", "trigram-runlength"]))
    max_run = draw(st.sampled_from([2, 3, 32, 200]))
    if kind == "uniform":
        t = EntropyTables.uniform(unit_vocab, f0_vocab, max_run, draw(st.sampled_from(["frame", "runlength"])))
    else:
        # trigram tables of a large alphabet are big ((K + 1)^2 rows): keep those alphabets small
        order = 2 if kind.startswith("trigram") and unit_vocab <= 200 else 1
        t = tables_for(unit_vocab, f0_vocab, kind.split("-")[1], seed % 7, max_run, streams=s, unit_order=order)
    packet_frames = draw(st.sampled_from([1, 7, 100, 1024]))
    return s, t, packet_frames


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams_and_tables())
def test_round_trip_property(case):
    s, t, packet_frames = case
    data = write_srb(s, t, packet_frames)
    assert read_srb(data, t) == s
    assert write_srb(s, t, packet_frames) == data  # deterministic
    rec = recover_srb(data, t)
    assert rec.streams == s and not rec.lost and not rec.units_lost.any()


@pytest.mark.parametrize(
    "unit_vocab, f0_vocab",
    [pytest.param(1, 1, id="one-symbol-both"), pytest.param(2, 2, id="binary"), pytest.param(1024, 21, id="large")],
)
@pytest.mark.parametrize("mean_run", [pytest.param(1.0, id="no-runs"), pytest.param(1e4, id="very-long-runs")])
def test_alphabet_edges(unit_vocab, f0_vocab, mean_run):
    rng = np.random.default_rng(1)
    s = random_streams(rng, SR * 60, unit_vocab=unit_vocab, f0_vocab=f0_vocab, mean_run=mean_run)
    for t in (None, tables_for(unit_vocab, f0_vocab)):
        assert read_srb(write_srb(s, t), t) == s


def test_one_run_of_an_hour():
    s = random_streams(np.random.default_rng(2), SR * 3600, mean_run=1e9)
    assert np.unique(s.units).size == 1
    data = write_srb(s)
    assert read_srb(data) == s
    # One run costs a few escape symbols per packet, nothing like a symbol per frame.
    report = bitrate_report(data)
    assert (report.units_bits + report.durations_bits) / 3600 < 20


def test_empty_streams():
    s = Streams(np.zeros(0, np.int32), np.zeros(0, np.int32), SpeakerCode.known(1, 2), num_samples=0)
    data = write_srb(s)
    assert read_header(data).num_packets == 0
    assert read_srb(data) == s


def test_unseen_speaker_vector():
    spk = SpeakerCode.vector(np.array([255, 0, 17, 128, 3, 99, 200, 1]), 256)
    s = random_streams(np.random.default_rng(3), SR * 5, speaker=spk)
    out = read_srb(write_srb(s))
    assert out.speaker == spk and out.speaker.kind == "vector"


def test_trained_tables_needed_and_checked():
    s = random_streams(np.random.default_rng(4), SR * 10)
    t = tables_for(100, 21)
    data = write_srb(s, t)
    assert read_header(data, t).tables_id == t.tables_id
    with pytest.raises(SrbModelMismatchError, match=f"{t.tables_id:08x}"):
        read_srb(data)
    with pytest.raises(SrbModelMismatchError):
        read_srb(data, tables_for(100, 21, seed=9))
    assert read_srb(data, {t.tables_id: t}) == s


def test_tables_must_fit_streams():
    s = random_streams(np.random.default_rng(5), SR * 2)
    with pytest.raises(SrbTablesError, match=r"unit vocabulary 100 \(tables: 50\)"):
        write_srb(s, tables_for(50, 21))
    with pytest.raises(SrbTablesError, match=r"unit hop 320 \(tables: 160\)"):
        write_srb(s, tables_for(100, 21, streams=random_streams(np.random.default_rng(5), SR, unit_hop=160)))


def test_trained_header_is_smaller():
    s = random_streams(np.random.default_rng(7), SR * 3)
    t = tables_for(100, 21)
    # Trained tables fix geometry and alphabets, so the header spells out only length and speaker.
    assert read_header(write_srb(s, t), t).size < read_header(write_srb(s)).size - 8


def test_trained_tables_beat_uniform():
    rng = np.random.default_rng(6)
    s = random_streams(rng, SR * 120, unit_vocab=100)
    # Trained on the same statistics (geometric runs of mean 3): durations get cheaper.
    t = tables_for(100, 21)
    assert len(write_srb(s, t)) < len(write_srb(s))
