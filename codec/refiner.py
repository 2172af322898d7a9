"""Band refiner: a small learned network that nudges each band's level towards the original's.

The decoder's finished audio (vocoder, postfilter, pitch resynthesis, envelope smoother) still has
band levels that differ from the original speech in ways that repeat: the vocoder had 25 GPU minutes
of adversarial training, and the units flicker. This stage learns those differences. Trained on
pairs of (decoded, original) train files, a dilated 1-D convolution over the decoded audio's log-mel
spectrogram predicts, for each of ``bands`` mel bands and 10 ms frame, the log ratio of the
original's band power to the decoded one; at decode time that gain (clamped to
``-max_cut_db..+max_boost_db`` and times ``scale``) is applied as one real factor per band and frame,
spread back to the STFT bins by the bands' filter weights, phases kept:

    m(t)     = log(mel_80 |X(f, t)|^2)                        (the network's input)
    g_b(t)   = scale * net(m)_b(t)                            (log amplitude, clamped)
    |Y(f, t)| = |X(f, t)| * exp(sum_b v_fb g_b(t))            (v: each bin's filter weights, normalised)

The loss was the L1 distance between ``g`` and the true log ratio, so the stage moves each band to
the conditional median of the original's level given what the decoder made: it cannot put back what
the units never carried, only what the decoder's output predicts about it. A pure function of the
decoded audio: it changes nothing in the bitstream, and bundles name it in ``render.json`` with its
weights in ``refiner.safetensors``, both outside the model id (:mod:`codec.bundle`).

Each output sample depends on the input within ``n_fft + receptive_frames * hop`` samples either side
(:attr:`BandRefiner.context_samples`), which streamed windows add to their context.
Trained by :mod:`codec.train.refiner`; measured in docs/REFINER.md.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field

from .blockwise import in_blocks
from .smoother import mel_band_filters

WEIGHTS_FILE = "refiner.safetensors"


class RefinerConfig(BaseModel):
    """Settings of :class:`BandRefiner`: the network's shape, the STFT, and how far it may move a band."""

    model_config = ConfigDict(extra="forbid")

    bands: int = Field(40, ge=1, le=128)  # mel bands whose gains the network predicts
    mels: int = Field(80, ge=8, le=256)  # log-mel input bands
    channels: int = Field(192, ge=4)
    dilations: tuple[int, ...] = (1, 2, 4, 8, 1, 2, 4, 8)  # one residual block each, kernel 3
    layer_norm: bool = True  # each block normalises its input per frame (over channels)
    max_cut_db: float = Field(12.0, gt=0.0)  # both limits above 0: the gain's sigmoid spans them
    max_boost_db: float = Field(6.0, gt=0.0)
    scale: float = Field(1.0, ge=0.0, le=1.0)  # share of the predicted gain applied (0: unchanged)
    n_fft: int = Field(512, ge=64)
    hop: int = Field(160, ge=16)
    sample_rate: int = 16000


class _Block(nn.Module):
    """Pre-norm residual block: dilated conv, GELU, pointwise conv. The norm is per frame (over
    channels), never over time, so a frame's output depends on its receptive field alone and blocks
    or streamed windows give what the whole file gives."""

    def __init__(self, channels: int, dilation: int, layer_norm: bool = True):
        super().__init__()
        self.norm = nn.LayerNorm(channels) if layer_norm else nn.Identity()
        self.conv = nn.Conv1d(channels, channels, 3, padding=dilation, dilation=dilation)
        self.pw = nn.Conv1d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(x.transpose(1, 2)).transpose(1, 2)
        return x + self.pw(F.gelu(self.conv(h)))


class BandGainNet(nn.Module):
    """Log-mel frames -> clamped log-amplitude gains per band.

    Args:
        config: a :class:`RefinerConfig`.
    """

    def __init__(self, config: RefinerConfig):
        super().__init__()
        c = config
        self.lo = -c.max_cut_db / (20 / math.log(10))  # dB -> natural log of amplitude
        self.hi = c.max_boost_db / (20 / math.log(10))
        self.inp = nn.Conv1d(c.mels, c.channels, 3, padding=1)
        self.blocks = nn.Sequential(*[_Block(c.channels, d, c.layer_norm) for d in c.dilations])
        self.out = nn.Conv1d(c.channels, c.bands, 1)
        # A fresh network leaves the audio as it is (its output is 0 dB everywhere).
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    @property
    def receptive_frames(self) -> int:
        """Frames either side that one output frame sees."""
        return 1 + sum(b.conv.dilation[0] for b in self.blocks)

    def forward(self, logmel: torch.Tensor) -> torch.Tensor:
        """
        Args:
            logmel: ``(B, mels, T)`` natural-log mel powers.

        Returns:
            ``(B, bands, T)`` log-amplitude gains in ``[lo, hi]`` (0 where the network is unsure).
        """
        # Fixed affine input scaling: log powers of speech at the decoder's levels sit around -5 +- 4.
        z = self.out(self.blocks(self.inp((logmel + 5.0) / 4.0)))
        # A sigmoid between the limits, shifted so that z = 0 means a gain of exactly 0:
        # sigmoid(log(-lo / hi)) = -lo / (hi - lo).
        return self.lo + (self.hi - self.lo) * torch.sigmoid(z + math.log(-self.lo / self.hi))


