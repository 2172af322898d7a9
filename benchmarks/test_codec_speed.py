"""Speed of the bundled model end to end and by stage, on 60 s of speech (pytest-benchmark).

Real-time factor convention everywhere in srb: audio seconds per wall-clock second (x real time).
Each test records it as ``extra_info["x_rt"]`` (from its fastest round). The input is 60 s of dev
speech (the dev files concatenated) or, without ``../shared/data/dev``, the demo sample repeated:
see :func:`benchmarks.speed.speech`. Peak memory is measured in fresh subprocesses
(:func:`benchmarks.speed.measure`). Run: ``python -m pytest benchmarks --benchmark-enable``;
``python -m benchmarks.speed --out benchmarks/results/speed.md`` writes the table.
"""

import time

import numpy as np
import pytest

from benchmarks.speed import SR, Stages, measure, speech

SECONDS = 60.0


@pytest.fixture(scope="module")
def stages():
    torch = pytest.importorskip("torch")
    from codec.api import Codec

    torch.set_num_threads(1)
    wav, source = speech(SECONDS)
    return Stages(Codec.from_pretrained(), wav), source


def _bench(benchmark, stages, stage):
    st, source = stages
    times = []

    def once():
        t0 = time.perf_counter()
        out = st.run(stage)
        times.append(time.perf_counter() - t0)
        return out

    out = benchmark.pedantic(once, rounds=3 if benchmark.enabled else 1, iterations=1)
    benchmark.extra_info.update(x_rt=SECONDS / min(times), audio_seconds=SECONDS, input=source)
    return out, SECONDS / min(times)


def test_encode_60s(benchmark, stages):
    data, x_rt = _bench(benchmark, stages, "encode")
    assert data == stages[0].data  # same input, same bytes
    assert 8 * len(data) / SECONDS < 400 and x_rt > 1.0  # a few hundred bits/s, faster than real time


def test_decode_60s(benchmark, stages):
    (wav, sr), x_rt = _bench(benchmark, stages, "decode")
    assert sr == SR and len(wav) == int(SECONDS * SR) and np.abs(wav).max() > 0.01
    assert x_rt > 1.0


def test_content_units_60s(benchmark, stages):
    units, _ = _bench(benchmark, stages, "content")
    assert units.shape[-1] >= SECONDS * 50  # 50 Hz


def test_f0_extraction_60s(benchmark, stages):
    f0, _ = _bench(benchmark, stages, "f0")
    assert len(f0) == SECONDS * 100 and 0.2 < (f0 > 0).mean() < 0.9  # speech: voiced and unvoiced


def test_decoder_alone_60s(benchmark, stages):
    wav, _ = _bench(benchmark, stages, "decoder")
    assert len(wav) == int(SECONDS * SR)


def test_postfilter_alone_60s(benchmark, stages):
    out, _ = _bench(benchmark, stages, "postfilter")
    assert out.shape == stages[0].tensor.shape and bool(out.isfinite().all())


def test_resynth_alone_60s(benchmark, stages):
    out, _ = _bench(benchmark, stages, "resynth")
    assert out.shape == stages[0].wav.shape and np.isfinite(out).all()


def test_smoother_alone_60s(benchmark, stages):
    out, _ = _bench(benchmark, stages, "smoother")
    assert out.shape == stages[0].tensor.shape and bool(out.isfinite().all())


def test_refiner_alone_60s(benchmark, stages):
    out, _ = _bench(benchmark, stages, "refiner")
    assert out.shape == stages[0].tensor.shape and bool(out.isfinite().all())


@pytest.mark.parametrize("stage", ["encode", "decode"])
def test_peak_memory_in_a_fresh_process(stage):
    pytest.importorskip("torch")
    r = measure(stage, seconds=10.0)  # 10 s keeps the two subprocesses short in the normal test run
    assert r["x_rt"] > 1.0 and r["rss_before_mib"] > 50  # torch and the model are resident
    assert r["peak_rss_mib"] >= r["rss_before_mib"]
    if r["peak_reset"]:
        assert r["stage_peak_mib"] is not None and 0 <= r["stage_peak_mib"] < 4096


def test_envelope_layer_alone_60s(benchmark, stages):
    out, _ = _bench(benchmark, stages, "envelope")
    assert out.shape == stages[0].wav.shape and np.isfinite(out).all()
