import subprocess
import sys
from pathlib import Path

import pytest

from codec.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs/examples/LJ001-0017.srb"
TABLES = ROOT / "docs/examples/standin-k100.tables.npz"


def test_info_on_the_example(capsys):
    assert main(["info", str(EXAMPLE), "--tables", str(TABLES)]) == 0
    out = capsys.readouterr().out
    assert "duration        7.020 s" in out
    total = [line for line in out.splitlines() if line.startswith("total")][0]
    assert int(total.split()[1]) == 8 * EXAMPLE.stat().st_size


def test_info_several_files(capsys, tmp_path):
    assert main(["info", str(EXAMPLE), str(EXAMPLE), "--tables", str(TABLES)]) == 0
    assert capsys.readouterr().out.count("== ") == 2


@pytest.mark.parametrize(
    "make, message",
    [
        pytest.param(lambda p: p.write_bytes(EXAMPLE.read_bytes()[:40]), "truncated", id="truncated"),
        pytest.param(lambda p: p.write_bytes(b"RIFF0000WAVE"), "bad magic", id="not-srb"),
        pytest.param(lambda p: None, "cannot read", id="missing"),
    ],
)
def test_errors_are_one_line(tmp_path, capsys, make, message):
    path = tmp_path / "x.srb"
    make(path)
    assert main(["info", str(path), "--tables", str(TABLES)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("srb info: error:") and message in err


def test_trained_file_without_tables(capsys):
    assert main(["info", str(EXAMPLE)]) == 1
    assert "45487a1a" in capsys.readouterr().err


def test_console_entry_point_runs_as_module():
    proc = subprocess.run(
        [sys.executable, "-m", "codec", "info", str(EXAMPLE), "--tables", str(TABLES)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 0 and "paper-style" in proc.stdout
