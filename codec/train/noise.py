"""Background noise for robustness: mixing speech with noise at a chosen signal-to-noise ratio.

The training split is clean read speech, and so is dev; a codec in use hears rooms, fans, streets
and other talkers. This module makes noisy versions of clean utterances, for measuring srb under
noise (``benchmarks/noise.py``) and for training encoders that ignore it. Kinds of noise, all made
from nothing but numpy and the speech at hand (no noise corpus is available here):

* ``white``: Gaussian, flat spectrum (a worst case for the high band);
* ``pink``: power falling 3 dB per octave, the usual stand-in for fans and air conditioning;
* ``brown``: 6 dB per octave, low rumble (cars, traffic);
* ``babble``: several other utterances summed, each at its own level: the cocktail party, the
  hardest kind for a speech model because it *is* speech;
* ``hum50``, ``hum60``: mains hum, a 50 or 60 Hz tone with its second and third harmonics 6 and
  12 dB down (a ground loop in a cheap recording chain), at a random phase per harmonic.

Rooms: :func:`reverberate` convolves speech with a synthetic impulse response (a direct path,
then Gaussian noise decaying by 60 dB over the reverberation time RT60), as a stand-in for the
measured room responses that are not available here.

The SNR is the speech's active level (:func:`codec.level.active_level`: its pauses left out)
against the noise's mean power over the whole mixture, so a given SNR means the same whatever
the share of pauses in a file.
"""

from __future__ import annotations

import zlib
from typing import Callable

import numpy as np

from codec.level import active_level, frame_powers

KINDS = ("white", "pink", "brown", "babble", "hum50", "hum60")
#: Mains hum: amplitudes of the fundamental and its harmonics (:func:`hum`).
HUM_HARMONICS = (1.0, 0.5, 0.25)


