"""Audio in: any common file, array or tensor -> mono float32 at the codec's sample rate.

Bad input fails here, before any model runs, with :class:`~codec.errors.AudioError`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio

from .errors import AudioError

SAMPLE_RATE = 16000
#: Shorter input carries too little to code (one F0 frame is 80 ms).
MIN_SECONDS = 0.1
#: Peak below this (about -80 dBFS) counts as silence.
SILENCE_PEAK = 1e-4


def load_audio(audio, sample_rate: int | None = None, target_rate: int = SAMPLE_RATE) -> torch.Tensor:
    """Read, mix to mono, resample and check.

    Args:
        audio: a path (anything soundfile reads: WAV, FLAC, OGG, MP3...), a numpy array or a torch
            tensor, shaped ``(N,)``, ``(N, C)`` for numpy (soundfile's layout) or ``(C, N)`` for torch.
        sample_rate: rate of an array or tensor input; required for them, ignored for paths.
        target_rate: rate to return.

    Returns:
        ``(N',)`` float32 tensor at ``target_rate``.

    Raises:
        AudioError: unreadable file, missing or invalid sample rate, empty, shorter than 0.1 s,
            NaN/inf samples, or silence.
    """
    if isinstance(audio, (str, Path)):
        try:
            data, sample_rate = sf.read(str(audio), dtype="float32", always_2d=True)
        except Exception as exc:  # soundfile raises LibsndfileError, RuntimeError, TypeError...
            raise AudioError(f"cannot read audio {audio}: {exc}") from exc
        wav = torch.from_numpy(data.mean(axis=1))
    else:
        if sample_rate is None:
            raise AudioError("sample_rate is required for array or tensor input")
        if isinstance(audio, np.ndarray):
            arr = audio.astype(np.float32) if audio.dtype.kind == "f" else _int_to_float(audio)
            wav = torch.from_numpy(np.ascontiguousarray(arr.mean(axis=1) if arr.ndim == 2 else arr))
        elif isinstance(audio, torch.Tensor):
            t = audio.detach().to("cpu", torch.float32)
            wav = t.mean(dim=0) if t.ndim == 2 else t
        else:
            raise AudioError(f"unsupported audio input of type {type(audio).__name__}")
        if wav.ndim != 1:
            raise AudioError(f"audio must be 1-D or 2-D (channels), got shape {tuple(audio.shape)}")
    if not isinstance(sample_rate, (int, np.integer)) or not 1000 <= sample_rate <= 384000:
        raise AudioError(f"sample rate must be an integer in 1000..384000 Hz, got {sample_rate!r}")
    if wav.numel() == 0:
        raise AudioError("audio is empty")
    if not torch.isfinite(wav).all():
        raise AudioError("audio contains NaN or infinite samples")
    if wav.numel() < MIN_SECONDS * sample_rate:
        raise AudioError(f"audio is {wav.numel() / sample_rate:.3f} s long; at least {MIN_SECONDS} s is needed")
    if wav.abs().max() < SILENCE_PEAK:
        raise AudioError("audio is silent")
    if sample_rate != target_rate:
        wav = torchaudio.functional.resample(wav, int(sample_rate), target_rate)
    return wav.contiguous()


def _int_to_float(arr: np.ndarray) -> np.ndarray:
    if arr.dtype.kind not in "iu":
        raise AudioError(f"unsupported sample type {arr.dtype}")
    info = np.iinfo(arr.dtype)
    scale = max(abs(info.min), info.max)
    offset = (info.max + 1) / 2 if arr.dtype.kind == "u" else 0
    return ((arr.astype(np.float64) - offset) / scale).astype(np.float32)
