"""A small HuBERT-style self-supervised content encoder, trained here without any teacher.

Same front end and trunk as the Whisper-taught student (:class:`codec.content.ContentEncoder`:
log-mel -> strided conv to 50 Hz -> ConvNeXt-style blocks), so speed and look-ahead are the same
and only the training signal differs. Training (``codec.train.ssl``) follows HuBERT: spans of
50 Hz frames after the input conv are replaced by a learned mask vector and the head predicts,
on the masked frames only, the k-means cluster of each frame's *target features* (iteration 1:
log-mel of the training audio; iteration 2: a middle layer of the iteration-1 model). The masked
frames can only be predicted from their unmasked neighbours, which pushes the trunk to model
what tends to follow what in speech rather than to copy its input.

The codec's units are not the head's classes: after training, the output of block
``feature_layer`` is clustered (k-means, ``num_codes`` centroids, stored as the ``centroids``
buffer) and :meth:`SSLEncoder.units` returns the nearest centroid of each frame, as HuBERT units
are made. Frame convention as the student's: ``ceil(N / 320)`` frames, frame ``t`` centred on
sample ``320 t``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import model_validator
from torch import nn

from .content import ContentConfig, ContentEncoder
from .errors import AudioError, ModelError
from .hubert import nearest_centroid


class SSLConfig(ContentConfig):
    """:class:`ContentConfig` (``num_units`` = classes of the training targets) plus the SSL parts."""

    feature_layer: int = 4  # block whose output is clustered into units (0: the input conv)
    num_codes: int = 100  # K of the codec's units (centroids stored with the weights)

    @model_validator(mode="after")
    def _check_ssl(self):
        if not 0 <= self.feature_layer <= self.layers:
            raise ValueError(f"feature_layer must be in [0, {self.layers}], got {self.feature_layer}")
        if self.num_codes < 2:
            raise ValueError("num_codes must be >= 2")
        return self


class SSLEncoder(ContentEncoder):
    """Waveform ``(B, N)`` -> masked-prediction logits, hidden features, or k-means units."""

    format = "srb-ssl"
    config_class = SSLConfig

    def __init__(self, config: SSLConfig):
        super().__init__(config)
        # HuBERT replaces masked frames after its conv feature extractor with a learned vector.
        self.mask_emb = nn.Parameter(torch.zeros(config.channels).uniform_(-0.1, 0.1))
        self.register_buffer("centroids", torch.zeros(config.num_codes, config.channels))

    def hidden(self, wav: torch.Tensor, layer: int | None = None, mask: torch.Tensor | None = None,
               all_layers: bool = False):
        """Features ``(B, T, C)`` after block ``layer`` (default ``feature_layer``; 0 = input conv).

        Args:
            mask: optional ``(B, T)`` bool; those frames are replaced by the mask vector.
            all_layers: return the list of every layer's features (``layers + 1`` entries) instead.
        """
        if wav.dim() != 2 or wav.shape[-1] == 0:
            raise AudioError(f"SSL encoder expects a (B, N) waveform with N > 0, got {tuple(wav.shape)}")
        layer = self.config.feature_layer if layer is None else layer
        x = self.inp(self.log_mel(wav))  # (B, C, T)
        if mask is not None:
            x = torch.where(mask[:, None, :], self.mask_emb[None, :, None].to(x.dtype), x)
        outs = [x]
        stop = len(self.blocks) if all_layers else layer
        for block in self.blocks[:stop]:
            x = block(x)
            outs.append(x)
        return [o.transpose(1, 2) for o in outs] if all_layers else x.transpose(1, 2)

    def forward(self, wav: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, num_units, T)`` logits over the training targets, with optional ``(B, T)`` masking."""
        x = self.hidden(wav, len(self.blocks), mask)
        return self.head(self.out_norm(x)).transpose(1, 2)

    @torch.no_grad()
    def features(self, wav: torch.Tensor) -> torch.Tensor:
        """``(B, T, C)`` features of ``feature_layer``: what the units quantise."""
        return self.hidden(wav)

    @torch.no_grad()
    def units(self, wav: torch.Tensor) -> torch.Tensor:
        """``(B, ceil(N / 320))`` int64 units: nearest stored centroid of each frame's features.

        Raises:
            ModelError: the centroids were never set (:meth:`set_centroids`).
        """
        if not bool(self.centroids.any()):
            raise ModelError("this SSL encoder has no unit centroids yet (k-means not fitted)")
        return nearest_centroid(self.features(wav), self.centroids)

    @torch.no_grad()
    def set_centroids(self, centroids: torch.Tensor) -> None:
        self.centroids.copy_(centroids.to(self.centroids))


def span_mask(batch: int, frames: int, prob: float, span: int, generator: torch.Generator | None = None,
              device=None) -> torch.Tensor:
    """HuBERT/wav2vec 2.0 masking: each frame starts a masked span of ``span`` frames with ``prob``.

    Spans may overlap, so the masked fraction is ``1 - (1 - prob) ** span`` on average (e.g. 0.39
    for 0.08 and 6). Returns ``(batch, frames)`` bool.
    """
    starts = torch.rand(batch, frames, generator=generator, device=device) < prob
    # A frame is masked when a span started within the previous span - 1 frames (or at it).
    covered = F.max_pool1d(F.pad(starts.float()[:, None], (span - 1, 0)), span, stride=1)[:, 0]
    return covered > 0
