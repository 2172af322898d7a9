import numpy as np

from benchmarks.context_models import f0_models, unit_models, unit_runs


def test_unit_runs_restart_at_packets():
    u = np.array([1] * 60 + [2] * 60 + [3] * 10)  # packets of 100 frames: [1 x60, 2 x40] [2 x20, 3 x10]
    p2, p1, v, d = unit_runs([u], k=5)
    assert v.tolist() == [1, 2, 2, 3]
    assert p1.tolist() == [5, 1, 5, 2] and p2.tolist() == [5, 5, 5, 5]
    assert d.tolist() == [31, 31, 19, 9]  # durations capped at the 32-symbol alphabet


def memory_runs(n, rng):
    """Runs 0, 1, 0, 2, ...: which symbol follows a 0 depends on the run before it."""
    return np.repeat(np.tile([0, 1, 0, 2], n), rng.integers(1, 4, size=4 * n))


def test_trigram_wins_where_two_runs_of_context_matter():
    rng = np.random.default_rng(0)
    train = [memory_runs(30, rng) for _ in range(20)]
    dev = [memory_runs(30, rng) for _ in range(3)]
    bits, beta, held = unit_models(train, dev, k=3)
    tri = next(v for n, v in bits.items() if n.startswith("units, trigram"))
    assert tri < 0.5 * bits["units, bigram"]
    assert beta in held and held[beta] == min(held.values())


def test_f0_given_unit_classes_uses_the_units():
    rng = np.random.default_rng(1)
    # F0 code = 1 where the frame's units are "voiced" (unit 1), 0 where unit 0: units predict F0
    units, f0 = [], []
    for _ in range(12):
        c = rng.integers(0, 2, size=50)
        units.append(np.repeat(c, 4))
        f0.append(c)
    bits = f0_models(units[:10], f0[:10], units[10:], f0[10:], k=2, nf=2, classes=(2,))
    given = next(v for n, v in bits.items() if "classes" in n)
    assert given < 0.2 * bits["F0, bigram"]
