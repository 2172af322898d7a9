"""The vocoder: units, F0 codes and a speaker embedding in, a waveform out.

The paper's decoder is a HiFi-GAN generator that upsamples its conditioning 320x with transposed
convolutions, which costs tens of GFLOPs per second of audio. srb's default keeps every layer at a
frame rate instead (ConvNeXt blocks at 100 Hz) and ends in an inverse STFT (the "iSTFT head" of
iSTFTNet/Vocos): the network predicts a magnitude and a phase per frequency bin and
``torch.istft`` makes the samples. That is two orders of magnitude cheaper, runs far faster than
real time on one CPU core, and trains with the same adversarial losses (see ``discriminators``).
The speaker embedding modulates every block's normalisation (adaptive layer norm), so one vector
steers the timbre of the whole utterance.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict
from torch import nn


class DecoderConfig(BaseModel):
    """Hyper-parameters of :class:`Decoder`. The defaults are srb's shipped configuration."""

    model_config = ConfigDict(extra="forbid")

    num_units: int = 100
    num_f0: int = 20
    speaker_dim: int = 128
    embed_dim: int = 128  # per conditioning stream, as in the paper
    channels: int = 256
    intermediate: int = 768
    layers: int = 8
    kernel: int = 7
    sample_rate: int = 16000
    unit_hop: int = 320  # samples per unit frame (50 Hz)
    f0_hop: int = 1280  # samples per F0 code (12.5 Hz)
    hop: int = 160  # samples per decoder frame (100 Hz)
    n_fft: int = 640
    #: Also take the utterance's pitch level and spread (mean and standard deviation of log-F0),
    #: which the F0 codes normalise away; without them the decoder guesses both from the speaker
    #: vector (docs/PITCH.md measures how far off that lands).
    pitch_stats: bool = False


