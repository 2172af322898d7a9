"""Peer codecs for the benchmark report: Codec2 (450, 700C, 1200, 3200) and Opus at 6 kbps.

Each peer is the command-line tools of a Debian package, run once per utterance through temporary
files, so its cost includes starting the process (as a user of the tools would pay it); its peak memory
is that of the tools' own processes (:func:`benchmarks.memory.run_measured`):

* Codec2 (``apt-get install codec2``): ``c2enc MODE in.raw out.bit`` / ``c2dec MODE out.bit out.raw``
  on 8 kHz 16-bit mono raw audio, so the 16 kHz input is resampled to 8 kHz and the output back to
  16 kHz (torchaudio). ``.bit`` output is headerless: the file is the bits.
* Opus (``apt-get install opus-tools``): ``opusenc --bitrate 6`` on a 16 kHz WAV, ``opusdec --rate 16000``.
  The file is an Ogg Opus file: its size includes the Ogg pages and the two header packets
  (``--padding 0`` drops opusenc's default 512 bytes of tag padding; the rest is counted, as every
  byte of an ``.srb`` file is).

Bits/s is always ``8 * file size / audio duration``. A peer whose binary is missing is reported as
unavailable with a note, never an error.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from benchmarks.memory import run_measured

SR = 16000
CODEC2_MODES = ("450", "700C", "1200", "3200")


@dataclass
class CodedAudio:
    """One utterance through one system: the decoded audio and what it cost."""

    wav: np.ndarray  # (N,) float32 at 16 kHz
    num_bits: int  # size of the coded file, in bits
    encode_s: float  # wall seconds
    decode_s: float
    extra: dict = field(default_factory=dict)  # system-specific detail (srb: per-stream bits)
    peak_rss_mib: float | None = None  # see benchmarks.memory: the tools' own peak, or what srb's coding adds


class System:
    """A codec under test. ``available()`` says whether it can run here; ``run`` codes one utterance."""

    name: str = "?"
    family: str = "?"
    nominal_bps: float | None = None

    def available(self) -> tuple[bool, str]:
        return True, ""

    def run(self, wav: np.ndarray) -> CodedAudio:  # wav: (N,) float32 at 16 kHz
        raise NotImplementedError


def _to_int16(wav: np.ndarray) -> np.ndarray:
    return np.round(np.clip(wav, -1.0, 1.0) * 32767.0).astype("<i2")


def resample(wav: np.ndarray, src: int, dst: int) -> np.ndarray:
    """Band-limited resampling with torchaudio (its default sinc filter)."""
    if src == dst:
        return np.asarray(wav, np.float32)
    import torch
    import torchaudio

    out = torchaudio.functional.resample(torch.from_numpy(np.asarray(wav, np.float32)), src, dst)
    return out.numpy().astype(np.float32)


class CommandLineCodec(System):
    """A peer coded by two command-line tools through files in a temporary folder. Subclasses say
    how to write the input, which commands to run and how to read the output back."""

    suffixes = (".in", ".bit", ".out")  # input, coded and decoded file names

    def binaries(self) -> tuple[str, ...]:
        raise NotImplementedError

    def package(self) -> str:
        raise NotImplementedError

    def available(self) -> tuple[bool, str]:
        missing = [b for b in self.binaries() if shutil.which(b) is None]
        if missing:
            return False, f"{' and '.join(missing)} not found (apt-get install {self.package()})"
        return True, ""

    def write_input(self, wav: np.ndarray, path: Path) -> None:
        raise NotImplementedError

    def commands(self, src: Path, bits: Path, out: Path) -> tuple[list[str], list[str]]:
        raise NotImplementedError

    def read_output(self, path: Path) -> np.ndarray:
        raise NotImplementedError

    def run(self, wav: np.ndarray) -> CodedAudio:
        with tempfile.TemporaryDirectory(prefix=f"srb-{self.family}-") as tmp:
            src, bits, out = (Path(tmp) / f"x{s}" for s in self.suffixes)
            enc_cmd, dec_cmd = self.commands(src, bits, out)
            t0 = time.perf_counter()
            self.write_input(wav, src)
            enc_mib = run_measured(enc_cmd)
            t1 = time.perf_counter()
            dec_mib = run_measured(dec_cmd)
            dec = self.read_output(out)
            t2 = time.perf_counter()
            num_bits = 8 * bits.stat().st_size
        peaks = [m for m in (enc_mib, dec_mib) if m is not None]
        return CodedAudio(dec, num_bits, t1 - t0, t2 - t1, peak_rss_mib=max(peaks) if peaks else None)


class Codec2(CommandLineCodec):
    """Codec2 in one of its modes, at 8 kHz."""

    family = "codec2"
    suffixes = (".raw", ".bit", ".out.raw")

    def __init__(self, mode: str):
        if mode not in CODEC2_MODES:
            raise ValueError(f"Codec2 mode {mode!r} not one of {CODEC2_MODES}")
        self.mode = mode
        self.name = f"codec2-{mode}"
        self.nominal_bps = float(mode.rstrip("C"))

    def binaries(self):
        return ("c2enc", "c2dec")

    def package(self):
        return "codec2"

    def write_input(self, wav, path):
        path.write_bytes(_to_int16(resample(wav, SR, 8000)).tobytes())

    def commands(self, src, bits, out):
        return ["c2enc", self.mode, str(src), str(bits)], ["c2dec", self.mode, str(bits), str(out)]

    def read_output(self, path):
        return resample(np.frombuffer(path.read_bytes(), dtype="<i2").astype(np.float32) / 32768.0, 8000, SR)


class Opus(CommandLineCodec):
    """Opus through opus-tools at a target bitrate (VBR, libopus defaults otherwise)."""

    family = "opus"
    suffixes = (".wav", ".opus", ".out.wav")

    def __init__(self, kbps: float = 6.0):
        self.kbps = kbps
        self.name = f"opus-{kbps:g}k"
        self.nominal_bps = 1000.0 * kbps

    def binaries(self):
        return ("opusenc", "opusdec")

    def package(self):
        return "opus-tools"

    def write_input(self, wav, path):
        sf.write(path, _to_int16(wav), SR, subtype="PCM_16")

    def commands(self, src, bits, out):
        return (["opusenc", "--quiet", "--bitrate", f"{self.kbps:g}", "--padding", "0", str(src), str(bits)],
                ["opusdec", "--quiet", "--rate", str(SR), str(bits), str(out)])

    def read_output(self, path):
        dec, sr = sf.read(path, dtype="float32", always_2d=True)
        return resample(dec.mean(axis=1), sr, SR)


def peer_systems() -> dict[str, System]:
    """Every peer by name, in report order (lowest nominal rate first)."""
    systems: list[System] = [Codec2(m) for m in CODEC2_MODES] + [Opus(6.0)]
    return {s.name: s for s in systems}
