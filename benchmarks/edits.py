"""Bitstream edits measured on dev: voice conversion, pitch shift, tempo, and content kept.

    python -m benchmarks.edits --data ../shared/data/dev --files 12 --out benchmarks/results/edits.md

For each of ``--files`` dev utterances (3-10 s, speakers as varied as the first rows allow):
encode with the bundled model (unseen-speaker PQ code), decode (the *base*), then decode edits
made with ``bitstream.edit`` (no audio decoded to edit):
- voice conversion: the speaker code of the next file of another speaker; Resemblyzer cosine of
  the converted speech to the target's and to the source's original recording;
- pitch +-2, +-4 semitones: F0 by pyworld Harvest (not the codec's tracker) of the edited output
  and of the base decode, on the same 10 ms frames (a pitch edit keeps the timing): the median
  over frames voiced in both of 12 log2(F0 edited / F0 base). Also the difference of the two
  medians, which Harvest's voicing and octave choices on the bundled model's rough speech make
  noisy (the frames it calls voiced differ between the two outputs);
- tempo 0.8 and 1.25: file length, and the active-speech span (first to last 10 ms frame within
  40 dB of the loudest), against the base decode's;
- content: Whisper-base WER (benchmarks.metrics.WhisperASR) of every output against the transcript.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np

from benchmarks.markdown import emit


def pick_files(data: Path, count: int) -> list[dict]:
    """First rows of 3-10 s, one per speaker while possible, then the rest in manifest order."""
    rows = [r for r in csv.DictReader(open(data / "manifest.csv")) if 3.0 <= float(r["seconds"]) <= 10.0]
    seen, first, rest = set(), [], []
    for r in rows:
        (rest if r["speaker"] in seen else first).append(r)
        seen.add(r["speaker"])
    return (first + rest)[:count]


def speech_span(wav: np.ndarray, sr: int = 16000) -> float:
    """Seconds from the first to the last 10 ms frame within 40 dB of the loudest frame."""
    hop = sr // 100
    frames = wav[: wav.size // hop * hop].reshape(-1, hop)
    db = 10 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-12)
    active = np.flatnonzero(db > db.max() - 40)
    return (active[-1] - active[0] + 1) * hop / sr


#: A pitch shift is measurable when Harvest finds at least this many 10 ms frames voiced in both
#: outputs. The bundled model renders some dev files almost unvoiced (Harvest: 1-49 voiced frames
#: in the base decode), where a median of a handful of frames is a tracker artefact.
MIN_VOICED_FRAMES = 50


def pitch_shift(out: np.ndarray, base: np.ndarray) -> tuple[float, float, int]:
    """(frame-wise median shift, shift of the medians, frames voiced in both), Harvest on both."""
    from benchmarks.metrics import harvest_f0

    fo, fb = harvest_f0(out), harvest_f0(base)
    n = min(fo.size, fb.size)
    fo, fb = fo[:n], fb[:n]
    both = (fo > 0) & (fb > 0)
    frames = float(np.median(12 * np.log2(fo[both] / fb[both]))) if both.any() else float("nan")
    medians = 12 * np.log2(np.median(fo[fo > 0]) / np.median(fb[fb > 0])) if both.any() else float("nan")
    return frames, float(medians), int(both.sum())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="../shared/data/dev")
    ap.add_argument("--files", type=int, default=12)
    ap.add_argument("--no-asr", action="store_true", help="skip Whisper WER")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    import soundfile as sf
    import torch

    torch.set_num_threads(1)
    from benchmarks.metrics import SpeakerSimilarity, word_errors
    from bitstream import read_srb
    from bitstream.edit import edit_srb
    from codec.api import Codec

    t_start = time.perf_counter()
    codec = Codec.from_pretrained()
    data = Path(args.data)
    rows = pick_files(data, args.files)
    spk = SpeakerSimilarity()
    asr = None
    if not args.no_asr:
        from benchmarks.metrics import WhisperASR

        asr = WhisperASR(threads=1)
    orig = [sf.read(str(data / r["path"]), dtype="float32")[0] for r in rows]
    srbs = [codec.encode(x, 16000) for x in orig]
    base = [codec.decode(d)[0] for d in srbs]
    emb_orig = [spk.embed(x) for x in orig]

    wer_counts: dict[str, list[int]] = {}

    def count_wer(name, wav, text):
        if asr is None:
            return
        e, n = word_errors(text, asr.transcribe(wav))
        c = wer_counts.setdefault(name, [0, 0])
        c[0] += e
        c[1] += n

    vc_target, vc_source, vc_base_self = [], [], []
    pitch = {n: [] for n in (-4, -2, 2, 4)}
    tempo = {f: ([], []) for f in (0.8, 1.25)}
    for i, r in enumerate(rows):
        text = r["text"]
        count_wer("original", orig[i], text)
        count_wer("base decode", base[i], text)
        # Voice conversion: the next file spoken by someone else.
        j = next((k % len(rows) for k in range(i + 1, i + len(rows)) if rows[k % len(rows)]["speaker"] != r["speaker"]), None)
        if j is not None:
            conv = codec.decode(edit_srb(srbs[i], codec.tables, speaker=read_srb(srbs[j], codec.tables)))[0]
            e = spk.embed(conv)
            vc_target.append(spk.cosine(e, emb_orig[j]))
            vc_source.append(spk.cosine(e, emb_orig[i]))
            vc_base_self.append(spk.cosine(spk.embed(base[i]), emb_orig[i]))
            count_wer("voice conversion", conv, text)
        for n in pitch:
            out = codec.decode(edit_srb(srbs[i], codec.tables, semitones=n))[0]
            pitch[n].append(pitch_shift(out, base[i]))
            count_wer(f"pitch {n:+d}", out, text)
        for f in tempo:
            out = codec.decode(edit_srb(srbs[i], codec.tables, tempo=f))[0]
            tempo[f][0].append(out.size / base[i].size)
            tempo[f][1].append(speech_span(out) / speech_span(base[i]))
            count_wer(f"tempo {f}", out, text)
        print(f"{i + 1}/{len(rows)} {r['path']}", flush=True)

    secs = sum(x.size for x in orig) / 16000
    vt, vs = np.array(vc_target), np.array(vc_source)
    lines = [
        f"# Bitstream edits on dev ({len(rows)} files, {secs:.0f} s, {len({r['speaker'] for r in rows})} speakers)",
        "",
        f"Command: `python -m benchmarks.edits --data {args.data} --files {args.files}"
        f"{' --no-asr' if args.no_asr else ''}` ({time.perf_counter() - t_start:.0f} s on 1 CPU thread)",
        "",
        "Files: " + ", ".join(r["path"] for r in rows),
        "",
        "## Voice conversion (`--speaker-from` the next file of another speaker)",
        "",
        "Resemblyzer cosine of the converted speech to the original recordings:",
        "",
        "| to target | to source | target > source | (base decode to its own source) |",
        "|---:|---:|---:|---:|",
        f"| {vt.mean():.3f} | {vs.mean():.3f} | {np.sum(vt > vs)} of {vt.size} | {np.mean(vc_base_self):.3f} |",
        "",
        "## Pitch (`--pitch N`): F0 of the output vs the base decode (pyworld Harvest)",
        "",
        f"Measurable: at least {MIN_VOICED_FRAMES} frames (0.5 s) voiced in both outputs. Frame-wise: median over "
        "those frames of the shift in semitones. Medians: shift of the median F0 of each output.",
        "",
        "| N | measurable files | frame-wise: mean | max abs error | within 1 semitone "
        "| medians: mean | max abs error | within 1 semitone |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n, v in pitch.items():
        v = np.array(v)
        ok = v[:, 2] >= MIN_VOICED_FRAMES
        fw, md = v[ok, 0], v[ok, 1]
        ef, em = np.abs(fw - n), np.abs(md - n)
        lines.append(f"| {n:+d} | {ok.sum()} of {len(v)} | {fw.mean():+.2f} | {ef.max():.2f} | {np.sum(ef <= 1)} of {ok.sum()} "
                     f"| {md.mean():+.2f} | {em.max():.2f} | {np.sum(em <= 1)} of {ok.sum()} |")
    lines += ["", "Per file, frame-wise shift (frames voiced in both):", "",
              "| file | " + " | ".join(f"{n:+d}" for n in pitch) + " |", "|---|" + "---:|" * len(pitch)]
    for i, r in enumerate(rows):
        lines.append(f"| {r['path']} | " + " | ".join(f"{pitch[n][i][0]:+.2f} ({pitch[n][i][2]})" for n in pitch) + " |")
    lines += ["", "## Tempo (`--tempo F`): duration vs the base decode (expected 1/F)", "",
              "| F | expected | file length ratio | speech span ratio (mean, min-max) | span within 5 % |",
              "|---:|---:|---:|---:|---:|"]
    for f, (lens, spans) in tempo.items():
        spans = np.array(spans)
        within = np.sum(np.abs(spans * f - 1) <= 0.05)
        lines.append(f"| {f} | {1 / f:.3f} | {np.mean(lens):.4f} | {spans.mean():.3f} ({spans.min():.3f}-{spans.max():.3f}) "
                     f"| {within} of {spans.size} |")
    if wer_counts:
        lines += ["", "## Content kept: Whisper-base WER against the transcripts", "",
                  "| audio | WER | words |", "|---|---:|---:|"]
        for name, (e, n) in wer_counts.items():
            lines.append(f"| {name} | {100 * e / max(n, 1):.1f} % | {n} |")
    emit(lines, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
