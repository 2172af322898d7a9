"""Loudness: the level of speech, and the output gain an ``.srb`` file carries (format 1.3).

Nothing srb transmits says how loud the speech was: the content encoder and the speaker encoder
work on normalised log-mel, the F0 codes on normalised log-F0. The vocoder therefore speaks at
its own level, whatever the input's: measured on 20 train files, an input 20 dB quieter came out
only 3 dB quieter. So the encoder decodes its own streams with the vocoder, measures how much
louder or quieter the input was than that, and sends the difference (one signed byte of 0.5 dB
steps); the decoder applies it to whatever it outputs. Computed by the encoder against the
decoder's output, the gain is one constant per file, the same for the whole-file and the
streamed decode.

The level is the *active* level: the mean power of the 20 ms frames within 40 dB of the loudest
one (silences and pauses left out, in the spirit of ITU-T P.56's active speech level, much simpler).
"""

from __future__ import annotations

import math

import numpy as np

from bitstream.streams import GAIN_STEP_DB, MAX_GAIN, MIN_GAIN  # the field's step and range

#: Frame of the level measure, in samples at 16 kHz (20 ms).
FRAME = 320
#: Frames more than this far below the loudest frame are not speech (dB).
ACTIVE_RANGE_DB = 40.0


def frame_powers(wav: np.ndarray, frame: int = FRAME) -> np.ndarray:
    """``(floor(N / frame),)`` mean square of each whole frame of ``(N,)`` audio, float64."""
    wav = np.asarray(wav, np.float64)
    n = wav.size // frame * frame
    return (wav[:n].reshape(-1, frame) ** 2).mean(axis=1)


def active_level(powers: np.ndarray) -> float | None:
    """Active level of frame powers (:func:`frame_powers`) in dB full scale (mean square 1 = 0 dB),
    or ``None`` when there is nothing but digital silence."""
    powers = np.asarray(powers, np.float64)
    if powers.size == 0 or not powers.max() > 0:
        return None
    active = powers[powers >= powers.max() * 10 ** (-ACTIVE_RANGE_DB / 10)]
    return 10 * math.log10(active.mean())


def gain_code(input_level: float | None, output_level: float | None) -> int | None:
    """The gain field for a decoder output at ``output_level`` that should be at ``input_level``
    (dB, :func:`active_level`): 0.5 dB steps, clamped to one signed byte; ``None`` if either is unknown."""
    if input_level is None or output_level is None:
        return None
    steps = round((input_level - output_level) / GAIN_STEP_DB)
    return int(min(MAX_GAIN, max(MIN_GAIN, steps)))


def gain_factor(gain: int | None) -> float:
    """The amplitude factor of a gain field (1.0 for none)."""
    return 1.0 if gain is None else 10 ** (gain * GAIN_STEP_DB / 20)


def level_corrected_gain(gain: int, input_level: float | None, output_level: float | None) -> int:
    """``gain`` moved by the steps between ``output_level`` (what a decode with ``gain`` measured)
    and ``input_level``: the gain field is a plain factor, so the decode moves by as much."""
    if input_level is None or output_level is None:
        return gain
    return int(min(MAX_GAIN, max(MIN_GAIN, gain + round((input_level - output_level) / GAIN_STEP_DB))))
