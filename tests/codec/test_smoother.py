"""The envelope smoother, and how bundles name it (render.json, outside the model id)."""

import shutil

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from codec.api import Codec
from codec.bundle import RenderConfig, model_id_of, save_render
from codec.errors import ModelError
from codec.smoother import EnvelopeSmoother, SmootherConfig
from tests.codec.test_api import speechlike
from tests.codec.tiny_bundle import make_tiny_bundle

SR = 16000


def modulated_noise(seconds=1.0, rate_hz=0.0, depth_db=0.0, seed=0) -> torch.Tensor:
    """White noise whose level is a square wave of ``rate_hz`` swinging ``depth_db`` peak to peak."""
    n = int(SR * seconds)
    noise = np.random.default_rng(seed).standard_normal(n)
    t = np.arange(n) / SR
    level = np.where(np.sin(2 * np.pi * rate_hz * t) >= 0, 1.0, 10 ** (-depth_db / 20)) if rate_hz else np.ones(n)
    return torch.from_numpy((0.05 * noise * level).astype(np.float32))


def swing_db(x: torch.Tensor, frame: int = 160) -> float:
    """Spread of the 10 ms frame levels (dB, 90th minus 10th percentile), the edges left out."""
    e = x.numpy()[SR // 10 : -SR // 10].reshape(-1, frame).var(1)
    db = 10 * np.log10(e + 1e-12)
    return float(np.percentile(db, 90) - np.percentile(db, 10))


def test_fast_level_jitter_is_steadied_and_slow_changes_are_kept():
    fast = modulated_noise(rate_hz=25.0, depth_db=6.0)  # 40 ms period: inside the 5-hop (50 ms) window
    slow = modulated_noise(rate_hz=2.0, depth_db=6.0, seed=1)  # 500 ms period: syllable-like
    sm = EnvelopeSmoother()
    assert swing_db(fast) > 6
    assert swing_db(sm(fast)) < 0.75 * swing_db(fast)  # measured: 6.8 -> 4.8 dB
    assert swing_db(sm(slow)) > 0.95 * swing_db(slow)  # measured: 6.7 -> 6.6 dB
    # The level of a steady signal is kept (measured: -0.12 dB)
    steady = modulated_noise(seed=2)
    ratio = float(sm(steady)[1000:-1000].square().mean() / steady[1000:-1000].square().mean())
    assert abs(10 * np.log10(ratio)) < 0.3


def test_depth_zero_is_the_identity_and_depth_orders_the_effect():
    x = modulated_noise(rate_hz=25.0, depth_db=6.0)
    assert EnvelopeSmoother(SmootherConfig(depth=0.0))(x) is x
    swings = [swing_db(EnvelopeSmoother(SmootherConfig(depth=d))(x)) for d in (0.25, 0.5, 1.0)]
    assert swings[0] > swings[1] > swings[2]  # measured: 6.0, 5.4, 4.8 dB


def test_dips_are_raised_at_most_max_boost_db():
    # A 12 dB dip every 40 ms: the troughs rise by at most the boost, so a larger boost steadies more.
    x = modulated_noise(rate_hz=25.0, depth_db=12.0)
    swings = [swing_db(EnvelopeSmoother(SmootherConfig(max_boost_db=b))(x)) for b in (0.0, 1.5, 6.0)]
    assert swings[0] > swings[1] > swings[2]


@pytest.mark.parametrize("n", [pytest.param(0, id="empty"), pytest.param(100, id="shorter-than-a-frame"),
                               pytest.param(16000, id="one-second-of-silence")])
def test_silence_and_short_input(n):
    y = EnvelopeSmoother()(torch.zeros(n))
    assert y.shape == (n,) and torch.isfinite(y).all()
    assert n == 0 or y.abs().max() < 1e-6


def test_config_is_checked():
    for bad in (dict(frames=4), dict(frames=0), dict(depth=1.5), dict(bands=0), dict(bogus=1)):
        with pytest.raises(ValidationError):
            SmootherConfig(**bad)
    with pytest.raises(ValueError):
        EnvelopeSmoother(SmootherConfig(n_fft=256, hop=200))


def test_an_output_sample_depends_only_on_its_context():
    x = modulated_noise(seconds=2.0, rate_hz=25.0, depth_db=12.0)
    sm = EnvelopeSmoother()
    y = sm(x)
    i, ctx = 16000, sm.context_samples
    x2 = x.clone()
    x2[i + ctx + 1 :] = 0.3 * torch.randn(x2.numel() - i - ctx - 1)  # everything beyond the context changes
    x2[: i - ctx - 1] = 0.0
    torch.testing.assert_close(sm(x2)[i - 5 : i + 5], y[i - 5 : i + 5], atol=1e-6, rtol=0)


@pytest.mark.parametrize("n", [pytest.param(3 * 8000 + 4000, id="ragged-tail"), pytest.param(4 * 8000, id="whole-blocks")])
def test_long_input_in_blocks_is_the_whole_signal_at_once(n):
    x = modulated_noise(seconds=n / SR, rate_hz=25.0, depth_db=12.0)[:n]
    sm = EnvelopeSmoother()
    whole = sm._smooth(x)
    sm.block_samples = 8000  # blocks of 0.5 s instead of 20 s
    torch.testing.assert_close(sm(x), whole, atol=1e-6, rtol=0)


# -- bundles --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bundle-sm")
    make_tiny_bundle(folder)
    return folder


def test_render_json_turns_the_smoother_on_outside_the_model_id(bundle, tmp_path):
    plain = Codec.from_pretrained(bundle)
    assert plain.smoother is None
    folder = tmp_path / "with-smoother"
    shutil.copytree(bundle, folder)
    save_render(folder, RenderConfig(smoother=SmootherConfig(frames=7)))
    assert model_id_of(folder) == model_id_of(bundle)
    codec = Codec.from_pretrained(folder)
    assert codec.smoother is not None and codec.smoother.config.frames == 7
    data = plain.encode(speechlike(3.0), SR)
    out, _ = codec.decode(data)
    raw, _ = plain.decode(data)
    assert out.shape == raw.shape and not np.allclose(out, raw)
    np.testing.assert_array_equal(Codec.from_pretrained(folder, smoother=False).decode(data)[0], raw)
    np.testing.assert_array_equal(Codec.from_pretrained(bundle, smoother=SmootherConfig(frames=7)).decode(data)[0], out)
    # The smoother widens the context a streamed window needs; with all of it, streaming is exact.
    assert codec.context_frames() > plain.context_frames()
    chunks = list(codec.stream_decode(data, lookahead=codec.context_frames()))
    np.testing.assert_allclose(np.concatenate([c.audio for c in chunks]), out, atol=1e-5)
    with pytest.raises(ModelError, match="24000 Hz"):
        Codec.from_pretrained(bundle, smoother=SmootherConfig(sample_rate=24000))