class BandAnalysis:
    """The STFT, the network's log-mel input and the bands' filters, shared by training and decoding.

    Args:
        config: a :class:`RefinerConfig`.
    """

    def __init__(self, config: RefinerConfig):
        c = self.config = config
        if c.hop > c.n_fft // 2:
            raise ValueError("hop must be at most half of n_fft (the inverse STFT needs the overlap)")
        self.window = torch.hann_window(c.n_fft)
        self.mel = mel_band_filters(c.n_fft, c.mels, c.sample_rate)[0]  # (mels, F): the network's input bands
        self.filters, self.spread = mel_band_filters(c.n_fft, c.bands, c.sample_rate)  # (bands, F), (F, bands)

    def stft(self, wav: torch.Tensor) -> torch.Tensor:
        """``(N,)`` -> ``(F, T)`` complex, ``T = N // hop + 1``."""
        c = self.config
        return torch.stft(wav.float(), c.n_fft, c.hop, window=self.window, center=True, return_complex=True)

    def logmel(self, spec: torch.Tensor) -> torch.Tensor:
        """``(F, T)`` complex -> ``(mels, T)`` the network's input."""
        return torch.log(self.mel @ spec.abs().square() + 1e-9)

    def band_power(self, spec: torch.Tensor) -> torch.Tensor:
        """``(F, T)`` complex -> ``(bands, T)`` band powers."""
        return self.filters @ spec.abs().square()

    def apply(self, spec: torch.Tensor, gain: torch.Tensor, length: int) -> torch.Tensor:
        """``spec`` ``(F, T)`` with ``gain`` ``(bands, T)`` (log amplitude) applied -> ``(length,)`` audio."""
        c = self.config
        return torch.istft(spec * torch.exp(self.spread @ gain), c.n_fft, c.hop, window=self.window, center=True,
                           length=length)


class BandRefiner:
    """Callable band refiner (see the module doc).

    Args:
        config: a :class:`RefinerConfig` (or its fields as a dict).
        net: the trained :class:`BandGainNet` (a fresh one, which changes nothing, when ``None``).
    """

    #: Longer input is processed in blocks of this many samples (:func:`codec.blockwise.in_blocks`).
    block_samples = 320_000

    def __init__(self, config: RefinerConfig | dict | None = None, net: BandGainNet | None = None):
        self.config = config if isinstance(config, RefinerConfig) else RefinerConfig(**(config or {}))
        self.analysis = BandAnalysis(self.config)
        self.net = (net or BandGainNet(self.config)).eval()

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    @classmethod
    def load(cls, folder, config: RefinerConfig) -> "BandRefiner":
        """The refiner ``config`` describes, with the weights in ``folder/refiner.safetensors``.

        Raises:
            ModelError: no weights file, or weights that do not fit the config.
        """
        from safetensors.torch import load_file

        from .errors import ModelError

        path = Path(folder) / WEIGHTS_FILE
        if not path.is_file():
            raise ModelError(f"{folder} names a band refiner in render.json but has no {WEIGHTS_FILE}")
        net = BandGainNet(config)
        try:
            net.load_state_dict({k: v.float() for k, v in load_file(str(path)).items()})
        except Exception as exc:  # safetensors and torch raise their own types
            raise ModelError(f"cannot load the band refiner from {path}: {exc}") from exc
        return cls(config, net)

    def save(self, folder) -> None:
        """Write the weights (float16) to ``folder/refiner.safetensors``."""
        from safetensors.torch import save_file

        state = {k: v.detach().half().contiguous().cpu() for k, v in self.net.state_dict().items()}
        save_file(state, str(Path(folder) / WEIGHTS_FILE))

    @property
    def context_samples(self) -> int:
        """Input samples either side that an output sample depends on."""
        c = self.config
        return c.n_fft + self.net.receptive_frames * c.hop

    @torch.inference_mode()
    def __call__(self, wav: torch.Tensor) -> torch.Tensor:
        """Refine one waveform.

        Args:
            wav: ``(N,)`` float32 audio at ``sample_rate``.

        Returns:
            ``(N,)`` refined audio (not clamped).
        """
        if self.config.scale == 0.0 or wav.numel() < self.config.n_fft // 2 + 1:  # too short to reflect-pad
            return wav
        return in_blocks(wav, self._refine, self.block_samples, self.context_samples, self.config.hop)

    def _refine(self, wav: torch.Tensor) -> torch.Tensor:
        spec = self.analysis.stft(wav)
        gain = self.config.scale * self.net(self.analysis.logmel(spec)[None])[0]
        return self.analysis.apply(spec, gain, wav.numel())
