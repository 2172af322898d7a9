"""Content encoder: 16 kHz speech -> discrete content units at 50 Hz.

A small convolutional student of the Whisper-base teacher (``codec.teacher``): trained
(``codec.train.content``) to predict, frame by frame, the k-means unit of the teacher's encoder
output. Whisper-base is ~20 M parameters of global attention over 30 s windows; this model is a
few million parameters of local convolutions, so the codec's encoder runs many times faster than
real time on one CPU thread and has a bounded look-ahead.

Architecture: log-mel (80 bands, 25 ms windows, 10 ms hop) -> fixed per-band standardisation
(statistics of the training audio, stored with the weights) -> a strided conv to 50 Hz -> residual
ConvNeXt-style blocks (depthwise conv over time, then a per-frame MLP) -> per-frame logits over
the ``K`` units. Output frame ``t`` is centred on sample ``320 t``, as the teacher's is; an input
of ``N`` samples gives ``ceil(N / 320)`` frames. No normalisation mixes frames, so a frame depends
only on audio within the receptive field (:attr:`ContentEncoder.receptive_field_s`).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F
import torchaudio
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from torch import nn

from .errors import AudioError, ModelError

FORMAT = "srb-content"
FORMAT_VERSION = 1


class ContentConfig(BaseModel):
    """Typed configuration of a :class:`ContentEncoder` (stored as JSON beside its weights)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sample_rate: int = 16000
    n_fft: int = 512
    win_length: int = 400  # 25 ms
    mel_hop: int = 160  # 10 ms: mel frames at 100 Hz
    n_mels: int = 80
    unit_hop: int = 320  # 20 ms: units at 50 Hz (a multiple of mel_hop)
    channels: int = 256
    layers: int = 6
    kernel_size: int = 7  # depthwise conv over time, per block (odd)
    expansion: int = 3  # hidden width of each block's MLP, in multiples of channels
    num_units: int = 100  # K

    @model_validator(mode="after")
    def _check(self):
        if self.unit_hop % self.mel_hop:
            raise ValueError(f"unit_hop {self.unit_hop} must be a multiple of mel_hop {self.mel_hop}")
        if self.kernel_size % 2 == 0 or self.kernel_size < 1:
            raise ValueError(f"kernel_size must be odd, got {self.kernel_size}")
        if self.win_length > self.n_fft:
            raise ValueError("win_length must not exceed n_fft")
        if min(self.channels, self.layers + 1, self.expansion, self.num_units - 1, self.n_mels) < 1:
            raise ValueError("channels, expansion, n_mels must be >= 1, layers >= 0, num_units >= 2")
        return self

    @property
    def stride(self) -> int:
        return self.unit_hop // self.mel_hop


