"""benchmarks.units_heard: the counting on a stand-in codec, and the script on the tiny bundle."""

from types import SimpleNamespace

import numpy as np

from benchmarks.units_heard import heard, main
from tests.benchmarks.test_report import bundle, data  # noqa: F401  (module fixtures)


class Echo:
    """Encodes any audio as the units it was built with."""

    sample_rate = 16000

    def __init__(self, units):
        self.units = np.asarray(units)

    def encode_streams(self, audio, sample_rate):
        return SimpleNamespace(units=self.units)


def test_heard_counts_agreeing_frames_away_from_the_edges():
    sent = np.arange(20)
    back = sent.copy()
    back[[0, 1, 10, 19]] = 99  # two at the edges (not counted), one inside
    assert heard(Echo(back), np.zeros(1), sent, edge=2) == (15, 16)
    assert heard(Echo(back), np.zeros(1), sent, edge=0) == (16, 20)
    assert heard(Echo(back[:12]), np.zeros(1), sent, edge=2) == (8, 8)  # a shorter decode: frames 2..9 of both
    assert heard(Echo(sent[:3]), np.zeros(1), sent, edge=2) == (0, 0)  # nothing left between the edges


def test_script_on_the_tiny_bundle(data, bundle, tmp_path):  # noqa: F811
    out = tmp_path / "heard.md"
    assert main(["--data", str(data), "--every", "1", "--model", str(bundle), "--model", str(bundle),
                 "--out", str(out)]) == 0
    rows = [line for line in out.read_text().splitlines() if line.startswith("| ") and "%" in line]
    assert len(rows) == 2 and rows[0] == rows[1]  # same bundle twice: same numbers (deterministic)
    shares = [float(c.strip(" %")) for c in rows[0].split("|")[3:5]]
    assert all(0.0 <= s <= 100.0 for s in shares)