class AdaLayerNorm(nn.Module):
    """LayerNorm over channels whose scale and shift come from a conditioning vector."""

    def __init__(self, channels: int, cond_dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(channels, elementwise_affine=False)
        self.scale = nn.Linear(cond_dim, channels)
        self.shift = nn.Linear(cond_dim, channels)
        nn.init.zeros_(self.scale.weight)
        nn.init.ones_(self.scale.bias)
        nn.init.zeros_(self.shift.weight)
        nn.init.zeros_(self.shift.bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        # x: (B, T, C), cond: (B, D)
        return self.norm(x) * self.scale(cond)[:, None] + self.shift(cond)[:, None]


#: Typical mean and spread of an utterance's log-F0 (natural log of Hz) in srb's training speech
#: (train split: median level 208 Hz; spread 0.18 = 260 cents on average), to feed the pitch
#: statistics to :class:`PitchStatsProjection` at unit scale.
PITCH_STATS_CENTER = (5.33, 0.15)
PITCH_STATS_SCALE = (0.29, 0.066)


class PitchStatsProjection(nn.Module):
    """Utterance pitch statistics -> an offset of the speaker vector.

    A small MLP whose last layer starts at zero, so adding it to a trained decoder leaves that
    decoder's output unchanged until the projection is trained.
    """

    def __init__(self, speaker_dim: int, hidden: int = 64):
        super().__init__()
        self.register_buffer("center", torch.tensor(PITCH_STATS_CENTER), persistent=False)
        self.register_buffer("scale", torch.tensor(PITCH_STATS_SCALE), persistent=False)
        self.net = nn.Sequential(nn.Linear(2, hidden), nn.SiLU(), nn.Linear(hidden, speaker_dim))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, stats: torch.Tensor) -> torch.Tensor:
        # stats: (B, 2) mean and std of log-F0 -> (B, speaker_dim)
        return self.net((stats.float() - self.center) / self.scale)


class ConvNeXtBlock(nn.Module):
    def __init__(self, channels: int, intermediate: int, kernel: int, cond_dim: int, layer_scale: float):
        super().__init__()
        self.dwconv = nn.Conv1d(channels, channels, kernel, padding=kernel // 2, groups=channels)
        self.norm = AdaLayerNorm(channels, cond_dim)
        self.pw1 = nn.Linear(channels, intermediate)
        self.pw2 = nn.Linear(intermediate, channels)
        self.gamma = nn.Parameter(torch.full((channels,), layer_scale))

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        # x: (B, C, T)
        y = self.dwconv(x).transpose(1, 2)
        y = self.pw2(F.gelu(self.pw1(self.norm(y, cond))))
        return x + (self.gamma * y).transpose(1, 2)


class Decoder(nn.Module):
    """Streams -> waveform.

    Args:
        config: a :class:`DecoderConfig`.
    """

    def __init__(self, config: DecoderConfig):
        super().__init__()
        c = self.config = config
        if c.unit_hop % c.hop or c.f0_hop % c.unit_hop:
            raise ValueError("unit_hop must be a multiple of hop, and f0_hop of unit_hop")
        self.unit_emb = nn.Embedding(c.num_units, c.embed_dim)
        self.f0_emb = nn.Embedding(c.num_f0, c.embed_dim)
        self.spk_proj = nn.Linear(c.speaker_dim, c.embed_dim)
        self.pitch_proj = PitchStatsProjection(c.speaker_dim) if c.pitch_stats else None
        self.conv_in = nn.Conv1d(3 * c.embed_dim, c.channels, c.kernel, padding=c.kernel // 2)
        self.blocks = nn.ModuleList(
            ConvNeXtBlock(c.channels, c.intermediate, c.kernel, c.speaker_dim, 1.0 / c.layers) for _ in range(c.layers)
        )
        self.norm_out = nn.LayerNorm(c.channels)
        self.head = nn.Linear(c.channels, c.n_fft + 2)  # log-magnitude and phase per bin
        self.register_buffer("window", torch.hann_window(c.n_fft), persistent=False)

    @classmethod
    def from_config(cls, config: DecoderConfig | dict) -> "Decoder":
        return cls(config if isinstance(config, DecoderConfig) else DecoderConfig(**config))

    def forward(self, units: torch.Tensor, f0: torch.Tensor, speaker: torch.Tensor,
                pitch: torch.Tensor | None = None) -> torch.Tensor:
        """Synthesize.

        Args:
            units: ``(B, T)`` int64 units at the unit rate.
            f0: ``(B, ceil(T * unit_hop / f0_hop))`` int64 F0 codes.
            speaker: ``(B, speaker_dim)`` speaker embeddings.
            pitch: ``(B, 2)`` mean and standard deviation of each utterance's log-F0 (natural log
                of Hz), used when the config has ``pitch_stats``; ``None`` (e.g. nothing voiced)
                leaves the level and spread to the speaker vector.

        Returns:
            ``(B, T * unit_hop)`` waveform in [-1, 1] (approximately).
        """
        c = self.config
        if pitch is not None and self.pitch_proj is not None:
            speaker = speaker + self.pitch_proj(pitch).to(speaker.dtype)
        frames = units.shape[1]
        u = self.unit_emb(units)
        f = self.f0_emb(f0).repeat_interleave(c.f0_hop // c.unit_hop, dim=1)[:, :frames]
        if f.shape[1] < frames:  # tolerate a short F0 stream by holding its last code
            f = torch.cat([f, f[:, -1:].expand(-1, frames - f.shape[1], -1)], dim=1)
        s = self.spk_proj(speaker)[:, None].expand(-1, frames, -1)
        x = torch.cat([u, f, s], dim=-1).transpose(1, 2)
        x = x.repeat_interleave(c.unit_hop // c.hop, dim=2)  # to the decoder's frame rate
        x = self.conv_in(x)
        for block in self.blocks:
            x = block(x, speaker)
        x = self.head(self.norm_out(x.transpose(1, 2))).transpose(1, 2)
        log_mag, phase = x.float().chunk(2, dim=1)  # the iSTFT runs in float32 even under autocast
        mag = torch.exp(log_mag.clamp(max=8.0))
        spec = torch.polar(mag, phase)
        wav = torch.istft(spec, c.n_fft, c.hop, c.n_fft, self.window, center=True, length=frames * c.unit_hop)
        return wav

    def macs_per_second(self) -> float:
        """Multiply-accumulates per second of audio (analytic; embeddings and the iSTFT excluded)."""
        c = self.config
        fps = c.sample_rate / c.hop
        per_frame = 3 * c.embed_dim * c.channels * c.kernel
        per_frame += c.layers * (c.channels * c.kernel + 2 * c.channels * c.intermediate + 2 * c.speaker_dim * c.channels / fps)
        per_frame += c.channels * (c.n_fft + 2)
        return per_frame * fps
