import json

import numpy as np
import pytest
import torch

from codec.content import ContentConfig, ContentEncoder
from codec.errors import AudioError, ModelError
from codec.train.content import TrainConfig, UnitCorpus, evaluate, train

TINY = ContentConfig(n_mels=20, channels=16, layers=2, kernel_size=3, expansion=2, num_units=4)
TONES = (250.0, 700.0, 1500.0, 3500.0)  # one pure tone per unit


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


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
