"""``srb train all``: every stage on toy data and toy models, then the bundle encodes and decodes."""

import csv

import numpy as np
import pytest
import soundfile as sf

from codec.cli import main as srb

K = 8


def make_data(root, rng, features: bool = True):
    """train/ and dev/ with harmonic 'speech' of several speakers (so Praat finds F0) and fake
    teacher units in the teacher stage's format (the Whisper teacher is not installed in CI); with
    ``features``, also fake 4-d teacher features of train near k-means centroids of their units
    (what the soft-target content stage reads)."""
    sr = 16000
    teacher = root / "teacher"
    teacher.mkdir(parents=True)
    for split, n in (("train", 8), ("dev", 3)):
        folder = root / "data" / split
        folder.mkdir(parents=True)
        rows, units, speakers = [], [], []
        for i in range(n):
            seconds = 1.5 + 0.25 * (i % 3)
            t = np.arange(int(sr * seconds)) / sr
            f0 = (110 + 30 * (i % 4)) * (1 + 0.1 * np.sin(2 * np.pi * 1.5 * t))
            phase = 2 * np.pi * np.cumsum(f0) / sr
            wav = sum(0.3 / h * np.sin(h * phase) for h in range(1, 8)) * (t % 0.6 < 0.45)
            wav = wav + 0.003 * rng.standard_normal(t.size)
            sf.write(folder / f"u{i}.flac", wav.astype(np.float32), sr)
            rows.append(dict(path=f"u{i}.flac", seconds=seconds, speaker=f"s{i % 4}"))
            units.append(rng.integers(0, K, size=-(-t.size // 320)).astype(np.int32))
            speakers.append(i % 4)
        with open(folder / "manifest.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=["path", "seconds", "speaker"])
            w.writeheader()
            w.writerows(rows)
        np.savez(teacher / f"{split}_k{K}.npz", units=np.concatenate(units),
                 unit_offsets=np.cumsum([0] + [len(u) for u in units]).astype(np.int64),
                 num_samples=np.array([int(sr * float(r["seconds"])) for r in rows]),
                 speaker=np.array(speakers, np.int32), speaker_names=np.array([f"s{j}" for j in range(4)]),
                 paths=np.array([r["path"] for r in rows]))
        if features and split == "train":
            centroids = rng.normal(0, 5, (K, 4)).astype(np.float32)
            u = np.concatenate(units)
            np.save(teacher / "kmeans_k8.npy", centroids)
            np.save(teacher / "train_feats.npy", (centroids[u] + rng.normal(0, 1, (u.size, 4))).astype(np.float16))
            np.save(teacher / "train_pos.npy", (np.arange(u.size) % 1500).astype(np.int16))
            np.save(teacher / "position_mean.npy", np.zeros((1500, 4), np.float32))
    return root / "data", teacher


@pytest.mark.parametrize("features", [pytest.param(True, id="soft-targets"), pytest.param(False, id="units-only")])
def test_train_all_tiny_builds_a_working_bundle(tmp_path, capsys, features):
    from codec.api import Codec

    data, teacher = make_data(tmp_path, np.random.default_rng(0), features)
    out = tmp_path / "bundle"
    argv = ["train", "all", "--data", str(data), "--out", str(out), "--preset", "tiny", "--k", str(K),
            "--teacher-units", str(teacher), "--device", "cpu", "--decoder-minutes", "5"]
    assert srb(argv) == 0
    first = capsys.readouterr().out
    soft = "[content encoder, soft targets]"
    assert (f"{soft} finished" in first) == features and (f"{soft} skipped" in first) != features
    assert "[content encoder, robust to noise] finished" in first
    assert "[speaker encoder, robust to noise] finished" in first
    assert "[band refiner] finished" in first
    assert "[envelope layer] finished" in first
    assert "[content encoder, narrowband] finished" in first and "[speaker encoder, narrowband] finished" in first
    codec = Codec.from_pretrained(out)
    assert codec.narrowband is not None and codec.narrowband.config.high_below_db == -50.0
    assert codec.refiner is not None and codec.refiner.config.bands == 8
    assert codec.envelope is not None and codec.envelope.config.size == 4 and codec.envelope_lambda == 2.0
    assert codec.model_id == Codec.from_pretrained(out / "work" / "bundle-envelope").model_id
    refined = Codec.from_pretrained(out / "work" / "bundle-refined")  # the bundle before the envelope layer
    clean = Codec.from_pretrained(out / "work" / "bundle-clean")  # the bundle before the robust encoder
    assert codec.config.decodes == [f"{refined.model_id:08x}", f"{clean.model_id:08x}"]
    assert (out / "work" / "bundle-clean" / "decoder.safetensors").read_bytes() == \
        (out / "decoder.safetensors").read_bytes()
    wav, sr = sf.read(data / "dev" / "u1.flac", dtype="float32")
    blob = codec.encode(wav, sr)
    back, sr_out = codec.decode(blob)
    assert sr_out == 16000 and abs(back.shape[-1] - wav.size) < 320 and np.isfinite(np.asarray(back)).all()
    # Running it again skips every finished stage (resumable), and rebuilds the same bundle.
    capsys.readouterr()
    assert srb(argv) == 0
    log = capsys.readouterr().out
    for stage in ("content encoder", "F0 VQ-VAE", "student units", "content encoder, robust to noise",
                  "speaker encoder, robust to noise", "band refiner", "envelope layer", "content encoder, narrowband",
                  "speaker encoder, narrowband") + (("content encoder, soft targets",) if features else ()):
        assert f"[{stage}] done already" in log
    again = Codec.from_pretrained(out)  # the rewritten bundle gets the refiner and the layer back
    assert again.refiner is not None and again.narrowband is not None and again.model_id == codec.model_id


def test_train_all_needs_both_splits(tmp_path):
    (tmp_path / "train").mkdir()
    with pytest.raises(SystemExit, match="manifest.csv not found"):
        srb(["train", "all", "--data", str(tmp_path), "--out", str(tmp_path / "b")])
