"""The harmonic postfilter, and how bundles name it (render.json, outside the model id)."""

import json

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from codec.api import Codec
from codec.bundle import RenderConfig, load_render, model_id_of, save_render
from codec.errors import ModelError
from codec.postfilter import Postfilter, PostfilterConfig
from tests.codec.test_api import speechlike
from tests.codec.tiny_bundle import make_tiny_bundle

SR = 16000


def voiced_with_noise(seconds=1.0, f0=150.0, snr_db=10.0, seed=0):
    """Harmonics of ``f0`` up to 4 kHz plus white noise ``snr_db`` below them."""
    t = np.arange(int(SR * seconds)) / SR
    x = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, int(4000 // f0)))
    noise = np.random.default_rng(seed).standard_normal(t.size)
    noise *= np.sqrt(np.mean(x**2) / np.mean(noise**2)) * 10 ** (-snr_db / 20)
    return torch.from_numpy((0.1 * (x + noise)).astype(np.float32))


def harmonic_to_valley_db(x: torch.Tensor, f0=150.0, max_hz=3500.0) -> float:
    """Power at the harmonics over power half-way between them, below ``max_hz``, in dB."""
    spec = np.abs(np.fft.rfft(x.numpy() * np.hanning(x.numel()))) ** 2
    hz = np.fft.rfftfreq(x.numel(), 1 / SR)
    peaks = [spec[np.argmin(abs(hz - k * f0))] for k in range(1, int(max_hz // f0))]
    valleys = [spec[np.argmin(abs(hz - (k + 0.5) * f0))] for k in range(1, int(max_hz // f0))]
    return 10 * np.log10(np.sum(peaks) / np.sum(valleys))


def band_db(x: torch.Tensor, lo: float, hi: float) -> float:
    spec = np.abs(np.fft.rfft(x.numpy())) ** 2
    hz = np.fft.rfftfreq(x.numel(), 1 / SR)
    return 10 * np.log10(spec[(hz >= lo) & (hz < hi)].sum())


@pytest.mark.parametrize("strength", [pytest.param(1.5, id="mild"), pytest.param(3.0, id="strong")])
def test_deepens_valleys_between_harmonics_and_keeps_band_powers(strength):
    x = voiced_with_noise()
    y = Postfilter(PostfilterConfig(strength=strength))(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    gain = harmonic_to_valley_db(y) - harmonic_to_valley_db(x)
    assert gain > 6.0 * (strength - 1)  # measured on this signal: 5.3 dB at 1.5, 15.7 dB at 3
    for lo, hi in [(100, 500), (500, 1000), (1000, 2000), (2000, 4000), (4000, 8000)]:
        assert abs(band_db(y, lo, hi) - band_db(x, lo, hi)) < 1.0, (lo, hi)


def test_strength_one_is_the_identity_and_more_is_more():
    x = voiced_with_noise()
    assert Postfilter(PostfilterConfig(strength=1.0))(x) is x
    gains = [harmonic_to_valley_db(Postfilter(PostfilterConfig(strength=s))(x)) for s in (1.2, 2.0, 3.0)]
    assert gains[0] < gains[1] < gains[2]


def test_leaves_the_band_above_max_hz_alone():
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(SR, generator=g)
    spec = torch.fft.rfft(noise)
    spec[:5500] = 0  # 1 Hz bins: nothing below 5.5 kHz
    high = torch.fft.irfft(spec, n=SR) * 0.1
    y = Postfilter(PostfilterConfig(strength=3.0, max_hz=4000.0))(high)
    torch.testing.assert_close(y, high, atol=1e-5, rtol=0)


@pytest.mark.parametrize("n", [pytest.param(0, id="empty"), pytest.param(100, id="shorter-than-a-frame"),
                               pytest.param(16000, id="one-second")])
def test_silence_and_short_input(n):
    x = torch.zeros(n)
    y = Postfilter()(x)
    assert y.shape == (n,) and torch.isfinite(y).all()
    assert n == 0 or y.abs().max() < 1e-6


def test_config_is_checked():
    with pytest.raises(ValidationError):
        PostfilterConfig(strength=0.0)
    with pytest.raises(ValidationError):
        PostfilterConfig(bogus=1)
    with pytest.raises(ValueError):
        Postfilter(PostfilterConfig(n_fft=1000, hop=256))


# -- bundles --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bundle-pf")
    make_tiny_bundle(folder)
    return folder


def test_render_json_is_outside_the_model_id_and_turns_the_postfilter_on(bundle, tmp_path):
    import shutil

    plain = Codec.from_pretrained(bundle)
    assert plain.postfilter is None and load_render(bundle) == RenderConfig()
    folder = tmp_path / "with-render"
    shutil.copytree(bundle, folder)
    save_render(folder, RenderConfig(postfilter=PostfilterConfig(strength=2.5)))
    assert model_id_of(folder) == model_id_of(bundle)  # files of the plain bundle still decode
    codec = Codec.from_pretrained(folder)
    assert codec.postfilter is not None and codec.postfilter.config.strength == 2.5
    data = plain.encode(speechlike(3.0), SR)
    out, _ = codec.decode(data)
    raw, _ = plain.decode(data)
    assert out.shape == raw.shape and not np.allclose(out, raw)
    np.testing.assert_array_equal(Codec.from_pretrained(folder, postfilter=False).decode(data)[0], raw)
    other = Codec.from_pretrained(bundle, postfilter=PostfilterConfig(strength=2.5))  # override, no file
    np.testing.assert_array_equal(other.decode(data)[0], out)
    # The postfilter widens the context a streamed window needs; with all of it, streaming is exact.
    assert codec.context_frames() > plain.context_frames()
    chunks = list(codec.stream_decode(data, lookahead=codec.context_frames()))
    np.testing.assert_allclose(np.concatenate([c.audio for c in chunks]), out, atol=1e-5)


def test_invalid_render_json_is_a_model_error(bundle, tmp_path):
    import shutil

    folder = tmp_path / "bad"
    shutil.copytree(bundle, folder)
    (folder / "render.json").write_text(json.dumps({"postfilter": {"strength": -1}}))
    with pytest.raises(ModelError, match="render.json"):
        Codec.from_pretrained(folder)
    (folder / "render.json").write_text("{not json")
    with pytest.raises(ModelError, match="render.json"):
        load_render(folder)
    with pytest.raises(ModelError, match="24000 Hz"):
        Codec.from_pretrained(bundle, postfilter=PostfilterConfig(sample_rate=24000))


def test_the_shipped_default_names_its_postfilter():
    codec = Codec.from_pretrained()
    assert codec.postfilter is not None
    assert Codec.from_pretrained(postfilter=False).model_id == codec.model_id


@pytest.mark.parametrize("n", [pytest.param(3 * 8192 + 4000, id="ragged-tail"), pytest.param(4 * 8192, id="whole-blocks"),
                               pytest.param(8192 + 2 * 1024 + 1, id="just-over-one-block")])
def test_long_input_in_blocks_is_the_whole_signal_filtered_at_once(n):
    x = voiced_with_noise(seconds=n / SR, f0=120.0)[:n]
    pf = Postfilter()
    whole = pf._filter(x)
    pf.block_samples = 8192  # blocks of 0.5 s instead of 20 s
    torch.testing.assert_close(pf(x), whole, atol=1e-6, rtol=0)
