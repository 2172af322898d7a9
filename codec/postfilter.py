"""Harmonic postfilter: deepen the valleys between the vocoder's harmonics, keep the envelope.

A vocoder trained briefly under adversarial losses (srb's had 25 GPU minutes) leaves noise between
the harmonics of voiced speech: the judges hear it as hoarse (DNSMOS's signal score) and Praat's
voicing detector calls many voiced frames unvoiced. Classic codecs answer the same problem with a
postfilter on the decoder side (Codec2, AMR, Opus all have one); this one works on the short-time
spectrum of the decoded waveform:

    |Y| = |X| * (|X| / S(|X|)) ** (strength - 1)       below ``max_hz``; |Y| = |X| above
    |Y| *= sqrt(S(|X|^2) / S(|Y|^2))                    each band keeps its power

where ``S`` is a moving average over ``width_hz`` of frequency (about one harmonic spacing of a
low voice), so every bin is compared with its neighbourhood: harmonic peaks stand out more, the
valleys between them sink, and the band powers that carry the spectral envelope (what STOI and
mel-cepstra look at) stay. Phases are kept. It is a pure function of the decoded audio, so it
changes nothing in the bitstream; bundles name their setting in ``render.json`` (see
:mod:`codec.bundle`), outside the model id.

Measured (``benchmarks/postfilter.py``, docs/POSTFILTER.md): the config's default strength (1.5)
was chosen on train files for the postfilter alone; on all of dev it then took DNSMOS from 2.09 to
2.16 and VDE from 11.6 to 9.8 %, with STOI, MCD and speaker similarity unchanged or slightly
better. Followed by the pitch resynthesis (:mod:`codec.resynth`), a stronger setting scores better
on every judge but GPE, so the bundled model's ``render.json`` names 3.2 (session 8, same page).

Each output sample depends on the input within ``n_fft`` samples either side (the STFT frames
covering it), which :func:`codec.synth.receptive_field_frames` adds to the vocoder's own context
so that streamed windows stay exact.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field

from .blockwise import in_blocks


class PostfilterConfig(BaseModel):
    """Settings of :class:`Postfilter`; ``strength`` 1 leaves the audio unchanged."""

    model_config = ConfigDict(extra="forbid")

    strength: float = Field(1.5, gt=0.0, le=8.0)  # exponent on each bin's ratio to its neighbourhood
    width_hz: float = Field(172.0, gt=0.0)  # neighbourhood: 11 bins of 15.6 Hz at n_fft 1024
    max_hz: float = Field(4000.0, gt=0.0)  # harmonics above this are left alone
    n_fft: int = Field(1024, ge=64)
    hop: int = Field(256, ge=16)
    sample_rate: int = 16000


class Postfilter:
    """Callable harmonic postfilter (see the module doc).

    Args:
        config: a :class:`PostfilterConfig` (or its fields as a dict).
    """

    def __init__(self, config: PostfilterConfig | dict | None = None):
        c = self.config = config if isinstance(config, PostfilterConfig) else PostfilterConfig(**(config or {}))
        if c.n_fft % c.hop or c.n_fft // c.hop < 2:
            raise ValueError("n_fft must be a multiple of hop, at least twice it")
        bin_hz = c.sample_rate / c.n_fft
        self.width = max(1, round(c.width_hz / bin_hz)) | 1  # odd: centred on each bin
        self.window = torch.hann_window(c.n_fft)
        freqs = torch.arange(c.n_fft // 2 + 1) * bin_hz
        self.exponent = torch.where(freqs < c.max_hz, c.strength - 1.0, 0.0)[:, None]

    @property
    def context_samples(self) -> int:
        """Input samples either side that an output sample depends on."""
        return self.config.n_fft

    def _smooth(self, x: torch.Tensor) -> torch.Tensor:
        """Moving average over frequency of ``(F, T)``; edges use the edge bins."""
        pad = self.width // 2
        y = F.pad(x.T[:, None], (pad, pad), mode="replicate")
        return F.avg_pool1d(y, self.width, stride=1)[:, 0].T

    #: Longer input is filtered in blocks of this many samples (20 s; a multiple of every hop used),
    #: each with ``n_fft`` samples of context either side: the same output (to float rounding, see
    #: the tests) in bounded memory, instead of ~0.9 GB per 10 minutes of audio at once.
    block_samples = 320_000

    @torch.inference_mode()
    def __call__(self, wav: torch.Tensor) -> torch.Tensor:
        """Filter one waveform.

        Args:
            wav: ``(N,)`` float32 audio at ``sample_rate``.

        Returns:
            ``(N,)`` filtered audio (not clamped).
        """
        c = self.config
        if c.strength == 1.0 or wav.numel() < c.n_fft // 2 + 1:  # too short to reflect-pad a frame
            return wav
        return in_blocks(wav, self._filter, self.block_samples, self.context_samples, c.hop)

    def _filter(self, wav: torch.Tensor) -> torch.Tensor:
        c = self.config
        spec = torch.stft(wav.float(), c.n_fft, c.hop, window=self.window, center=True, return_complex=True)
        mag = spec.abs().clamp_min(1e-7)
        factor = (mag / self._smooth(mag)).pow(self.exponent)
        power = mag.square()
        factor *= (self._smooth(power) / self._smooth(power * factor.square()).clamp_min(1e-14)).sqrt()
        # A real factor per bin keeps the phase without taking it apart (angle/polar cost as much again).
        return torch.istft(spec * factor, c.n_fft, c.hop, window=self.window, center=True, length=wav.numel())
