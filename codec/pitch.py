"""F0 extraction at 100 Hz and per-utterance normalisation of log-F0.

The F0 grid: frame ``i`` covers samples ``[160 i, 160 (i + 1))`` at 16 kHz and its F0 is the
pitch at the frame centre, ``(i + 0.5) * 10`` ms; an utterance of ``N`` samples has exactly
``ceil(N / 160)`` frames, so eight of them make one 12.5 Hz F0 code frame (``ceil(N / 1280)``).
F0 is in Hz with 0 meaning unvoiced.

The tracker is Praat's autocorrelation method (parselmouth) in two passes: a wide first pass finds
this utterance's pitch range, a second pass tracks within it. It was chosen over torchcrepe by
measurement against pyworld Harvest on the dev split (``docs/PITCH.md``): the lowest gross pitch
error (1.8 %; crepe-tiny 3.7 %, one pass of Praat 4.4 %) at 0.011 CPU seconds per audio second,
about 40 times cheaper than crepe-tiny.

``normalise`` works on one utterance only, because the encoder sees one utterance: log-F0 minus
its voiced mean, over its voiced standard deviation. The pitch level and range come back at the
decoder from the speaker code, as in Polyak et al. 2021.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import AudioError

SAMPLE_RATE = 16000
HOP = 160  # samples per F0 frame: 100 Hz
FRAME_RATE = SAMPLE_RATE / HOP
#: Range of the first, utterance-wide pass. 50 Hz covers low male voices; 800 Hz covers children
#: (speechocean762) with room for excited speech.
WIDE_FLOOR, WIDE_CEILING = 50.0, 800.0
#: Fewer voiced frames than this in the first pass: keep the wide range for the second.
MIN_VOICED_FOR_RANGE = 30
#: Smallest log-F0 standard deviation ``normalise`` divides by (~35 cents); a monotone or nearly
#: unvoiced utterance would otherwise blow its tracker jitter up to unit variance.
MIN_LOG_STD = 0.02


def num_frames(num_samples: int) -> int:
    """F0 frames of an utterance of ``num_samples`` samples: ``ceil(num_samples / 160)``."""
    return -(-int(num_samples) // HOP)


def frame_times(num_samples: int) -> np.ndarray:
    """``(T,)`` float64: the centre of each F0 frame in seconds."""
    return (np.arange(num_frames(num_samples)) + 0.5) / FRAME_RATE


def check_audio(audio, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The audio as a 1-D float64 numpy array, or :class:`AudioError` if it cannot be tracked.

    Args:
        audio: ``(N,)`` samples (numpy or torch; ``(1, N)`` is accepted too).
        sample_rate: must be 16000: resampling is the caller's job.
    """
    if sample_rate != SAMPLE_RATE:
        raise AudioError(f"F0 extraction needs {SAMPLE_RATE} Hz audio, got {sample_rate} Hz")
    if hasattr(audio, "detach"):  # a torch tensor, without importing torch here
        audio = audio.detach().cpu().numpy()
    x = np.asarray(audio)
    if x.ndim == 2 and x.shape[0] == 1:
        x = x[0]
    if x.ndim != 1:
        raise AudioError(f"F0 extraction needs mono audio of shape (N,), got shape {x.shape}")
    if x.size == 0:
        raise AudioError("empty audio")
    if x.dtype.kind not in "fiu":
        raise AudioError(f"audio samples must be numbers, got {x.dtype}")
    x = x.astype(np.float64)
    if not np.all(np.isfinite(x)):
        raise AudioError("audio contains NaN or infinite samples")
    return x


