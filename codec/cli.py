"""The ``srb`` command line (also ``python -m codec``).

Every failure the library reports on purpose (:class:`bitstream.SrbError`) or an unreadable file
ends in one line on stderr and exit status 1; usage errors exit with 2 as argparse does.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from bitstream import EntropyTables, SrbError, SrbFormatError, bitrate_report, read_header
from bitstream.container import MAX_PACKET_FRAMES


#: The name of standard input (as an input) and standard output (as ``-o``).
STDIO = "-"


def _read(path: str) -> bytes:
    try:
        return sys.stdin.buffer.read() if path == STDIO else Path(path).read_bytes()
    except OSError as exc:
        raise SrbError(f"cannot read {path}: {exc.strerror or exc}") from exc


def cmd_info(args) -> int:
    tables = _reading_tables_for(args)
    for i, path in enumerate(args.files):
        report = bitrate_report(_read(path), tables)
        if len(args.files) > 1:
            print(("\n" if i else "") + f"== {path}")
        print(report.format())
    return 0


def _outputs(inputs: list[str], output: str | None, suffix: str) -> list[Path]:
    """Where each input's result goes (``None``: standard output); refuses, before any work, two
    inputs that would write the same file and an output that is one of the inputs (nothing may be
    lost, --force or not)."""
    if STDIO in inputs and len(inputs) > 1:
        raise SrbError("- (standard input) must be the only input")
    if output == STDIO or (inputs == [STDIO] and not output):
        if len(inputs) > 1:
            raise SrbError("-o - (standard output) takes one input")
        return [None]
    if output and len(inputs) > 1:
        out_dir = Path(output)
        if out_dir.exists() and not out_dir.is_dir():
            raise SrbError(f"-o {output}: with several inputs, -o must be a folder")
        outs = [out_dir / (Path(p).stem + suffix) for p in inputs]
    elif output:
        outs = [Path(output)]
    else:
        outs = [Path(p).with_suffix(suffix) for p in inputs]
    sources = {Path(p).resolve(): p for p in inputs}
    seen: dict[Path, str] = {}
    for src, dst in zip(inputs, outs):
        key = dst.resolve()
        if key in sources:
            raise SrbError(f"{dst} would overwrite the input {sources[key]}")
        if key in seen:
            raise SrbError(f"{seen[key]} and {src} would both be written to {dst} (use -o with one input)")
        seen[key] = src
    return outs


def _refuse_existing(paths: list[Path | None], force: bool) -> None:
    """Without --force, an existing output (``None``: standard output, never refused) is an error."""
    for path in paths:
        if path is not None and path.exists() and not force:
            raise SrbError(f"{path} exists (use --force to overwrite)")


def _write(path: Path | None, data: bytes, force: bool) -> None:
    _refuse_existing([path], force)
    if path is None:  # standard output
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
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


def _load_codec(model: str | None, postfilter: bool = True, resynth: bool = True, gain: bool = True,
                smoother: bool = True, refiner: bool = True, envelope: bool = True, narrowband: bool = True):
    from .api import Codec

    return Codec.from_pretrained(model, postfilter=postfilter, resynth=resynth, gain=gain, smoother=smoother,
                                 refiner=refiner, envelope=envelope, narrowband=narrowband)


def _convert(args, suffix: str, label: str, convert) -> int:
    """Shared loop of encode and decode: refuse an existing output before doing the work."""
    outputs = _outputs(args.inputs, args.output, suffix)
    _refuse_existing(outputs, args.force)  # all refusals before any work: no half-done batch
    for src, dst in zip(args.inputs, _progress(outputs, label)):
        try:
            data = convert(src)
        except SrbError as exc:  # in a batch, say which input failed (the ones before it are written)
            if len(args.inputs) > 1 and src not in str(exc):
                exc.args = (f"{src}: {exc}", *exc.args[1:])
            raise
        _write(dst, data, args.force)
    return 0


#: Inputs longer than this (seconds) are encoded block by block, as with ``srb encode --stream``.
#: Measured on 10 minutes of dev speech: whole, 1.71 GB peak and 30 s; by blocks, 0.84 GB and 69 s,
#: the same units, F0 and speaker and 98 % of the envelope codes. Memory grows by about 90 MB a
#: minute encoded whole, so past half an hour the blocks' bounded memory is worth their time.
LONG_INPUT_S = 1800.0


def _seconds(path: str) -> float:
    """The duration of an audio file, or 0 when soundfile cannot tell (the encoder then says why)."""
    import soundfile as sf

    try:
        return float(sf.info(path).duration)
    except Exception:  # soundfile raises several types; the encode reports the file properly
        return 0.0


def cmd_encode(args) -> int:
    codec = _load_codec(args.model)
    if args.stream and STDIO in args.inputs:
        raise SrbError("--stream reads a file in blocks; for standard input drop --stream")
    if args.stream and args.max_bitrate is not None:
        raise SrbError("--max-bitrate chooses codes for the whole file; drop --stream")
    from .errors import ModelError

    def encode(audio, **kw):
        # Long files go through the block encoder (bounded memory, LONG_INPUT_S), unless
        # --max-bitrate needs the whole file at once.
        stream = args.stream or (args.max_bitrate is None and isinstance(audio, str) and _seconds(audio) > LONG_INPUT_S)
        return (codec.encode_stream if stream else codec.encode)(audio, **kw)

    packet = None
    if args.packet_seconds is not None:
        frames = args.packet_seconds * codec.sample_rate / codec.config.unit_hop
        try:
            packet = codec.packet_frames(round(frames) if abs(frames - round(frames)) < 1e-6 else -1)
        except ModelError:
            step = codec.config.f0_hop / codec.sample_rate
            raise ModelError(f"--packet-seconds must be a multiple of {step:g} s from {step:g} to "
                             f"{MAX_PACKET_FRAMES * codec.config.unit_hop / codec.sample_rate:g}, "
                             f"got {args.packet_seconds:g}") from None
    def convert(src: str) -> bytes:
        import io

        audio = src
        if src == STDIO:
            audio = io.BytesIO(_read(src))
            audio.name = "<stdin>"
        limit = {} if args.max_bitrate is None else {"max_bitrate": args.max_bitrate}
        data = encode(audio, speaker_id=args.speaker_id, unit_lambda=args.unit_lambda, packet_frames=packet,
                      envelope=False if args.no_envelope else None, envelope_lambda=args.envelope_lambda,
                      narrowband=INPUT_BANDS[args.input_band], **limit)
        if args.max_bitrate is not None:
            bps = 8 * len(data) * codec.sample_rate / max(read_header(data, codec.reading_tables).num_samples, 1)
            if bps > args.max_bitrate:
                print(f"srb encode: {src}: {bps:.0f} bits/s, over --max-bitrate {args.max_bitrate:g} even without "
                      "the envelope layer", file=sys.stderr)
        return data

    return _convert(args, ".srb", "encode", convert)


def _lost_line(path: str, lost, sample_rate: int) -> str:
    """One line naming every lost span of a file (and the first reason)."""
    spans = ", ".join(
        f"{s.start_sample / sample_rate:.2f}-{s.end_sample / sample_rate:.2f} s "
        f"(packet{'s' if s.last_packet > s.first_packet else ''} {s.first_packet}"
        f"{'-' + str(s.last_packet) if s.last_packet > s.first_packet else ''})"
        for s in lost
    )
    reason = lost[0].reason.replace("\n", " ")
    return f"{path}: lost {spans}: {reason}"


def cmd_decode(args) -> int:
    codec = _load_codec(args.model, postfilter=not args.no_postfilter, resynth=not args.no_resynth,
                        gain=not args.no_gain, smoother=not args.no_smoother, refiner=not args.no_refiner,
                        envelope=not args.no_envelope, narrowband=False)  # the narrowband pair only encodes
    if args.stream:
        return _decode_stream(codec, args)
    if args.format == "raw":
        raise SrbError("--format raw needs --stream (files are written as WAV)")

    def convert(src: str) -> bytes:
        wav, sr, lost = codec.decode_lossy(_read(src))
        if lost:
            if args.strict:
                raise SrbError(_lost_line(src, lost, sr) + " (--strict: nothing written)")
            print(f"srb decode: warning: {_lost_line(src, lost, sr)}; concealed", file=sys.stderr)
        return _wav_bytes(wav, sr)

    return _convert(args, ".wav", "decode", convert)


def _wav_header(num_samples: int, sample_rate: int) -> bytes:
    """44-byte header of a 16-bit mono PCM WAV: the .srb header gives the length up front, so a
    streamed WAV can be correct before any audio is decoded."""
    import struct

    data = 2 * num_samples
    return (b"RIFF" + struct.pack("<I", 36 + data) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, sample_rate,
            2 * sample_rate, 2, 16) + b"data" + struct.pack("<I", data))


def _decode_stream(codec, args) -> int:
    """``srb decode --stream IN.srb``: audio to stdout (or -o) packet by packet, as 16-bit PCM."""
    import numpy as np

    from .streaming import StreamDecoder, lost_spans

    if len(args.inputs) != 1:
        raise SrbError("--stream decodes one input")
    src = args.inputs[0]
    dec = StreamDecoder(codec, args.lookahead)
    dst = None if args.output in (None, STDIO) else _outputs([src], args.output, ".raw")[0]  # not over the input
    _refuse_existing([dst], args.force)
    out = sys.stdout.buffer if dst is None else open(dst, "wb")
    concealed, wrote_header, chunks = [], False, 0
    try:
        f = sys.stdin.buffer if src == STDIO else open(src, "rb")
    except OSError as exc:
        raise SrbError(f"cannot read {src}: {exc.strerror or exc}") from exc
    with f:
        def pieces():  # lazily: each read's packets are written before the next read
            for data in iter(lambda: f.read(1024), b""):
                yield dec.feed(data)
            yield dec.close()

        for piece in pieces():
            if dec.header is not None and not wrote_header and args.format == "wav":
                out.write(_wav_header(dec.header.num_samples, codec.sample_rate))
            wrote_header = wrote_header or dec.header is not None
            for c in piece:
                chunks += 1
                if c.lost is not None and args.strict:
                    raise SrbError(_lost_line(src, lost_spans([c]), codec.sample_rate) + " (--strict)")
                if c.lost is not None:
                    concealed.append(c)
                out.write((np.round(c.audio * 32767).astype("<i2")).tobytes())
            out.flush()
    lost = lost_spans(concealed)
    if chunks and len(concealed) == chunks:  # silence from end to end: as decode_lossy, an error
        raise SrbFormatError(f"{src}: no packet could be decoded (packets 0-{lost[-1].last_packet}: "
                             f"{lost[0].reason}); what was written is silence")
    if lost:
        print(f"srb decode: warning: {_lost_line(src, lost, codec.sample_rate)}; concealed", file=sys.stderr)
    return 0


def _model_folder(args) -> Path:
    from importlib import resources

    return Path(args.model) if args.model and Path(args.model).is_dir() else \
        Path(str(resources.files("codec") / "assets" / (args.model or "default")))


def _tables_for(args):
    """Tables for editing, without torch: --tables, else the model bundle's tables.npz (files are
    read with :func:`_reading_tables_for`)."""
    if args.tables:
        return EntropyTables.load(args.tables)
    try:
        return EntropyTables.load(_model_folder(args) / "tables.npz")
    except OSError as exc:
        raise SrbError(f"cannot load the tables of model {args.model or 'default'}: {exc}") from exc


def _reading_tables_for(args) -> dict:
    """The tables files are read with, by id, without torch: --tables with and without its envelope
    stream, else the model bundle's (:func:`codec.earlier_layers.bundle_reading_tables`: also the
    layers of earlier models it replaced)."""
    if args.tables:
        return _tables_for(args).by_id()
    from .earlier_layers import bundle_reading_tables

    try:
        return bundle_reading_tables(_model_folder(args))
    except (OSError, ValueError, KeyError, TypeError, SrbError) as exc:
        raise SrbError(f"cannot load the tables of model {args.model or 'default'}: {exc}") from exc


def _same_coding_for(args) -> frozenset[int]:
    """The model ids whose files code speakers as the model's do (its own and its ``decodes``),
    without torch; none with --tables (no bundle named)."""
    from .bundle_id import same_coding_ids

    if args.tables:
        return frozenset()
    try:
        return same_coding_ids(_model_folder(args))
    except (OSError, ValueError) as exc:
        raise SrbError(f"cannot read model {args.model or 'default'}: {exc}") from exc


def cmd_edit(args) -> int:
    """``srb edit``: change speaker, pitch or tempo in the bitstream (no audio decoded, no torch)."""
    from bitstream import SpeakerCode, read_srb
    from bitstream.edit import edit_srb

    if args.speaker is None and args.speaker_from is None and not args.pitch and args.tempo == 1.0:
        raise SrbError("nothing to do: give --speaker, --speaker-from, --pitch or --tempo")
    tables = _tables_for(args)
    reading = _reading_tables_for(args)
    speaker = None
    if args.speaker_from:
        speaker = read_srb(_read(args.speaker_from), reading)
    elif args.speaker is not None:
        n = tables.profile.speaker_ids
        if not 0 <= args.speaker < n:
            raise SrbError(f"--speaker {args.speaker}: this model knows speakers 0..{n - 1}")
        speaker = SpeakerCode.known(args.speaker, n)
    out = edit_srb(_read(args.input), reading, speaker=speaker, semitones=args.pitch, tempo=args.tempo,
                   same_coding=_same_coding_for(args) if args.speaker_from else ())
    _write(Path(args.output), out, args.force)
    return 0


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
    pf = codec.postfilter
    finishing = ([f"harmonic postfilter (strength {pf.config.strength:g})"] if pf else []) + (
        ["pitch resynthesis (WORLD)"] if codec.resynth else []) + (
        [f"envelope smoother ({1000 * codec.smoother.config.frames * codec.smoother.config.hop / sr:.0f} ms)"]
        if codec.smoother else []) + (
        [f"band refiner ({codec.refiner.config.bands} bands, scale {codec.refiner.config.scale:g})"] if codec.refiner else []) + (
        [f"envelope layer ({codec.envelope.config.size} codes per {1000 * codec.envelope.config.frame_samples // sr} ms, "
         f"{codec.envelope.config.bands} bands)"] if codec.envelope else [])
    print(f"encode {t1 - t0:.2f} s, decode {t2 - t1:.2f} s on this machine; decoder finishing: "
          + (", ".join(finishing) or "none") + "\n")
    print(bitrate_report(data, codec.reading_tables).format())
    if args.output:
        _write(Path(args.output), _wav_bytes(wav, sr), args.force)
        print(f"\ndecoded speech written to {args.output}")
    return 0


def _lambda(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (value >= 0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text!r}")
    return value


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (value > 0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}")
    return value


#: ``srb encode --input-band``: the ``narrowband`` argument of :meth:`codec.api.Codec.encode`.
INPUT_BANDS = {"auto": None, "narrow": True, "wide": False}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="srb", description="Speech at a few hundred bits per second.")
    sub = parser.add_subparsers(dest="command", required=True)
    enc = sub.add_parser("encode", help="speech files -> .srb")
    enc.add_argument("inputs", nargs="+", metavar="IN", help="speech files, or - for standard input")
    enc.add_argument("-o", "--output", help="output file, or folder for several inputs, or - for standard output "
                     "(default: IN.srb; standard output for -)")
    enc.add_argument("--speaker-id", type=int, default=None, help="send this known speaker's ID instead of the voice")
    enc.add_argument("--stream", action="store_true", help="read the audio in blocks: bounded memory for long "
                     "files (docs/STREAMING_EDITING.md); files over 30 minutes are read so anyway, unless "
                     "--max-bitrate is given")
    enc.add_argument("--packet-seconds", type=float, default=None, metavar="S",
                     help="packet length: a multiple of 0.08 s up to 20.48 (default 2); 8 s packets send about "
                     "13 bits/s less, but a streamed decode waits a packet and a lost packet loses S seconds")
    enc.add_argument("--unit-lambda", type=_lambda, default=0.0, metavar="L",
                     help="trade content accuracy for bits: units chosen for least -log p + L * bits (default 0: "
                     "each frame's likeliest unit; 0.1 sends about 8 %% fewer bits and loses some words, "
                     "docs/CONTENT.md)")
    enc.add_argument("--no-envelope", action="store_true",
                     help="leave out the envelope layer (a model that has one: about 140 bits/s fewer, "
                     "less intelligible; docs/ENVELOPE.md)")
    enc.add_argument("--max-bitrate", type=_positive, default=None, metavar="B",
                     help="keep each file at or under B bits/s, everything included: the envelope layer's codes "
                     "are traded for bits as far as needed, the layer left out if that is not enough "
                     "(a file still over is written and named on standard error)")
    enc.add_argument("--envelope-lambda", type=_lambda, default=None, metavar="L",
                     help="trade the envelope layer's accuracy for bits: codes chosen for least squared dB error "
                     "+ L * bits (default: the model's; 0: each frame's nearest code; docs/ENVELOPE.md)")
    enc.add_argument("--input-band", choices=tuple(INPUT_BANDS), default="auto",
                     help="which of the model's encoders analyse the input: 'narrow' (taught on telephone "
                     "speech), 'wide', or 'auto' (default): 'narrow' when the input measures band-limited "
                     "(docs/NOISE.md)")
    dec = sub.add_parser("decode", help=".srb files -> WAV")
    dec.add_argument("inputs", nargs="+", metavar="IN.srb", help=".srb files, or - for standard input")
    dec.add_argument("-o", "--output", help="output file, or folder for several inputs, or - for standard output "
                     "(default: IN.wav; standard output for - and with --stream)")
    dec.add_argument("--stream", action="store_true", help="decode packet by packet as the input is read "
                     "('-' = stdin), writing 16-bit PCM as it goes (default to stdout)")
    dec.add_argument("--format", choices=("raw", "wav"), default=None,
                     help="with --stream: raw s16le PCM (default) or WAV")
    dec.add_argument("--lookahead", type=int, default=None, metavar="FRAMES",
                     help="with --stream: unit frames (20 ms) of the next packet used as context (default 15)")
    dec.add_argument("--no-postfilter", action="store_true",
                     help="without the bundle's harmonic postfilter")
    dec.add_argument("--no-resynth", action="store_true",
                     help="without the bundle's pitch resynthesis (the decoded voice at the vocoder's own pitch)")
    dec.add_argument("--no-smoother", action="store_true",
                     help="without the bundle's envelope smoother (the band levels as the vocoder left them)")
    dec.add_argument("--no-refiner", action="store_true",
                     help="without the bundle's band refiner (the band levels as the smoother left them)")
    dec.add_argument("--no-envelope", action="store_true",
                     help="ignore the envelope layer's band-level corrections the file carries")
    dec.add_argument("--no-gain", action="store_true",
                     help="ignore the input's loudness the file carries (the vocoder's own level)")
    dec.add_argument("--strict", action="store_true", help="fail on a lost or damaged packet instead of "
                     "concealing it")
    demo = sub.add_parser("demo", help="encode and decode a bundled sample, print the bitrate breakdown")
    demo.add_argument("-o", "--output", help="also write the decoded speech here (WAV)")
    for p in (enc, dec, demo):
        p.add_argument("--model", default=None, help="bundle folder or bundled model name (default: srb's default)")
        p.add_argument("--force", action="store_true", help="overwrite existing outputs")
    enc.set_defaults(func=cmd_encode)
    dec.set_defaults(func=cmd_decode)
    demo.set_defaults(func=cmd_demo)
    edit = sub.add_parser("edit", help="change speaker, pitch or tempo of an .srb without decoding audio")
    edit.add_argument("input", metavar="IN.srb")
    edit.add_argument("-o", "--output", required=True, metavar="OUT.srb")
    who = edit.add_mutually_exclusive_group()
    who.add_argument("--speaker", type=int, default=None, metavar="ID", help="a known speaker of the model")
    who.add_argument("--speaker-from", metavar="OTHER.srb", help="the speaker of another file (voice conversion)")
    edit.add_argument("--pitch", type=float, default=0.0, metavar="SEMITONES", help="shift the pitch")
    edit.add_argument("--tempo", type=float, default=1.0, metavar="FACTOR", help="speak FACTOR times faster")
    edit.add_argument("--model", default=None, help="model whose tables the files use (default: srb's default)")
    edit.add_argument("--tables", metavar="TABLES.npz", help="tables file instead of a model's")
    edit.add_argument("--force", action="store_true", help="overwrite OUT.srb")
    edit.set_defaults(func=cmd_edit)
    info = sub.add_parser("info", help="bits and bits/s per stream of .srb files")
    info.add_argument("files", nargs="+", metavar="FILE.srb")
    info.add_argument("--tables", metavar="TABLES.npz", help="entropy tables the files were coded with "
                      "(default: those of --model; not needed for files coded with uniform tables)")
    info.add_argument("--model", default=None, help="bundle whose tables to use (default: the bundled model)")
    info.set_defaults(func=cmd_info)
    sub.add_parser("bench", add_help=False, help="benchmark report against peer codecs (srb bench --help)")
    sub.add_parser("train", add_help=False, help=f"train a component: srb train {{{','.join(TRAINERS)}}} ... "
                   "(docs/TRAINING.md)")
    return parser


#: ``srb train NAME ...`` runs the module ``codec.train.<module>`` with the remaining arguments.
TRAINERS = {
    "teacher-units": "teacher_units",
    "content": "content",
    "robust-content": "robust_content",
    "robust-speaker": "robust_speaker",
    "refiner": "refiner",
    "envelope": "envelope",
    "ssl": "ssl",
    "f0vq": "f0vq",
    "units": "units",
    "decoder": "decoder",
    "bundle": "bundle",
    "narrowband": "narrowband",
    "all": "pipeline",
    "corpus": "corpus",
}


def cmd_train(argv: list[str]) -> int:
    import importlib

    if not argv or argv[0] not in TRAINERS:
        print(f"srb train: error: name a component: {', '.join(TRAINERS)}", file=sys.stderr)
        return 2
    module = importlib.import_module(f"codec.train.{TRAINERS[argv[0]]}")
    if hasattr(module, "main"):
        code = module.main(argv[1:])
        return code if isinstance(code, int) else 0
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
        # One line, whatever the message (pydantic's validation errors span several).
        print(f"srb {args.command}: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"srb {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of stdout went away (`srb demo | head`, a player closed mid-stream): stop
        # quietly, and point stdout at /dev/null so the interpreter's final flush cannot raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        try:
            print(f"srb {args.command}: output closed by its reader", file=sys.stderr)
        except OSError:  # stderr went the same way
            pass
        return 141


if __name__ == "__main__":
    raise SystemExit(main())
