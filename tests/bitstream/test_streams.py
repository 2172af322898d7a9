import numpy as np
import pytest

from bitstream import SpeakerCode, Streams, SrbStreamsError, num_frames


def make(**kw):
    base = dict(units=np.zeros(5, np.int32), f0=np.zeros(2, np.int32), speaker=SpeakerCode.known(0, 4), num_samples=1500)
    base.update(kw)
    return Streams(**base)


def test_frame_counts_follow_samples():
    s = make()
    assert s.units.size == num_frames(1500, 320) == 5
    assert s.f0.size == num_frames(1500, 1280) == 2
    assert s.unit_rate == 50 and s.f0_rate == 12.5 and s.duration == 1500 / 16000


def test_arrays_become_int32_contiguous():
    s = make(units=np.arange(10, dtype=np.int64)[::2] % 3)
    assert s.units.dtype == np.int32 and s.units.flags.c_contiguous


@pytest.mark.parametrize(
    "kw, message",
    [
        pytest.param(dict(units=np.zeros(4, np.int32)), "units has 4 frames, expected 5", id="short-units"),
        pytest.param(dict(f0=np.zeros(3, np.int32)), "f0 has 3 frames", id="long-f0"),
        pytest.param(dict(units=np.full(5, 100)), r"units symbols must lie in \[0, 100\)", id="unit-range"),
        pytest.param(dict(units=np.zeros(5) + 0.5), "integers", id="float-units"),
        pytest.param(dict(units=np.zeros((5, 1), np.int32)), "1-D", id="2d"),
        pytest.param(dict(sample_rate=0), "sample_rate", id="rate"),
        pytest.param(dict(num_samples=-1), "num_samples", id="negative-length"),
        pytest.param(dict(model_id=2**32), "model_id", id="model-id"),
        pytest.param(dict(speaker=3), "SpeakerCode", id="speaker-type"),
    ],
)
def test_invalid_streams(kw, message):
    with pytest.raises(SrbStreamsError, match=message):
        make(**kw)


@pytest.mark.parametrize(
    "args, message",
    [
        pytest.param((np.array([4]), 4, "id"), "lie in", id="id-out-of-range"),
        pytest.param((np.array([1, 2]), 4, "id"), "one ID", id="id-two-values"),
        pytest.param((np.zeros(65, np.int32), 4, "vector"), "1..64", id="vector-too-long"),
        pytest.param((np.array([1]), 2**16 + 1, "vector"), "alphabet", id="huge-alphabet"),
        pytest.param((np.array([1]), 4, "name"), "kind", id="kind"),
    ],
)
def test_invalid_speaker(args, message):
    with pytest.raises(SrbStreamsError, match=message):
        SpeakerCode(*args)


def test_speaker_bits():
    assert SpeakerCode.known(3, 482).bits == 9
    assert SpeakerCode.vector(np.arange(8), 256).bits == 64
    assert SpeakerCode.known(0, 1).bits == 0


def test_equality():
    assert make() == make()
    assert make() != make(model_id=1)
    assert make() != make(units=np.array([0, 0, 0, 0, 1]))
