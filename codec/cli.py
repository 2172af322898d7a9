"""The ``srb`` command line (also ``python -m codec``).

Every failure the library reports on purpose (:class:`bitstream.SrbError`) or an unreadable file
ends in one line on stderr and exit status 1; usage errors exit with 2 as argparse does.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bitstream import EntropyTables, SrbError, bitrate_report


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise SrbError(f"cannot read {path}: {exc.strerror or exc}") from exc


def cmd_info(args) -> int:
    tables = EntropyTables.load(args.tables) if args.tables else None
    for i, path in enumerate(args.files):
        report = bitrate_report(_read(path), tables)
        if len(args.files) > 1:
            print(("\n" if i else "") + f"== {path}")
        print(report.format())
    return 0


def _outputs(inputs: list[str], output: str | None, suffix: str) -> list[Path]:
    if output and len(inputs) > 1:
        out_dir = Path(output)
        if out_dir.exists() and not out_dir.is_dir():
            raise SrbError(f"-o {output}: with several inputs, -o must be a folder")
        return [out_dir / (Path(p).stem + suffix) for p in inputs]
    if output:
        return [Path(output)]
    return [Path(p).with_suffix(suffix) for p in inputs]


def _write(path: Path, data: bytes, force: bool) -> None:
    if path.exists() and not force:
        raise SrbError(f"{path} exists (use --force to overwrite)")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    tmp.replace(path)  # never leave a half-written file under the real name


def _progress(items, label: str):
    from tqdm import tqdm

    return tqdm(items, desc=label, unit="file", disable=len(items) < 2, file=sys.stderr)


def _wav_bytes(wav, sample_rate: int) -> bytes:
    import io

    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, wav, sample_rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def _load_codec(model: str | None):
    from .api import Codec

    return Codec.from_pretrained(model)


def _convert(args, suffix: str, label: str, convert) -> int:
    """Shared loop of encode and decode: refuse an existing output before doing the work."""
    outputs = _outputs(args.inputs, args.output, suffix)
    for src, dst in zip(args.inputs, _progress(outputs, label)):
        if dst.exists() and not args.force:
            raise SrbError(f"{dst} exists (use --force to overwrite)")
        _write(dst, convert(src), args.force)
    return 0


def cmd_encode(args) -> int:
    codec = _load_codec(args.model)
    return _convert(args, ".srb", "encode", lambda src: codec.encode(src, speaker_id=args.speaker_id))


def cmd_decode(args) -> int:
    codec = _load_codec(args.model)
    return _convert(args, ".wav", "decode", lambda src: _wav_bytes(*codec.decode(_read(src))))


def cmd_demo(args) -> int:
    import time
    from importlib import resources

    from .api import Codec

    codec = Codec.from_pretrained(args.model)
    sample = Path(str(resources.files("codec") / "assets" / "samples" / "demo.flac"))
    t0 = time.perf_counter()
    data = codec.encode(sample)
    t1 = time.perf_counter()
    wav, sr = codec.decode(data)
    t2 = time.perf_counter()
    print(f"sample: {sample.name} (synthetic speech, flite), {len(wav) / sr:.2f} s")
    print(f"encode {t1 - t0:.2f} s, decode {t2 - t1:.2f} s on this machine\n")
    print(bitrate_report(data, codec.tables).format())
    if args.output:
        _write(Path(args.output), _wav_bytes(wav, sr), args.force)
        print(f"\ndecoded speech written to {args.output}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="srb", description="Speech at a few hundred bits per second.")
    sub = parser.add_subparsers(dest="command", required=True)
    enc = sub.add_parser("encode", help="speech files -> .srb")
    enc.add_argument("inputs", nargs="+", metavar="IN")
    enc.add_argument("-o", "--output", help="output file, or folder for several inputs (default: IN.srb)")
    enc.add_argument("--speaker-id", type=int, default=None, help="send this known speaker's ID instead of the voice")
    dec = sub.add_parser("decode", help=".srb files -> WAV")
    dec.add_argument("inputs", nargs="+", metavar="IN.srb")
    dec.add_argument("-o", "--output", help="output file, or folder for several inputs (default: IN.wav)")
    demo = sub.add_parser("demo", help="encode and decode a bundled sample, print the bitrate breakdown")
    demo.add_argument("-o", "--output", help="also write the decoded speech here (WAV)")
    for p in (enc, dec, demo):
        p.add_argument("--model", default=None, help="bundle folder or bundled model name (default: srb's default)")
        p.add_argument("--force", action="store_true", help="overwrite existing outputs")
    enc.set_defaults(func=cmd_encode)
    dec.set_defaults(func=cmd_decode)
    demo.set_defaults(func=cmd_demo)
    info = sub.add_parser("info", help="bits and bits/s per stream of .srb files")
    info.add_argument("files", nargs="+", metavar="FILE.srb")
    info.add_argument("--tables", metavar="TABLES.npz", help="entropy tables the files were coded with "
                      "(not needed for files coded with uniform tables)")
    info.set_defaults(func=cmd_info)
    sub.add_parser("bench", add_help=False, help="benchmark report against peer codecs (srb bench --help)")
    sub.add_parser("train", add_help=False, help=f"train a component: srb train {{{','.join(TRAINERS)}}} ... "
                   "(docs/TRAINING.md)")
    return parser


#: ``srb train NAME ...`` runs the module ``codec.train.<module>`` with the remaining arguments.
TRAINERS = {
    "teacher-units": "teacher_units",
    "content": "content",
    "f0vq": "f0vq",
    "units": "units",
    "decoder": "decoder",
    "bundle": "bundle",
    "corpus": "corpus",
}


def cmd_train(argv: list[str]) -> int:
    import importlib

    if not argv or argv[0] not in TRAINERS:
        print(f"srb train: error: name a component: {', '.join(TRAINERS)}", file=sys.stderr)
        return 2
    module = importlib.import_module(f"codec.train.{TRAINERS[argv[0]]}")
    if hasattr(module, "main"):
        module.main(argv[1:])
    else:
        module.train(module.build_parser().parse_args(argv[1:]))
    return 0


def cmd_bench(argv: list[str]) -> int:
    """``srb bench ...`` = ``python -m benchmarks.report ...``; needs the repository checkout."""
    root = Path(__file__).resolve().parents[1]
    if (root / "benchmarks" / "report.py").is_file() and str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        from benchmarks.report import main as report_main
    except ModuleNotFoundError as exc:
        if exc.name != "benchmarks":
            raise
        print("srb bench: error: needs srb's repository checkout (benchmarks/ is not installed)", file=sys.stderr)
        return 1
    return report_main(argv)


def main(argv: list[str] | None = None) -> int:
    bench_argv = list(sys.argv[1:] if argv is None else argv)
    if bench_argv[:1] == ["bench"]:  # its own parser: every argument goes to benchmarks.report
        return cmd_bench(bench_argv[1:])
    if bench_argv[:1] == ["train"]:  # likewise for the training modules
        return cmd_train(bench_argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except SrbError as exc:
        print(f"srb {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"srb {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
