"""Thin path to HuBERT-Base layer-6 units (Polyak et al. 2021's content encoder), for users with the weights.

srb does not ship or download HuBERT: the weights (~360 MB, torchaudio's ``HUBERT_BASE``) are not
available offline. :class:`HubertUnits` wraps any ``torchaudio.models.hubert_base()``-shaped model;
:func:`from_torchaudio_pipeline` builds one from torchaudio's pretrained bundle where it can be
downloaded, and raises :class:`~codec.errors.ModelError` where it cannot.

Frame alignment. HuBERT's conv feature extractor has a 400-sample receptive field and a 320-sample
stride, so on raw input its frame ``i`` covers samples ``[320 i, 320 i + 400)`` (centre ``320 i + 200``)
and ``N`` samples give ``floor((N - 400) / 320) + 1`` frames. srb's convention (the student, the
decoder, the bitstream) is frame ``t`` centred on sample ``320 t`` and ``ceil(N / 320)`` frames.
:meth:`HubertUnits.features` therefore left-pads 200 zero samples (moves every centre onto
``320 t``) and right-pads with zeros to ``320 T + 80`` samples in all (exactly ``T = ceil(N / 320)``
full windows); an input already longer than that (up to 120 trailing samples) yields ``T`` frames
anyway, since its extra samples do not complete another window. Zero samples are silence to
HuBERT, which was trained on raw, unnormalised waveforms.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .errors import AudioError, ModelError

HOP = 320
RECEPTIVE = 400  # samples seen by one frame of the HuBERT/wav2vec 2.0 conv feature extractor
LAYER = 6  # the paper's layer


def nearest_centroid(x: torch.Tensor, centroids: torch.Tensor) -> torch.Tensor:
    """Index of the nearest (Euclidean) centroid for each vector: ``(..., D)``, ``(K, D)`` -> ``(...)`` int64."""
    flat = x.reshape(-1, x.shape[-1]).to(centroids.dtype)
    # ||x||^2 does not change the argmin: -2 x.c + ||c||^2 is enough.
    d = (centroids * centroids).sum(1) - 2 * flat @ centroids.T
    return d.argmin(1).reshape(x.shape[:-1])


class HubertUnits(nn.Module):
    """HuBERT layer-``layer`` features at srb's 50 Hz frames, and their k-means units.

    Args:
        model: a ``torchaudio.models.Wav2Vec2Model`` (e.g. ``torchaudio.models.hubert_base()``).
        centroids: ``(K, D)`` k-means centroids of the layer's features (``D = 768`` for base), or
            ``None`` for features only.
        layer: transformer layer whose output is used (1-based, as ``extract_features`` counts).
    """

    def __init__(self, model: nn.Module, centroids: torch.Tensor | None = None, layer: int = LAYER):
        super().__init__()
        self.model = model.eval()
        layers = getattr(getattr(getattr(model, "encoder", None), "transformer", None), "layers", None)
        if layers is not None and not 1 <= layer <= len(layers):  # torchaudio would raise ValueError per call
            raise ModelError(f"layer {layer} requested from a HuBERT with {len(layers)} layers")
        self.layer = layer
        c = torch.as_tensor(centroids, dtype=torch.float32) if centroids is not None else torch.zeros(0, 0)
        self.register_buffer("centroids", c)

    @staticmethod
    def num_frames(num_samples: int) -> int:
        return -(-num_samples // HOP)

    @torch.no_grad()
    def features(self, wav: torch.Tensor) -> torch.Tensor:
        """``(B, N)`` float waveform at 16 kHz -> ``(B, ceil(N / 320), D)`` layer features."""
        if wav.dim() != 2 or wav.shape[-1] == 0:
            raise AudioError(f"HuBERT expects a (B, N) waveform with N > 0, got {tuple(wav.shape)}")
        n = wav.shape[-1]
        t = self.num_frames(n)
        total = HOP * t + RECEPTIVE - HOP  # T full windows after the left pad
        left = RECEPTIVE // 2
        wav = F.pad(wav, (left, max(total - left - n, 0)))
        feats, _ = self.model.extract_features(wav, num_layers=self.layer)
        out = feats[self.layer - 1]
        if out.shape[1] != t:  # cannot happen with the padding above; guards a foreign front end
            raise ModelError(f"HuBERT gave {out.shape[1]} frames for {n} samples, expected {t}")
        return out

    @torch.no_grad()
    def units(self, wav: torch.Tensor) -> torch.Tensor:
        """``(B, ceil(N / 320))`` int64 units: nearest centroid of each frame's features."""
        if self.centroids.numel() == 0:
            raise ModelError("HubertUnits has no k-means centroids: pass centroids=(K, D) to quantise")
        f = self.features(wav)
        if f.shape[-1] != self.centroids.shape[1]:
            raise ModelError(f"centroids have dimension {self.centroids.shape[1]}, features {f.shape[-1]}")
        return nearest_centroid(f, self.centroids)


def from_torchaudio_pipeline(centroids: torch.Tensor | None = None, layer: int = LAYER, bundle=None) -> HubertUnits:
    """:class:`HubertUnits` around torchaudio's pretrained ``HUBERT_BASE`` (downloads on first use).

    Args:
        bundle: a torchaudio pipeline bundle (default ``torchaudio.pipelines.HUBERT_BASE``).

    Raises:
        ModelError: the weights cannot be fetched or read (offline, no cache, corrupt file).
    """
    import torchaudio

    bundle = bundle if bundle is not None else torchaudio.pipelines.HUBERT_BASE
    try:
        model = bundle.get_model()
    except Exception as exc:  # URLError, OSError, RuntimeError from torch.hub: all mean "no weights"
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ModelError(f"HUBERT_BASE weights unavailable ({type(exc).__name__}: {first}); srb does not ship "
                         "them: download once with network access (torch.hub cache) or build HubertUnits "
                         "from your own model") from exc
    if getattr(bundle, "sample_rate", 16000) != 16000:
        raise ModelError(f"HuBERT bundle expects {bundle.sample_rate} Hz, srb codes 16 kHz")
    return HubertUnits(model, centroids, layer)
