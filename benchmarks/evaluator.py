"""``Evaluator``: every metric group of :mod:`benchmarks.metrics` loaded once, with results cached.

Per utterance the report calls :meth:`Evaluator.reference` on the original and
:meth:`Evaluator.score` on each system's decoded audio; speech recognition runs at the end over
a system's files at once (:meth:`Evaluator.transcribe`, called by the report), because Whisper is
cheapest on packed windows (group ``whisper``; ``whisper-file`` asks it once per file). Every
result is stored in a :class:`benchmarks.cache.ScoreCache` under the hash of the audio and of the
metric's configuration (:data:`CONFIG`), so re-running the report after changing
srb's model recomputes srb's scores alone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from benchmarks import metrics as M
from benchmarks.cache import ScoreCache, audio_hash

#: Each group's configuration, part of its cache keys: change the string when the group's code or
#: settings change, so that old cached results stop matching.
CONFIG = {
    "align": "align: band envelopes 1 ms + waveform refine, +-100 ms, v1",
    "stoi": "stoi: pystoi classic, v1",
    "mcd": "mcd: 40 mel, c1..24, floor 60 dB, frames within 40 dB, v1",
    "f0": "f0 {tracker}: 50..800 Hz, 10 ms, 20 % gross, v1",
    "speaker": "speaker: resemblyzer GE2E embedding, v1",
    "dnsmos": "dnsmos: speechmos P.835 + P.808, 9.01 s windows hopped 9.01 s, v1",
    "distillmos": "distillmos: ConvTransformerSQAModel, v1",
    "whisper": f"whisper: base int8 beam 5 t=0 en, packed {M.PACK_S} s windows + {M.PACK_GAP_S} s gaps, v1",
    "whisper-file": f"whisper per file: base int8 beam 5 t=0 en, {M.ASR_PAD_S} s pad, v1",
    "pocketsphinx": f"pocketsphinx: en-us, {M.ASR_PAD_S} s pad, v1",
}
ASR_GROUPS = {"whisper": "", "whisper-file": "wf_", "pocketsphinx": "ps_"}  # group -> score key prefix


@dataclass
class Reference:
    """An original utterance; its analyses (F0 track, embedding) are made on demand (its transcripts
    are the report's: it transcribes every system's files, originals included, at the end)."""

    wav: np.ndarray
    text: str | None
    hash: str = ""
    f0: np.ndarray | None = None
    embedding: np.ndarray | None = None
    scores: dict = field(default_factory=dict)  # no-reference metrics of the original itself


class Evaluator:
    """Loads the metric groups asked for; a group that cannot load is left out with a note.

    Args:
        groups: names from :data:`benchmarks.metrics.GROUPS` (default: ``DEFAULT_GROUPS``).
        threads: threads for ONNX Runtime and CTranslate2 (torch's are the caller's to set).
        f0_tracker: ``"praat"`` or ``"harvest"`` (see :data:`benchmarks.metrics.F0_TRACKERS`).
        cache: where results are kept between runs (default: nowhere).
    """

    def __init__(self, groups=None, threads: int = 1, f0_tracker: str = "praat", cache: ScoreCache | None = None):
        groups = list(M.DEFAULT_GROUPS if groups is None else groups)
        unknown = sorted(set(groups) - set(M.GROUPS))
        if unknown:
            raise ValueError(f"unknown metric group(s) {unknown}; known: {', '.join(M.GROUPS)}")
        if f0_tracker not in M.F0_TRACKERS:
            raise ValueError(f"unknown F0 tracker {f0_tracker!r}; known: {', '.join(M.F0_TRACKERS)}")
        self.f0_tracker = f0_tracker
        self.config = {**CONFIG, "f0": CONFIG["f0"].format(tracker=f0_tracker)}
        self.cache = cache if cache is not None else ScoreCache(None)
        self.notes: dict[str, str] = {}
        self.seconds: dict[str, float] = {g: 0.0 for g in ["align", *groups]}  # compute time per group
        self.load_seconds: dict[str, float] = {}
        self.models: dict[str, object] = {}
        loaders = {
            "stoi": lambda: __import__("pystoi"),
            "mcd": lambda: None,
            "f0": lambda: __import__("pyworld" if f0_tracker == "harvest" else "parselmouth"),
            "speaker": M.SpeakerSimilarity,
            "dnsmos": lambda: M.DNSMOS(threads),
            "distillmos": M.DistillMOS,
            "whisper": lambda: M.WhisperASR(threads),
            "whisper-file": lambda: self.models.get("whisper") or M.WhisperASR(threads),  # one model for both
            "pocketsphinx": M.PocketsphinxASR,
        }
        self.groups = []
        for g in M.GROUPS:
            if g not in groups:
                continue
            t0 = time.perf_counter()
            try:
                self.models[g] = loaders[g]()
            except Exception as exc:  # ImportError, missing weights, ...: skip the metric, say why
                msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                self.notes[g] = f"skipped: {type(exc).__name__}: {msg} (needs {M._PACKAGES.get(g, '?')})"
                continue
            self.load_seconds[g] = time.perf_counter() - t0
            self.groups.append(g)

    @property
    def metrics(self) -> list[M.Metric]:
        return [m for m in M.METRICS if m.group in self.groups]

    def _cached(self, group: str, parts: tuple, fn):
        """``fn()`` (JSON-able), timed under ``group``, or its stored result for the same ``parts``."""
        key = ScoreCache.key(self.config[group], *parts)
        value = self.cache.get(key)
        if value is None:
            t0 = time.perf_counter()
            value = fn()
            self.seconds[group] += time.perf_counter() - t0
            self.cache.put(key, value)
        return value

    # -- per utterance ------------------------------------------------------------------------

    def reference(self, wav: np.ndarray, text: str | None = None) -> Reference:
        """The original: its own no-reference scores now, everything else when first needed."""
        wav = np.asarray(wav, np.float32)
        ref = Reference(wav, text or None, audio_hash(wav))
        ref.scores.update(self._mos(wav, ref.hash))
        return ref

    def _track(self, wav: np.ndarray) -> np.ndarray:
        return M.F0_TRACKERS[self.f0_tracker](wav)

    def _ref_f0(self, ref: Reference) -> np.ndarray:
        if ref.f0 is None:
            ref.f0 = np.asarray(self._cached("f0", ("track", ref.hash), lambda: self._track(ref.wav).tolist()))
        return ref.f0

    def _embedding(self, wav: np.ndarray, h: str) -> np.ndarray:
        return np.asarray(self._cached("speaker", ("embed", h), lambda: self.models["speaker"].embed(wav).tolist()))

    def _mos(self, wav: np.ndarray, h: str) -> dict:
        out: dict = {}
        if "dnsmos" in self.groups:
            out.update(self._cached("dnsmos", (h,), lambda: self.models["dnsmos"](wav)))
        if "distillmos" in self.groups:
            out["distillmos"] = self._cached("distillmos", (h,), lambda: self.models["distillmos"](wav))
        return out

    def score(self, ref: Reference, deg: np.ndarray) -> dict:
        """Every loaded metric but speech recognition of the decoded ``deg`` against ``ref``; F0
        frame counts come along (``f0_*``) for pooling."""
        deg = np.asarray(deg, np.float32)
        h = audio_hash(deg)
        pair = (ref.hash, h)
        lag = int(self._cached("align", pair, lambda: M.estimate_lag(ref.wav, deg)))
        out: dict = {"lag_ms": 1000.0 * lag / M.SR}
        if {"stoi", "mcd"} & set(self.groups):
            r, d = M.overlap(ref.wav, deg, lag)
            if "stoi" in self.groups:
                out["stoi"] = self._cached("stoi", pair, lambda: M.stoi(r, d))
            if "mcd" in self.groups:
                out["mcd"] = self._cached("mcd", pair, lambda: M.mcd(r, d))
        if "f0" in self.groups:
            c = M.F0Counts(*self._cached("f0", pair, lambda: self._f0_counts(ref, deg, lag)))
            out.update(gpe=c.gpe, vde=c.vde, ffe=c.ffe, f0_frames=c.frames, f0_both_voiced=c.both_voiced,
                       f0_gross=c.gross, f0_voicing=c.voicing)
        if "speaker" in self.groups:
            out["spk_cos"] = M.SpeakerSimilarity.cosine(self._embedding(ref.wav, ref.hash), self._embedding(deg, h))
        out.update(self._mos(deg, h))
        return out

    def _f0_counts(self, ref: Reference, deg: np.ndarray, lag: int) -> list[int]:
        # The decoded signal moved onto the reference's timeline, so the reference's track
        # (computed once) lines up frame for frame; frames outside the overlap are left out.
        n = len(ref.wav)
        f0_ref = self._ref_f0(ref)
        f0_deg = self._track(M.shift(deg, lag, n))
        t = np.arange(len(f0_ref)) * M.F0_HOP_S * M.SR
        lo, hi = max(0, -lag), min(n, len(deg) - lag)
        c = M.f0_counts(f0_ref, f0_deg, (t >= lo) & (t < hi))
        return [c.frames, c.both_voiced, c.gross, c.voicing]

    # -- speech recognition, over many utterances at once -----------------------------------------

    @property
    def asr_groups(self) -> list[str]:
        return [g for g in ASR_GROUPS if g in self.groups]

    def transcribe(self, group: str, wavs: list[np.ndarray]) -> list[str]:
        """Transcripts of ``wavs`` by ``group``'s recogniser. Whisper's come a packed window at a
        time (:func:`benchmarks.metrics.pack_windows`), cached by every utterance in the window:
        its words depend on its neighbours."""
        hashes = [audio_hash(w) for w in wavs]
        model = self.models[group]
        if group != "whisper":
            return [self._cached(group, (h,), lambda w=w: model.transcribe(w)) for w, h in zip(wavs, hashes)]
        out: list[str] = []
        for window in M.pack_windows([len(w) for w in wavs]):
            sub = [wavs[i] for i in window]
            out += self._cached(group, tuple(hashes[i] for i in window), lambda sub=sub: model.transcribe_many(sub))
        return out

    @staticmethod
    def word_scores(prefix: str, hyp: str, text: str | None, base: str | None) -> dict:
        out: dict = {f"{prefix}hyp": hyp}
        if text:
            out[f"{prefix}wer_errors"], out[f"{prefix}wer_words"] = M.word_errors(text, hyp)
            out[f"{prefix}wer"] = out[f"{prefix}wer_errors"] / max(out[f"{prefix}wer_words"], 1)
        if base is not None:
            out[f"{prefix}dwer_errors"], out[f"{prefix}dwer_words"] = M.word_errors(base, hyp)
            out[f"{prefix}dwer"] = (out[f"{prefix}dwer_errors"] / out[f"{prefix}dwer_words"]
                                    if out[f"{prefix}dwer_words"] else float("nan"))
        return out
