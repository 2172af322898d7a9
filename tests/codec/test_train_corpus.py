"""The corpus builder: engines, the manifest srb's trainers read, resuming, the quality gate, argument errors."""

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from codec.cli import main as srb_main
from codec.train import corpus
from codec.train.teacher_units import load_wav
from codec.train.units import read_manifest

ROOT = Path(__file__).resolve().parents[2]
# The header of ../shared/data/train/manifest.csv, which every --data reader expects.
HEADER = ["path", "seconds", "speaker", "gender", "text", "corpus", "license", "source"]


def check_manifest(out: Path, min_clips: int) -> list[dict]:
    """What srb's trainers need: the shared header, readable 16 kHz mono files, seconds that match."""
    with open(out / "manifest.csv", newline="") as fh:
        assert next(csv.reader(fh)) == HEADER
    rows = read_manifest(out)
    assert len(rows) >= min_clips
    for r in rows:
        x = load_wav(out / r["path"])  # raises unless 16 kHz mono
        assert abs(len(x) / 16000 - float(r["seconds"])) < 1e-3
        assert r["text"] and r["speaker"] and r["gender"] in ("M", "F") and r["corpus"].startswith("synth-")
        assert np.sqrt(np.mean(x ** 2)) > 1e-3
    return rows


@pytest.mark.parametrize("engine", ["flite", "espeak-ng"])
def test_engine_makes_clips_and_a_manifest(engine, tmp_path):
    if shutil.which(engine) is None:
        pytest.skip(f"{engine} is not installed (apt-get install {engine})")
    out = tmp_path / "c"
    # 0.1 min = 6 s: a sentence lasts 2-5 s, so two or three clips.
    corpus.main(["--engine", engine, "--minutes", "0.1", "--speakers", "2", "--out", str(out), "--quiet"])
    rows = check_manifest(out, 2)
    assert len({r["speaker"] for r in rows}) == 2  # round-robin over the two chosen speakers
    assert all(r["speaker"].startswith(engine.split("-")[0]) for r in rows)


def test_kokoro_engine(tmp_path):
    if corpus.Kokoro.missing():
        pytest.skip(f"Kokoro not installed: {corpus.Kokoro.missing()}")
    cache = ROOT / ".cache" / "kokoro"
    voices = os.environ.get("SRB_KOKORO_VOICES")
    if not (cache / "voices-en.npz").exists() and not voices:
        pytest.skip("no Kokoro voices offline: run the builder once (fills .cache/kokoro) or set SRB_KOKORO_VOICES")
    args = ["--engine", "kokoro", "--mix", "2", "--minutes", "0.1", "--out", str(tmp_path / "k"), "--quiet"]
    args += ["--cache", str(cache)] if (cache / "voices-en.npz").exists() else \
        ["--cache", str(tmp_path / "cache"), "--kokoro-voices", voices]
    corpus.main(args)
    rows = check_manifest(tmp_path / "k", 1)
    assert all(r["corpus"] == "synth-kokoro" for r in rows)


class FakeEngine(corpus.Engine):
    """A binary-free engine so planning, resuming and the gate are tested wherever the tests run."""
    name, corpus, license = "flite", "synth-fake", "test"
    calls = 0

    def speakers(self, rng):
        return [corpus.Speaker(f"fake-{i}", "MF"[i % 2], "flite", (i,), "fake") for i in range(3)]

    def synth(self, text, spk, tmp):
        FakeEngine.calls += 1
        t = np.arange(int(0.05 * len(text) * 16000)) / 16000
        x = 0.3 * np.sin(2 * np.pi * (120 + 40 * spk.params[0]) * t)
        return np.clip(4 * x, -1, 1) if "swans" in text else x  # one sentence comes out clipped


