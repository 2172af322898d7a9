"""The band refiner (codec/refiner.py), how bundles carry it, and its trainer on a tiny run."""

import json
import shutil

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from codec.api import Codec
from codec.bundle import model_id_of
from codec.errors import ModelError
from codec.refiner import WEIGHTS_FILE, BandGainNet, BandRefiner, RefinerConfig
from tests.codec.test_api import speechlike
from tests.codec.test_train_robust_content import write_split
from tests.codec.tiny_bundle import make_tiny_bundle

SR = 16000
TINY = RefinerConfig(bands=8, mels=16, channels=8, dilations=(1, 2))


def trained_like(config: RefinerConfig = TINY, seed: int = 0) -> BandGainNet:
    """A network with random weights everywhere, its output layer included (a fresh one gives 0 dB)."""
    torch.manual_seed(seed)
    net = BandGainNet(config)
    torch.nn.init.normal_(net.out.weight, std=0.5)
    torch.nn.init.normal_(net.out.bias, std=0.5)
    return net.eval()


def test_a_fresh_network_changes_nothing():
    x = torch.from_numpy(speechlike(1.0))
    net = BandGainNet(RefinerConfig())
    with torch.no_grad():
        assert float(net(torch.randn(2, 80, 50)).abs().max()) < 1e-6
    torch.testing.assert_close(BandRefiner(RefinerConfig()).__call__(x), x, atol=1e-5, rtol=0)


def test_gains_stay_within_the_configured_limits():
    net = trained_like()
    with torch.no_grad():
        net.out.weight.mul_(100.0)
        g = net(10 * torch.randn(3, 16, 40))
    assert float(g.min()) >= net.lo - 1e-6 and float(g.max()) <= net.hi + 1e-6
    assert float(g.min()) < 0.9 * net.lo and float(g.max()) > 0.9 * net.hi  # and reach them
    assert net.lo == pytest.approx(-12 / (20 / np.log(10))) and net.hi == pytest.approx(6 / (20 / np.log(10)))


def test_scale_zero_or_a_short_input_is_returned_as_is():
    x = torch.from_numpy(speechlike(1.0))
    assert BandRefiner(TINY.model_copy(update={"scale": 0.0}), trained_like())(x) is x
    short = x[:100]
    assert BandRefiner(TINY, trained_like())(short) is short


