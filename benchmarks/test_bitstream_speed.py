"""Speed of the bitstream on one hour of streams (pytest-benchmark).

Real-time factor convention everywhere in srb: seconds of audio per second of wall time.
Run: ``python -m pytest benchmarks --benchmark-enable`` (the default test run executes each once).
"""

import numpy as np
import pytest

from bitstream import EntropyTables, Profile, fit_stream_tables, read_srb, write_srb
from tests.bitstream.helpers import random_runs, random_streams

HOUR = 16000 * 3600


@pytest.fixture(scope="module")
def hour():
    # Runs of mean 1.8 unit frames, as the stand-in units on dev have.
    return random_streams(np.random.default_rng(0), HOUR, mean_run=1.8)


@pytest.fixture(scope="module")
def tables():
    rng = np.random.default_rng(1)
    return EntropyTables(
        fit_stream_tables([random_runs(rng, 20000, 100, 1.8) for _ in range(5)], 100, packet_frames=100),
        fit_stream_tables([random_runs(rng, 5000, 21, 1.5) for _ in range(5)], 21, packet_frames=25),
        Profile(speaker_ids=482),
    )


def test_encode_hour(benchmark, hour, tables):
    data = benchmark(write_srb, hour, tables)
    benchmark.extra_info["bits_per_second"] = len(data) * 8 / 3600
    benchmark.extra_info["audio_seconds"] = 3600


def test_decode_hour(benchmark, hour, tables):
    data = write_srb(hour, tables)
    out = benchmark(read_srb, data, tables)
    assert out == hour


def test_encode_decode_hour(benchmark, hour, tables):
    out = benchmark(lambda: read_srb(write_srb(hour, tables), tables))
    assert out == hour