def to_grid(times: np.ndarray, f0: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Resample a track ``f0`` (Hz, 0 = unvoiced) at ``times`` onto the times ``grid``.

    Voicing comes from the nearest source frame; the value is interpolated linearly in log-F0 when
    both neighbours are voiced (nearest otherwise), so a half-frame offset neither smooths voicing
    edges nor invents pitch between a voiced and an unvoiced frame.
    """
    out = np.zeros(len(grid))
    if len(times) == 0:
        return out
    f0 = np.asarray(f0, np.float64)
    if len(times) == 1:
        return np.where(np.abs(grid - times[0]) <= 0.5 / FRAME_RATE, f0[0], 0.0)
    dt = times[1] - times[0]
    pos = (grid - times[0]) / dt
    lo = np.clip(np.floor(pos).astype(np.int64), 0, len(times) - 2)
    w = np.clip(pos - lo, 0.0, 1.0)
    near = np.where(w < 0.5, lo, lo + 1)
    inside = (pos >= -0.5) & (pos <= len(times) - 0.5)
    a, b = f0[lo], f0[lo + 1]
    both = (a > 0) & (b > 0)
    interp = np.exp((1 - w) * np.log(np.where(both, a, 1.0)) + w * np.log(np.where(both, b, 1.0)))
    val = np.where(both, interp, f0[near])
    out[inside] = np.where(f0[near] > 0, val, 0.0)[inside]
    return out


def praat_f0(x: np.ndarray, floor: float, ceiling: float) -> np.ndarray:
    """``(T,)`` F0 in Hz on the 100 Hz grid from one pass of Praat's autocorrelation tracker.

    Args:
        x: ``(N,)`` float64 audio at 16 kHz.
        floor, ceiling: the pitch range; the floor also sets the window (three periods).
    """
    import parselmouth  # imported here: only the encoder needs it

    grid = frame_times(len(x))
    try:
        pitch = parselmouth.Sound(x, SAMPLE_RATE).to_pitch_ac(
            time_step=1.0 / FRAME_RATE, pitch_floor=floor, pitch_ceiling=ceiling)
    except parselmouth.PraatError:
        # Shorter than one analysis window (three periods of the floor): nothing to track.
        return np.zeros(len(grid))
    f = np.nan_to_num(pitch.selected_array["frequency"])
    return to_grid(np.asarray(pitch.xs()), f, grid)


def utterance_range(f0: np.ndarray) -> tuple[float, float]:
    """Pitch range for the second pass from a first-pass track (De Looze & Hirst 2008).

    ``0.72 * q35 .. 1.9 * q65`` of the voiced frames, clipped to the wide range; too few voiced
    frames keep the wide range.
    """
    v = f0[f0 > 0]
    if len(v) < MIN_VOICED_FOR_RANGE:
        return WIDE_FLOOR, WIDE_CEILING
    q35, q65 = np.quantile(v, [0.35, 0.65])
    return max(WIDE_FLOOR, 0.72 * q35), min(WIDE_CEILING, 1.9 * q65)


def extract_f0(audio, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """F0 of one utterance at 100 Hz: Praat autocorrelation, two passes.

    Args:
        audio: ``(N,)`` mono samples at 16 kHz (numpy or torch).
        sample_rate: 16000.

    Returns:
        ``(T,)`` float32, ``T = ceil(N / 160)``: F0 in Hz, 0 where unvoiced.

    Raises:
        AudioError: empty, non-finite, not mono, or not 16 kHz.
    """
    x = check_audio(audio, sample_rate)
    f0 = praat_f0(x, WIDE_FLOOR, WIDE_CEILING)
    floor, ceiling = utterance_range(f0)
    if (floor, ceiling) != (WIDE_FLOOR, WIDE_CEILING):
        f0 = praat_f0(x, floor, ceiling)
    return f0.astype(np.float32)


@dataclass(frozen=True)
class F0Stats:
    """Log-F0 statistics of one utterance's voiced frames (natural log of Hz).

    Args:
        mean: mean log-F0; 0 when nothing is voiced.
        std: standard deviation of log-F0, at least ``MIN_LOG_STD``.
        num_voiced: voiced frames the statistics come from.
    """

    mean: float
    std: float
    num_voiced: int


def normalise(f0) -> tuple[np.ndarray, np.ndarray, F0Stats]:
    """Per-utterance normalised log-F0.

    Args:
        f0: ``(T,)`` F0 in Hz, 0 (or negative/NaN) = unvoiced.

    Returns:
        ``(lf0_norm, voiced, stats)``: ``(T,)`` float32 ``(log f0 - mean) / std`` on voiced frames
        and 0 elsewhere, ``(T,)`` bool voicing, and the :class:`F0Stats` that undo it.
    """
    f = np.nan_to_num(np.asarray(f0, np.float64).reshape(-1))
    voiced = f > 0
    lf = np.log(f[voiced])
    if len(lf):
        mean, std = float(lf.mean()), max(float(lf.std()), MIN_LOG_STD)
    else:
        mean, std = 0.0, 1.0
    out = np.zeros(len(f), np.float32)
    out[voiced] = (lf - mean) / std
    return out, voiced, F0Stats(mean, std, int(voiced.sum()))


def denormalise(lf0_norm, voiced, stats: F0Stats) -> np.ndarray:
    """F0 in Hz from normalised log-F0: the inverse of :func:`normalise`.

    Args:
        lf0_norm: ``(T,)`` normalised log-F0.
        voiced: ``(T,)`` bool (or probabilities, voiced above 0.5).
        stats: the utterance's :class:`F0Stats`.

    Returns:
        ``(T,)`` float32 F0 in Hz, 0 where unvoiced.
    """
    z = np.asarray(lf0_norm, np.float64).reshape(-1)
    v = np.asarray(voiced).reshape(-1)
    v = v > 0.5 if v.dtype != bool else v
    return np.where(v, np.exp(z * stats.std + stats.mean), 0.0).astype(np.float32)


#: The pitch statistics travel as two bytes (docs/FORMAT.md, header field of format 1.2): the
#: level (mean log-F0) in 25-cent steps above 40 Hz, which spans 40 Hz to 1.7 kHz, and the
#: spread (standard deviation of log-F0) in 4-cent steps up to 1020 cents. Rounding errs by at most
#: 12.5 and 2 cents, far inside the 20 % (316 cents) a gross pitch error needs.
LEVEL_REF_HZ = 40.0
LEVEL_STEP_CENTS = 25.0
SPREAD_STEP_CENTS = 4.0
_CENTS_PER_LOG = 1200.0 / np.log(2.0)


def stats_code(stats: F0Stats) -> tuple[int, int] | None:
    """``(level, spread)`` bytes for an utterance's :class:`F0Stats`; ``None`` when nothing is voiced."""
    if stats.num_voiced == 0:
        return None
    level = (stats.mean - np.log(LEVEL_REF_HZ)) * _CENTS_PER_LOG / LEVEL_STEP_CENTS
    spread = stats.std * _CENTS_PER_LOG / SPREAD_STEP_CENTS
    return int(np.clip(round(level), 0, 255)), int(np.clip(round(spread), 0, 255))


def stats_from_code(level: int, spread: int) -> F0Stats:
    """The :class:`F0Stats` a ``(level, spread)`` pair stands for (``num_voiced`` unknown: 1)."""
    mean = np.log(LEVEL_REF_HZ) + level * LEVEL_STEP_CENTS / _CENTS_PER_LOG
    return F0Stats(float(mean), max(float(spread * SPREAD_STEP_CENTS / _CENTS_PER_LOG), MIN_LOG_STD), 1)


def cents(f: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """``1200 log2(f / ref)`` (only meaningful where both are voiced)."""
    return 1200.0 * np.log2(np.maximum(f, 1e-6) / np.maximum(ref, 1e-6))


__all__ = [
    "SAMPLE_RATE", "HOP", "FRAME_RATE", "F0Stats", "num_frames", "frame_times", "check_audio",
    "extract_f0", "normalise", "denormalise", "to_grid", "cents", "praat_f0", "utterance_range",
    "stats_code", "stats_from_code", "LEVEL_REF_HZ", "LEVEL_STEP_CENTS", "SPREAD_STEP_CENTS",
]
