"""benchmarks/envelope_context.py: the context measure finds information that is there, and none
where there is none."""

import numpy as np

from benchmarks.envelope_context import context_bits

VOCAB, UNITS, PER_PACKET = 8, 6, 10
CLASSES = np.array([0, 0, 1, 1, 2, 2])


def _files(rng, tied: bool, n=30, frames=50):
    out = []
    for _ in range(n):
        units = rng.integers(0, UNITS, size=(frames, 2))
        codes = units[:, 1] if tied else rng.integers(0, VOCAB, size=frames)  # a code per last unit, or noise
        out.append((codes.astype(np.int64), units.astype(np.int64)))
    return out


def test_codes_that_follow_the_units_cost_less_given_them():
    rng = np.random.default_rng(0)
    bits = context_bits(_files(rng, True), _files(rng, True), VOCAB, PER_PACKET, CLASSES, 3)
    frames = 30 * 50
    assert bits["none (unigram)"] / frames > 2.4  # 6 codes about equally likely: log2 6 = 2.58
    assert bits["the last unit (beta 4)"] / frames < 0.1
    assert bits["previous code and the last unit (beta 4)"] < 0.2 * bits["previous code (as shipped)"]
    # the classes pair units, so given them one bit of the code is left
    assert 0.9 < bits["3 x 3 classes of the first and last unit (beta 4)"] / frames < 1.2


def test_codes_that_ignore_the_units_gain_nothing_from_them():
    rng = np.random.default_rng(1)
    bits = context_bits(_files(rng, False), _files(rng, False), VOCAB, PER_PACKET, CLASSES, 3)
    assert bits["the last unit (beta 64)"] >= 0.99 * bits["none (unigram)"]
    assert bits["previous code and the last unit (beta 64)"] >= 0.99 * bits["previous code (as shipped)"]
