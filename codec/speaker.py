"""Speaker: an encoder from speech to a vector, and the codes that send that vector.

The decoder is conditioned on a speaker vector. srb gets it from a small reference encoder
trained together with the decoder (log-mel -> convolutions -> mean and std over time -> vector),
so any voice, seen in training or not, has one. To transmit it:
- a known speaker (one of the model's table) is sent as its ID, and the decoder looks up the
  table's vector (the mean of that speaker's training vectors);
- an unseen speaker is sent as product-quantized indices: the vector cut into ``groups`` parts,
  each replaced by the nearest of ``codebook_size`` centroids (k-means on training vectors),
  so 8 groups x 256 centroids = 64 bits.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
import torchaudio
from pydantic import BaseModel, ConfigDict
from torch import nn


class SpeakerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sample_rate: int = 16000
    n_mels: int = 80
    channels: int = 192
    layers: int = 4
    dim: int = 128
    groups: int = 8  # product-quantizer groups
    codebook_size: int = 256
    num_speakers: int = 0  # rows of the known-speaker table


class SpeakerEncoder(nn.Module):
    """Log-mel reference encoder with mean+std pooling.

    Args:
        config: a :class:`SpeakerConfig`.
    """

    def __init__(self, config: SpeakerConfig):
        super().__init__()
        c = self.config = config
        self.mel = torchaudio.transforms.MelSpectrogram(c.sample_rate, n_fft=1024, win_length=400, hop_length=160,
                                                        n_mels=c.n_mels)
        layers, prev = [], c.n_mels
        for i in range(c.layers):
            layers += [nn.Conv1d(prev, c.channels, 5, padding=2 * (i + 1), dilation=i + 1), nn.ReLU(),
                       nn.BatchNorm1d(c.channels)]
            prev = c.channels
        self.convs = nn.Sequential(*layers)
        self.proj = nn.Linear(2 * c.channels, c.dim)
        # Product-quantizer centroids and the known-speaker table are filled in after training.
        self.register_buffer("codebooks", torch.zeros(c.groups, c.codebook_size, c.dim // c.groups))
        self.register_buffer("table", torch.zeros(c.num_speakers, c.dim))

    @classmethod
    def from_config(cls, config: SpeakerConfig | dict) -> "SpeakerEncoder":
        return cls(config if isinstance(config, SpeakerConfig) else SpeakerConfig(**config))

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """``(B, N)`` waveform -> ``(B, dim)`` speaker vector."""
        x = torch.log(self.mel(wav) + 1e-5)
        x = x - x.mean(dim=2, keepdim=True)  # channel normalisation: ignore recording level/colour
        h = self.convs(x)
        stats = torch.cat([h.mean(dim=2), h.std(dim=2)], dim=1)
        return self.proj(stats)

    # -- transmission ------------------------------------------------------------------------

    def quantize(self, vec: torch.Tensor) -> torch.Tensor:
        """``(B, dim)`` -> ``(B, groups)`` int64 codebook indices."""
        parts = vec.view(vec.shape[0], self.config.groups, -1)  # (B, G, d)
        dist = torch.cdist(parts.transpose(0, 1), self.codebooks)  # (G, B, K)
        return dist.argmin(dim=2).T.contiguous()

    def dequantize(self, codes: torch.Tensor) -> torch.Tensor:
        """``(B, groups)`` indices -> ``(B, dim)`` vectors."""
        g = torch.arange(self.config.groups, device=codes.device)
        return self.codebooks[g, codes].reshape(codes.shape[0], -1)

    def known(self, ids: torch.Tensor) -> torch.Tensor:
        """``(B,)`` speaker IDs -> ``(B, dim)`` table vectors."""
        return self.table[ids]

    def fit_quantizer(self, vectors: torch.Tensor, iters: int = 25, seed: int = 0) -> None:
        """k-means per group on ``(M, dim)`` training vectors (M >= codebook_size)."""
        gen = torch.Generator().manual_seed(seed)
        c = self.config
        parts = vectors.view(vectors.shape[0], c.groups, -1).transpose(0, 1)  # (G, M, d)
        books = []
        for x in parts:
            cent = x[torch.randperm(x.shape[0], generator=gen)[: c.codebook_size]].clone()
            for _ in range(iters):
                assign = torch.cdist(x, cent).argmin(dim=1)
                sums = torch.zeros_like(cent).index_add_(0, assign, x)
                counts = torch.bincount(assign, minlength=cent.shape[0]).clamp(min=1)[:, None]
                used = torch.bincount(assign, minlength=cent.shape[0]) > 0
                cent = torch.where(used[:, None], sums / counts, cent)
            books.append(cent)
        self.codebooks = torch.stack(books)


def speaker_loss(vec: torch.Tensor) -> torch.Tensor:
    """Keeps speaker vectors in a bounded range so that quantizing them is well posed."""
    return F.relu(vec.pow(2).mean(dim=1) - 1.0).mean()
