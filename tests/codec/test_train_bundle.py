"""The training pipeline's last steps on tiny models: units -> bundle -> Codec that encodes and decodes."""

import dataclasses
import json

import numpy as np
import pytest
import soundfile as sf

from bitstream import SrbModelMismatchError, read_srb
from codec.api import Codec
from codec.content import ContentConfig, ContentEncoder
from codec.f0vq import F0VQConfig, F0VQVAE
from codec.train import bundle as bundle_cli
from codec.train import units as units_cli
from codec.train.decoder import build_parser, train
from tests.codec.test_api import speechlike


def test_bundle_from_trained_parts(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    rows = ["path,seconds,speaker,gender,text,corpus,license,source"]
    for i in range(4):
        sf.write(data / f"u{i}.flac", speechlike(2.0, seed=i), 16000)
        rows.append(f"u{i}.flac,2.0,spk{i % 2},F,,synthetic,,")
    (data / "manifest.csv").write_text("\n".join(rows) + "\n")

    content = ContentEncoder(ContentConfig(channels=16, layers=1, num_units=6))
    content.save(tmp_path / "content")
    f0vq = F0VQVAE(F0VQConfig(codebook_size=4, hidden=8, code_dim=4))
    f0vq.save(tmp_path / "f0vq")
    units_cli.main(["--content", str(tmp_path / "content"), "--data", str(data), "--out", str(tmp_path / "units.npz")])
    with np.load(tmp_path / "units.npz") as z:
        assert z["units"].size == 4 * 100 and list(z["speaker_names"]) == ["spk0", "spk1"]
    nf = f0vq.config.num_codes
    np.savez(tmp_path / "f0.npz", f0=np.arange(4 * 25, dtype=np.int32) % nf, f0_offsets=np.arange(0, 101, 25))

    dec = json.dumps(dict(num_units=6, num_f0=nf, speaker_dim=8, embed_dim=8, channels=16, intermediate=32, layers=1))
    spk = json.dumps(dict(channels=8, layers=1, dim=8, groups=2, codebook_size=2))
    train(build_parser().parse_args([
        "--streams", str(tmp_path / "units.npz"), "--f0-codes", str(tmp_path / "f0.npz"), "--data", str(data),
        "--out", str(tmp_path / "run"), "--decoder-config", dec, "--speaker-config", spk, "--steps", "2",
        "--batch", "2", "--f0-frames", "4", "--ref-seconds", "0.5", "--device", "cpu",
    ]))
    bundle_cli.main([
        "--content", str(tmp_path / "content"), "--f0vq", str(tmp_path / "f0vq"),
        "--decoder-run", str(tmp_path / "run"), "--units", str(tmp_path / "units.npz"),
        "--f0-codes", str(tmp_path / "f0.npz"), "--data", str(data), "--out", str(tmp_path / "bundle"),
    ])
    codec = Codec.from_pretrained(tmp_path / "bundle")
    assert codec.speaker.table.shape == (2, 8)
    data_srb = codec.encode(speechlike(1.0, seed=9), 16000, speaker_id=1)
    assert read_srb(data_srb, codec.tables).speaker.indices.tolist() == [1]
    wav, sr = codec.decode(data_srb)
    assert wav.shape == (16000,) and np.isfinite(wav).all()

    # --reuse: a new decoder in an existing bundle; everything that codes stays byte-identical,
    # and the decoder-side finishing (render.json) carries over
    (tmp_path / "bundle" / "render.json").write_text('{"postfilter": {"strength": 2.0}}')
    bundle_cli.main(["--decoder-run", str(tmp_path / "run"), "--reuse", str(tmp_path / "bundle"),
                     "--out", str(tmp_path / "swapped"), "--name", "swapped"])
    swapped = Codec.from_pretrained(tmp_path / "swapped")
    assert swapped.postfilter is not None and swapped.postfilter.config.strength == 2.0
    for name in ("content", "f0vq", "speaker"):
        assert (tmp_path / "bundle" / f"{name}.safetensors").read_bytes() == \
            (tmp_path / "swapped" / f"{name}.safetensors").read_bytes()
    assert swapped.tables.tables_id == codec.tables.tables_id and swapped.model_id != codec.model_id
    assert swapped.config.card["decoder_from"].startswith("srb-default")
    a = read_srb(codec.encode(speechlike(1.0, seed=3), 16000), codec.tables)
    b = read_srb(swapped.encode(speechlike(1.0, seed=3), 16000), swapped.tables)
    assert a.units.tolist() == b.units.tolist() and a.f0.tolist() == b.f0.tolist() and a.speaker == b.speaker
    # ... so the new bundle decodes the old one's files, not the other way round
    assert swapped.config.decodes == [f"{codec.model_id:08x}"]
    old_file = codec.encode(speechlike(1.0, seed=3), 16000)
    assert swapped.decode(old_file)[0].shape == (16000,)
    with pytest.raises(SrbModelMismatchError, match=f"this is {codec.model_id:08x}$"):
        codec.decode(swapped.encode(speechlike(1.0, seed=3), 16000))
    # a second swap keeps the chain: it decodes both earlier models' files
    bundle_cli.main(["--decoder-run", str(tmp_path / "run"), "--reuse", str(tmp_path / "swapped"),
                     "--out", str(tmp_path / "twice"), "--name", "twice"])
    twice = Codec.from_pretrained(tmp_path / "twice")
    assert twice.config.decodes == [f"{swapped.model_id:08x}", f"{codec.model_id:08x}"]
    assert np.array_equal(twice.decode(old_file)[0], swapped.decode(old_file)[0])  # same decoder weights
    other = dataclasses.replace(twice.encode_streams(speechlike(1.0, seed=3), 16000), model_id=0x12345678)
    with pytest.raises(SrbModelMismatchError, match=f"and files of {swapped.model_id:08x}, {codec.model_id:08x}"):
        twice.decode_streams(other)  # an unrelated model's streams: refused, naming what this one decodes
    # --blend: halfway between the bundle's decoder and the run's, still decoding the bundle's files
    bundle_cli.main(["--decoder-run", str(tmp_path / "run"), "--reuse", str(tmp_path / "bundle"),
                     "--out", str(tmp_path / "blend"), "--name", "blend", "--blend", "0.5"])
    blend = Codec.from_pretrained(tmp_path / "blend")
    assert blend.config.card["decoder_blend"].startswith("0.5 x srb-default")
    assert blend.config.decodes == [f"{codec.model_id:08x}"] and blend.decode(old_file)[0].shape == (16000,)
    import torch

    run_dec = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["modules"]["decoder"]
    mine, theirs = blend.decoder.state_dict(), codec.decoder.state_dict()
    assert all(torch.allclose(mine[k], (theirs[k] + run_dec[k]) / 2, atol=2e-3) for k in mine)  # float16 storage


def test_blend_decoders_interpolates_every_float_tensor():
    import torch

    from codec.decoder import Decoder, DecoderConfig
    from codec.train.bundle import blend_decoders

    cfg = DecoderConfig(num_units=6, num_f0=4, speaker_dim=8, embed_dim=8, channels=16, intermediate=32, layers=1)
    torch.manual_seed(0)
    old, new = Decoder(cfg), Decoder(cfg)
    mixed = blend_decoders(old, new, 0.25).state_dict()
    a, b = old.state_dict(), new.state_dict()
    assert any(not torch.equal(a[k], b[k]) for k in a)  # two different decoders
    for k in a:
        assert torch.allclose(mixed[k], 0.75 * a[k] + 0.25 * b[k], atol=1e-6), k
    assert all(torch.equal(blend_decoders(old, new, 1.0).state_dict()[k], b[k]) for k in b)
    other = Decoder(cfg.model_copy(update={"channels": 8}))
    with pytest.raises(SystemExit, match="same configuration"):
        blend_decoders(old, other, 0.5)


@pytest.mark.parametrize("extra", [
    pytest.param(["--blend", "0.5"], id="without-reuse"),
    pytest.param(["--blend", "0", "--reuse", "x"], id="zero"),
    pytest.param(["--blend", "1.5", "--reuse", "x"], id="above-one"),
])
def test_blend_needs_reuse_and_a_fraction(tmp_path, extra):
    run = tmp_path / "run"
    run.mkdir()
    from codec.decoder import Decoder, DecoderConfig

    cfg = DecoderConfig(num_units=6, num_f0=4, speaker_dim=8, embed_dim=8, channels=16, intermediate=32, layers=1)
    import torch

    torch.save({"modules": {"decoder": Decoder(cfg).state_dict()}, "step": 1}, run / "checkpoint.pt")
    (run / "config.json").write_text(json.dumps({"decoder": cfg.model_dump()}))
    with pytest.raises(SystemExit, match="--blend needs --reuse"):
        bundle_cli.main(["--decoder-run", str(run), "--out", str(tmp_path / "out"), *extra])


def test_reuse_with_a_new_content_encoder_keeps_everything_that_decodes(tmp_path):
    import torch

    from tests.codec.tiny_bundle import make_tiny_bundle

    make_tiny_bundle(tmp_path / "bundle")
    (tmp_path / "bundle" / "render.json").write_text('{"postfilter": {"strength": 2.0}}')
    old = Codec.from_pretrained(tmp_path / "bundle")
    new_content = ContentEncoder(old.content.config)
    new_content.load_state_dict(old.content.state_dict())
    with torch.no_grad():
        new_content.head.bias.add_(torch.linspace(-3, 3, old.content.config.num_units))  # other units
    new_content.save(tmp_path / "content")
    bundle_cli.main(["--reuse", str(tmp_path / "bundle"), "--content", str(tmp_path / "content"),
                     "--out", str(tmp_path / "swapped"), "--name", "robust", "--card", '{"content": "noise"}'])
    swapped = Codec.from_pretrained(tmp_path / "swapped")
    for name in ("decoder.safetensors", "f0vq.safetensors", "speaker.safetensors", "tables.npz", "render.json"):
        assert (tmp_path / "bundle" / name).read_bytes() == (tmp_path / "swapped" / name).read_bytes()
    assert swapped.config.card["content"] == "noise" and swapped.config.card["content_from"].startswith("tiny-test")
    assert swapped.config.decodes == [f"{old.model_id:08x}"] and swapped.model_id != old.model_id
    audio = speechlike(1.0, seed=3)
    assert read_srb(old.encode(audio, 16000), old.tables).units.tolist() != \
        read_srb(swapped.encode(audio, 16000), swapped.tables).units.tolist()
    old_file = old.encode(audio, 16000)
    assert np.array_equal(swapped.decode(old_file)[0], old.decode(old_file)[0])  # same decoder, same audio
    other = ContentEncoder(old.content.config.model_copy(update={"channels": 8}))
    other.save(tmp_path / "other")
    with pytest.raises(SystemExit, match="configuration of the reused"):
        bundle_cli.main(["--reuse", str(tmp_path / "bundle"), "--content", str(tmp_path / "other"),
                         "--out", str(tmp_path / "x")])
    with pytest.raises(SystemExit, match="give --decoder-run"):
        bundle_cli.main(["--reuse", str(tmp_path / "bundle"), "--out", str(tmp_path / "y")])


def test_reuse_of_a_bundle_with_an_envelope_layer_still_decodes_its_files(tmp_path):
    """The new model keeps the reused one's layer as an earlier layer, so the files it lists under
    ``decodes`` decode as they did."""
    import json

    import torch

    from tests.codec.tiny_bundle import make_tiny_bundle

    make_tiny_bundle(tmp_path / "bundle", envelope=True)
    old = Codec.from_pretrained(tmp_path / "bundle")
    new_content = ContentEncoder(old.content.config)
    new_content.load_state_dict(old.content.state_dict())
    with torch.no_grad():
        new_content.head.bias.add_(torch.linspace(-3, 3, old.content.config.num_units))
    new_content.save(tmp_path / "content")
    bundle_cli.main(["--reuse", str(tmp_path / "bundle"), "--content", str(tmp_path / "content"),
                     "--out", str(tmp_path / "swapped")])
    entries = json.loads((tmp_path / "swapped" / "bundle.json").read_text())["envelope_earlier"]
    assert [e["model"] for e in entries] == [f"{old.model_id:08x}"]
    swapped = Codec.from_pretrained(tmp_path / "swapped")
    audio = speechlike(1.5, seed=4)
    old_file = old.encode(audio, 16000)
    assert read_srb(old_file, old.tables).envelope is not None
    assert np.array_equal(swapped.decode(old_file)[0], old.decode(old_file)[0])
    again = tmp_path / "again"  # and once more: the chain keeps every layer
    bundle_cli.main(["--reuse", str(tmp_path / "swapped"), "--content", str(tmp_path / "content"), "--out", str(again)])
    assert np.array_equal(Codec.from_pretrained(again).decode(old_file)[0], old.decode(old_file)[0])
