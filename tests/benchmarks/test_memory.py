"""Peak-memory measurement: a known allocation shows up, and no more than it."""

import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks.memory import GNU_TIME, PeakRss, rss_mib, run_measured


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="needs Linux /proc")
def test_peak_rss_counts_what_a_block_allocates():
    with PeakRss() as small:
        pass
    with PeakRss() as big:
        x = np.ones(64 * 2**20 // 8)  # 64 MiB, touched
        del x
    if not big.ok:
        pytest.skip("the kernel cannot reset the peak mark here")
    assert small.added_mib < 16
    assert 60 < big.added_mib < 100
    assert rss_mib() > 0


@pytest.mark.skipif(not Path(GNU_TIME).is_file(), reason="needs GNU time")
def test_a_child_process_peak_is_its_own():
    base = run_measured([sys.executable, "-c", "pass"])
    peak = run_measured([sys.executable, "-c", "x = bytearray(100 * 2**20); x[::4096] = b'1' * len(x[::4096])"])
    assert base < 100 and 100 < peak < base + 140  # not this (much larger) process's resident set
    with pytest.raises(RuntimeError, match="failed with status 3"):
        run_measured([sys.executable, "-c", "import sys; sys.exit(3)"])
