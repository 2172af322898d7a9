"""HuBERT thin path, tested with randomly initialised models (no weights, no network)."""

import urllib.error

import pytest
import torch
import torchaudio

from codec.errors import AudioError, ModelError
from codec.hubert import HubertUnits, from_torchaudio_pipeline, nearest_centroid


pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_hubert():
    """hubert_base's feature extractor (same 400-sample field, 320 stride) with a 2-layer, 32-dim encoder."""
    torch.manual_seed(0)
    return torchaudio.models.wav2vec2_model(
        extractor_mode="group_norm", extractor_conv_layer_config=None, extractor_conv_bias=False,
        encoder_embed_dim=32, encoder_projection_dropout=0.0, encoder_pos_conv_kernel=16, encoder_pos_conv_groups=4,
        encoder_num_layers=2, encoder_num_heads=2, encoder_attention_dropout=0.0, encoder_ff_interm_features=64,
        encoder_ff_interm_dropout=0.0, encoder_dropout=0.0, encoder_layer_norm_first=False, encoder_layer_drop=0.0,
        aux_num_out=None)


@pytest.mark.parametrize("n", [1, 200, 319, 320, 321, 399, 400, 401, 640, 16000, 16119, 16120, 16121])
def test_frame_count_is_srb_convention(n):
    hub = HubertUnits(tiny_hubert(), layer=2)
    f = hub.features(torch.randn(2, n) * 0.1)
    assert f.shape == (2, -(-n // 320), 32)


class FrontEndOnly(torch.nn.Module):
    """The conv feature extractor alone, with per-frame layer norm: a frame sees only its 400 samples."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.fe = torchaudio.models.wav2vec2.components._get_feature_extractor(
            "layer_norm", [(16, 10, 5)] + [(16, 3, 2)] * 4 + [(16, 2, 2)] * 2, False)  # hubert_base strides, narrow

    def extract_features(self, wav, num_layers=None):
        return [self.fe(wav, None)[0]], None


@pytest.mark.parametrize("n", [6400, 6401, 6500])
def test_frames_are_centred_on_320t(n):
    """An impulse at sample 320 t changes frame t and no other: frames are centred as srb's."""
    hub = HubertUnits(FrontEndOnly(), layer=1)
    base = torch.zeros(1, n)
    ref = hub.features(base)
    assert ref.shape[1] == -(-n // 320)
    for t in (0, 3, 10, ref.shape[1] - 1):
        x = base.clone()
        x[0, 320 * t] = 1.0
        changed = (hub.features(x) - ref).abs().sum(-1)[0].nonzero().flatten().tolist()
        assert changed == [t]


def test_units_deterministic_and_quantised():
    torch.manual_seed(1)
    cents = torch.randn(7, 32)
    hub = HubertUnits(tiny_hubert(), cents, layer=2)
    wav = torch.randn(1, 5000) * 0.1
    u1, u2 = hub.units(wav), hub.units(wav)
    assert torch.equal(u1, u2) and u1.shape == (1, 16) and u1.dtype == torch.int64
    f = hub.features(wav)[0]
    brute = torch.cdist(f, cents).argmin(1)
    assert torch.equal(u1[0], brute)
    assert torch.equal(nearest_centroid(cents[[3, 0, 6]], cents), torch.tensor([3, 0, 6]))
    with pytest.raises(ModelError, match="centroids"):
        HubertUnits(tiny_hubert(), layer=2).units(wav)
    with pytest.raises(ModelError, match="dimension"):
        HubertUnits(tiny_hubert(), torch.randn(5, 768), layer=2).units(wav)
    with pytest.raises(ModelError, match="2 layers"):
        HubertUnits(tiny_hubert())  # the default layer 6 does not exist in a 2-layer model
    with pytest.raises(AudioError):
        hub.features(torch.zeros(1, 0))


def test_hubert_base_architecture_layer6():
    """The real architecture (random weights): 768-dim layer-6 features, ceil(N/320) frames."""
    hub = HubertUnits(torchaudio.models.hubert_base(), torch.randn(100, 768))
    wav = torch.randn(1, 16000 + 17) * 0.1
    assert hub.features(wav).shape == (1, 51, 768)
    assert hub.units(wav).shape == (1, 51)


def test_pipeline_offline_is_a_model_error(monkeypatch):
    """The download is blocked where torchaudio fetches weights: srb's ModelError, one line."""
    import torchaudio.pipelines._wav2vec2.utils as utils

    def blocked(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(utils, "load_state_dict_from_url", blocked)
    with pytest.raises(ModelError, match="HUBERT_BASE weights unavailable") as info:
        from_torchaudio_pipeline(torch.randn(100, 768))
    assert "\n" not in str(info.value) and isinstance(info.value.__cause__, urllib.error.URLError)


def test_pipeline_with_weights_wraps_the_model():
    class FakeBundle:  # what a cached download gives: a model and its sample rate
        sample_rate = 16000

        def get_model(self):
            return tiny_hubert()

    hub = from_torchaudio_pipeline(torch.randn(4, 32), layer=2, bundle=FakeBundle())
    assert hub.units(torch.randn(1, 3200) * 0.1).shape == (1, 10)
