"""Output of the design benchmarks: a markdown text printed and, when asked, written to a file."""

from __future__ import annotations

from pathlib import Path


def emit(lines: list[str], out: str | Path | None) -> str:
    """Join ``lines`` into one markdown text, print it, write it to ``out`` (when given); return it."""
    text = "\n".join(lines) + "\n"
    print(text)
    if out:
        Path(out).write_text(text)
    return text
