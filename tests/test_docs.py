"""Documentation examples are run as tests: module doctests and the README's Python blocks."""

import doctest
import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import bitstream

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "name", ["bitstream"] + [f"bitstream.{m.name}" for m in pkgutil.iter_modules(bitstream.__path__)]
)
def test_module_doctests(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0


def test_readme_python_blocks(monkeypatch):
    monkeypatch.chdir(ROOT)
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})


def test_readme_info_output_matches_the_file(capsys):
    from codec.cli import main

    shown = re.search(r"\$ srb info (\S+) --tables (\S+)\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    main(["info", str(ROOT / shown.group(1)), "--tables", str(ROOT / shown.group(2))])
    assert capsys.readouterr().out == shown.group(3)
