import json

import numpy as np
import pytest
import torch

from codec.content import ContentConfig, ContentEncoder
from codec.errors import AudioError, ModelError
from codec.train.content import TrainConfig, UnitCorpus, evaluate, train

TINY = ContentConfig(n_mels=20, channels=16, layers=2, kernel_size=3, expansion=2, num_units=4)
TONES = (250.0, 700.0, 1500.0, 3500.0)  # one pure tone per unit


pytestmark = pytest.mark.usefixtures("one_thread")


def tone_corpus(num: int = 4, frames: int = 100, seed: int = 0) -> UnitCorpus:
    """Utterances of 2 s made of tone segments; the unit of a frame is the index of its tone."""
    gen = np.random.default_rng(seed)
    audio, units = [], []
    for _ in range(num):
        u = np.repeat(gen.integers(0, len(TONES), size=frames // 5), 5)[:frames]
        f = np.repeat(np.array(TONES)[u], 320)
        x = 0.3 * np.sin(2 * np.pi * np.cumsum(f) / 16000) + 0.01 * gen.standard_normal(len(f))
        audio.append((x * 32767).astype(np.int16)[: len(f) - 17])  # last frame partial: ceil(N/320)
        units.append(u)
    return UnitCorpus(audio, units)


@pytest.mark.parametrize("n", [1, 100, 319, 320, 321, 16000, 16001])
def test_shapes(n):
    model = ContentEncoder.from_config(TINY).eval()
    wav = torch.randn(3, n) * 0.1
    logits = model(wav)
    assert logits.shape == (3, TINY.num_units, -(-n // 320))
    units = model.units(wav)
    assert units.shape == (3, -(-n // 320)) and units.dtype == torch.int64
    assert int(units.min()) >= 0 and int(units.max()) < TINY.num_units


def test_default_size_and_receptive_field():
    model = ContentEncoder.from_config({})
    assert model.num_parameters() <= 3_000_000
    assert 0.2 < model.receptive_field_s < 2.0


def test_frames_are_local():
    """A frame far from a change in the input does not see it (no time-mixing normalisation)."""
    model = ContentEncoder.from_config(TINY).eval()
    a = torch.randn(1, 32000) * 0.1
    b = a.clone()
    b[:, 25000:] = 0.0
    far = int(25000 / 320 - model.receptive_field_s * 50 / 2) - 2
    with torch.no_grad():
        assert torch.equal(model(a)[..., :far], model(b)[..., :far])


def test_save_load_round_trip(tmp_path):
    model = ContentEncoder.from_config(TINY).eval()
    with torch.no_grad():
        model.mel_mean.fill_(-3.0)  # buffers travel with the weights
        model.head.bias.normal_()
    w, c = model.save(tmp_path / "content.safetensors")
    assert w.name == "content.safetensors" and c.name == "content.json"
    back = ContentEncoder.load(tmp_path / "content")
    wav = torch.randn(2, 8000) * 0.1
    with torch.no_grad():
        assert torch.equal(model(wav), back(wav))
    assert back.config == TINY

    model.save(tmp_path / "half", dtype=torch.float16)
    half = ContentEncoder.load(tmp_path / "half.json")
    assert next(half.parameters()).dtype == torch.float32
    with torch.no_grad():
        assert torch.allclose(model(wav), half(wav), atol=0.05)


def test_load_errors(tmp_path):
    with pytest.raises(ModelError):
        ContentEncoder.load(tmp_path / "missing")
    model = ContentEncoder.from_config(TINY)
    model.save(tmp_path / "m")
    (tmp_path / "m.json").write_text(json.dumps({"format": "srb-content", "version": 1,
                                                 "config": {**TINY.model_dump(), "channels": 32}}))
    with pytest.raises(ModelError, match="do not match"):
        ContentEncoder.load(tmp_path / "m")
    (tmp_path / "m.safetensors").write_bytes(b"not safetensors")
    (tmp_path / "m.json").write_text(json.dumps({"format": "srb-content", "version": 1, "config": TINY.model_dump()}))
    with pytest.raises(ModelError):
        ContentEncoder.load(tmp_path / "m")
    with pytest.raises(ModelError):
        ContentEncoder.from_config({"unit_hop": 300})
    with pytest.raises(ModelError):
        ContentEncoder.from_config({"no_such_field": 1})


def test_bad_audio():
    model = ContentEncoder.from_config(TINY)
    with pytest.raises(AudioError):
        model(torch.zeros(2, 0))
    with pytest.raises(AudioError):
        model(torch.zeros(100))


def test_corpus_batches_are_aligned():
    corpus = tone_corpus(num=2)
    wav, tgt = corpus.batch(np.random.default_rng(0), 4, 150, gain_db=0.0)
    assert wav.shape == (4, 150 * 320) and tgt.shape == (4, 150)
    assert (tgt[:, :100] >= 0).all() and (tgt[:, 100:] == -100).all()  # 2 s utterances, 3 s crops
    with pytest.raises(ValueError):
        UnitCorpus([np.zeros(640, np.int16)], [np.zeros(3)])


def test_training_reduces_loss(tmp_path):
    corpus = tone_corpus()
    model = ContentEncoder.from_config(TINY)
    cfg = TrainConfig(steps=24, batch_size=4, crop_frames=20, lr=1e-2, warmup=4, log_every=4, ckpt_every=100)
    train(model, corpus, cfg, tmp_path, torch.device("cpu"))
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in log if "loss" in r]
    assert len(losses) == 6 and losses[-1] < 0.5 * losses[0]
    ev = evaluate(model, tone_corpus(num=2, seed=1), torch.device("cpu"))
    assert ev["acc"] > 0.6 and ev["run_len"] > 1.0


def test_resume_continues_at_the_same_step(tmp_path):
    corpus = tone_corpus()
    cfg = TrainConfig(steps=6, batch_size=2, crop_frames=20, warmup=2, log_every=1, ckpt_every=2)

    torch.manual_seed(1)
    straight = ContentEncoder.from_config(TINY)
    train(straight, corpus, cfg, tmp_path / "a", torch.device("cpu"))

    torch.manual_seed(1)
    first = ContentEncoder.from_config(TINY)
    r = train(first, corpus, cfg, tmp_path / "b", torch.device("cpu"), stop_after=3)  # "killed" after step 3
    assert r["step"] == 3 and not r["finished"]
    torch.manual_seed(123)  # a new process: different initialisation, all of it replaced by the checkpoint
    resumed = ContentEncoder.from_config(TINY)
    r = train(resumed, corpus, cfg, tmp_path / "b", torch.device("cpu"))
    assert r["step"] == 6 and r["finished"]

    for (name, p), q in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(p, q), name
    log = [json.loads(line) for line in (tmp_path / "b/log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if r.get("event") == "resume"] == [3]
    steps = [r["step"] for r in log if "loss" in r]
    assert steps == [1, 2, 3, 4, 5, 6]
    loss_a = [json.loads(line)["loss"] for line in (tmp_path / "a/log.jsonl").read_text().splitlines()
              if "loss" in json.loads(line)]
    assert loss_a == [r["loss"] for r in log if "loss" in r]


def one_hot_soft(corpus: UnitCorpus, k: int = len(TONES), smooth: float = 0.2) -> list[np.ndarray]:
    """Soft targets that put ``1 - smooth`` on the true unit and spread the rest evenly."""
    return [(np.eye(k)[u] * (1 - smooth) + smooth / k).astype(np.float16) for u in corpus.units]


def test_soft_targets_batch_with_their_units():
    corpus = tone_corpus()
    corpus.soft = one_hot_soft(corpus)
    wav, tgt, soft = corpus.batch(np.random.default_rng(0), 3, 150, with_soft=True)  # longer than 100 frames: padded
    assert soft.shape == (3, len(TONES), 150)
    real = tgt != -100
    assert torch.equal(soft.argmax(1)[real], tgt[real])
    assert torch.all(soft.sum(1)[real] > 0.99) and torch.all(soft.sum(1)[~real] == 0)
    with pytest.raises(ValueError, match="one row per unit frame"):
        UnitCorpus(corpus.audio, corpus.units, [s[:-1] for s in corpus.soft])


def test_soft_training_learns_and_needs_soft_targets(tmp_path):
    corpus = tone_corpus()
    cfg = TrainConfig(steps=24, batch_size=4, crop_frames=20, lr=1e-2, warmup=4, log_every=4, soft_weight=0.5)
    with pytest.raises(ValueError, match="soft targets"):
        train(ContentEncoder.from_config(TINY), corpus, cfg, tmp_path / "no-soft", torch.device("cpu"))
    corpus.soft = one_hot_soft(corpus)
    model = ContentEncoder.from_config(TINY)
    train(model, corpus, cfg, tmp_path / "soft", torch.device("cpu"))
    assert evaluate(model, tone_corpus(num=2, seed=1), torch.device("cpu"))["acc"] > 0.6


def test_soft_units_are_the_teacher_kmeans_posteriors(tmp_path):
    from codec.train.content import soft_units

    gen = np.random.default_rng(0)
    centroids = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]], np.float32)
    units = gen.integers(0, 3, size=50)
    feats = (centroids[units] + gen.normal(0, 1, (50, 2))).astype(np.float16)
    pos = np.arange(50, dtype=np.int16)
    np.save(tmp_path / "train_feats.npy", feats)
    np.save(tmp_path / "train_pos.npy", pos)
    np.save(tmp_path / "position_mean.npy", np.zeros((1500, 2), np.float32))  # features taken as they are
    soft = soft_units(tmp_path, "train", centroids, temperature=10.0, offsets=np.array([0, 20, 50]), chunk=16)
    assert [s.shape for s in soft] == [(20, 3), (30, 3)]
    p = np.concatenate(soft).astype(np.float64)
    np.testing.assert_allclose(p.sum(1), 1, atol=2e-3)
    d = ((feats.astype(np.float32)[:, None] - centroids[None]) ** 2).sum(-1)
    assert np.array_equal(p.argmax(1), d.argmin(1))
    expect = np.exp(-(d - d.min(1, keepdims=True)) / 10.0)
    np.testing.assert_allclose(p, expect / expect.sum(1, keepdims=True), atol=2e-3)


def test_init_from_another_run_starts_from_its_weights(tmp_path):
    corpus = tone_corpus()
    cfg = TrainConfig(steps=4, batch_size=2, crop_frames=20, warmup=2, log_every=1)
    first = ContentEncoder.from_config(TINY)
    train(first, corpus, cfg, tmp_path / "a", torch.device("cpu"))
    second = ContentEncoder.from_config(TINY)
    train(second, corpus, cfg.model_copy(update=dict(lr=0.0)), tmp_path / "b", torch.device("cpu"),
          init_from=tmp_path / "a" / "checkpoint.pt")  # lr 0: the weights stay the first run's
    for (name, p), q in zip(first.state_dict().items(), second.state_dict().values()):
        assert torch.equal(p, q), name
    log = (tmp_path / "b" / "log.jsonl").read_text()
    assert '"init_from"' in log
