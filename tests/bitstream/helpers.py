"""Random streams for tests: runs with a chosen mean length, any alphabet, any length."""

import numpy as np

from bitstream import SpeakerCode, Streams, num_frames


def random_runs(rng, n, vocab, mean_run=3.0, long_run_prob=0.0, max_long=5000):
    """``n`` symbols in runs (no two adjacent runs share a symbol when ``vocab > 1``)."""
    if n == 0:
        return np.zeros(0, np.int32)
    lengths = np.minimum(rng.geometric(1.0 / mean_run, size=n), n)
    if long_run_prob:
        long = rng.random(n) < long_run_prob
        lengths[long] = rng.integers(100, max_long, size=long.sum())
    lengths = lengths[: np.searchsorted(np.cumsum(lengths), n) + 1]
    values = rng.integers(0, vocab, size=lengths.size)
    if vocab > 1:  # make neighbouring runs differ so runs stay as drawn
        steps = rng.integers(1, vocab, size=lengths.size)
        values = (np.cumsum(steps) + values[0]) % vocab
    return np.repeat(values, lengths)[:n].astype(np.int32)


def random_streams(
    rng,
    num_samples,
    unit_vocab=100,
    f0_vocab=21,
    unit_hop=320,
    f0_hop=1280,
    sample_rate=16000,
    speaker=None,
    mean_run=3.0,
    long_run_prob=0.0,
    model_id=0x5EB00001,
):
    units = random_runs(rng, num_frames(num_samples, unit_hop), unit_vocab, mean_run, long_run_prob)
    f0 = random_runs(rng, num_frames(num_samples, f0_hop), f0_vocab, 1.5, long_run_prob / 4)
    if speaker is None:
        speaker = SpeakerCode.known(int(rng.integers(0, 482)), 482)
    return Streams(
        units=units,
        f0=f0,
        speaker=speaker,
        num_samples=num_samples,
        sample_rate=sample_rate,
        unit_hop=unit_hop,
        f0_hop=f0_hop,
        unit_vocab=unit_vocab,
        f0_vocab=f0_vocab,
        model_id=model_id,
    )
