"""The envelope layer (codec/envelope.py) and the codec with it: format 1.4 files, closed loop."""

import numpy as np
import pytest
import torch

from bitstream import SrbModelMismatchError, read_srb
from codec.api import Codec
from codec.envelope import EnvelopeConfig, EnvelopeLayer
from codec.errors import ModelError
from tests.codec.tiny_bundle import make_tiny_bundle

pytestmark = pytest.mark.usefixtures("one_thread")

SR = 16000


def _speech_like(seconds: float, seed: int = 0) -> np.ndarray:
    """Noise shaped by a slow random envelope: band levels that change over time."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    env = np.repeat(rng.uniform(0.02, 0.3, n // 800 + 1), 800)[:n]
    return (rng.normal(0, 1, n) * env).astype(np.float32)


def _layer(codebook=None, **fields) -> EnvelopeLayer:
    if codebook is None:
        codebook = [[0.0] * 8, [6.0206] * 8, [-6.0206] * 8, [3.0, -3.0, 3.0, -3.0, 3.0, -3.0, 3.0, -3.0]]
    return EnvelopeLayer(EnvelopeConfig(codebook=codebook, **fields))


def test_a_zero_code_leaves_the_audio_as_it_is():
    layer = _layer()
    y = _speech_like(1.3)
    out = layer.apply(y, np.zeros(layer.num_frames(len(y)), np.int32))
    assert np.abs(out - y).max() < 1e-5


def test_corrections_measure_the_level_difference_per_band():
    layer = _layer()
    x = _speech_like(2.0)
    r = layer.corrections(x, 0.5 * x)
    assert r.shape == (layer.num_frames(len(x)), 8)
    assert np.allclose(r, 20 * np.log10(2.0), atol=1e-3)
    assert np.all(layer.corrections(x, 0.01 * x) == layer.config.clip_db)  # 40 dB off: clipped


def test_the_chosen_codes_move_the_decode_to_the_original():
    layer = _layer()
    x = _speech_like(2.0, seed=1)
    y = 0.5 * x
    codes = layer.encode(x, y)
    assert np.all(codes == 1)  # +6 dB everywhere
    fixed = layer.apply(y, codes)
    assert np.abs(layer.corrections(x, fixed)).max() < 0.5
    assert np.abs(fixed - x).max() < 0.02 * np.abs(x).max()


def test_lost_frames_are_left_uncorrected():
    layer = _layer()
    x = _speech_like(1.0, seed=2)
    codes = np.ones(layer.num_frames(len(x)), np.int32)
    out = layer.apply(x, codes, lost=np.ones_like(codes, bool))
    assert np.abs(out - x).max() < 1e-5


def test_an_output_sample_depends_only_on_its_context():
    layer = _layer()
    x = _speech_like(3.0, seed=3)
    codes = np.random.default_rng(0).integers(0, 4, layer.num_frames(len(x))).astype(np.int32)
    other = codes.copy()
    other[-10:] = (other[-10:] + 1) % 4  # the last 400 ms
    a, b = layer.apply(x, codes), layer.apply(x, other)
    first_changed = (len(codes) - 10) * layer.config.frame_samples
    keep = first_changed - layer.context_samples
    assert np.abs(a[:keep] - b[:keep]).max() < 1e-6
    assert np.abs(a[first_changed:] - b[first_changed:]).max() > 1e-3


def test_blocks_give_the_whole_signal_output():
    layer = _layer()
    x = _speech_like(5.0, seed=4)
    codes = np.random.default_rng(1).integers(0, 4, layer.num_frames(len(x))).astype(np.int32)
    whole = layer.apply(x, codes)
    layer.block_samples = 6400  # several blocks
    assert np.abs(layer.apply(x, codes) - whole).max() < 1e-5


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param(dict(codebook=[]), id="empty-codebook"),
        pytest.param(dict(codebook=[[0.0, 1.0], [0.0]]), id="ragged-codebook"),
        pytest.param(dict(codebook=[[float("nan")] * 8]), id="nan-in-codebook"),
        pytest.param(dict(codebook=[[0.0] * 8], bands=0), id="no-bands"),
    ],
)
def test_invalid_configs_are_refused(fields):
    with pytest.raises(ValueError):
        EnvelopeLayer(EnvelopeConfig(**fields))


def test_a_codebook_that_does_not_fit_the_bands_is_refused():
    with pytest.raises(ValueError, match="bands"):
        _layer(codebook=[[0.0] * 4])


# -- the codec with an envelope layer -----------------------------------------------------------


@pytest.fixture(scope="module")
def codecs(tmp_path_factory):
    root = tmp_path_factory.mktemp("envelope")
    make_tiny_bundle(root / "plain", seed=0)
    make_tiny_bundle(root / "layered", seed=0, envelope=True)
    import json

    cfg = json.loads((root / "layered" / "bundle.json").read_text())
    from codec.bundle_id import model_id_of

    cfg["decodes"] = [f"{model_id_of(root / 'plain'):08x}"]  # same models and tables but the layer's
    (root / "layered" / "bundle.json").write_text(json.dumps(cfg))
    return Codec.from_pretrained(root / "plain"), Codec.from_pretrained(root / "layered"), root


def test_a_bundle_with_the_layer_sends_it_and_its_decode_follows_the_codes(codecs):
    _, codec, root = codecs
    x = _speech_like(2.5, seed=5)
    data = codec.encode(x, SR)
    s = read_srb(data, codec.reading_tables)
    assert s.envelope is not None and s.envelope.size == codec.envelope.num_frames(s.num_samples)
    assert data[3] & 0x0F == 4  # format 1.4
    plain = codec.encode(x, SR, envelope=False)
    assert len(plain) < len(data) and read_srb(plain, codec.reading_tables).envelope is None
    with_layer, _ = codec.decode(data)
    without, _ = codec.decode(plain)
    assert np.abs(without - np.clip(codec.render(read_srb(plain, codec.reading_tables)), -1, 1)).max() < 1e-6
    # Closed loop: the codes were chosen on exactly the decode of the same streams without them
    # (the gain field aside, which the encoder corrects afterwards by the corrected decode's
    # level), so applying them moves its bands towards the input's.
    before = np.clip(codec.render(s), -1, 1)
    err_before = np.abs(codec.envelope.corrections(x, before)).mean()
    err_after = np.abs(codec.envelope.corrections(x, with_layer)).mean()
    assert err_after < err_before
    ignored = Codec.from_pretrained(root / "layered", envelope=False).decode(data)[0]
    assert np.abs(ignored - before).max() < 1e-6


def test_files_of_the_bundle_it_decodes_still_decode(codecs):
    old, new, _ = codecs
    x = _speech_like(2.0, seed=6)
    data = old.encode(x, SR)
    assert np.abs(new.decode(data)[0] - old.decode(data)[0]).max() < 1e-6
    with pytest.raises(SrbModelMismatchError):
        old.decode(new.encode(x, SR))


def test_a_model_without_the_layer_refuses_to_send_it(codecs):
    old, _, _ = codecs
    with pytest.raises(ModelError, match="envelope"):
        old.encode(_speech_like(1.0), SR, envelope=True)


def test_streamed_decode_and_concealment_apply_the_codes(codecs):
    _, codec, _ = codecs
    x = _speech_like(5.0, seed=7)
    data = codec.encode(x, SR, packet_frames=40)
    whole, _ = codec.decode(data)
    chunks = list(codec.stream_decode(data, lookahead=codec.context_frames()))
    assert np.abs(np.concatenate([c.audio for c in chunks]) - whole).max() < 1e-4
    wav, _, lost = codec.decode_lossy(data)
    assert not lost and np.abs(wav - whole).max() < 1e-6


def test_block_encoding_sends_the_same_codes(codecs, tmp_path):
    import soundfile as sf

    _, codec, _ = codecs
    x = _speech_like(6.0, seed=8)
    path = tmp_path / "x.wav"
    sf.write(path, x, SR, subtype="FLOAT")
    whole = read_srb(codec.encode(path), codec.reading_tables)
    streamed = read_srb(codec.encode_stream(path, packet_frames=40), codec.reading_tables)
    same = streamed.units.size == whole.units.size and np.array_equal(streamed.units, whole.units)
    if same and np.array_equal(streamed.f0, whole.f0):  # the block encoder's F0 may differ (stream_encode doc)
        assert np.mean(streamed.envelope == whole.envelope) > 0.95
    assert streamed.envelope.size == whole.envelope.size


def test_training_decodes_leave_the_layer_out(codecs, tmp_path):
    # The band refiner and the layer both learn from the decode before the layer: a layered bundle
    # given to `srb train envelope` / `srb train refiner` must not hand them its corrected audio.
    import soundfile as sf

    from codec.train.refiner import decode_all

    _, codec, root = codecs
    x = _speech_like(2.0, seed=9)
    sf.write(tmp_path / "x.wav", x, SR, subtype="FLOAT")
    decode_all(str(root / "layered"), [tmp_path / "x.wav"], tmp_path / "out", jobs=1, refiner=True)
    got = np.load(tmp_path / "out" / "00000.npy").astype(np.float32)
    plain, _ = codec.decode(codec.encode(x, SR, envelope=False))
    layered, _ = codec.decode(codec.encode(x, SR))
    assert np.abs(got - plain).max() < 2e-3  # float16 on disk
    assert np.abs(got - layered).max() > 2e-3


def _envelope_bits(codec, streams) -> float:
    t = codec.tables.envelope
    per = codec.packet_frames(None) // codec.envelope.config.ratio
    return float(t.event_bits(t.events(streams.envelope, np.arange(0, streams.envelope.size, per))).sum())


def test_a_rate_distortion_choice_trades_codes_for_bits(codecs):
    _, codec, _ = codecs
    x = _speech_like(4.0, seed=10)
    nearest = codec.encode_streams(x, SR)
    assert codec.envelope_lambda == 0.0  # the tiny bundle's layer has none: nearest codes
    assert np.array_equal(nearest.envelope, codec.encode_streams(x, SR, envelope_lambda=0.0).envelope)
    traded = codec.encode_streams(x, SR, envelope_lambda=1000.0)
    assert np.array_equal(traded.units, nearest.units) and traded.envelope.size == nearest.envelope.size
    assert _envelope_bits(codec, traded) < _envelope_bits(codec, nearest)
    assert not np.array_equal(traded.envelope, nearest.envelope)
    data = codec.encode(x, SR, envelope_lambda=1000.0)
    assert np.array_equal(read_srb(data, codec.reading_tables).envelope, traded.envelope)


def test_block_encoding_chooses_the_same_rate_distortion_codes(codecs, tmp_path):
    import soundfile as sf

    _, codec, _ = codecs
    x = _speech_like(6.0, seed=11)
    path = tmp_path / "x.wav"
    sf.write(path, x, SR, subtype="FLOAT")
    lam = 300.0  # strong enough that where each packet's context restarts changes codes
    whole = read_srb(codec.encode(path, packet_frames=40, envelope_lambda=lam), codec.reading_tables)
    streamed = read_srb(codec.encode_stream(path, packet_frames=40, envelope_lambda=lam), codec.reading_tables)
    assert streamed.envelope.size == whole.envelope.size
    if np.array_equal(streamed.units, whole.units) and np.array_equal(streamed.f0, whole.f0):
        assert np.mean(streamed.envelope == whole.envelope) > 0.95


def test_a_bitrate_limit_trades_the_layer_then_drops_it(codecs):
    _, codec, _ = codecs
    x = _speech_like(4.0, seed=12)
    full = codec.encode_streams(x, SR)
    bare = codec.encode_streams(x, SR, envelope=False)
    high, low = codec.bitrate(full), codec.bitrate(bare)
    assert low < high
    assert codec.encode(x, SR, max_bitrate=high) == codec.encode(x, SR)  # fits: untouched
    fitted = codec.encode_streams(x, SR, max_bitrate=high - 1.0)
    assert codec.bitrate(fitted) <= high - 1.0
    assert fitted.envelope is not None and not np.array_equal(fitted.envelope, full.envelope)
    dropped = codec.encode_streams(x, SR, max_bitrate=low + 0.01)  # below the layer's least cost
    assert dropped.envelope is None and codec.write(dropped) == codec.write(bare)
    assert codec.encode_streams(x, SR, max_bitrate=1.0).envelope is None  # over even so: as small as it goes
