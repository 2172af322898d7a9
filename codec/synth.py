"""Synthesis of a window of streams: the vocoder, the pitch shift edit, the loss fades.

The vocoder's receptive field (``receptive_field_frames``): every output sample depends on the
streams within ``R`` unit frames either side. With the shipped decoder, conv_in (k=7) and 8
ConvNeXt blocks (depthwise k=7) see 3 + 8 x 3 = 27 decoder frames (10 ms) each side, and the
iSTFT (n_fft=640, hop=160, centred) adds 2: 29 frames = 290 ms, i.e. R = 15 unit frames (300 ms).
A window decoded with R frames of real context on each side gives the whole-file output inside it.

Pitch shift (header field ``pitch_cents``, made by ``srb edit --pitch``): the F0 codes carry only
the per-utterance normalised contour and the pitch level comes from the speaker vector, so the
decoder cannot be told "N semitones higher" through its inputs. Instead the shift is the classic
stretch-then-resample, with the stretch done for free on the unit runs: decode the streams slowed
down by ``r = 2^(N/12)`` (run lengths x r, which the vocoder renders at the speaker's usual pitch),
then resample the audio by ``1/r`` back to the original duration, which multiplies every frequency
by ``r``. Formants move with it (by N semitones), as with any resampling pitch shifter.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import torch
import torchaudio

from bitstream.edit import resample_nearest, stretch_runs

from .pitch import stats_from_code

#: Fade of concealed (lost) audio: out over this long after the last intact packet, in before the next.
LOSS_FADE_S = 0.1


def receptive_field_frames(decoder, *stages) -> int:
    """Unit frames of context, each side, that make a window's output exact (see module doc),
    with the own context (``context_samples``) of each finishing stage after the vocoder that is
    given and not ``None`` (:class:`codec.postfilter.Postfilter`, :class:`codec.smoother.EnvelopeSmoother`,
    :class:`codec.refiner.BandRefiner`)."""
    c = decoder.config
    frames = (c.kernel // 2) * (1 + c.layers) + math.ceil(c.n_fft / 2 / c.hop)
    samples = frames * c.hop + sum(stage.context_samples for stage in stages if stage is not None)
    return math.ceil(samples / c.unit_hop)


def pitch_ratio(cents: int) -> Fraction:
    """The frequency ratio ``2^(cents/1200)`` as a small fraction (resampling needs integers);
    denominators <= 200 keep the error below 5 cents and torchaudio's filter bank small."""
    return Fraction(2.0 ** (cents / 1200)).limit_denominator(200)


@torch.inference_mode()
def synthesize(decoder, units: np.ndarray, f0: np.ndarray, speaker: torch.Tensor, pitch_cents: int = 0,
               pitch_stats: tuple[int, int] | None = None, postfilter=None) -> np.ndarray:
    """``(len(units) * unit_hop,)`` float32 audio (not clamped) for a window of streams.

    Args:
        decoder: the vocoder.
        units: ``(T,)`` unit ids of the window, whose first frame starts an F0 frame.
        f0: the F0 codes covering it (``ceil(T * unit_hop / f0_hop)``).
        speaker: ``(1, dim)`` speaker vector.
        pitch_cents: pitch shift to apply (see module doc).
        pitch_stats: the utterance's ``(level, spread)`` bytes (:func:`codec.pitch.stats_code`),
            for a decoder that takes them; ``None`` leaves the pitch level to the speaker vector.
        postfilter: a :class:`codec.postfilter.Postfilter` applied last, or ``None``.
    """
    c = decoder.config
    length = len(units) * c.unit_hop
    if pitch_cents:
        r = pitch_ratio(pitch_cents)
        n = max(1, round(len(units) * r))
        units = stretch_runs(units, n)
        f0 = resample_nearest(f0, -(-n * c.unit_hop // c.f0_hop))
    u = torch.from_numpy(np.asarray(units, np.int64))[None]
    f = torch.from_numpy(np.asarray(f0, np.int64))[None]
    wav = decoder(u, f, speaker, stats_tensor(pitch_stats))[0]
    if pitch_cents:
        wav = torchaudio.functional.resample(wav, r.numerator, r.denominator)
        wav = torch.nn.functional.pad(wav, (0, max(0, length - wav.numel())))
    wav = wav[:length]
    if postfilter is not None:
        wav = postfilter(wav)
    return wav.numpy().astype(np.float32)


def stats_tensor(pitch_stats: tuple[int, int] | None) -> torch.Tensor | None:
    """``(1, 2)`` log-F0 mean and std the decoder takes, from the transmitted bytes."""
    if pitch_stats is None:
        return None
    st = stats_from_code(*pitch_stats)
    return torch.tensor([[st.mean, st.std]], dtype=torch.float32)


def fade_gain(num: int, fade_out: bool, fade_in: bool, sample_rate: int) -> np.ndarray:
    """Gain over a concealed span of ``num`` samples: 1 -> 0 over LOSS_FADE_S at its start (when the
    audio before it was intact), 0 -> 1 at its end (when the audio after it is intact), 0 between."""
    g = np.zeros(num, np.float32)
    k = min(num, int(LOSS_FADE_S * sample_rate))
    ramp = np.linspace(1.0, 0.0, k, dtype=np.float32)
    if fade_out:
        g[:k] = np.maximum(g[:k], ramp)
    if fade_in:
        g[num - k :] = np.maximum(g[num - k :], ramp[::-1])
    return g
