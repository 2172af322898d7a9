import numpy as np
import pytest

from bitstream.runlength import DURATION, SYMBOL, frame_events, runlength_events

START = 10  # vocab used below


def test_runs_symbols_and_durations():
    ev = runlength_events(np.array([4, 4, 4, 7, 2, 2], np.int32), vocab=10, max_run=32)
    assert ev.part.tolist() == [SYMBOL, DURATION, SYMBOL, DURATION, SYMBOL, DURATION]
    assert ev.sym.tolist() == [4, 2, 7, 0, 2, 1]
    assert ev.ctx.tolist() == [START, 4, 4, 7, 7, 2]
    assert ev.offsets.tolist() == [0, 6]


@pytest.mark.parametrize(
    "length, durations",
    [
        pytest.param(3, [2], id="short"),
        pytest.param(4, [3], id="longest-plain"),  # max_run 5: plain durations 1..4
        pytest.param(5, [4, 0], id="one-escape"),
        pytest.param(8, [4, 3], id="escape-then-longest"),
        pytest.param(9, [4, 4, 0], id="two-escapes"),
    ],
)
def test_escape_for_long_runs(length, durations):
    ev = runlength_events(np.full(length, 3, np.int32), vocab=10, max_run=5)
    assert ev.select(DURATION)[1].tolist() == durations
    assert ev.select(SYMBOL)[1].tolist() == [3]


def test_packets_restart_runs_and_context():
    seq = np.array([1, 1, 1, 1, 2, 2], np.int32)
    ev = runlength_events(seq, vocab=10, max_run=32, starts=[0, 2, 4])
    assert ev.offsets.tolist() == [0, 2, 4, 6]
    # Every packet starts from the START context, even when its run continues the previous one.
    assert ev.select(SYMBOL)[0].tolist() == [START, START, START]
    assert ev.select(DURATION)[1].tolist() == [1, 1, 1]


def test_one_symbol_alphabet_codes_durations_only():
    ev = runlength_events(np.zeros(7, np.int32), vocab=1, max_run=4)
    assert (ev.part == DURATION).all()
    assert ev.sym.tolist() == [3, 3, 0]


def test_frame_events():
    ev = frame_events(np.array([3, 3, 5, 1], np.int32), vocab=10, starts=[0, 2])
    assert ev.ctx.tolist() == [START, 3, START, 5]
    assert ev.sym.tolist() == [3, 3, 5, 1]
    assert ev.offsets.tolist() == [0, 2, 4]
    assert len(frame_events(np.zeros(4, np.int32), vocab=1)) == 0


def test_empty():
    assert len(runlength_events(np.zeros(0, np.int32), 10, 32)) == 0
    assert len(frame_events(np.zeros(0, np.int32), 10)) == 0


def test_trigram_context_is_the_two_previous_runs_of_the_packet():
    seq = np.array([1, 1, 2, 3, 3, 1, 4], np.int32)
    k = 10
    ev = runlength_events(seq, vocab=k, max_run=32, starts=[0, 4], order=2)
    ctx = ev.select(SYMBOL)[0].tolist()
    # packet 0: runs 1, 2, 3 (the 3 is cut by the packet start); packet 1: runs 3, 1, 4
    assert ctx == [START + (k + 1) * START, 1 + (k + 1) * START, 2 + (k + 1) * 1,
                   START + (k + 1) * START, 3 + (k + 1) * START, 1 + (k + 1) * 3]
    same = runlength_events(seq, vocab=k, max_run=32, starts=[0, 4])
    assert np.array_equal(ev.sym, same.sym) and np.array_equal(ev.part, same.part)
    assert np.array_equal(np.asarray(ctx) % (k + 1), same.select(SYMBOL)[0])  # prev1 is the bigram context
