"""A bundle's encoders for band-limited input (codec.narrowband) and how the encoder picks them."""

import copy
import json
import shutil

import numpy as np
import pytest
import soundfile as sf
import torch
from safetensors.torch import save_file

from bitstream import read_srb
from codec.api import Codec
from codec.bundle import load_bundle
from codec.bundle_id import model_id_of
from codec.cli import main
from codec.bundle import stored_state
from codec.content import ContentConfig, ContentEncoder
from codec.errors import ModelError
from codec.narrowband import CONTENT_WEIGHTS, FILES, SPEAKER_WEIGHTS, NarrowbandConfig, NarrowbandEncoders
from codec.train.noise import band_limit
from tests.codec.test_bandwidth import noisy_speechlike
from tests.codec.tiny_bundle import make_tiny_bundle

pytestmark = pytest.mark.usefixtures("one_thread")


def narrow_pair(folder, seed: int = 1) -> NarrowbandEncoders:
    """Other random weights of the tiny bundle's encoders, its speaker codebooks and table kept."""
    _, modules, _, _ = load_bundle(folder)
    torch.manual_seed(seed)
    content = ContentEncoder.from_config(modules["content"].config)
    speaker = copy.deepcopy(modules["speaker"])
    with torch.no_grad():
        for p in speaker.proj.parameters():
            p.add_(torch.randn_like(p))
    return NarrowbandEncoders(NarrowbandConfig(), content, speaker)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    wide = tmp_path_factory.mktemp("wide")
    make_tiny_bundle(wide)
    both = tmp_path_factory.mktemp("both") / "b"
    shutil.copytree(wide, both)
    narrow_pair(wide).save(both)
    return wide, both


@pytest.fixture(scope="module")
def codec(folders):
    return Codec.from_pretrained(folders[1])


def telephone(seconds=3.0):
    return band_limit(noisy_speechlike(seconds), 8000)


def test_outside_the_model_id_and_loaded(folders, codec):
    wide, both = folders
    assert model_id_of(both) == model_id_of(wide) == codec.model_id
    assert codec.narrowband is not None and Codec.from_pretrained(wide).narrowband is None
    assert Codec.from_pretrained(both, narrowband=False).narrowband is None
    pair = codec.narrowband
    assert torch.equal(pair.speaker.codebooks, codec.speaker.codebooks)
    assert any(not torch.equal(a, b) for a, b in zip(pair.content.parameters(), codec.content.parameters()))


@pytest.mark.parametrize("high_db, applies", [
    pytest.param(-60.0, True, id="telephone"),
    pytest.param(-40.0, False, id="rolled-off-recording"),
    pytest.param(0.0, False, id="nothing-measured"),
])
def test_the_rule(high_db, applies):
    assert NarrowbandConfig().picks(high_db) == applies


def test_wideband_input_keeps_its_bytes(folders, codec):
    x = noisy_speechlike()
    plain = Codec.from_pretrained(folders[0])
    assert codec.encode(x, 16000) == plain.encode(x, 16000) == codec.encode(x, 16000, narrowband=False)


def test_band_limited_input_is_analysed_by_the_narrowband_pair(folders, codec):
    x = telephone()
    auto = codec.encode(x, 16000)
    assert auto == codec.encode(x, 16000, narrowband=True)
    wide = codec.encode(x, 16000, narrowband=False)
    assert auto != wide
    assert wide == Codec.from_pretrained(folders[0]).encode(x, 16000)
    a, b = read_srb(auto, codec.tables), read_srb(wide, codec.tables)
    assert not np.array_equal(a.units, b.units) or a.speaker != b.speaker
    assert codec.decode(auto)[0].shape == codec.decode(wide)[0].shape  # both decode alike


def test_a_file_sampled_at_8_khz_is_narrowband(codec, tmp_path):
    """Telephone audio as it is often stored: 8 kHz samples, resampled up by the encoder."""
    import torchaudio

    x8 = torchaudio.functional.resample(torch.from_numpy(noisy_speechlike()), 16000, 8000).numpy()
    path = tmp_path / "phone.wav"
    sf.write(path, x8, 8000, subtype="FLOAT")
    assert codec.encode(path) == codec.encode(path, narrowband=True) != codec.encode(path, narrowband=False)
    streamed, whole = (read_srb(b, codec.tables) for b in (codec.encode_stream(path), codec.encode(path)))
    assert streamed.speaker == whole.speaker and np.mean(streamed.units == whole.units) > 0.95  # resampled by block