def test_an_output_sample_depends_only_on_its_context():
    ref = BandRefiner(TINY, trained_like())
    x = torch.from_numpy(speechlike(1.5))
    y = ref(x)
    assert not torch.allclose(y, x, atol=1e-3)  # it does something
    ctx = ref.context_samples
    assert ctx == TINY.n_fft + (1 + 1 + 2) * TINY.hop
    far = x.clone()
    far[12000 + ctx + 1 :] += 0.3 * torch.randn(far.numel() - 12000 - ctx - 1)
    torch.testing.assert_close(ref(far)[:12000], y[:12000], atol=1e-5, rtol=0)
    near = x.clone()
    near[12000 + ctx // 2] += 0.5
    assert not torch.allclose(ref(near)[:12000], y[:12000], atol=1e-5)


def test_blocks_give_the_whole_signal_output():
    ref = BandRefiner(TINY, trained_like())
    x = torch.from_numpy(speechlike(3.0))
    whole = ref(x)
    ref.block_samples = 8000
    torch.testing.assert_close(ref(x), whole, atol=1e-5, rtol=0)


def test_weights_round_trip_as_float16(tmp_path):
    net = trained_like()
    BandRefiner(TINY, net).save(tmp_path)
    loaded = BandRefiner.load(tmp_path, TINY)
    for k, v in net.state_dict().items():
        torch.testing.assert_close(loaded.net.state_dict()[k], v.half().float())
    with pytest.raises(ModelError, match="cannot load"):
        BandRefiner.load(tmp_path, RefinerConfig(bands=9, mels=16, channels=8, dilations=(1, 2)))
    with pytest.raises(ModelError, match="no refiner.safetensors"):
        BandRefiner.load(tmp_path / "nowhere", TINY)


@pytest.mark.parametrize("field, value", [
    pytest.param("max_boost_db", 0.0, id="no-boost"),
    pytest.param("max_cut_db", -1.0, id="negative-cut"),
    pytest.param("scale", 1.5, id="scale-above-1"),
    pytest.param("colour", 1, id="unknown-field"),
])
def test_invalid_configs_are_refused(field, value):
    with pytest.raises(ValidationError):
        RefinerConfig(**{field: value})


def test_the_level_term_measures_how_far_the_gains_move_the_power():
    from codec.train.refiner import loss_terms

    net = BandGainNet(TINY)  # fresh: 0 dB everywhere
    x, y = torch.randn(2, 16, 30), torch.zeros(2, 8, 30)
    log_power = torch.randn(2, 8, 30)
    with torch.no_grad():
        l1, level = loss_terms(net, x, y, log_power)
    assert float(l1.max()) < 1e-6 and float(level.max()) < 1e-5
    with torch.no_grad():
        net.out.bias.fill_(1.0)  # every band raised alike
        g = net(x)
        l1, level = loss_terms(net, x, y, log_power)
    torch.testing.assert_close(level, 2 * g.mean((-2, -1)))  # a power ratio of exp(2 g)
    torch.testing.assert_close(l1, g.mean((-2, -1)))


# -- bundles and the trainer -------------------------------------------------------------------


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bundle-rf")
    make_tiny_bundle(folder)
    return folder


def with_refiner(bundle, folder) -> None:
    shutil.copytree(bundle, folder)
    BandRefiner(TINY, trained_like()).save(folder)
    (folder / "render.json").write_text(json.dumps({"refiner": TINY.model_dump()}))


def test_render_json_turns_the_refiner_on_outside_the_model_id(bundle, tmp_path):
    plain = Codec.from_pretrained(bundle)
    assert plain.refiner is None
    folder = tmp_path / "with-refiner"
    with_refiner(bundle, folder)
    assert model_id_of(folder) == model_id_of(bundle)
    codec = Codec.from_pretrained(folder)
    assert codec.refiner is not None
    data = plain.encode(speechlike(3.0), SR)
    out, _ = codec.decode(data)
    raw, _ = plain.decode(data)
    assert out.shape == raw.shape and not np.allclose(out, raw, atol=1e-3)
    np.testing.assert_array_equal(Codec.from_pretrained(folder, refiner=False).decode(data)[0], raw)
    assert codec.vocoder_only().refiner is None
    # The refiner widens the context a streamed window needs; with all of it, streaming is exact.
    assert codec.context_frames() > plain.context_frames()
    chunks = list(codec.stream_decode(data, lookahead=codec.context_frames()))
    np.testing.assert_allclose(np.concatenate([c.audio for c in chunks]), out, atol=1e-5)


def test_a_bundle_that_names_a_refiner_without_weights_is_refused(bundle, tmp_path):
    folder = tmp_path / "no-weights"
    with_refiner(bundle, folder)
    (folder / WEIGHTS_FILE).unlink()
    with pytest.raises(ModelError, match="no refiner.safetensors"):
        Codec.from_pretrained(folder)
    assert Codec.from_pretrained(folder, refiner=False).refiner is None


def test_a_tiny_run_trains_and_writes_a_bundle_with_the_refiner(bundle, tmp_path, capsys):
    from codec.train.refiner import main

    write_split(tmp_path / "train", 6, 0)  # speakers s0, s1, s2; every 3rd file's speaker (s0) held out
    out = tmp_path / "out"
    args = ["--model", str(bundle), "--data", str(tmp_path / "train"), "--work", str(tmp_path / "work"),
            "--into", str(out), "--steps", "4", "--batch-size", "2", "--crop-frames", "30", "--warmup", "2",
            "--eval-every", "2", "--holdout-every", "3", "--jobs", "1", "--threads", "1",
            "--config", json.dumps({"bands": 8, "mels": 16, "channels": 8, "dilations": [1, 2]})]
    main(args)
    printed = capsys.readouterr().out
    assert "4 files to train on, 2 held out (1 speakers)" in printed
    assert len(list((tmp_path / "work" / "decoded").glob("*.npy"))) == 6
    log = [json.loads(line) for line in (tmp_path / "work" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [0, 2, 4] and all(np.isfinite(r["held_out"]) for r in log)
    assert log[0]["level_db"] == 0.0 and all(np.isfinite(r["level_db"]) for r in log)
    assert model_id_of(out) == model_id_of(bundle)
    codec = Codec.from_pretrained(out)
    assert codec.refiner is not None and codec.refiner.config.bands == 8
    y, _ = codec.decode(codec.encode(speechlike(1.5), SR))
    assert np.isfinite(y).all()
    main(args)  # again: the decodes are reused, nothing is decoded twice
    assert "decoded" not in capsys.readouterr().out
