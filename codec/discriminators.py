"""Discriminators and losses for adversarial vocoder training (HiFi-GAN recipe, narrower).

- Multi-period discriminator (HiFi-GAN): the waveform folded into 2-D with periods 2, 3, 5, 7, 11,
  so each sub-discriminator sees one phase of periodic structure.
- Multi-resolution spectrogram discriminator (UnivNet/Vocos): 2-D convolutions on magnitude
  spectrograms at three STFT sizes, which judges the spectral detail the iSTFT head must get right.

Channel widths are a quarter of HiFi-GAN's so that a training step fits a CPU budget; the widths
are config fields, so a GPU run can restore the paper's.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict
from torch import nn
from torch.nn.utils.parametrizations import weight_norm


class DiscriminatorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    periods: tuple[int, ...] = (2, 3, 5, 7, 11)
    period_channels: tuple[int, ...] = (16, 64, 128, 256)
    resolutions: tuple[tuple[int, int], ...] = ((1024, 256), (512, 128), (256, 64))  # (n_fft, hop)
    resolution_channels: int = 32


def conv_stack(convs: nn.ModuleList, out: nn.Module, x: torch.Tensor):
    """``(score (B, -1), features)``: ``convs`` with leaky ReLUs, then ``out``; every layer's output
    is kept for the feature-matching loss."""
    feats = []
    for conv in convs:
        x = F.leaky_relu(conv(x), 0.1)
        feats.append(x)
    x = out(x)
    feats.append(x)
    return x.flatten(1), feats


class PeriodDiscriminator(nn.Module):
    def __init__(self, period: int, channels: tuple[int, ...]):
        super().__init__()
        self.period = period
        layers, prev = [], 1
        for ch in channels:
            layers.append(weight_norm(nn.Conv2d(prev, ch, (5, 1), (3, 1), padding=(2, 0))))
            prev = ch
        layers.append(weight_norm(nn.Conv2d(prev, prev, (5, 1), 1, padding=(2, 0))))
        self.convs = nn.ModuleList(layers)
        self.out = weight_norm(nn.Conv2d(prev, 1, (3, 1), 1, padding=(1, 0)))

    def forward(self, x: torch.Tensor):
        # x: (B, N) -> (B, 1, N / p, p)
        b, n = x.shape
        pad = (-n) % self.period
        x = F.pad(x, (0, pad), mode="reflect" if pad < n else "constant")
        x = x.view(b, 1, -1, self.period)
        return conv_stack(self.convs, self.out, x)


class ResolutionDiscriminator(nn.Module):
    def __init__(self, n_fft: int, hop: int, channels: int):
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        self.convs = nn.ModuleList(
            [
                weight_norm(nn.Conv2d(1, channels, (7, 5), (2, 2), padding=(3, 2))),
                weight_norm(nn.Conv2d(channels, channels, (5, 3), (2, 1), padding=(2, 1))),
                weight_norm(nn.Conv2d(channels, channels, (5, 3), (2, 1), padding=(2, 1))),
                weight_norm(nn.Conv2d(channels, channels, 3, 1, padding=1)),
            ]
        )
        self.out = weight_norm(nn.Conv2d(channels, 1, 3, 1, padding=1))

    def forward(self, x: torch.Tensor):
        spec = torch.stft(x, self.n_fft, self.hop, self.n_fft, self.window, return_complex=True).abs()
        x = torch.log1p(spec)[:, None]  # (B, 1, F, T)
        return conv_stack(self.convs, self.out, x)


class Discriminators(nn.Module):
    """All sub-discriminators; ``forward`` returns a list of ``(score, features)``."""

    def __init__(self, config: DiscriminatorConfig | None = None):
        super().__init__()
        c = self.config = config or DiscriminatorConfig()
        self.subs = nn.ModuleList(
            [PeriodDiscriminator(p, c.period_channels) for p in c.periods]
            + [ResolutionDiscriminator(n, h, c.resolution_channels) for n, h in c.resolutions]
        )

    def forward(self, wav: torch.Tensor):
        return [d(wav) for d in self.subs]


def discriminator_loss(real, fake) -> torch.Tensor:
    """Least-squares GAN: real scores towards 1, generated towards 0."""
    # float32 even when the scores came out of bfloat16 autocast
    return sum(torch.mean((1 - r.float()) ** 2) + torch.mean(f.float() ** 2) for (r, _), (f, _) in zip(real, fake))


def generator_adversarial_loss(fake) -> torch.Tensor:
    return sum(torch.mean((1 - f.float()) ** 2) for f, _ in fake)


def feature_matching_loss(real, fake) -> torch.Tensor:
    loss = 0.0
    for (_, rf), (_, ff) in zip(real, fake):
        for r, f in zip(rf, ff):
            loss = loss + torch.mean(torch.abs(r.detach().float() - f.float()))
    return loss
