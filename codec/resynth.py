"""Pitch resynthesis: the decoded speech re-voiced at the F0 contour the file carries (WORLD).

Why: the vocoder follows its F0 codes only loosely. The F0 VQ-VAE's contour is within 0.9 % gross
pitch error of the encoder's track, yet the vocoder's output is 8.5 % off the original (Praat
judge, all of dev): it guesses the pitch level from the speaker vector. It also leaves noise
between the harmonics (DNSMOS signal 2.5 against 3.2 for Codec2 700C). The file knows better: its
F0 codes, denormalised with the utterance's pitch level and spread (two header bytes,
:func:`codec.pitch.stats_code`, now sent in every file), give the contour the speech should have.
So, after the vocoder and its postfilter, each voiced stretch is analysed with WORLD (pyworld:
CheapTrick spectral envelope, D4C aperiodicity) and synthesised again by WORLD at the transmitted
F0: the vocoder's envelope (formants, loudness) stays, its excitation becomes clean pulses at the
right pitch. Choices and measurements: ``docs/RESYNTH.md`` (``benchmarks/resynth.py``).

- **Which frames**: with ``mask="both"`` (shipped), those voiced in the transmitted contour *and*
  in the decoded audio (one Praat pass in the range the pitch statistics imply, so a streamed
  window judges as the whole file does). Frames the contour calls voiced but the vocoder rendered
  as noise are mostly consonants whose voicing the 80 ms F0 codes smear; re-voicing them too
  (``mask="target"``) cost words in the measurement.
- **Analysis F0**: the envelope and aperiodicity are measured at the *transmitted* F0
  (``analysis="target"``), which measured better than Praat's track of the decoded audio; an
  envelope measured at half the audio's F0 has notches at its odd harmonics, so an output an
  octave above the contour stays there.
- **Pieces**: each maximal run of such frames is processed on its own (bounded memory, and the same
  pulses whether the whole file or a streamed window holds the run; runs longer than
  ``max_run_s`` are cut) and crossfaded in with a ``fade``-sample moving average of its mask.

Frame grid: the codec's 100 Hz F0 grid (:mod:`codec.pitch`), frame ``i`` centred at
``(i + 0.5) * 10`` ms; WORLD's frame ``j`` is at ``j * 10`` ms, hence the half-frame shift on output.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from .pitch import WIDE_CEILING, WIDE_FLOOR, F0Stats, denormalise, extract_f0, praat_f0


class ResynthConfig(BaseModel):
    """Settings of :class:`Resynth` (a bundle's ``render.json`` names them).

    Args:
        sample_rate: of the decoded audio.
        hop: samples per F0 frame (the codec's 10 ms grid).
        fade: samples of the moving average that crossfades each run in and out.
        f0_floor: lowest F0 WORLD's analysis windows are sized for (Hz).
        mask: ``"both"``: frames voiced in the contour and in the decoded audio (Praat);
            ``"target"``: every frame voiced in the contour.
        analysis: F0 the envelope and aperiodicity are measured at: ``"decoded"`` (Praat on the
            decoded audio: its real pitch) or ``"target"`` (the transmitted contour).
        max_run_s: longest run synthesised in one piece.
        trim: frames left to the vocoder at each end of every voiced run (consonant transitions).
        max_hz: re-voice only below this frequency (the vocoder's audio is kept above it, with a
            ``max_hz / 8`` raised-cosine transition); ``None``: the whole band.
        formant: cepstral sharpening of the re-voiced frames' spectral envelope (every cepstral
            coefficient from the second on times ``formant``, each frame's power kept): peaks
            (formants) rise against valleys, as statistical-parametric synthesisers do against
            over-smoothed envelopes; 1 = none.
        method: ``"world"``: analysis and synthesis by WORLD (above); ``"psola"``: Praat's
            pitch-synchronous overlap-add moves the audio's own pitch periods to the contour
            (no new excitation: the vocoder's waveform is kept, only re-timed; ``mask``,
            ``analysis``, ``trim``, ``max_hz`` and ``formant`` do not apply).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    sample_rate: int = Field(16000, gt=0)
    hop: int = Field(160, gt=0)
    fade: int = Field(160, ge=1)
    f0_floor: float = Field(50.0, gt=0)
    mask: Literal["both", "target"] = "both"
    analysis: Literal["decoded", "target"] = "target"
    max_run_s: float = Field(10.0, gt=0)
    trim: int = Field(0, ge=0)
    max_hz: float | None = Field(None, gt=0)
    formant: float = Field(1.0, gt=0, le=3)
    method: Literal["world", "psola"] = "world"


def voiced_runs(voiced: np.ndarray, max_len: int) -> list[tuple[int, int]]:
    """``[(start, end), ...]`` frame ranges of the maximal runs of ``voiced``, cut into pieces of at
    most ``max_len`` frames."""
    v = np.concatenate([[False], np.asarray(voiced, bool), [False]])
    edges = np.flatnonzero(v[1:] != v[:-1])
    runs = []
    for a, b in zip(edges[::2], edges[1::2]):
        runs += [(s, min(b, s + max_len)) for s in range(int(a), int(b), max_len)]
    return runs


def transmitted_f0(f0vq, codes: np.ndarray, num_frames: int, stats: F0Stats, ratio: float = 1.0) -> np.ndarray:
    """``(num_frames,)`` float64 F0 in Hz (0 = unvoiced) that a file's F0 codes stand for.

    Args:
        f0vq: the bundle's :class:`codec.f0vq.F0VQVAE`.
        codes: ``(L,)`` F0 codes.
        num_frames: frames of the 100 Hz grid to return (held at the last frame if the codes fall short).
        stats: the utterance's level and spread (:func:`codec.pitch.stats_from_code`).
        ratio: frequency ratio of a pitch edit (1 = none).
    """
    import torch

    lf0, vprob = f0vq.decode(torch.from_numpy(np.asarray(codes, np.int64))[None])
    lf0, vprob = lf0[0].float().cpu().numpy(), vprob[0].float().cpu().numpy()
    if len(lf0) < num_frames:
        pad = (0, num_frames - len(lf0))
        lf0, vprob = np.pad(lf0, pad, mode="edge"), np.pad(vprob, pad, mode="edge")
    return denormalise(lf0[:num_frames], vprob[:num_frames] > 0.5, stats).astype(np.float64) * ratio


#: ``q35`` and ``q65`` of a normal distribution in standard deviations: :func:`codec.pitch.utterance_range`'s
#: quantiles, for a log-F0 known only by its mean and spread.
_Z35 = 0.3853


def pitch_range(stats: F0Stats, ratio: float = 1.0) -> tuple[float, float]:
    """The Praat range :func:`codec.pitch.utterance_range` would choose for an utterance whose
    log-F0 has ``stats`` (a normal distribution's quantiles), moved by a pitch edit's ``ratio``."""
    q35, q65 = (ratio * np.exp(stats.mean + z * stats.std) for z in (-_Z35, _Z35))
    return max(WIDE_FLOOR, 0.72 * q35), min(WIDE_CEILING, 1.9 * q65)


def resynth_contour(codec, codes: np.ndarray, num_frames: int, pitch_stats: tuple[int, int],
                    pitch_cents: int = 0) -> np.ndarray:
    """:func:`transmitted_f0` for a :class:`codec.api.Codec` and a file's header fields."""
    from .pitch import stats_from_code
    from .synth import pitch_ratio

    return transmitted_f0(codec.f0vq, codes, num_frames, stats_from_code(*pitch_stats), float(pitch_ratio(pitch_cents)))


def resynth_range(pitch_stats: tuple[int, int], pitch_cents: int = 0) -> tuple[float, float]:
    """:func:`pitch_range` for a file's header fields."""
    from .pitch import stats_from_code
    from .synth import pitch_ratio

    return pitch_range(stats_from_code(*pitch_stats), float(pitch_ratio(pitch_cents)))


class Resynth:
    """Re-voices decoded audio at a target F0 contour (see the module doc).

    Args:
        config: a :class:`ResynthConfig`.
    """

    def __init__(self, config: ResynthConfig | None = None):
        self.config = config or ResynthConfig()

    def __call__(self, audio: np.ndarray, f0: np.ndarray, voicing_range: tuple[float, float] | None = None) -> np.ndarray:
        """``(N,)`` float32: ``audio`` with its voiced runs resynthesised at ``f0``.

        Args:
            audio: ``(N,)`` decoded samples.
            f0: ``(ceil(N / hop),)`` target F0 in Hz, 0 where unvoiced (shorter is padded unvoiced).
            voicing_range: ``(floor, ceiling)`` Hz for the Praat pass that tells which frames of the
                audio are voiced (:func:`pitch_range`, from the file's pitch statistics, so that a
                streamed window sees the same range as the whole file); ``None``: Praat's two
                passes of :func:`codec.pitch.extract_f0` on ``audio``.
        """
        c = self.config
        x = np.ascontiguousarray(audio, np.float64)
        n_frames = -(-len(x) // c.hop)
        target = np.zeros(n_frames)
        target[: min(n_frames, len(f0))] = np.asarray(f0, np.float64)[:n_frames]
        if not np.any(target > 0):
            return np.asarray(audio, np.float32)
        if c.method == "psola":
            return self._psola(x, target, voicing_range)
        own = None
        if c.mask == "both" or c.analysis == "decoded":
            own = (extract_f0(x, c.sample_rate) if voicing_range is None else praat_f0(x, *voicing_range))[:n_frames]
            own = np.pad(own, (0, n_frames - len(own)))
        voiced = (target > 0) & (own > 0) if c.mask == "both" else target > 0
        max_len = max(1, int(round(c.max_run_s * c.sample_rate / c.hop)))
        # Margin around a run: WORLD's analysis windows (3 periods at the floor) and the fade.
        margin = -(-(int(3 * c.sample_rate / c.f0_floor) + c.fade) // c.hop)
        out = x.copy()
        kernel = np.ones(c.fade) / c.fade
        runs = [(a + c.trim, b - c.trim) for a, b in voiced_runs(voiced, max_len)]
        for a, b in [(a, b) for a, b in runs if b > a]:
            s0, s1 = max(0, a - margin), min(n_frames, b + margin)
            seg = x[s0 * c.hop: s1 * c.hop]
            mask = np.zeros(s1 - s0, bool)
            mask[a - s0: b - s0] = True
            # The whole segment's contour, not just the run's: where the contour stays voiced past
            # the run's edge, the crossfade there mixes in pulses, as a whole-file synthesis would.
            tf0 = target[s0:s1]
            af0 = tf0 if c.analysis == "target" else own[s0:s1]
            change = self._world(seg, af0, tf0) - seg
            if c.max_hz is not None:
                change = self._lowpass(change)
            gain = np.convolve(np.repeat(mask.astype(np.float64), c.hop)[: len(seg)], kernel, mode="same")
            out[s0 * c.hop: s0 * c.hop + len(seg)] += gain * change
        return out.astype(np.float32)

    def _psola(self, x: np.ndarray, target: np.ndarray, voicing_range: tuple[float, float] | None) -> np.ndarray:
        """``x`` with its pitch periods moved to ``target`` by Praat's overlap-add (parselmouth)."""
        import parselmouth
        from parselmouth.praat import call

        c = self.config
        floor, ceiling = voicing_range if voicing_range is not None else (WIDE_FLOOR, WIDE_CEILING)
        sound = parselmouth.Sound(x, c.sample_rate)
        manipulation = call(sound, "To Manipulation", c.hop / c.sample_rate, floor, ceiling)
        tier = call("Create PitchTier", "target", 0.0, len(x) / c.sample_rate)
        frames = np.flatnonzero(target > 0)
        for i, hz in zip(frames, target[frames]):  # Praat interpolates between the points
            call(tier, "Add point", (i + 0.5) * c.hop / c.sample_rate, float(hz))
        call([manipulation, tier], "Replace pitch tier")
        y = call(manipulation, "Get resynthesis (overlap-add)").values[0]
        return np.pad(y, (0, max(0, len(x) - len(y))))[: len(x)].astype(np.float32)

    def _lowpass(self, x: np.ndarray) -> np.ndarray:
        """``x`` without its content above ``max_hz`` (zero-phase, in the FFT domain, zero-padded so
        that nothing wraps around)."""
        c = self.config
        n = 1 << int(np.ceil(np.log2(len(x) + c.sample_rate // 10)))
        hz = np.fft.rfftfreq(n, 1.0 / c.sample_rate)
        width = c.max_hz / 8
        pos = np.clip((hz - (c.max_hz - width / 2)) / width, 0.0, 1.0)
        return np.fft.irfft(np.fft.rfft(x, n) * 0.5 * (1 + np.cos(np.pi * pos)), n)[: len(x)]

    def _world(self, seg: np.ndarray, analysis_f0: np.ndarray, target_f0: np.ndarray) -> np.ndarray:
        """``seg`` (float64) analysed at ``analysis_f0`` and synthesised at ``target_f0`` (100 Hz
        frames centred at ``(i + 0.5) * hop``), same length as ``seg``."""
        import pyworld

        c = self.config
        period_ms = 1000.0 * c.hop / c.sample_rate
        t = (np.arange(len(analysis_f0)) + 0.5) * c.hop / c.sample_rate
        af0 = np.ascontiguousarray(analysis_f0, np.float64)
        sp = pyworld.cheaptrick(seg, af0, t, c.sample_rate, f0_floor=c.f0_floor)
        ap = pyworld.d4c(seg, af0, t, c.sample_rate)
        if c.formant != 1.0:
            sp = sharpen_envelope(sp, c.formant)
        y = pyworld.synthesize(np.ascontiguousarray(target_f0, np.float64), sp, ap, c.sample_rate,
                               frame_period=period_ms)
        half = c.hop // 2  # WORLD frame j sits at j * hop, ours at (j + 0.5) * hop
        y = y[half: half + len(seg)]
        return np.pad(y, (0, len(seg) - len(y)))



def sharpen_envelope(sp: np.ndarray, factor: float) -> np.ndarray:
    """``(frames, bins)`` power envelopes with their real cepstrum's coefficients 2 and up scaled by
    ``factor`` (0: the overall level, 1: the tilt, both kept), then each frame's power restored."""
    n = 2 * (sp.shape[1] - 1)
    ceps = np.fft.irfft(np.log(np.maximum(sp, 1e-30)), n, axis=1)
    lifter = np.full(n, float(factor))
    lifter[:2] = 1.0
    lifter[-1] = 1.0  # the mirror of coefficient 1
    out = np.exp(np.fft.rfft(ceps * lifter, n, axis=1).real)
    return np.ascontiguousarray(out * (sp.sum(axis=1, keepdims=True) / out.sum(axis=1, keepdims=True)))
