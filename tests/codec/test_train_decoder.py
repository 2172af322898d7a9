import json

import numpy as np
import soundfile as sf
import torch

from codec.train.decoder import build_parser, train

TINY_DEC = json.dumps(dict(num_units=5, num_f0=4, speaker_dim=8, embed_dim=8, channels=16, intermediate=32, layers=2))
TINY_SPK = json.dumps(dict(channels=8, layers=1, dim=8, groups=2, codebook_size=4))
TINY_DISC = json.dumps(dict(periods=[2], period_channels=[4, 8], resolutions=[[256, 64]], resolution_channels=4))


def make_corpus(tmp_path, n=3, seconds=2.0):
    sr, paths, units, f0 = 16000, [], [], []
    rng = np.random.default_rng(0)
    for i in range(n):
        t = np.arange(int(sr * seconds)) / sr
        pitch = 120 + 40 * i
        wav = sum(0.2 / k * np.sin(2 * np.pi * k * pitch * t) for k in range(1, 6))
        sf.write(tmp_path / f"u{i}.flac", wav.astype(np.float32), sr)
        paths.append(f"u{i}.flac")
        units.append(rng.integers(0, 5, size=-(-len(t) // 320)).astype(np.int32))
        f0.append(np.full(-(-len(t) // 1280), i, np.int32))
    offsets = lambda xs: np.cumsum([0] + [len(x) for x in xs]).astype(np.int64)  # noqa: E731
    np.savez(tmp_path / "streams.npz", units=np.concatenate(units), unit_offsets=offsets(units),
             f0=np.concatenate(f0), f0_offsets=offsets(f0), num_samples=np.full(n, int(sr * seconds)),
             speaker=np.arange(n, dtype=np.int32), paths=np.array(paths))
    return tmp_path


def args_for(tmp_path, out, steps, gan_after=1000):
    return build_parser().parse_args([
        "--streams", str(tmp_path / "streams.npz"), "--data", str(tmp_path), "--out", str(out),
        "--decoder-config", TINY_DEC, "--speaker-config", TINY_SPK, "--disc-config", TINY_DISC,
        "--steps", str(steps), "--batch", "2", "--f0-frames", "4", "--ref-seconds", "0.5", "--lr", "3e-3",
        "--gan-after", str(gan_after), "--log-every", "5", "--save-every", "5", "--device", "cpu",
    ])


def test_loss_goes_down(tmp_path):
    corpus = make_corpus(tmp_path)
    history = train(args_for(corpus, tmp_path / "run", 40))
    first = np.mean([h["mel"] for h in history[:5]])
    last = np.mean([h["mel"] for h in history[-5:]])
    assert last < 0.8 * first


def test_gan_phase_runs(tmp_path):
    corpus = make_corpus(tmp_path)
    history = train(args_for(corpus, tmp_path / "run", 4, gan_after=2))
    assert len(history) == 4 and all(np.isfinite(h["mel"]) for h in history)


def test_resume_continues_identically(tmp_path):
    corpus = make_corpus(tmp_path)
    straight = train(args_for(corpus, tmp_path / "a", 10, gan_after=5))
    train(args_for(corpus, tmp_path / "b", 5, gan_after=5))  # "killed" after 5 steps...
    resumed = train(args_for(corpus, tmp_path / "b", 10, gan_after=5))  # ...and started again
    assert [h["step"] for h in resumed] == list(range(6, 11))
    assert np.allclose([h["mel"] for h in resumed], [h["mel"] for h in straight[5:]], rtol=1e-4)
    a = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=True)["modules"]["decoder"]
    b = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)["modules"]["decoder"]
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)
