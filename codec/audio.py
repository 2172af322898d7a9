"""Audio in: any common file, array or tensor -> mono float32 at the codec's sample rate.

Bad input fails here, before any model runs, with :class:`~codec.errors.AudioError`.
"""

from __future__ import annotations

import math
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
#: Float samples beyond this are not audio in [-1, 1] (e.g. integer PCM values passed as float);
#: a little over 1 is allowed, as float files and resamplers overshoot full scale.
MAX_PEAK = 2.0
#: Samples pinned at the input's own peak (|x| >= CLIP_LEVEL * peak) in more than this share of
#: it: clipped beyond use, a square wave more than speech (srb's train and dev speech: at most
#: 0.013 % at full scale; a sine: 2.8 %; a sine overdriven by 5 % and clipped: 20 %).
CLIP_LEVEL = 0.999
MAX_CLIPPED_SHARE = 0.25
#: High-pass cutoff (Hz) of every input before it is analysed, and its biquad sections (12 dB per
#: octave each, Q 0.707: -6 dB at the cutoff). Mains hum below the voice's range was tracked as
#: pitch by Praat: 50 Hz hum 11 dB under the speech made a dev file's F0 codes 91 % different and
#: cost 0.10 STOI. 80 Hz was chosen over 60 and 70 on train files under a rule written first
#: (docs/NOISE.md, *Mains hum*); ``None`` leaves the input as it is.
HIGHPASS_HZ: float | None = 80.0
HIGHPASS_STAGES = 2
#: The high-pass runs on a fixed grid of blocks from the input's first sample, each block started
#: from rest ``HIGHPASS_WARMUP`` samples earlier (its response has decayed by 1e-7 within 60 ms),
#: so that the block encoder, which reads a file piece by piece, filters exactly as a whole-file
#: encode does (:func:`highpass`).
HIGHPASS_BLOCK = 32000
HIGHPASS_WARMUP = 4000


def load_audio(audio, sample_rate: int | None = None, target_rate: int = SAMPLE_RATE,
               highpass_hz: float | None = HIGHPASS_HZ) -> torch.Tensor:
    """Read, mix to mono, check, remove the DC offset, resample and high-pass.

    Args:
        audio: a path or a binary file object (anything soundfile reads: WAV, FLAC, OGG, MP3...),
            a numpy array or a torch tensor, shaped ``(N,)``, ``(N, C)`` for numpy (soundfile's layout) or ``(C, N)`` for torch.
        sample_rate: rate of an array or tensor input; required for them, ignored for paths.
        target_rate: rate to return.
        highpass_hz: cutoff of the high-pass (:func:`highpass`) at ``target_rate``; ``None``: none.

    Returns:
        ``(N',)`` float32 tensor at ``target_rate``, its DC offset removed (:func:`dc_offset`)
        and high-passed. The checks see the input before the high-pass.

    Raises:
        AudioError: unreadable file, missing or invalid sample rate, empty, shorter than 0.1 s,
            NaN/inf samples, samples far outside [-1, 1], mostly clipped, or silence.
    """
    if isinstance(audio, (str, Path)) or hasattr(audio, "read"):
        if isinstance(audio, (str, Path)) and not Path(audio).is_file():
            raise AudioError(f"cannot read audio {audio}: {'a folder' if Path(audio).is_dir() else 'no such file'}")
        try:
            data, sample_rate = sf.read(audio if hasattr(audio, "read") else str(audio), dtype="float32",
                                        always_2d=True)
        except Exception as exc:  # soundfile raises LibsndfileError, RuntimeError, TypeError...
            name = audio if isinstance(audio, (str, Path)) else getattr(audio, "name", "from the file object")
            why = getattr(exc, "error_string", None) or str(exc)  # libsndfile's reason, without the object's repr
            raise AudioError(f"cannot read audio {name}: {why}") from exc
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
    wav = wav - torch.tensor(dc_offset([wav.numpy()]))
    peak = float(wav.abs().max())
    check_level(peak)
    check_clipping(int((wav.abs() >= CLIP_LEVEL * peak).sum()), wav.numel())
    if sample_rate != target_rate:
        wav = torchaudio.functional.resample(wav, int(sample_rate), target_rate)
    if highpass_hz is not None:
        x = wav.contiguous().numpy()
        wav = torch.from_numpy(highpass(lambda a, b: x[a:b], 0, x.size, highpass_hz, target_rate))
    return wav.contiguous()


