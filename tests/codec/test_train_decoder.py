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


def test_shards_round_trip_and_continue_elsewhere(tmp_path):
    """A run's weights leave a GPU machine as <=16 MiB shards and start a new run (fresh optimisers)."""
    from codec.train.checkpoint import join_shards, split_file, weights_only

    corpus = make_corpus(tmp_path)
    train(args_for(corpus, tmp_path / "gpu", 5))
    light = weights_only(tmp_path / "gpu" / "checkpoint.pt", tmp_path / "light.pt")
    state = torch.load(light, weights_only=True)
    assert state["optimizers"] == {} and state["step"] == 5
    index = split_file(light, tmp_path / "shards", max_bytes=4096)
    parts = json.loads(index.read_text())["parts"]
    assert len(parts) > 1 and all((tmp_path / "shards" / p).stat().st_size <= 4096 for p in parts)
    joined = join_shards(index, tmp_path / "joined.pt")
    assert joined.read_bytes() == light.read_bytes()
    args = args_for(corpus, tmp_path / "cpu", 2)
    args.init_from = str(joined)
    train(args)  # copies every matching tensor, then trains
    # a damaged shard is refused, not silently loaded
    (tmp_path / "shards" / parts[0]).write_bytes(b"x" * 10)
    import pytest

    with pytest.raises(ValueError, match="do not match"):
        join_shards(index, tmp_path / "bad.pt")


def test_reads_an_opus_pack(tmp_path):
    """--audio-ext ogg: the corpus re-coded to Ogg/Opus (codec.train.pack) trains like the FLAC one."""
    from codec.train.decoder import read_all

    corpus = make_corpus(tmp_path, n=2)
    for i in range(2):
        wav, sr = sf.read(corpus / f"u{i}.flac", dtype="float32")
        sf.write(corpus / f"u{i}.ogg", wav, sr, format="OGG", subtype="OPUS")
    flac = read_all([corpus / "u0.flac", corpus / "u1.flac"])
    opus = read_all([corpus / "u0.flac", corpus / "u1.flac"], ext="ogg", workers=2)
    for a, b in zip(flac, opus):
        assert a.dtype == b.dtype == np.int16 and len(a) == len(b)
        snr = 10 * np.log10(np.sum(a.astype(float) ** 2) / np.sum((a.astype(float) - b) ** 2))
        assert snr > 5  # lossy but the same signal (a wrong file or offset gives < 0 dB)
    args = args_for(corpus, tmp_path / "run", 2)
    args.audio_ext = "ogg"
    assert len(train(args)) == 2


def test_pitch_stats_fine_tune_trains_only_the_projection(tmp_path):
    """--f0-hz feeds each utterance's pitch statistics; --train-only keeps the rest of a trained decoder."""
    import pytest

    corpus = make_corpus(tmp_path)
    train(args_for(corpus, tmp_path / "base", 3))
    tracks = [np.full(200, 120.0 + 40 * i, np.float32) for i in range(3)]
    np.savez(corpus / "f0.npz", f0=np.concatenate(tracks), offsets=np.arange(0, 601, 200),
             num_samples=np.full(3, 32000), speaker=np.arange(3), speaker_names=np.array(["a", "b", "c"]),
             paths=np.array([f"u{i}.flac" for i in range(3)]))
    args = args_for(corpus, tmp_path / "stats", 4)
    args.decoder_config = json.dumps({**json.loads(TINY_DEC), "pitch_stats": True})
    with pytest.raises(SystemExit, match="--f0-hz"):
        train(args)
    args.f0_hz = str(corpus / "f0.npz")
    args.init_from = str(tmp_path / "base" / "checkpoint.pt")
    args.train_only = "decoder.pitch_proj"
    train(args)
    before = torch.load(tmp_path / "base" / "checkpoint.pt", weights_only=True)["modules"]["decoder"]
    after = torch.load(tmp_path / "stats" / "checkpoint.pt", weights_only=True)["modules"]["decoder"]
    assert all(torch.equal(before[k], after[k]) for k in before)  # frozen
    assert after["pitch_proj.net.2.weight"].abs().sum() > 0  # learned from zero


def test_utterance_pitch_stats_are_the_transmitted_values(tmp_path):
    from codec.pitch import normalise, stats_code, stats_from_code
    from codec.train.decoder import utterance_pitch_stats

    track = np.r_[np.zeros(10), np.linspace(100, 180, 90)].astype(np.float32)
    np.savez(tmp_path / "f0.npz", f0=np.r_[track, np.zeros(5, np.float32)], offsets=np.array([0, 100, 105]),
             num_samples=np.array([16000, 800]), speaker=np.zeros(2, np.int32), speaker_names=np.array(["s"]),
             paths=np.array(["a.flac", "b.flac"]))
    out = utterance_pitch_stats(tmp_path / "f0.npz", ["b.flac", "a.flac"])
    sent = stats_from_code(*stats_code(normalise(track)[2]))
    assert out.dtype == np.float32 and np.allclose(out[1], (sent.mean, sent.std))
    from codec.decoder import PITCH_STATS_CENTER

    assert np.allclose(out[0], PITCH_STATS_CENTER)  # nothing voiced: the typical values


