"""Envelope smoother: steady each band's loudness over a few tens of milliseconds.

The vocoder renders 50 Hz units at 100 Hz frames, and its output's short-time band energies jitter
from frame to frame more than speech does (the units flicker, and the 25 GPU minutes of adversarial
training left the generator rough): the judges hear roughness, and STOI, which correlates band
envelopes, sees envelopes the original does not have. This stage, on the decoder side and last,
takes each mel band's power, compares it with its moving average over ``frames`` STFT hops, and
removes ``depth`` of the ratio (in log) with a real gain per band and frame:

    P_b(t) = sum_f w_bf |X(f, t)|^2                  (w: triangular mel filters)
    g_b(t) = -depth * log(P_b(t) / mean_{|s| <= frames // 2} P_b(t + s)) / 2   (log amplitude, clamped)
    |Y(f, t)| = |X(f, t)| * exp(sum_b v_fb g_b(t))       (v: each bin's filter weights, normalised)

Phases are kept; what lasts longer than the window (syllables, words, the spectral envelope) is
left alone. A pure function of the decoded audio, so it changes nothing in the bitstream; bundles
name it in ``render.json`` (:mod:`codec.bundle`), outside the model id.

Measured (``benchmarks/smoother.py``, docs/POSTFILTER.md): the setting was chosen on train files;
see there for what it does to every judge, and for the same stage applied to Codec2's output.

Each output sample depends on the input within ``n_fft + (frames // 2) * hop`` samples either side
(:attr:`EnvelopeSmoother.context_samples`), which streamed windows add to their context.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
import torchaudio
from pydantic import BaseModel, ConfigDict, Field, field_validator

from .blockwise import in_blocks


def mel_band_filters(n_fft: int, bands: int, sample_rate: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Triangular mel bands from 0 Hz to Nyquist over an ``n_fft`` STFT, as ``(filters, spread)``:
    ``filters`` ``(bands, F)`` sums bin powers into band powers; ``spread`` ``(F, bands)`` gives each
    bin the weighted mean of its bands' gains (bins no band covers keep theirs). Shared by the
    envelope smoother and the band refiner (:mod:`codec.refiner`)."""
    fb = torchaudio.functional.melscale_fbanks(n_fft // 2 + 1, 0.0, sample_rate / 2, bands, sample_rate)
    return fb.T.contiguous(), fb / fb.sum(1, keepdim=True).clamp_min(1e-12)


class SmootherConfig(BaseModel):
    """Settings of :class:`EnvelopeSmoother`; ``depth`` 0 leaves the audio unchanged."""

    model_config = ConfigDict(extra="forbid")

    frames: int = Field(5, ge=1, le=101)  # moving average over this many hops (odd: centred)
    depth: float = Field(1.0, ge=0.0, le=1.0)  # share of each band's deviation from its average removed
    bands: int = Field(24, ge=1, le=128)  # mel bands from 0 Hz to Nyquist
    max_cut_db: float = Field(12.0, ge=0.0)  # largest attenuation of a band in a frame
    # Largest amplification: raising a band's dips fills the closures before plosives and the gaps
    # between words; 1.5 dB keeps the content encoder hearing the units (docs/SMOOTHER.md).
    max_boost_db: float = Field(1.5, ge=0.0)
    n_fft: int = Field(512, ge=64)
    hop: int = Field(160, ge=16)
    sample_rate: int = 16000

    @field_validator("frames")
    @classmethod
    def _odd(cls, v: int) -> int:
        if v % 2 == 0:
            raise ValueError("frames must be odd (a centred window)")
        return v


class EnvelopeSmoother:
    """Callable envelope smoother (see the module doc).

    Args:
        config: a :class:`SmootherConfig` (or its fields as a dict).
    """

    #: Longer input is processed in blocks of this many samples (:func:`codec.blockwise.in_blocks`).
    block_samples = 320_000

    def __init__(self, config: SmootherConfig | dict | None = None):
        c = self.config = config if isinstance(config, SmootherConfig) else SmootherConfig(**(config or {}))
        if c.hop > c.n_fft // 2:
            raise ValueError("hop must be at most half of n_fft (the inverse STFT needs the overlap)")
        self.window = torch.hann_window(c.n_fft)
        self.filters, self.spread = mel_band_filters(c.n_fft, c.bands, c.sample_rate)  # (B, F), (F, B)
        self.lo = -c.max_cut_db / (20 / math.log(10))  # dB -> natural log of amplitude
        self.hi = c.max_boost_db / (20 / math.log(10))

    @property
    def context_samples(self) -> int:
        """Input samples either side that an output sample depends on."""
        c = self.config
        return c.n_fft + (c.frames // 2) * c.hop

    @torch.inference_mode()
    def __call__(self, wav: torch.Tensor) -> torch.Tensor:
        """Smooth one waveform.

        Args:
            wav: ``(N,)`` float32 audio at ``sample_rate``.

        Returns:
            ``(N,)`` smoothed audio (not clamped).
        """
        c = self.config
        if c.depth == 0.0 or c.frames == 1 or wav.numel() < c.n_fft // 2 + 1:  # too short to reflect-pad
            return wav
        return in_blocks(wav, self._smooth, self.block_samples, self.context_samples, c.hop)

    def _smooth(self, wav: torch.Tensor) -> torch.Tensor:
        c = self.config
        spec = torch.stft(wav.float(), c.n_fft, c.hop, window=self.window, center=True, return_complex=True)
        power = self.filters @ spec.abs().square() + 1e-9  # (B, T)
        pad = c.frames // 2
        # The target is the window's mean power, not its mean log power: the band keeps its power
        # (a mean of logs sits below it, and the output came out 0.8 dB quieter on train files).
        mean = F.avg_pool1d(F.pad(power[:, None], (pad, pad), mode="replicate"), c.frames, stride=1)[:, 0]
        gain = (-c.depth * torch.log(power / mean) / 2).clamp(self.lo, self.hi)
        # A real factor per bin keeps the phase without taking it apart.
        return torch.istft(spec * torch.exp(self.spread @ gain), c.n_fft, c.hop, window=self.window, center=True,
                           length=wav.numel())
