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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="srb", description="Speech at a few hundred bits per second.")
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="bits and bits/s per stream of .srb files")
    info.add_argument("files", nargs="+", metavar="FILE.srb")
    info.add_argument("--tables", metavar="TABLES.npz", help="entropy tables the files were coded with "
                      "(not needed for files coded with uniform tables)")
    info.set_defaults(func=cmd_info)
    return parser


def main(argv: list[str] | None = None) -> int:
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