def test_pack_carries_the_f0_tracks(tmp_path):
    from codec.train import pack

    corpus = make_corpus(tmp_path, n=2)
    (corpus / "manifest.csv").write_text("path,seconds\nu0.flac,2.0\nu1.flac,2.0\n")
    np.savez(corpus / "f0.npz", f0=np.ones(400, np.float32), offsets=np.array([0, 200, 400]),
             paths=np.array(["u0.flac", "u1.flac"]))
    pack.main(["--data", str(corpus), "--streams", str(corpus / "streams.npz"), "--f0-codes", str(corpus / "streams.npz"),
               "--f0-hz", str(corpus / "f0.npz"), "--out", str(tmp_path / "pack"), "--workers", "1"])
    assert sorted(p.name for p in (tmp_path / "pack").glob("*.npz")) == ["f0codes.npz", "f0hz.npz", "streams.npz"]
    with np.load(tmp_path / "pack" / "f0hz.npz") as z:
        assert z["f0"].size == 400 and list(z["paths"]) == ["u0.flac", "u1.flac"]
    assert (tmp_path / "pack" / "audio" / "u1.ogg").is_file()


def test_harmonic_loss_sees_a_semitone_more_than_a_gain_change():
    from codec.train.decoder import HarmonicLoss

    t = torch.arange(32000) / 16000

    def tone(f0, gain=0.3):
        return gain * sum(torch.sin(2 * torch.pi * k * f0 * t) / k for k in range(1, 6))[None]

    loss = HarmonicLoss()
    ref = tone(150.0)
    assert loss(ref, ref) == 0
    assert loss(tone(150.0 * 2 ** (1 / 12)), ref) > 3 * loss(tone(150.0, 0.27), ref)


def test_content_loss_is_zero_on_the_original_and_trains_only_the_decoder():
    from codec.content import ContentConfig, ContentEncoder
    from codec.train.decoder import ContentLoss

    torch.manual_seed(0)
    enc = ContentEncoder.from_config(ContentConfig(n_mels=20, channels=16, layers=2, kernel_size=3, expansion=2,
                                                   num_units=4))
    loss = ContentLoss(enc)
    real = 0.1 * torch.randn(2, 6400)
    assert loss(real, real).abs() < 1e-6
    fake = (0.1 * torch.randn(2, 6400)).requires_grad_()
    value = loss(fake, real)
    assert value > 1e-4  # another signal: the encoder hears other units
    value.backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in enc.parameters())  # the judge stays frozen


def test_content_weight_trains_with_an_exported_encoder(tmp_path):
    from codec.content import ContentConfig, ContentEncoder

    corpus = make_corpus(tmp_path)
    enc = ContentEncoder.from_config(ContentConfig(n_mels=20, channels=16, layers=2, kernel_size=3, expansion=2,
                                                   num_units=5))
    enc.save(tmp_path / "content")
    args = args_for(corpus, tmp_path / "run", 6, gan_after=3)
    args.content_weight, args.content_from = 5.0, str(tmp_path / "content")
    history = train(args)
    assert len(history) == 6 and all(np.isfinite(h["mel"]) for h in history)
    logged = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert logged and all("content" in rec and np.isfinite(rec["content"]) for rec in logged)


def test_discriminator_warmup_moves_only_the_discriminators(tmp_path):
    corpus = make_corpus(tmp_path)
    train(args_for(corpus, tmp_path / "init", 1))  # a generator to start from
    init = torch.load(tmp_path / "init" / "checkpoint.pt", weights_only=True)["modules"]
    args = args_for(corpus, tmp_path / "run", 5, gan_after=0)
    args.init_from, args.d_warmup = str(tmp_path / "init" / "checkpoint.pt"), 5
    assert train(args) == []  # no generator step in the warm-up
    after = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert after["step"] == 5
    for k, v in init["decoder"].items():
        assert torch.equal(v, after["modules"]["decoder"][k])
    assert any(not torch.equal(v, after["modules"]["disc"][k]) for k, v in init["disc"].items())
    args.steps = 7  # then the generator trains as usual, resumed after the warm-up
    assert [h["step"] for h in train(args)] == [6, 7]