def colored_noise(n: int, slope_db_per_octave: float, rng: np.random.Generator) -> np.ndarray:
    """``(n,)`` Gaussian noise whose power falls ``slope_db_per_octave`` per octave (0: white), unit power."""
    spec = rng.standard_normal(n // 2 + 1) + 1j * rng.standard_normal(n // 2 + 1)
    f = np.arange(n // 2 + 1, dtype=np.float64)
    f[0] = f[1] if n > 1 else 1.0
    # power ~ f^-a with a = slope / (10 log10 2) per octave; amplitude is its square root.
    spec *= f ** (-slope_db_per_octave / (20 * np.log10(2)))
    x = np.fft.irfft(spec, n)
    return (x / (np.sqrt(np.mean(x ** 2)) + 1e-12)).astype(np.float32)


def hum(n: int, hz: float, rng: np.random.Generator, sr: int = 16000) -> np.ndarray:
    """``(n,)`` unit-power mains hum at ``hz``: the tone and its harmonics (:data:`HUM_HARMONICS`),
    each at a phase drawn from ``rng``."""
    t = np.arange(n) / sr
    x = sum(a * np.sin(2 * np.pi * (k + 1) * hz * t + rng.uniform(0, 2 * np.pi))
            for k, a in enumerate(HUM_HARMONICS))
    return (x / (np.sqrt(np.mean(x ** 2)) + 1e-12)).astype(np.float32)


def babble(n: int, talkers: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """``(n,)`` sum of ``talkers`` (each looped to ``n`` from a random offset and scaled to unit
    active power, then a random level within 6 dB), unit mean power."""
    out = np.zeros(n, np.float64)
    for t in talkers:
        t = np.asarray(t, np.float64)
        level = active_level(frame_powers(t))
        if level is None:
            continue
        start = int(rng.integers(0, len(t)))
        reps = -(-(n + start) // len(t))
        seg = np.tile(t, reps)[start:start + n] / 10 ** (level / 20)
        out += seg * 10 ** (rng.uniform(-6, 0) / 20)
    power = np.mean(out ** 2)
    if not power > 0:
        raise ValueError("babble needs at least one talker with some sound")
    return (out / np.sqrt(power)).astype(np.float32)


def make_noise(kind: str, n: int, rng: np.random.Generator, talkers: list[np.ndarray] | None = None) -> np.ndarray:
    """``(n,)`` unit-power noise of ``kind`` (one of :data:`KINDS`); babble needs ``talkers``."""
    if kind == "babble":
        if not talkers:
            raise ValueError("babble noise needs talkers (other utterances)")
        return babble(n, talkers, rng)
    if kind in ("hum50", "hum60"):
        return hum(n, float(kind[3:]), rng)
    slopes = {"white": 0.0, "pink": 3.0, "brown": 6.0}
    if kind not in slopes:
        raise ValueError(f"unknown noise kind {kind!r}: one of {', '.join(KINDS)}")
    return colored_noise(n, slopes[kind], rng)


def mix(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``speech`` plus ``noise`` (same length) scaled so that the speech's active level is
    ``snr_db`` above the noise's mean power; float32. Raises ``ValueError`` for silent speech."""
    speech = np.asarray(speech, np.float32)
    level = active_level(frame_powers(speech))
    if level is None:
        raise ValueError("cannot mix noise at an SNR into silence")
    noise = np.asarray(noise, np.float64)[: len(speech)]
    scale = 10 ** ((level - snr_db) / 20) / (np.sqrt(np.mean(noise ** 2)) + 1e-12)
    return (speech + scale * noise).astype(np.float32)


def room_response(rt60_s: float, rng: np.random.Generator, drr_db: float = 3.0, sr: int = 16000) -> np.ndarray:
    """``(round(rt60_s * sr),)`` synthetic room impulse response: 1 at sample 0 (the direct path),
    then from 2 ms on Gaussian noise whose amplitude falls by 60 dB over ``rt60_s`` seconds, scaled
    so the direct path's energy is ``drr_db`` above the tail's (direct-to-reverberant ratio)."""
    n = max(2, int(round(rt60_s * sr)))
    t = np.arange(n) / sr
    tail = rng.standard_normal(n) * 10 ** (-3.0 * t / rt60_s)  # -60 dB in amplitude at t = rt60
    tail[: max(1, int(0.002 * sr))] = 0.0
    tail *= 10 ** (-drr_db / 20) / np.sqrt(np.sum(tail ** 2) + 1e-12)
    tail[0] = 1.0
    return tail.astype(np.float32)


def reverberate(speech: np.ndarray, rt60_s: float, rng: np.random.Generator, drr_db: float = 3.0) -> np.ndarray:
    """``speech`` through :func:`room_response`, cut to its length and brought back to its active
    level; float32. Raises ``ValueError`` for silent speech."""
    speech = np.asarray(speech, np.float32)
    level = active_level(frame_powers(speech))
    if level is None:
        raise ValueError("cannot reverberate silence")
    h = room_response(rt60_s, rng, drr_db)
    n = len(speech) + len(h) - 1
    size = 1 << (n - 1).bit_length()
    y = np.fft.irfft(np.fft.rfft(speech, size) * np.fft.rfft(h, size), size)[: len(speech)]
    out_level = active_level(frame_powers(y))
    return (y * 10 ** ((level - out_level) / 20)).astype(np.float32)


def _through_channel(speech: np.ndarray, rate: int, sr: int, inside=None) -> np.ndarray:
    """``speech`` resampled to ``rate`` Hz with torchaudio's windowed-sinc filter, ``inside`` (a
    function of the ``(N,)`` tensor at that rate) applied there, and back at ``sr``, float32 at its
    own length."""
    import torch
    import torchaudio.functional as AF

    x = AF.resample(torch.from_numpy(np.ascontiguousarray(speech, np.float32)), sr, int(rate))
    y = AF.resample(x if inside is None else inside(x), int(rate), sr)
    return np.pad(y.numpy(), (0, max(0, len(speech) - y.numel())))[: len(speech)].astype(np.float32)


def band_limit(speech: np.ndarray, rate: int, sr: int = 16000) -> np.ndarray:
    """``speech`` through a channel sampled at ``rate`` Hz (a telephone line: 8000): resampled
    down and back, so nothing above ``rate / 2`` is left."""
    return _through_channel(speech, rate, sr)


def phone_line(speech: np.ndarray, rate: int = 8000, sr: int = 16000) -> np.ndarray:
    """``speech`` through a landline as ITU-T G.711 codes it: sampled at ``rate`` Hz, the voice band
    (300-3400 Hz, biquad filters) kept, 8-bit mu-law samples; back at ``sr``. The level is kept as
    it is, so the loudest samples meet mu-law's coarsest steps."""
    import torchaudio.functional as AF

    def g711(x):
        x = AF.lowpass_biquad(AF.highpass_biquad(x, int(rate), 300.0), int(rate), 3400.0)
        return AF.mu_law_decoding(AF.mu_law_encoding(x.clamp(-1.0, 1.0), 256), 256)

    return _through_channel(speech, rate, sr, g711)


def condition_version(speech: np.ndarray, key: str, kind: str, value: float,
                      talkers_for: Callable[[np.random.Generator], list[np.ndarray] | None]) -> np.ndarray:
    """``speech`` in the condition ``kind/value``, reproducibly: the random stream is seeded by
    ``key`` (the file's name) and the condition, so every system and every run hears the same
    mixture. ``reverb``: :func:`reverberate` with RT60 ``value`` ms; ``band``: :func:`band_limit`
    to a channel of ``value`` Hz sampling (no noise); ``phone``: :func:`phone_line` at ``value`` Hz
    (G.711); any other kind: noise of it
    (:func:`make_noise`) mixed at ``value`` dB SNR, with ``talkers_for(rng)`` as babble's talkers
    (called on the seeded stream before the noise is drawn)."""
    rng = np.random.default_rng(zlib.crc32(f"{key}|{kind}/{value:g}".encode()))
    if kind == "reverb":
        return reverberate(speech, value / 1000, rng)
    if kind == "band":
        return band_limit(speech, int(value))
    if kind == "phone":
        return phone_line(speech, int(value))
    return mix(speech, make_noise(kind, len(speech), rng, talkers_for(rng)), value)