def test_the_block_encoder_picks_the_same_pair(codec, tmp_path):
    """Units and speaker code as the whole-file encoder's (the F0 track may differ by block: the
    pitch statistics of this synthetic telephone input do, by one step, with either pair)."""
    for name, x in (("wide", noisy_speechlike()), ("telephone", telephone())):
        path = tmp_path / f"{name}.wav"
        sf.write(path, x, 16000, subtype="FLOAT")
        for narrowband in (None, not name == "wide"):
            a = read_srb(codec.encode_stream(path, envelope=False, narrowband=narrowband), codec.tables)
            b = read_srb(codec.encode(path, envelope=False, narrowband=narrowband), codec.tables)
            assert np.array_equal(a.units, b.units) and a.speaker == b.speaker, name
        wide = read_srb(codec.encode_stream(path, envelope=False, narrowband=False), codec.tables)
        assert (a.speaker == wide.speaker) == (name == "wide")


def test_asking_for_a_pair_the_model_lacks(folders):
    with pytest.raises(ModelError, match="no narrowband encoders"):
        Codec.from_pretrained(folders[0]).encode(telephone(), 16000, narrowband=True)


@pytest.mark.parametrize("damage, match", [
    pytest.param(lambda f: (f / SPEAKER_WEIGHTS).unlink(), "without narrowband_speaker", id="missing-file"),
    pytest.param(lambda f: (f / "narrowband.json").write_text('{"below_hz": "high"}'), "invalid", id="bad-config"),
    pytest.param(lambda f: (f / CONTENT_WEIGHTS).write_bytes(b"not safetensors"), "cannot load", id="bad-weights"),
    pytest.param(lambda f: save_file(stored_state(ContentEncoder(ContentConfig(channels=8, layers=1, num_units=7))
                                                  .state_dict()), str(f / CONTENT_WEIGHTS)),
                 "cannot load", id="another-configuration"),
])
def test_damaged_pairs_are_refused(folders, tmp_path, damage, match):
    folder = tmp_path / "b"
    shutil.copytree(folders[1], folder)
    damage(folder)
    with pytest.raises(ModelError, match=match):
        Codec.from_pretrained(folder)


def test_a_speaker_file_may_not_bring_its_own_codebooks(folders, tmp_path):
    folder = tmp_path / "b"
    shutil.copytree(folders[1], folder)
    pair = Codec.from_pretrained(folder).narrowband
    save_file({k: v.contiguous() for k, v in pair.speaker.state_dict().items()}, str(folder / SPEAKER_WEIGHTS))
    with pytest.raises(ModelError, match="codebooks"):
        Codec.from_pretrained(folder)


def test_cli_input_band(folders, tmp_path):
    path = tmp_path / "t.wav"
    sf.write(path, telephone(), 16000, subtype="FLOAT")
    codec = Codec.from_pretrained(folders[1])
    for band, narrowband in (("auto", None), ("narrow", True), ("wide", False)):
        out = tmp_path / f"{band}.srb"
        assert main(["encode", str(path), "-o", str(out), "--model", str(folders[1]), "--input-band", band]) == 0
        assert out.read_bytes() == codec.encode(path, narrowband=narrowband), band
    assert main(["encode", str(path), "-o", str(tmp_path / "x.srb"), "--model", str(folders[0]),
                 "--input-band", "narrow"]) == 1


def test_train_narrowband_adds_the_pair_and_keeps_the_id(folders, tmp_path):
    wide = folders[0]
    pair = narrow_pair(wide, seed=2)
    pair.content.save(tmp_path / "content")
    save_file({k: v.contiguous() for k, v in pair.speaker.state_dict().items()}, str(tmp_path / "speaker.safetensors"))
    out = tmp_path / "out"
    main(["train", "narrowband", "--bundle", str(wide), "--out", str(out), "--content", str(tmp_path / "content"),
          "--speaker", str(tmp_path / "speaker"), "--high-below-db", "-45", "--card", '{"note": "test"}'])
    assert model_id_of(out) == model_id_of(wide) and all((out / f).is_file() for f in FILES)
    assert json.loads((out / "narrowband.json").read_text()) == {"high_below_db": -45.0, "card": {"note": "test"}}
    loaded = Codec.from_pretrained(out).narrowband
    assert torch.allclose(loaded.speaker.proj.weight, pair.speaker.proj.weight.half().float())
    with torch.no_grad():
        pair.speaker.codebooks.add_(1.0)
    save_file({k: v.contiguous() for k, v in pair.speaker.state_dict().items()}, str(tmp_path / "speaker.safetensors"))
    with pytest.raises(SystemExit):
        main(["train", "narrowband", "--bundle", str(wide), "--out", str(tmp_path / "out2"),
              "--content", str(tmp_path / "content"), "--speaker", str(tmp_path / "speaker")])
