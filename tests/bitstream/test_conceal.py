import numpy as np

from bitstream.conceal import hold_fill


def test_gap_halves_hold_each_neighbour():
    x = np.array([1, 2, 0, 0, 0, 0, 7, 8])
    lost = np.array([0, 0, 1, 1, 1, 1, 0, 0], bool)
    assert hold_fill(x, lost).tolist() == [1, 2, 2, 2, 7, 7, 7, 8]


def test_edges_and_all_lost():
    x = np.array([0, 0, 5, 0])
    assert hold_fill(x, np.array([1, 1, 0, 1], bool)).tolist() == [5, 5, 5, 5]
    assert hold_fill(x, np.ones(4, bool), default=3).tolist() == [3, 3, 3, 3]
    assert hold_fill(x, np.zeros(4, bool)).tolist() == x.tolist()