def test_plan_resume_and_gate(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus, "make_engine", lambda name, args: FakeEngine())
    out = tmp_path / "c"
    argv = ["--engine", "flite", "--minutes", "3", "--out", str(out), "--quiet"]
    corpus.main(argv)
    rows = check_manifest(out, 40)
    first_calls = FakeEngine.calls
    assert sum(float(r["seconds"]) for r in rows) >= 180
    assert len({r["speaker"] for r in rows}) == 3
    assert not any("swans" in r["text"] for r in rows)  # the clipped clip was refused ...
    skipped = list(csv.DictReader(open(out / "skipped.csv")))
    assert any(s["reason"] == "clipped" for s in skipped)  # ... with a note

    (out / "manifest.csv").unlink()
    victim = out / rows[5]["path"]
    victim.unlink()
    corpus.main(argv)  # resume: only the deleted clip is made again, the gate's refusals are not retried
    assert FakeEngine.calls == first_calls + 1
    assert read_manifest(out) == rows  # same plan, same manifest

    corpus.main(argv[:-3] + ["--seed", "1", "--out", str(tmp_path / "d"), "--quiet"])
    assert [r["text"] for r in read_manifest(tmp_path / "d")] != [r["text"] for r in rows]


def test_check_clip():
    t = np.arange(16000) / 16000
    tone = (0.5 * np.sin(2 * np.pi * 200 * t)).astype(np.float32)
    assert corpus.check_clip(tone, 0.5, 20) is None
    assert corpus.check_clip(np.zeros(16000, np.float32), 0.5, 20).startswith("silent")
    assert corpus.check_clip(np.array([], np.float32), 0.5, 20).startswith("empty")
    assert corpus.check_clip(np.clip(3 * tone, -1, 1), 0.5, 20) == "clipped"
    assert "outside" in corpus.check_clip(tone[:4000], 0.5, 20)


def test_sentences_from_a_manifest(tmp_path):
    (tmp_path / "manifest.csv").write_text(
        "path,seconds,speaker,gender,text,corpus,license,source\n"
        "a.flac,1,s,F,WHAT KIND OF PERSON WOULD SHE BE,so,CC,x\n"
        "b.flac,1,s,F,what kind of person would she be,so,CC,x\n"  # duplicate but for case
        "c.flac,1,s,F,,so,CC,x\n"
        "d.flac,1,s,F,Hi.,so,CC,x\n")  # too short to be a sentence
    got = corpus.load_sentences([tmp_path / "manifest.csv"])
    assert len(got) == len(corpus.BUILTIN_SENTENCES) + 1
    assert got[-1].text == "What kind of person would she be" and got[-1].license == "CC"


@pytest.mark.parametrize("args, message", [
    (["--engine", "piper"], "unknown engine piper"),
    (["--engine", "flite,flite"], "named twice"),
    (["--minutes", "0"], "--minutes must be positive"),
    (["--speakers", "0"], "--speakers must be at least 1"),
    (["--mix", "3"], "add kokoro to --engine"),
    (["--texts-from", "no/such/manifest.csv"], "no such file"),
])
def test_argument_errors(args, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        corpus.parse_args(["--out", str(tmp_path)] + args)
    assert exc.value.code == 2 and message in capsys.readouterr().err


def test_missing_program_is_named(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(SystemExit):
        corpus.parse_args(["--out", str(tmp_path), "--engine", "espeak-ng"])
    assert "espeak-ng is not on PATH (apt-get install espeak-ng)" in capsys.readouterr().err


def test_srb_train_corpus_help(capsys):
    with pytest.raises(SystemExit) as exc:
        srb_main(["train", "corpus", "--help"])
    assert exc.value.code == 0 and "--texts-from" in capsys.readouterr().out


def test_codec_never_imports_kokoro():
    # Kokoro pulls in a GPL-3.0 phonemizer: the codec, its API and CLI, and even the builder's own import
    # must leave it out of the process.
    code = ("import sys, codec, codec.api, codec.cli, codec.train.corpus; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('kokoro_onnx', 'phonemizer')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
