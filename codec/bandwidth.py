"""How much of the spectrum the input really has: telephone speech, resampled up, has nothing above 4 kHz.

The envelope layer (:mod:`codec.envelope`) moves each band of the decode towards the input's level
there. A band the input never had (a telephone line's 4-8 kHz) would be pulled down by the layer's
whole range, erasing the high band the vocoder makes up, and the codes would spend their bits on
it. So the encoder measures the input's bandwidth first and leaves bands above it alone.

The measure: the power spectrum summed over all frames (so loud frames weigh most and no activity
threshold is needed), and the highest frequency whose level is within :data:`DROP_DB` of the median
level between 300 and 3000 Hz. Every file of the train and dev splits but 14 of 2 123 measures
above 6.9 kHz; the same files through an 8 kHz channel (``benchmarks.noise``'s ``band/8000``) all
measure below 5 kHz. Inputs above :data:`WIDEBAND_HZ` count as full band and are coded as before.
"""

from __future__ import annotations

import numpy as np

N_FFT = 512
HOP = 256
DROP_DB = 30.0
WIDEBAND_HZ = 6500.0  # an input measuring at least this is treated as full band


class BandwidthMeter:
    """Accumulates the power spectrum of audio given in pieces (frames on one grid from the first
    sample, so pieces give what the whole gives) and reports its bandwidth.

    Args:
        sample_rate: of the audio.
    """

    def __init__(self, sample_rate: int):
        self.sample_rate = sample_rate
        self.window = np.hanning(N_FFT)
        self.power = np.zeros(N_FFT // 2 + 1)
        self.rest = np.zeros(0)

    def update(self, audio: np.ndarray) -> None:
        """Adds ``(N,)`` samples that follow the ones given before."""
        x = np.concatenate([self.rest, np.asarray(audio, np.float64)])
        frames = 0 if x.size < N_FFT else 1 + (x.size - N_FFT) // HOP
        if frames:
            view = np.lib.stride_tricks.sliding_window_view(x, N_FFT)[::HOP][:frames]
            self.power += (np.abs(np.fft.rfft(view * self.window, axis=1)) ** 2).sum(axis=0)
        self.rest = x[frames * HOP:]

    def bandwidth(self) -> float:
        """Hz: the highest frequency within :data:`DROP_DB` of the speech band's median level;
        Nyquist when nothing was measured (too short or silent)."""
        freqs = np.fft.rfftfreq(N_FFT, 1.0 / self.sample_rate)
        if not np.any(self.power > 0):
            return self.sample_rate / 2
        level = 10 * np.log10(self.power + 1e-30)
        ref = np.median(level[(freqs > 300) & (freqs < 3000)])
        return float(freqs[np.flatnonzero(level > ref - DROP_DB).max()])

    @classmethod
    def _whole(cls, audio: np.ndarray, sample_rate: int) -> "BandwidthMeter":
        meter = cls(sample_rate)
        meter.update(audio)
        return meter


def audio_bandwidth(audio: np.ndarray, sample_rate: int) -> float:
    """:meth:`BandwidthMeter.bandwidth` of ``(N,)`` audio."""
    return BandwidthMeter._whole(audio, sample_rate).bandwidth()


def bands_beyond(band_tops: np.ndarray, bandwidth: float) -> np.ndarray:
    """``(bands,)`` bool: the bands an input of ``bandwidth`` Hz cannot be measured in (their top
    edge lies above it), none for a full-band input (:data:`WIDEBAND_HZ` or more)."""
    tops = np.asarray(band_tops, np.float64)
    if bandwidth >= WIDEBAND_HZ:
        return np.zeros(tops.shape, bool)
    return tops > bandwidth
