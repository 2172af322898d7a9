import numpy as np

from benchmarks.oracle_units import teacher_units


def test_teacher_units_by_manifest_path(tmp_path):
    np.savez(tmp_path / "dev_k100.npz", units=np.array([1, 2, 3, 4, 5], np.int32),
             unit_offsets=np.array([0, 2, 5]), paths=np.array(["a/x.flac", "b/y.flac"]))
    got = teacher_units(tmp_path / "dev_k100.npz")
    assert list(got) == ["a/x.flac", "b/y.flac"]
    assert got["a/x.flac"].tolist() == [1, 2] and got["b/y.flac"].tolist() == [3, 4, 5]
    assert got["b/y.flac"].dtype == np.int32
