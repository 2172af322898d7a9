"""Envelope layer: a few bits per 40 ms that move the decoded band levels towards the original's.

The units say which sound to make, the F0 codes at which pitch; neither says how loud each part of
the spectrum is at each moment, and the vocoder's guess is where srb lost most of its STOI and
many words (docs/ENVELOPE.md; an oracle with exact band levels bought +0.1 STOI,
benchmarks/results/stoi_oracle.md). The envelope layer sends that as a correction measured in
closed loop: the encoder decodes its own streams, exactly as the decoder will, compares the result
with the input in ``bands`` mel bands over frames of ``ratio`` unit frames (40 ms), and sends per
frame the index of the nearest vector of a trained codebook of ``(bands,)`` level corrections in dB:

    r_j  = clip(10 log10(P_orig(b, j) / P_dec(b, j)), -clip_db, clip_db)      (b = 1 .. bands)
    c_j  = argmin_k |r_j - codebook_k|^2      (sent; or, with ``lam``, the packet's sequence of least
                                              sum |r_j - codebook_c_j|^2 + lam * bits: codec.frame_rdo)
    |Y(f, t)| = |X(f, t)| * exp(sum_b v_fb g_b(t)),  g(t) = scale * codebook[c] interpolated
                                                     between frame centres (log amplitude)

The codes are entropy-coded as a third stream of each packet (format 1.4, :mod:`bitstream`); the
codebook lives in ``bundle.json`` and so is part of the model id. Frames of lost packets get no
correction. Because the correction is relative to what *this* decoder makes of *these* streams,
edits that change the voice or the timing drop the layer (:mod:`bitstream.edit`).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator

from .blockwise import in_blocks
from .smoother import mel_band_filters


class EnvelopeConfig(BaseModel):
    """Settings of :class:`EnvelopeLayer`, with its trained codebook."""

    model_config = ConfigDict(extra="forbid")

    bands: int = Field(8, ge=1, le=64)  # mel bands from 0 Hz to Nyquist
    ratio: int = Field(2, ge=1, le=64)  # unit frames per envelope frame (2 x 20 ms = 40 ms)
    unit_hop: int = Field(320, ge=1)
    clip_db: float = Field(12.0, gt=0.0)  # corrections are measured within +-this
    # Share of the coded correction the decoder applies. Codes are chosen for the whole correction;
    # with v0.6's 64 codes applying all of it cost DistillMOS 0.16 on held-out train speakers and
    # half of it 0.01; v0.7's sharper codes take 0.65 (docs/ENVELOPE.md).
    scale: float = Field(1.0, gt=0.0, le=1.0)
    # The encoder's default rate-distortion trade-off in dB^2 (of a frame's summed squared band
    # error) per bit: codes are chosen by :mod:`codec.frame_rdo` under the layer's table; 0 = each
    # frame's nearest vector. A codebook trained with one (``srb train envelope --lam``) is used at it.
    lam: float = Field(0.0, ge=0.0, le=1000.0)
    n_fft: int = Field(512, ge=64)
    hop: int = Field(160, ge=16)  # STFT hop; an envelope frame is a whole number of STFT frames
    sample_rate: int = 16000
    codebook: list[list[float]]  # (K, bands) corrections in dB

    @field_validator("codebook")
    @classmethod
    def _rows(cls, rows: list[list[float]]) -> list[list[float]]:
        if not rows or len({len(r) for r in rows}) != 1 or not all(math.isfinite(v) for r in rows for v in r):
            raise ValueError("the codebook must be a non-empty list of equally long rows of finite numbers")
        return rows

    @property
    def frame_samples(self) -> int:
        """Samples per envelope frame."""
        return self.ratio * self.unit_hop

    @property
    def size(self) -> int:
        """Codebook entries (the stream's alphabet)."""
        return len(self.codebook)


class EnvelopeLayer:
    """Measures (encoder) and applies (decoder) the band-level corrections of the module doc.

    Args:
        config: an :class:`EnvelopeConfig` (or its fields as a dict).
    """

    #: Longer audio is corrected in blocks of this many samples (:func:`codec.blockwise.in_blocks`).
    block_samples = 320_000

    def __init__(self, config: EnvelopeConfig | dict):
        c = self.config = config if isinstance(config, EnvelopeConfig) else EnvelopeConfig(**config)
        if c.frame_samples % c.hop or c.hop > c.n_fft // 2:
            raise ValueError("an envelope frame must be whole STFT hops, and the hop at most half of n_fft")
        if len(c.codebook[0]) != c.bands:
            raise ValueError(f"codebook rows have {len(c.codebook[0])} values for {c.bands} bands")
        self.codebook = torch.tensor(c.codebook, dtype=torch.float32)  # (K, bands) dB
        self.window = torch.hann_window(c.n_fft)
        self.filters, self.spread = mel_band_filters(c.n_fft, c.bands, c.sample_rate)
        self.per_frame = c.frame_samples // c.hop  # STFT frames per envelope frame

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    def num_frames(self, num_samples: int) -> int:
        """Envelope frames of ``num_samples`` samples (as :func:`bitstream.streams.num_frames`)."""
        return -(-num_samples // self.config.frame_samples)

    @property
    def context_samples(self) -> int:
        """Samples either side an output sample depends on: its STFT frames' windows and the two
        envelope frames whose gains it is interpolated between."""
        return self.config.n_fft + self.config.frame_samples

    def _stft(self, wav: torch.Tensor) -> torch.Tensor:
        c = self.config
        return torch.stft(wav.float(), c.n_fft, c.hop, window=self.window, center=True, return_complex=True)

    def band_levels(self, wav: np.ndarray) -> np.ndarray:
        """``(N,)`` audio -> ``(T_e, bands)`` mean band power per envelope frame, in dB (STFT frame
        ``t`` belongs to envelope frame ``t // per_frame``; frames past the last are dropped)."""
        x = torch.from_numpy(np.ascontiguousarray(wav, np.float32))
        p = self.filters @ self._stft(x).abs().square()  # (bands, T)
        n = self.num_frames(x.numel())
        need = n * self.per_frame
        p = torch.nn.functional.pad(p[:, :need], (0, max(0, need - p.shape[1])))
        p = p.reshape(p.shape[0], n, self.per_frame).mean(-1)
        return (10 * torch.log10(p + 1e-10)).T.numpy()

    def corrections(self, original: np.ndarray, decoded: np.ndarray) -> np.ndarray:
        """``(T_e, bands)`` dB the decoded audio's bands are off from the original's, clipped."""
        if len(original) != len(decoded):
            raise ValueError(f"original and decoded differ in length ({len(original)} vs {len(decoded)})")
        r = self.band_levels(original) - self.band_levels(decoded)
        return np.clip(r, -self.config.clip_db, self.config.clip_db)

    def quantize(self, corrections: np.ndarray, lam: float = 0.0, bits: np.ndarray | None = None,
                 starts=None) -> np.ndarray:
        """``(T, bands)`` dB -> ``(T,)`` int32 codes: each frame's nearest codebook vector, or with
        ``lam > 0`` the sequence of least squared error plus ``lam`` times its bits.

        Args:
            corrections: ``(T, bands)`` in dB.
            lam: dB^2 per bit (:mod:`codec.frame_rdo`); 0: nearest vectors.
            bits: ``(K + 1, K)`` the stream's code lengths (:func:`codec.frame_rdo.code_lengths`),
                needed when ``lam > 0``.
            starts: frames where packets start (contexts restart there); ``None``: frame 0 only.
        """
        r = torch.from_numpy(np.ascontiguousarray(corrections, np.float32))
        if lam == 0:
            return torch.cdist(r, self.codebook).argmin(dim=1).to(torch.int32).numpy()
        if bits is None:
            raise ValueError("a rate-distortion choice (lam > 0) needs the stream's code lengths")
        from .frame_rdo import choose_codes

        return choose_codes(torch.cdist(r, self.codebook).square().numpy(), bits, lam, starts)

    def encode(self, original: np.ndarray, decoded: np.ndarray) -> np.ndarray:
        """The nearest codes that move ``decoded`` towards ``original`` (both ``(N,)``, same length);
        the codec chooses its codes with :meth:`codec.api.Codec.envelope_codes`."""
        return self.quantize(self.corrections(original, decoded))

    def frame_gains(self, codes: np.ndarray, lost: np.ndarray | None = None) -> torch.Tensor:
        """``(T_e,)`` codes -> ``(T_e, bands)`` log-amplitude gains, ``scale`` of the codebook's
        (0 where ``lost``)."""
        g = self.codebook[torch.from_numpy(np.asarray(codes, np.int64))] * (self.config.scale * math.log(10) / 20)
        if lost is not None:
            g[torch.from_numpy(np.asarray(lost, bool))] = 0.0
        return g

    @torch.inference_mode()
    def apply(self, wav: np.ndarray, codes: np.ndarray, lost: np.ndarray | None = None) -> np.ndarray:
        """Correct decoded audio.

        Args:
            wav: ``(N,)`` float32 decoded audio, starting on an envelope frame (a streamed window
                passes its own span, which starts on an F0 frame and so on an envelope frame).
            codes: ``(T_e,)`` the envelope codes from that frame on, covering ``wav``.
            lost: ``(T_e,)`` bool, frames to leave uncorrected (concealed packets), or ``None``.

        Returns:
            ``(N,)`` float32 corrected audio (not clamped).
        """
        x = torch.from_numpy(np.ascontiguousarray(wav, np.float32))
        if x.numel() < self.config.n_fft // 2 + 1 or len(codes) == 0:  # too short to reflect-pad
            return x.numpy()
        gains = self.frame_gains(codes, lost)  # (T_e, bands)
        c = self.config

        def correct(block: torch.Tensor, start: int) -> torch.Tensor:
            spec = self._stft(block)
            t = (torch.arange(spec.shape[1]) * c.hop + start) / c.frame_samples - 0.5  # in envelope frames
            return torch.istft(spec * torch.exp(self.spread @ self._interpolate(gains, t).T), c.n_fft, c.hop,
                               window=self.window, center=True, length=block.numel())

        # Blocks on the envelope frame grid, each with its context and its offset (the gains depend
        # on the position): the whole signal's STFT frames and gains, in bounded memory.
        return in_blocks(x, correct, self.block_samples, self.context_samples, c.frame_samples,
                         with_offset=True).numpy()

    @staticmethod
    def _interpolate(gains: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Gains ``(T_e, bands)`` at fractional envelope-frame positions ``t`` (frame ``j``'s centre
        is ``j``), linear between centres and held beyond the first and last."""
        n = gains.shape[0]
        t = t.clamp(0, n - 1)
        i0 = t.floor().long().clamp(0, n - 1)
        i1 = (i0 + 1).clamp(max=n - 1)
        w = (t - i0).unsqueeze(1)
        return gains[i0] * (1 - w) + gains[i1] * w
