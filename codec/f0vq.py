"""The F0 VQ-VAE: a normalised log-F0 contour at 100 Hz in, one code of ``K`` per 80 ms out.

After Polyak et al. 2021 (section 2, "F0 representation"): a small convolutional VQ-VAE squeezes
the per-utterance normalised pitch contour through a codebook of ``K = 20`` entries at 12.5 Hz.

Input ``x``, ``(B, 2, T)`` at 100 Hz: channel 0 is normalised log-F0 (0 where unvoiced, see
:func:`codec.pitch.normalise`), channel 1 the voicing flag (1 voiced, 0 unvoiced). The encoder
downsamples by 8 (three stride-2 convolutions), the vector quantiser picks the nearest codebook
entry (EMA codebook, dead entries restarted from the batch), and the decoder upsamples back to
100 Hz and predicts both channels: log-F0 (L1 on frames voiced in the input) and a voicing logit
(binary cross-entropy).

Unvoiced frames: with ``unvoiced_code=False`` (the default, chosen by measurement in
``docs/PITCH.md``) voicing is implied by the learned codes. With ``unvoiced_code=True`` code 0 is
reserved for 80 ms frames whose input is mostly unvoiced, and the ``K`` learned codes are 1..K.

Lengths: ``T`` frames give ``ceil(T / 8)`` codes (the input is zero-padded, i.e. unvoiced, to a
multiple of 8), so ``ceil(N / 160)`` F0 frames give exactly ``ceil(N / 1280)`` codes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from torch import nn

from .errors import ModelError
from .pitch import F0Stats, normalise

FORMAT = "srb-f0vq"
FORMAT_VERSION = 1
DOWNSAMPLE = 8  # 100 Hz -> 12.5 Hz: three stride-2 stages


class F0VQConfig(BaseModel):
    """Architecture and loss weights of :class:`F0VQVAE`.

    Args:
        codebook_size: learned codes ``K`` (paper: 20).
        unvoiced_code: reserve code 0 for mostly-unvoiced 80 ms frames (alphabet ``K + 1``).
        hidden: channels of the convolutional stacks.
        code_dim: dimension of the codebook vectors.
        kernel_size: kernel of the residual convolutions (odd).
        ema_decay: decay of the EMA codebook statistics.
        restart_threshold: a code whose EMA usage (vectors per batch) falls below this is
            restarted at a random encoder output of the batch.
        commitment: weight of ``|z_e - sg(q)|^2``.
        voicing_weight: weight of the voicing BCE relative to the log-F0 L1.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    codebook_size: int = Field(20, ge=2, le=4096)
    unvoiced_code: bool = False
    hidden: int = Field(64, ge=4, le=1024)
    code_dim: int = Field(32, ge=1, le=512)
    kernel_size: int = Field(5, ge=1, le=31)
    ema_decay: float = Field(0.99, gt=0.0, lt=1.0)
    restart_threshold: float = Field(1.0, ge=0.0)
    commitment: float = Field(0.25, ge=0.0)
    voicing_weight: float = Field(1.0, ge=0.0)

    @property
    def num_codes(self) -> int:
        """Alphabet of the code stream: ``K``, plus one if unvoiced has its own code."""
        return self.codebook_size + int(self.unvoiced_code)


