"""Whether the input came through a narrow channel: telephone speech, resampled up, has nothing above 4 kHz.

The encoders of a bundle hear wideband speech; a band-limited input makes them hear other units in
30 % of the frames (docs/NOISE.md, *Telephone speech*). A bundle may therefore carry a second pair
taught on speech through a telephone channel (:mod:`codec.narrowband`), and the encoder picks the
pair by one measure: the level of the input's 5.5-7.5 kHz band (:data:`HIGH_BAND`) relative to its
speech band (the median level between 300 and 3000 Hz), on the power spectrum summed over all
frames (loud frames weigh most, so no activity threshold is needed), each band's level the median
over its bins (a tone or a whine is not a band).

A channel of 11.025 kHz or less leaves the high band empty: the 2 123 train and dev files through
an 8 kHz channel measure -69 to -57 dB. A recording whose highs merely roll off keeps some: the
files themselves measure -45 dB and up (session 17, ``python -m benchmarks.bandwidth``,
``benchmarks/results/bandwidth.md``). Nothing to measure (silent, or shorter than one frame)
counts as full band: 0 dB.
"""

from __future__ import annotations

import numpy as np

N_FFT = 512
HOP = 256
SPEECH_BAND = (300.0, 3000.0)
HIGH_BAND = (5500.0, 7500.0)


class BandwidthMeter:
    """Accumulates the power spectrum of audio given in pieces (frames on one grid from the first
    sample, so pieces give what the whole gives) and reports its high band's level.

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

    def high_band_db(self) -> float:
        """dB: the median level of :data:`HIGH_BAND` over the speech band's, of everything given so
        far (module doc); 0.0 when nothing was measured or the rate has no such band."""
        freqs = np.fft.rfftfreq(N_FFT, 1.0 / self.sample_rate)
        high = (freqs > HIGH_BAND[0]) & (freqs < HIGH_BAND[1])
        if not np.any(self.power > 0) or not high.any():
            return 0.0
        level = 10 * np.log10(self.power + 1e-30)
        return float(np.median(level[high]) - np.median(level[(freqs > SPEECH_BAND[0]) & (freqs < SPEECH_BAND[1])]))


def high_band_db(audio: np.ndarray, sample_rate: int) -> float:
    """:meth:`BandwidthMeter.high_band_db` of ``(N,)`` audio."""
    meter = BandwidthMeter(sample_rate)
    meter.update(audio)
    return meter.high_band_db()
