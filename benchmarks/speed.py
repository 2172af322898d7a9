"""End-to-end speed and peak memory of the bundled model on 60 s of speech.

    python -m benchmarks.speed [--model BUNDLE] [--data DIR] [--seconds 60] [--out benchmarks/results/speed.md]

Real-time factor convention everywhere in srb: **audio seconds per wall-clock second** (x real
time, higher is faster), one thread, model loading excluded.

Peak memory: each stage runs in a fresh Python subprocess that imports srb and loads the model,
then resets the kernel's peak-RSS mark (``/proc/self/clear_refs``, Linux) and runs the stage once.
Reported are the process's peak resident set size during the stage (``VmHWM``: everything,
torch and the loaded model included) and that peak minus the resident size just before the stage
(what the stage itself adds: activations, buffers). A number from the kernel, not an allocator
trace, so numpy, torch and C libraries are all counted.

The 60 s of speech are the dev files in manifest order, concatenated (``--data``, default
``../shared/data/dev`` beside the checkout); without that folder, the bundled demo sample repeated.
The pytest-benchmark suite ``benchmarks/test_codec_speed.py`` times the same stages.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

SR = 16000
ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "dev"
DEMO = ROOT / "codec" / "assets" / "samples" / "demo.flac"
STAGES = ("encode", "decode", "content", "f0", "decoder", "postfilter", "resynth", "smoother", "refiner", "envelope")
#: What each stage does, for the report.
STAGE_TEXT = {
    "encode": "`Codec.encode`: audio -> .srb bytes (content units, F0 + F0 VQ, speaker, one vocoder pass that serves "
              "the output gain and the whole decode the envelope layer is measured on, entropy coding)",
    "decode": "`Codec.decode`: .srb bytes -> audio (entropy decoding, vocoder, postfilter, pitch resynthesis, envelope smoother, "
              "band refiner, envelope layer)",
    "content": "content encoder alone: `codec.content.units` on the waveform",
    "f0": "F0 extraction alone: `codec.pitch.extract_f0` (Praat, two passes)",
    "decoder": "vocoder alone: `Codec.decode_streams` on decoded streams (postfilter, resynthesis, smoother and refiner included)",
    "postfilter": "postfilter alone: `codec.postfilter.Postfilter` on the input waveform (none: skipped)",
    "resynth": "pitch resynthesis alone: `codec.resynth.Resynth` on the input waveform at its transmitted "
               "contour (one Praat pass on the audio, WORLD per voiced run; none: skipped)",
    "smoother": "envelope smoother alone: `codec.smoother.EnvelopeSmoother` on the input waveform (none: skipped)",
    "refiner": "band refiner alone: `codec.refiner.BandRefiner` on the input waveform (none: skipped)",
    "envelope": "envelope layer alone: `codec.envelope.EnvelopeLayer.apply` of the file's codes to the input waveform "
                "(none: skipped)",
}


def speech(seconds: float = 60.0, data: Path | None = None) -> tuple[np.ndarray, str]:
    """``(wav, source)``: ``seconds`` of 16 kHz speech and a line saying where it came from."""
    import soundfile as sf

    from benchmarks.peers import resample

    data = Path(data) if data is not None else DEFAULT_DATA
    need = int(seconds * SR)
    parts, names = [], []
    manifest = data / "manifest.csv"
    if manifest.is_file():
        import csv

        with open(manifest, newline="", encoding="utf-8") as fh:
            paths = [data / row["path"] for row in csv.DictReader(fh)]
        source = f"the first dev files of {data} in manifest order, concatenated"
    else:
        paths, source = [DEMO], f"the bundled demo sample ({DEMO.name}) repeated"
    got = 0
    while got < need:
        for p in paths:
            x, sr = sf.read(str(p), dtype="float32", always_2d=True)
            x = resample(x.mean(axis=1), sr, SR)
            parts.append(x)
            names.append(p.name)
            got += len(x)
            if got >= need:
                break
    return np.concatenate(parts)[:need], f"{source} ({len(names)} files, {seconds:g} s)"


class Stages:
    """The stages of :data:`STAGES` as zero-argument callables on one loaded model and one input."""

    def __init__(self, codec, wav: np.ndarray):
        import torch

        from bitstream import read_srb

        self.codec, self.wav = codec, wav
        self.tensor = torch.from_numpy(wav)
        self.data = codec.encode(wav, sample_rate=SR)
        self.streams = read_srb(self.data, codec.reading_tables)
        self.target = codec.transmitted_f0(self.streams) if self.streams.pitch_stats is not None else None
        if self.target is not None:
            from codec.resynth import resynth_range

            self.range = resynth_range(self.streams.pitch_stats)

    def run(self, stage: str):
        import torch

        from codec import pitch

        c = self.codec
        if stage == "encode":
            return c.encode(self.wav, sample_rate=SR)
        if stage == "decode":
            return c.decode(self.data)
        if stage == "content":
            with torch.inference_mode():
                return c.content.units(self.tensor[None])
        if stage == "f0":
            return pitch.extract_f0(self.wav, SR)
        if stage == "decoder":
            return c.decode_streams(self.streams)
        if stage == "postfilter":
            return c.postfilter(self.tensor) if c.postfilter is not None else self.tensor
        if stage == "resynth":
            if c.resynth is None or self.target is None:
                return self.wav
            return c.resynth(self.wav, self.target, self.range)
        if stage == "smoother":
            return c.smoother(self.tensor) if c.smoother is not None else self.tensor
        if stage == "refiner":
            return c.refiner(self.tensor) if c.refiner is not None else self.tensor
        if stage == "envelope":
            if c.envelope is None or self.streams.envelope is None:
                return self.wav
            return c.envelope.apply(self.wav, self.streams.envelope)
        raise ValueError(f"unknown stage {stage!r}; known: {', '.join(STAGES)}")


def _child(stage: str, model: str | None, seconds: float, data: str | None) -> None:
    """Body of the measuring subprocess: prints one JSON line."""
    import gc

    import torch

    from benchmarks.memory import PeakRss, rss_mib
    from codec.api import Codec

    torch.set_num_threads(1)
    wav, _ = speech(seconds, Path(data) if data else None)
    stages = Stages(Codec.from_pretrained(model), wav)
    gc.collect()
    with PeakRss() as mem:
        t0 = time.perf_counter()
        stages.run(stage)
        wall = time.perf_counter() - t0
    print(json.dumps({"stage": stage, "wall_s": wall, "x_rt": seconds / wall, "rss_before_mib": mem.before,
                      "peak_rss_mib": rss_mib("VmHWM"), "peak_reset": mem.ok, "stage_peak_mib": mem.added_mib}))


def measure(stage: str, model: str | None = None, seconds: float = 60.0, data: Path | None = None) -> dict:
    """Run ``stage`` once in a fresh subprocess; its wall time, x real time and peak RSS."""
    cmd = [sys.executable, "-m", "benchmarks.speed", "--child", stage, "--seconds", str(seconds)]
    if model:
        cmd += ["--model", str(model)]
    if data:
        cmd += ["--data", str(data)]
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{stage} subprocess failed: {proc.stderr.strip().splitlines()[-1:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def write_markdown(rows: list[dict], source: str, command: str, model: str | None, out: Path) -> None:
    from benchmarks.report import git_commit

    lines = [
        "# srb speed and peak memory",
        "",
        f"`{command}`",
        "",
        f"- input: {source}",
        f"- model: {model or 'the bundled default'}; commit {git_commit() or '?'}; "
        f"{platform.machine()} {os.cpu_count()} CPU(s), torch on 1 thread; "
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}",
        "- x RT: audio seconds per wall-clock second (higher is faster), one run of each stage in a fresh process, "
        "model loading excluded",
        "- peak RSS: the process's resident-set high-water mark during the stage (Linux VmHWM after resetting it "
        "once the model is loaded): torch, the model and the 60 s input included. *stage adds*: that peak "
        "minus the RSS just before the stage; the process has encoded the input once already (to have bytes for "
        "the decode stages), so this is a warm process's working memory, not a first call's.",
        "",
        "| stage | what | wall s | x RT | peak RSS MiB | stage adds MiB |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        add = f"{r['stage_peak_mib']:.0f}" if r.get("stage_peak_mib") is not None else "–"
        lines.append(f"| {r['stage']} | {STAGE_TEXT[r['stage']]} | {r['wall_s']:.2f} | {r['x_rt']:.1f} | "
                     f"{r['peak_rss_mib']:.0f} | {add} |")
    lines.append("")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m benchmarks.speed", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=None)
    p.add_argument("--data", type=Path, default=None)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--stages", default=",".join(STAGES))
    p.add_argument("--out", type=Path, default=None, help="write a markdown table here")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        _child(args.child, args.model, args.seconds, str(args.data) if args.data else None)
        return 0
    _, source = speech(args.seconds, args.data)
    rows = []
    for stage in [s.strip() for s in args.stages.split(",") if s.strip()]:
        r = measure(stage, args.model, args.seconds, args.data)
        print(f"{stage:8s} {r['wall_s']:7.2f} s  {r['x_rt']:6.1f} x RT  peak RSS {r['peak_rss_mib']:.0f} MiB",
              flush=True)
        rows.append(r)
    if args.out:
        write_markdown(rows, source, "python -m benchmarks.speed " + " ".join(argv), args.model, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