class Block(nn.Module):
    """``x + gamma * MLP(LayerNorm(DepthwiseConv(x)))`` on ``(B, C, T)``; norms act per frame."""

    def __init__(self, channels: int, kernel_size: int, expansion: int):
        super().__init__()
        self.dw = nn.Conv1d(channels, channels, kernel_size, padding=kernel_size // 2, groups=channels)
        self.norm = nn.LayerNorm(channels)
        self.fc1 = nn.Linear(channels, expansion * channels)
        self.fc2 = nn.Linear(expansion * channels, channels)
        # Small residual branch at init (layer scale): deep stacks train stably without warm-up tricks.
        self.gamma = nn.Parameter(torch.full((channels,), 0.1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dw(x).transpose(1, 2)  # (B, T, C): the per-frame MLP runs as one matmul
        y = self.fc2(F.gelu(self.fc1(self.norm(y))))
        return x + (self.gamma * y).transpose(1, 2)


class ContentEncoder(nn.Module):
    """Waveform ``(B, N)`` -> unit logits ``(B, K, ceil(N / 320))``.

    Args:
        config: a :class:`ContentConfig`.
    """

    #: file format tag and config class; subclasses with other weights (``codec.ssl``) override both
    format = FORMAT
    config_class = ContentConfig

    def __init__(self, config: ContentConfig):
        super().__init__()
        c = self.config = config
        # Feature extraction is part of the model but has no weights: non-persistent buffers, so the
        # safetensors file holds only what training learned (and stays exact when stored as float16).
        self.register_buffer("window", torch.hann_window(c.win_length), persistent=False)
        fb = torchaudio.functional.melscale_fbanks(c.n_fft // 2 + 1, 0.0, c.sample_rate / 2, c.n_mels,
                                                   c.sample_rate, norm="slaney", mel_scale="slaney")
        self.register_buffer("fbanks", fb.T.contiguous(), persistent=False)  # (n_mels, n_freqs)
        # Per-band standardisation of log-mel, set from training audio (see set_feature_stats).
        self.register_buffer("mel_mean", torch.zeros(c.n_mels))
        self.register_buffer("mel_std", torch.ones(c.n_mels))
        s = c.stride
        self.inp = nn.Conv1d(c.n_mels, c.channels, 2 * s + 1, stride=s, padding=s)  # to 50 Hz, centred
        self.blocks = nn.ModuleList(Block(c.channels, c.kernel_size, c.expansion) for _ in range(c.layers))
        self.out_norm = nn.LayerNorm(c.channels)
        self.head = nn.Linear(c.channels, c.num_units)

    @classmethod
    def from_config(cls, config: ContentConfig | dict) -> "ContentEncoder":
        """A freshly initialised model from a config or its ``model_dump()``.

        Raises:
            ModelError: an invalid config.
        """
        if isinstance(config, cls.config_class):
            return cls(config)
        try:
            return cls(cls.config_class(**config))
        except (ValidationError, TypeError) as exc:
            raise ModelError(f"invalid content encoder config: {exc}") from exc

    @property
    def receptive_field_s(self) -> float:
        """Audio seconds one output frame sees (each side: half of it)."""
        c = self.config
        mel_frames = 2 * c.stride + 1 + c.stride * c.layers * (c.kernel_size - 1)
        return ((mel_frames - 1) * c.mel_hop + c.win_length) / c.sample_rate

    def num_frames(self, num_samples: int) -> int:
        return -(-num_samples // self.config.unit_hop)

    def log_mel(self, wav: torch.Tensor) -> torch.Tensor:
        """``(B, N)`` -> standardised log-mel ``(B, n_mels, stride * ceil(N / unit_hop))``."""
        c = self.config
        t = self.num_frames(wav.shape[-1])
        # Right-pad to whole unit frames; a centred STFT then has stride*t + 1 frames: drop the last,
        # so mel frame i is centred on sample i * mel_hop.
        wav = F.pad(wav, (0, t * c.unit_hop - wav.shape[-1]))
        pad = c.n_fft // 2
        mode = "reflect" if wav.shape[-1] > pad else "constant"  # reflect needs more samples than pad
        spec = torch.stft(F.pad(wav.unsqueeze(1), (pad, pad), mode=mode).squeeze(1), c.n_fft, c.mel_hop,
                          c.win_length, self.window, center=False, return_complex=True)
        mel = self.fbanks @ spec[..., : c.stride * t].abs().square()
        return (torch.log(mel + 1e-6) - self.mel_mean[:, None]) / self.mel_std[:, None]

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """Unit logits.

        Args:
            wav: ``(B, N)`` float waveform at ``sample_rate``, amplitude in [-1, 1].

        Returns:
            ``(B, K, T)`` logits, ``T = ceil(N / unit_hop)``.
        """
        if wav.dim() != 2 or wav.shape[-1] == 0:
            raise AudioError(f"content encoder expects a (B, N) waveform with N > 0, got {tuple(wav.shape)}")
        x = self.inp(self.log_mel(wav))  # (B, C, T)
        for block in self.blocks:
            x = block(x)
        return self.head(self.out_norm(x.transpose(1, 2))).transpose(1, 2)

    @torch.no_grad()
    def units(self, wav: torch.Tensor) -> torch.Tensor:
        """``(B, N)`` waveform -> ``(B, ceil(N / unit_hop))`` int64 unit ids (argmax)."""
        return self(wav).argmax(dim=1)

    @torch.no_grad()
    def set_feature_stats(self, log_mel: torch.Tensor) -> None:
        """Set the per-band standardisation from unstandardised log-mel frames ``(n_mels, F)``."""
        self.mel_mean.copy_(log_mel.mean(dim=1))
        self.mel_std.copy_(log_mel.std(dim=1).clamp_min(1e-3))

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # -- files ----------------------------------------------------------------------------------

    def save(self, path: str | Path, dtype: torch.dtype = torch.float32) -> tuple[Path, Path]:
        """Write ``path.safetensors`` (weights, as ``dtype``) and ``path.json`` (config).

        ``path`` may carry either suffix or none. Returns the two paths.
        """
        from safetensors.torch import save_file

        stem = _stem(path)
        stem.parent.mkdir(parents=True, exist_ok=True)
        tensors = {k: v.detach().to("cpu", dtype).contiguous() for k, v in self.state_dict().items()}
        weights, cfg = stem.with_suffix(".safetensors"), stem.with_suffix(".json")
        save_file(tensors, str(weights), metadata={"format": self.format, "version": str(FORMAT_VERSION)})
        cfg.write_text(json.dumps({"format": self.format, "version": FORMAT_VERSION,
                                   "config": self.config.model_dump()}, indent=2) + "\n")
        return weights, cfg

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device = "cpu") -> "ContentEncoder":
        """A model from ``path.safetensors`` + ``path.json``, float32, in eval mode.

        Raises:
            ModelError: missing or corrupt files, a foreign format, or weights that do not match.
        """
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        stem = _stem(path)
        weights, cfg = stem.with_suffix(".safetensors"), stem.with_suffix(".json")
        try:
            meta = json.loads(cfg.read_text())
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot read content encoder config {cfg}: {exc}") from exc
        if not isinstance(meta, dict) or meta.get("format") != cls.format or meta.get("version") != FORMAT_VERSION:
            raise ModelError(f"{cfg} is not an {cls.format} v{FORMAT_VERSION} config")
        model = cls.from_config(meta.get("config") or {})
        try:
            state = load_file(str(weights))
        except (OSError, SafetensorError) as exc:
            raise ModelError(f"cannot read content encoder weights {weights}: {exc}") from exc
        try:
            model.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
        except RuntimeError as exc:
            raise ModelError(f"content encoder weights {weights} do not match {cfg}: {exc}") from exc
        return model.to(device).eval()


def _stem(path: str | Path) -> Path:
    p = Path(path)
    return p.with_suffix("") if p.suffix in (".safetensors", ".json") else p