class ResBlock(nn.Module):
    """Two same-length convolutions (dilations 1 and 3) with a skip: widens the receptive field."""

    def __init__(self, channels: int, kernel_size: int):
        super().__init__()
        self.c1 = nn.Conv1d(channels, channels, kernel_size, padding=kernel_size // 2)
        self.c2 = nn.Conv1d(channels, channels, kernel_size, padding=3 * (kernel_size // 2), dilation=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.c2(F.gelu(self.c1(F.gelu(x))))


class EMAQuantiser(nn.Module):
    """Nearest-neighbour codebook with EMA updates (van den Oord et al. 2017, appendix).

    The codebook is a buffer, not a parameter: it moves towards the mean of the vectors assigned to
    each code, which trains more stably than codebook gradients at K=20. Initialised from the
    first training batch; codes that fall out of use are restarted at random batch vectors, drawn
    from torch's global CPU generator on any device (checkpointed by the trainer, so restarts
    replay identically on resume).
    """

    def __init__(self, size: int, dim: int, decay: float, restart_threshold: float):
        super().__init__()
        self.size, self.decay, self.restart_threshold = size, decay, restart_threshold
        # Set by the trainer: a code restarted late in training leaves the decoder no time to learn
        # it, so the trainer stops restarts before the end (docs/PITCH.md).
        self.allow_restarts = True
        self.last_restarts = 0  # codes restarted by the latest update, for logging
        self.register_buffer("embed", torch.zeros(size, dim))
        self.register_buffer("cluster_size", torch.zeros(size))
        self.register_buffer("embed_sum", torch.zeros(size, dim))
        self.register_buffer("initialised", torch.zeros((), dtype=torch.bool))

    def nearest(self, z: torch.Tensor) -> torch.Tensor:
        """``(N,)`` index of the nearest code for each row of ``z`` ``(N, D)``."""
        d = (z * z).sum(1, keepdim=True) - 2 * z @ self.embed.T + (self.embed * self.embed).sum(1)
        return d.argmin(1)

    @torch.no_grad()
    def update(self, z: torch.Tensor, idx: torch.Tensor) -> None:
        """One EMA step from the vectors ``z`` ``(N, D)`` assigned to ``idx`` ``(N,)``."""
        if len(z) == 0:
            return
        onehot = F.one_hot(idx, self.size).to(z.dtype)
        self.cluster_size.mul_(self.decay).add_(onehot.sum(0), alpha=1 - self.decay)
        self.embed_sum.mul_(self.decay).add_(onehot.T @ z, alpha=1 - self.decay)
        n = self.cluster_size.sum()
        eps = 1e-5
        smoothed = (self.cluster_size + eps) / (n + self.size * eps) * n  # Laplace: no division by 0
        self.embed.copy_(self.embed_sum / smoothed.unsqueeze(1))
        dead = self.cluster_size < self.restart_threshold
        self.last_restarts = int(dead.sum()) if self.allow_restarts else 0
        if self.allow_restarts and dead.any():
            pick = z[torch.randint(len(z), (int(dead.sum()),)).to(z.device)]  # CPU RNG: same on any device
            self.embed[dead] = pick
            self.embed_sum[dead] = pick * self.restart_threshold
            self.cluster_size[dead] = self.restart_threshold

    @torch.no_grad()
    def initialise(self, z: torch.Tensor) -> None:
        """Codebook from ``size`` random rows of ``z`` (with replacement if ``z`` is short)."""
        pick = z[torch.randint(len(z), (self.size,)).to(z.device)]
        self.embed.copy_(pick)
        self.embed_sum.copy_(pick)
        self.cluster_size.fill_(1.0)
        self.initialised.fill_(True)


class F0VQVAE(nn.Module):
    """Convolutional VQ-VAE of normalised log-F0 contours (see the module docstring).

    Args:
        config: :class:`F0VQConfig`.
    """

    def __init__(self, config: F0VQConfig):
        super().__init__()
        self.config = c = config
        h, k = c.hidden, c.kernel_size
        enc: list[nn.Module] = [nn.Conv1d(2, h, k, padding=k // 2)]
        for _ in range(3):  # x2 each: 100 -> 50 -> 25 -> 12.5 Hz
            enc += [ResBlock(h, k), nn.GELU(), nn.Conv1d(h, h, 4, stride=2, padding=1)]
        enc += [ResBlock(h, k), nn.GELU(), nn.Conv1d(h, c.code_dim, 1)]
        self.encoder = nn.Sequential(*enc)
        self.quantiser = EMAQuantiser(c.codebook_size, c.code_dim, c.ema_decay, c.restart_threshold)
        if c.unvoiced_code:
            # Code 0's vector: trained by the decoder's gradient, never by the EMA.
            self.unvoiced_embed = nn.Parameter(torch.zeros(c.code_dim))
        dec: list[nn.Module] = [nn.Conv1d(c.code_dim, h, k, padding=k // 2), ResBlock(h, k)]
        for _ in range(3):
            dec += [nn.GELU(), nn.ConvTranspose1d(h, h, 4, stride=2, padding=1), ResBlock(h, k)]
        dec += [nn.GELU(), nn.Conv1d(h, 2, k, padding=k // 2)]
        self.decoder = nn.Sequential(*dec)

    @classmethod
    def from_config(cls, config: F0VQConfig | dict) -> "F0VQVAE":
        """A freshly initialised model; ``config`` may be a dict of :class:`F0VQConfig` fields."""
        try:
            return cls(config if isinstance(config, F0VQConfig) else F0VQConfig(**config))
        except ValidationError as exc:
            raise ModelError(f"bad F0 VQ-VAE config: {exc}") from exc

    # -- pieces ---------------------------------------------------------------------------------

    @staticmethod
    def make_input(lf0_norm: torch.Tensor, voiced: torch.Tensor) -> torch.Tensor:
        """``(B, 2, T)`` model input from ``(B, T)`` normalised log-F0 and ``(B, T)`` voicing."""
        v = voiced.to(torch.float32)
        return torch.stack([lf0_norm.to(torch.float32) * v, v], 1)

    @staticmethod
    def _pad(x: torch.Tensor) -> torch.Tensor:
        """Zero-pad (= unvoiced) the time axis of ``(B, C, T)`` to a multiple of 8."""
        return F.pad(x, (0, (-x.shape[-1]) % DOWNSAMPLE))

    @staticmethod
    def _frame_mask(mask: torch.Tensor) -> torch.Tensor:
        """``(B, L)`` code frames with at least one valid 100 Hz frame, from a ``(B, 8L)`` mask."""
        return mask.reshape(mask.shape[0], -1, DOWNSAMPLE).any(-1)

    @staticmethod
    def unvoiced_frames(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``(B, L)`` bool: code frames where fewer than half of the valid 100 Hz frames are voiced.

        Args:
            x: ``(B, 2, 8L)`` padded input. mask: ``(B, 8L)`` bool, valid frames.
        """
        b = x.shape[0]
        voiced = ((x[:, 1] > 0.5) & mask).reshape(b, -1, DOWNSAMPLE).sum(-1)
        valid = mask.reshape(b, -1, DOWNSAMPLE).sum(-1)
        return 2 * voiced < valid.clamp_min(1)

    def _embed(self, codes: torch.Tensor) -> torch.Tensor:
        """``(B, D, L)`` quantised vectors of ``(B, L)`` codes."""
        c = self.config
        if codes.numel() and (codes.min() < 0 or codes.max() >= c.num_codes):
            raise ModelError(f"F0 codes must lie in [0, {c.num_codes})")
        if c.unvoiced_code:
            learned = self.quantiser.embed[(codes - 1).clamp_min(0)]
            q = torch.where((codes == 0).unsqueeze(-1), self.unvoiced_embed.expand_as(learned), learned)
        else:
            q = self.quantiser.embed[codes]
        return q.transpose(1, 2)

    # -- training -------------------------------------------------------------------------------

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Encode, quantise (straight-through; EMA update in training mode) and decode.

        Args:
            x: ``(B, 2, T)`` input (see :meth:`make_input`).
            mask: ``(B, T)`` bool, frames that are real (not batch padding); all if ``None``.

        Returns:
            dict with ``lf0`` ``(B, T)``, ``voiced_logit`` ``(B, T)``, ``codes`` ``(B, ceil(T/8))``
            int64, ``commit`` (scalar loss) and ``code_mask`` ``(B, ceil(T/8))``.
        """
        c = self.config
        if x.ndim != 3 or x.shape[1] != 2:
            raise ModelError(f"F0 VQ-VAE input must be (B, 2, T), got {tuple(x.shape)}")
        t = x.shape[-1]
        mask = torch.ones(x.shape[0], t, dtype=torch.bool, device=x.device) if mask is None else mask.bool()
        xp = self._pad(x * mask.unsqueeze(1))
        mp = F.pad(mask, (0, xp.shape[-1] - t))
        z = self.encoder(xp)  # (B, D, L)
        zf = z.transpose(1, 2)  # (B, L, D)
        live = self._frame_mask(mp)  # code frames the quantiser may learn from
        uv = self.unvoiced_frames(xp, mp) if c.unvoiced_code else torch.zeros_like(live)
        learn = live & ~uv
        vq = self.quantiser
        if self.training and not bool(vq.initialised):
            vq.initialise(zf[learn].detach() if learn.any() else zf.reshape(-1, z.shape[1]).detach())
        idx = vq.nearest(zf.reshape(-1, z.shape[1]).detach()).reshape(zf.shape[:2])
        if self.training:
            vq.update(zf[learn].detach(), idx[learn])
            idx = vq.nearest(zf.reshape(-1, z.shape[1]).detach()).reshape(zf.shape[:2])  # after restarts
        codes = torch.where(uv, 0, idx + 1) if c.unvoiced_code else idx
        q = self._embed(codes).transpose(1, 2)  # (B, L, D)
        commit = ((zf - q.detach()) ** 2).mean(-1)[learn].mean() if learn.any() else zf.sum() * 0
        q_st = torch.where(uv.unsqueeze(-1), q, zf + (q - zf).detach())  # straight-through
        y = self.decoder(q_st.transpose(1, 2))[..., :t]
        return dict(lf0=y[:, 0], voiced_logit=y[:, 1], codes=codes, commit=commit, code_mask=live)

    def loss(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, dict]:
        """Training loss: L1 on voiced log-F0 + ``voicing_weight`` BCE + ``commitment`` * commit.

        Args:
            x: ``(B, 2, T)`` input. mask: ``(B, T)`` bool valid frames (``None``: all).

        Returns:
            ``(loss, parts)``: the scalar loss and a dict of floats for logging (``l1``, ``bce``,
            ``commit``, ``perplexity`` of the codes in this batch, ``restarts`` of dead codes).
        """
        c = self.config
        out = self(x, mask)
        mask = torch.ones_like(x[:, 1], dtype=torch.bool) if mask is None else mask.bool()
        voiced = (x[:, 1] > 0.5) & mask
        l1 = (out["lf0"] - x[:, 0]).abs()[voiced].mean() if voiced.any() else out["lf0"].sum() * 0
        bce = F.binary_cross_entropy_with_logits(out["voiced_logit"][mask], x[:, 1][mask])
        loss = l1 + c.voicing_weight * bce + c.commitment * out["commit"]
        counts = torch.bincount(out["codes"][out["code_mask"]], minlength=c.num_codes).float()
        p = counts / counts.sum().clamp_min(1)
        perplexity = torch.exp(-(p * p.clamp_min(1e-12).log()).sum())
        parts = dict(loss=loss, l1=l1, bce=bce, commit=out["commit"], perplexity=perplexity)
        return loss, {**{k: float(v.detach()) for k, v in parts.items()}, "restarts": self.quantiser.last_restarts}

    # -- inference ------------------------------------------------------------------------------

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Codes of ``(B, 2, T)`` inputs: ``(B, ceil(T / 8))`` int64 in ``[0, num_codes)``.

        Quantisation is deterministic and never updates the codebook, whatever the module's mode.
        """
        was = self.training
        self.eval()
        try:
            return self(x)["codes"]
        finally:
            self.train(was)

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Contours of ``(B, L)`` codes: ``(lf0_norm, voiced_prob)``, both ``(B, 8L)`` at 100 Hz.

        ``lf0_norm`` is meaningful where ``voiced_prob > 0.5``; undo the normalisation with the
        speaker's (or the utterance's) statistics, :func:`codec.pitch.denormalise`.
        """
        codes = torch.as_tensor(codes, dtype=torch.int64)
        if codes.ndim != 2:
            raise ModelError(f"F0 codes must be (B, L), got {tuple(codes.shape)}")
        dev = next(self.parameters()).device
        y = self.decoder(self._embed(codes.to(dev)))
        return y[:, 0], torch.sigmoid(y[:, 1])

    def encode_f0(self, f0: np.ndarray) -> tuple[np.ndarray, F0Stats]:
        """One utterance's F0 track (Hz, 0 = unvoiced, ``(T,)``) to ``(ceil(T/8),)`` int64 codes.

        Returns the codes and the utterance's :class:`~codec.pitch.F0Stats` (which the bitstream
        does not carry: the decoder takes pitch level from the speaker code).
        """
        lf0, voiced, stats = normalise(f0)
        dev = next(self.parameters()).device
        x = self.make_input(torch.from_numpy(lf0)[None], torch.from_numpy(voiced)[None]).to(dev)
        return self.encode(x)[0].cpu().numpy(), stats

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # -- files ----------------------------------------------------------------------------------

    def save(self, path: str | Path) -> tuple[Path, Path]:
        """Write ``path.safetensors`` (weights and EMA codebook) and ``path.json`` (config).

        Returns the two paths. ``path`` may carry either suffix or none.
        """
        from safetensors.torch import save_file

        stem = _stem(path)
        stem.parent.mkdir(parents=True, exist_ok=True)
        tensors = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        weights, cfg = stem.with_suffix(".safetensors"), stem.with_suffix(".json")
        save_file(tensors, str(weights), metadata={"format": FORMAT, "version": str(FORMAT_VERSION)})
        cfg.write_text(json.dumps({"format": FORMAT, "version": FORMAT_VERSION,
                                   "config": self.config.model_dump()}, indent=2) + "\n")
        return weights, cfg

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device = "cpu") -> "F0VQVAE":
        """A model from ``path.safetensors`` + ``path.json``, in eval mode.

        Raises:
            ModelError: missing or corrupt files, a foreign format, or weights that do not match
                the config.
        """
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        stem = _stem(path)
        weights, cfg = stem.with_suffix(".safetensors"), stem.with_suffix(".json")
        try:
            meta = json.loads(cfg.read_text())
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot read F0 VQ-VAE config {cfg}: {exc}") from exc
        if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("version") != FORMAT_VERSION:
            raise ModelError(f"{cfg} is not an {FORMAT} v{FORMAT_VERSION} config")
        model = cls.from_config(meta.get("config") or {})
        try:
            state = load_file(str(weights), device=str(device))
        except (OSError, SafetensorError) as exc:
            raise ModelError(f"cannot read F0 VQ-VAE weights {weights}: {exc}") from exc
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise ModelError(f"F0 VQ-VAE weights {weights} do not match {cfg}: {exc}") from exc
        return model.to(device).eval()


def _stem(path: str | Path) -> Path:
    p = Path(path)
    return p.with_suffix("") if p.suffix in (".safetensors", ".json") else p


def code_frames(num_samples: int) -> int:
    """F0 codes of an utterance of ``num_samples`` samples at 16 kHz: ``ceil(N / 1280)``."""
    return -(-int(num_samples) // (160 * DOWNSAMPLE))


__all__ = ["F0VQConfig", "F0VQVAE", "EMAQuantiser", "code_frames", "DOWNSAMPLE"]
