import numpy as np
import pytest

from benchmarks.pitch_level import level_offset


def test_level_offset_is_the_median_on_frames_voiced_in_both():
    ref = np.array([100.0, 100.0, 0.0, 200.0, 100.0, 0.0])
    deg = np.array([200.0, 100.0 * 2 ** (1 / 12), 150.0, 200.0 * 2 ** (1 / 12), 0.0, 0.0, 99.0])  # longer: cut
    offset, frames = level_offset(ref, deg)
    assert frames == 3 and offset == pytest.approx(100.0)  # median of 1200, 100, 100 cents


def test_level_offset_without_common_voicing_is_zero():
    assert level_offset(np.array([0.0, 100.0]), np.array([120.0, 0.0])) == (0.0, 0)