def highpass(read, start: int, stop: int, hz: float, sample_rate: int) -> np.ndarray:
    """Samples ``[start, stop)`` of an input high-passed at ``hz`` (:data:`HIGHPASS_STAGES` biquad
    sections), computed block by block on the grid of :data:`HIGHPASS_BLOCK` samples from the
    input's start, each block from rest :data:`HIGHPASS_WARMUP` samples before it: the same
    numbers whichever span is asked for.

    Args:
        read: ``read(a, b)`` -> the unfiltered samples ``[a, b)`` (``0 <= a``; fewer past the end).
        start, stop: the span, ``0 <= start <= stop <= `` the input's length.
        hz, sample_rate: the cutoff and the input's rate.
    """
    w0 = 2 * math.pi * hz / sample_rate
    alpha, c = math.sin(w0) / (2 * math.sqrt(0.5)), math.cos(w0)
    b = torch.tensor([(1 + c) / 2, -(1 + c), (1 + c) / 2]) / (1 + alpha)
    a = torch.tensor([1.0, -2 * c / (1 + alpha), (1 - alpha) / (1 + alpha)])
    size, out = HIGHPASS_BLOCK, []
    for g in range(start // size, -(-stop // size)):
        first = max(0, g * size - HIGHPASS_WARMUP)
        x = torch.from_numpy(np.ascontiguousarray(read(first, min((g + 1) * size, stop)), np.float32))
        for _ in range(HIGHPASS_STAGES):  # unclamped: a high-pass may overshoot full scale
            x = torchaudio.functional.lfilter(x, a, b, clamp=False)
        out.append(x.numpy()[max(start, g * size) - first:])
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def dc_offset(blocks) -> np.float32:
    """The mean of the samples of ``blocks`` (an iterable of 1-D float32 arrays, a file in order),
    summed in float64: the DC offset srb removes from every input before anything measures it.

    Some recordings carry one: 27 of the 1 986 train files have a mean over 1e-3, and one of them
    -0.26 (LibriSpeech 445-123857-0000, whose speech is at -26.5 dB). Left in, it counts as
    loudness in the output gain and as energy in the envelope layer's lowest band, so that file
    came back 14.5 dB too loud, clipped. The high-pass after it (:func:`highpass`) would remove a
    constant too, but starting from rest it would turn a large offset into a thump at the start;
    the mean is removed exactly, and the block encoder removes the same (:mod:`codec.stream_encode`).
    """
    total, count = 0.0, 0
    for b in blocks:
        total += float(np.sum(b, dtype=np.float64))
        count += b.size
    return np.float32(total / count if count else 0.0)


def check_level(peak: float) -> None:
    """Refuse a (finite) input whose largest magnitude is ``peak``: silence, or not in [-1, 1]."""
    if peak < SILENCE_PEAK:
        raise AudioError("audio is silent")
    if peak > MAX_PEAK:
        raise AudioError(f"samples reach {peak:.6g}: audio must lie in [-1, 1] (integer PCM passed as float? "
                         "pass the integer array itself)")


def check_clipping(pinned: int, total: int) -> None:
    """Refuse an input with ``pinned`` of its ``total`` samples at ``CLIP_LEVEL`` times its peak or more."""
    if pinned > MAX_CLIPPED_SHARE * total:
        raise AudioError(f"audio is clipped: {pinned / total:.0%} of its samples are at full scale")


def _int_to_float(arr: np.ndarray) -> np.ndarray:
    if arr.dtype.kind not in "iu":
        raise AudioError(f"unsupported sample type {arr.dtype}")
    info = np.iinfo(arr.dtype)
    scale = max(abs(info.min), info.max)
    offset = (info.max + 1) / 2 if arr.dtype.kind == "u" else 0
    return ((arr.astype(np.float64) - offset) / scale).astype(np.float32)
