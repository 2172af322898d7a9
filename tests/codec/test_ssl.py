import csv
import json

import numpy as np
import pytest
import soundfile as sf
import torch

from codec.content import ContentEncoder
from codec.errors import AudioError, ModelError
from codec.ssl import SSLConfig, SSLEncoder, span_mask
from codec.train.content import TrainConfig, UnitCorpus, train
from codec.train.ssl import fit_targets, logmel_50hz, main, masked_objective, target_features
from codec.train.ssl_compare import nmi, purity
from tests.codec.test_content import TINY, tone_corpus

SMALL = SSLConfig(**TINY.model_dump(), feature_layer=1, num_codes=5)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("n", [1, 319, 320, 321, 16001])
def test_shapes(n):
    model = SSLEncoder.from_config(SMALL).eval()
    wav = torch.randn(2, n) * 0.1
    t = -(-n // 320)
    assert model(wav).shape == (2, SMALL.num_units, t)
    assert model.features(wav).shape == (2, t, SMALL.channels)
    layers = model.hidden(wav, all_layers=True)
    assert len(layers) == SMALL.layers + 1 and torch.equal(layers[SMALL.feature_layer], model.features(wav))
    assert logmel_50hz(model, wav[:1]).shape == (t, SMALL.n_mels)
    with pytest.raises(ModelError, match="centroids"):
        model.units(wav)  # k-means not fitted yet
    model.set_centroids(torch.randn(SMALL.num_codes, SMALL.channels))
    u = model.units(wav)
    assert u.shape == (2, t) and int(u.max()) < SMALL.num_codes


def test_mask_replaces_only_masked_frames_input():
    model = SSLEncoder.from_config(SMALL).eval()
    wav = torch.randn(1, 32000) * 0.1
    mask = torch.zeros(1, 100, dtype=torch.bool)
    mask[0, 40:46] = True
    with torch.no_grad():
        plain, masked = model.hidden(wav, 0), model.hidden(wav, 0, mask)
    assert torch.equal(plain[0, :40], masked[0, :40]) and torch.equal(plain[0, 46:], masked[0, 46:])
    assert torch.allclose(masked[0, 40:46], model.mask_emb.expand(6, -1))


def test_span_mask_fraction_and_spans():
    g = torch.Generator().manual_seed(0)
    m = span_mask(64, 500, 0.08, 6, generator=g)
    assert abs(m.float().mean().item() - (1 - 0.92 ** 6)) < 0.02
    # every masked run is at least one span long, except where it is cut by the crop's end
    row = m[0].tolist() + [False]
    runs, n = [], 0
    for v in row:
        if v:
            n += 1
        elif n:
            runs.append(n)
            n = 0
    assert min(runs[:-1] or [6]) >= 6


def test_masked_training_reduces_loss(tmp_path):
    """Tone segments are 5 frames long, masks 3: the tone under a mask is predictable from its edges."""
    corpus = tone_corpus()
    model = SSLEncoder.from_config(SMALL)
    cfg = TrainConfig(steps=60, batch_size=4, crop_frames=40, lr=1e-2, warmup=4, log_every=10, ckpt_every=100)
    torch.manual_seed(0)
    train(model, corpus, cfg, tmp_path, torch.device("cpu"), objective=masked_objective(0.1, 3))
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in log if "loss" in r]
    assert len(losses) == 6 and losses[-1] < 0.7 * losses[0] and losses[-1] < 0.7 * np.log(4)  # chance: log 4


def test_targets_and_round_trip(tmp_path):
    corpus = tone_corpus(num=3)
    model = SSLEncoder.from_config(SMALL).eval()
    feats = target_features(corpus.audio, model, None)
    assert [len(f) for f in feats] == [len(u) for u in corpus.units]
    cent, units = fit_targets(feats, 4, 10_000, 5, seed=0)
    # four pure tones: log-mel clusters recover them (up to relabelling), except near boundaries
    assert nmi(np.concatenate(units), np.concatenate(corpus.units)) > 0.7

    model.set_centroids(torch.randn(SMALL.num_codes, SMALL.channels))
    with torch.no_grad():
        model.mel_mean.fill_(-2.0)
    model.save(tmp_path / "ssl")
    back = SSLEncoder.load(tmp_path / "ssl.json")
    wav = torch.randn(1, 9000) * 0.1
    assert back.config == SMALL
    assert torch.equal(back.units(wav), model.units(wav)) and torch.equal(back(wav), model(wav))
    with pytest.raises(ModelError, match="srb-ssl"):  # a student file is not an SSL model, and back
        SSLEncoder.load(ContentEncoder.from_config(TINY).save(tmp_path / "student")[0])
    with pytest.raises(ModelError, match="srb-content"):
        ContentEncoder.load(tmp_path / "ssl")
    with pytest.raises(ModelError):
        SSLEncoder.from_config({**SMALL.model_dump(), "feature_layer": 9})
    with pytest.raises(AudioError):
        model(torch.zeros(1, 0))


def test_nmi_and_purity():
    a = np.array([0, 0, 1, 1, 2, 2])
    assert nmi(a, a) == pytest.approx(1.0) and purity(a, a) == 1.0
    assert nmi(a, 5 - a) == pytest.approx(1.0)  # relabelling does not matter
    b = np.array([0, 1, 0, 1, 0, 1])  # independent of a
    assert nmi(a, b) == pytest.approx(0.0, abs=1e-12) and purity(a, b) == 0.5


def test_main_end_to_end(tmp_path):
    """The command on a generated 'train' split: targets, training, unit k-means, saved model."""
    corpus = tone_corpus(num=3)
    (tmp_path / "train").mkdir()
    with open(tmp_path / "train" / "manifest.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "speaker"])
        for i, a in enumerate(corpus.audio):
            sf.write(tmp_path / "train" / f"{i}.wav", a, 16000, subtype="PCM_16")
            w.writerow([f"{i}.wav", "s"])
    out = tmp_path / "run"
    main(["--data", str(tmp_path), "--out", str(out), "--steps", "3", "--batch-size", "2", "--crop-frames", "20",
          "--channels", "16", "--layers", "2", "--target-k", "4", "--num-codes", "3",
          "--feature-layer", "1", "--kmeans-frames", "500", "--kmeans-iters", "2", "--log-every", "1"])
    model = SSLEncoder.load(out / "model")
    assert model.config.num_codes == 3 and bool(model.centroids.any())
    assert model.units(torch.randn(1, 3200) * 0.1).shape == (1, 10)


def test_cli_dispatch():
    from codec.cli import main as srb

    with pytest.raises(SystemExit) as exc:  # argparse of codec.train.ssl: --help exits 0
        srb(["train", "ssl", "--help"])
    assert exc.value.code == 0
