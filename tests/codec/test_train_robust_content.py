"""``codec.train.robust_content``: noisy crops, the distillation objective, a tiny run end to end."""

import csv

import numpy as np
import pytest
import soundfile as sf
import torch

from codec.content import ContentConfig, ContentEncoder
from codec.train.content import IGNORE, UnitCorpus
from codec.train.robust_content import NoisyCrops, distillation, main
from tests.codec.test_api import speechlike
from tests.codec.tiny_bundle import make_tiny_bundle


def corpus(n=4):
    audio = [speechlike(seconds=1.0 + 0.2 * i, seed=i) for i in range(n)]
    return UnitCorpus(audio, [np.zeros(-(-len(a) // 320), np.int64) for a in audio])


def test_noisy_crops_leave_clean_share_alone_and_add_noise_otherwise():
    c = corpus()
    wav, _ = c.batch(np.random.default_rng(0), 6, 40)
    assert torch.equal(NoisyCrops(c, clean_share=1.0)(wav), wav)
    noisy = NoisyCrops(c, clean_share=0.0, snr_range=(10.0, 10.0))(wav)
    for clean, mixed in zip(wav.numpy(), noisy.numpy()):
        if np.any(clean):  # crops are never silent here
            assert not np.array_equal(clean, mixed)
    assert torch.equal(wav, c.batch(np.random.default_rng(0), 6, 40)[0])  # the input is not changed in place


def test_distillation_matches_a_copy_of_the_teacher_on_clean_crops():
    torch.manual_seed(0)
    teacher = ContentEncoder(ContentConfig(channels=16, layers=1, num_units=7)).eval()
    student = ContentEncoder(ContentConfig(channels=16, layers=1, num_units=7))
    student.load_state_dict(teacher.state_dict())
    wav = torch.from_numpy(np.stack([speechlike(seconds=0.8, seed=s) for s in range(2)]))
    tgt = torch.zeros(2, 40, dtype=torch.int64)
    tgt[1, 30:] = IGNORE
    loss, logits, scored = distillation(teacher, NoisyCrops(corpus(), clean_share=1.0))(student, wav, tgt)
    p = torch.softmax(teacher(wav), 1)
    entropy = -(p * torch.log(p)).sum(1)[tgt != IGNORE].mean()
    assert loss.item() == pytest.approx(entropy.item(), rel=1e-4)  # cross-entropy to itself = its entropy
    assert torch.equal(scored[0], p.argmax(1)[0]) and torch.all(scored[1, 30:] == IGNORE)
    loss.backward()
    assert student.head.weight.grad is not None and teacher.head.weight.grad is None


def write_split(folder, n, seed):
    folder.mkdir(parents=True)
    rows = []
    for i in range(n):
        sf.write(folder / f"{i}.wav", speechlike(seconds=1.2, seed=seed + i), 16000)
        rows.append({"path": f"{i}.wav", "speaker": f"s{i % 3}"})
    with open(folder / "manifest.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["path", "speaker"])
        w.writeheader()
        w.writerows(rows)


def test_a_tiny_run_trains_exports_and_evaluates(tmp_path, capsys):
    from codec.train.bundle_streams import main as bundle_streams

    make_tiny_bundle(tmp_path / "bundle")
    write_split(tmp_path / "data" / "train", 4, 0)
    write_split(tmp_path / "data" / "dev", 3, 10)
    streams = tmp_path / "streams.npz"
    bundle_streams(["--model", str(tmp_path / "bundle"), "--data", str(tmp_path / "data" / "train"),
                    "--out", str(streams)])
    args = ["--model", str(tmp_path / "bundle"), "--data", str(tmp_path / "data"), "--streams", str(streams),
            "--threads", "1", "--dev-every", "1"]
    main(args + ["--eval-only"])
    assert "clean      100.0 %" in capsys.readouterr().out  # the bundle's encoder agrees with itself
    main(args + ["--out", str(tmp_path / "run"), "--steps", "3", "--batch-size", "2", "--crop-frames", "20",
                 "--warmup", "1", "--log-every", "1", "--export", str(tmp_path / "student")])
    out = capsys.readouterr().out
    assert "dev units agreeing" in out and (tmp_path / "run" / "checkpoint.pt").is_file()
    student = ContentEncoder.load(tmp_path / "student")
    assert student.config.num_units == 7
    main(args + ["--eval-only", "--student", str(tmp_path / "student")])
    assert "babble/5" in capsys.readouterr().out


def test_noisy_crops_can_play_crops_in_a_room_first():
    c = corpus()
    wav, _ = c.batch(np.random.default_rng(0), 4, 40)
    roomy = NoisyCrops(c, clean_share=1.0, reverb_share=1.0)(wav)  # reverberation, no noise
    assert all(not np.array_equal(a, b) for a, b in zip(wav.numpy(), roomy.numpy()) if np.any(a))
    # without reverberation the random stream is the one v0.4 was trained with
    assert torch.equal(NoisyCrops(c, clean_share=0.5, reverb_share=0.0, seed=3)(wav),
                       NoisyCrops(c, clean_share=0.5, seed=3)(wav))


def test_noisy_crops_can_go_through_a_telephone_channel_last():
    from codec.train.noise import band_limit

    c = corpus()
    wav, _ = c.batch(np.random.default_rng(0), 4, 40)
    phone = NoisyCrops(c, clean_share=1.0, band_share=1.0, band_rates=(8000,))(wav)  # channel only
    for a, b in zip(wav.numpy(), phone.numpy()):
        assert np.allclose(b, band_limit(a, 8000))
    # without the channel the random stream is the one v0.5 was trained with
    assert torch.equal(NoisyCrops(c, clean_share=0.5, reverb_share=0.3, band_share=0.0, seed=3)(wav),
                       NoisyCrops(c, clean_share=0.5, reverb_share=0.3, seed=3)(wav))
