"""Which half limits srb's intelligibility: the content units or the vocoder? An oracle test.

    python -m benchmarks.oracle_units --data ../shared/data/dev --teacher .cache/teacher/dev_k100.npz \
        --content runs/content-k100-soft/export --out benchmarks/results/oracle_units.md

The shipped content encoder is a student that predicts the k-means units (K = 100) of the Whisper-base
encoder. The decoder's unit alphabet *is* the teacher's, so the teacher's own units of a file can be
decoded by the shipped vocoder in place of the student's. For every dev file with a transcript,
the same F0 codes and speaker code, three (or more) unit streams:

- ``student``: the shipped encoder's units (what srb sends);
- ``teacher``: the teacher's units of the file (``srb train teacher-units``): the content an ideal
  student would send, decoded by the shipped vocoder (trained on the student's units, not these);
- each ``--content`` model's units (e.g. a better student), decoded the same way.

Scored against the original: STOI, MCD, and Whisper-base WER (utterances packed into 28 s windows
as in the report; also with each file's errors capped at its word count, so a looping transcript
cannot dominate), plus the
ideal unit bits/s under the shipped tables. If the teacher's units give a much lower WER, content is
the bottleneck; if not, the vocoder is.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from benchmarks import dev_script
from benchmarks.markdown import emit


def teacher_units(path: Path) -> dict[str, np.ndarray]:
    """The teacher's units of each file of a ``teacher-units`` ``.npz``, by manifest path."""
    with np.load(path, allow_pickle=False) as z:
        units = np.split(z["units"], z["unit_offsets"][1:-1])
        return {str(p): u.astype(np.int32) for p, u in zip(z["paths"], units)}


def main(argv=None) -> int:
    ap = dev_script.parser(__doc__)
    ap.add_argument("--teacher", default=".cache/teacher/dev_k100.npz", help="teacher units of --data")
    ap.add_argument("--content", action="append", default=[], help="another content encoder (path stem); repeatable")
    ap.add_argument("--limit", type=int, default=None, help="only the first N files with transcripts")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    codec, items = dev_script.start(args)
    import dataclasses

    import soundfile as sf
    import torch

    from benchmarks import metrics as M
    from bitstream import bitrate_report, write_srb
    from codec.content import ContentEncoder

    rows = [r for r in items if r.text][: args.limit]
    oracle = teacher_units(Path(args.teacher))
    extra = {Path(c).name if Path(c).name != "export" else Path(c).parent.name: ContentEncoder.load(c)
             for c in args.content}
    asr = M.WhisperASR(threads=1)
    names = ["student", "teacher", *extra]
    score = {n: dict(stoi=[], mcd=[], err=0, err_cap=0, bits=0.0) for n in ["original", *names]}
    words = seconds = 0
    audio = {n: [] for n in score}
    for r in rows:
        x, sr = sf.read(str(r.path), dtype="float32")
        base = codec.encode_streams(x, sr, envelope=False)
        variants = {"student": base.units, "teacher": oracle[r.key]}
        with torch.inference_mode():
            for n, model in extra.items():
                variants[n] = model.units(torch.from_numpy(x)[None])[0].to(torch.int32).numpy()
        audio["original"].append(x)
        seconds += x.size / sr
        for name in names:
            u = variants[name][: base.units.size]
            if u.size != base.units.size:
                raise SystemExit(f"{r.key}: {u.size} {name} units for {base.units.size} frames")
            s = dataclasses.replace(base, units=u)
            y = codec.decode_streams(s)
            ref, deg, _ = M.align(x, y)
            sc = score[name]
            sc["stoi"].append(M.stoi(ref, deg))
            sc["mcd"].append(M.mcd(ref, deg))
            audio[name].append(y)
            sc["bits"] += bitrate_report(write_srb(s, codec.tables), codec.tables).units_bits
        print(r.key, flush=True)
    texts = [r.text for r in rows]
    for name, wavs in audio.items():  # packed windows, as the report does: Whisper pays per 30 s window
        for text, hyp in zip(texts, asr.transcribe_many(wavs)):
            e, n = M.word_errors(text, hyp)
            score[name]["err"] += e
            score[name]["err_cap"] += min(e, n)
            words += n if name == "original" else 0
    lines = [
        "# Oracle content units: the teacher's units through the shipped vocoder",
        "",
        f"`python -m benchmarks.oracle_units --data {args.data} --teacher {args.teacher}"
        + "".join(f" --content {c}" for c in args.content)
        + f"` (model {codec.model_id:08x}; {len(rows)} files with transcripts, {seconds:.0f} s, {words} words; "
        f"Whisper base on packed windows as in the report; {time.perf_counter() - t0:.0f} s).",
        "",
        "| units | unit symbols bits/s | STOI | MCD dB | WER (Whisper) | WER capped |",
        "|---|---:|---:|---:|---:|---:|",
        f"| original audio | – | – | – | {100 * score['original']['err'] / words:.1f} % | "
        f"{100 * score['original']['err_cap'] / words:.1f} % |",
    ]
    for name in names:
        sc = score[name]
        lines.append(f"| {name} | {sc['bits'] / seconds:.1f} | {np.mean(sc['stoi']):.3f} | {np.mean(sc['mcd']):.2f} | "
                     f"{100 * sc['err'] / words:.1f} % | {100 * sc['err_cap'] / words:.1f} % |")
    emit(lines, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
