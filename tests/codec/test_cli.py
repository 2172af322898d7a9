import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

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


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from tests.codec.tiny_bundle import make_tiny_bundle

    folder = tmp_path_factory.mktemp("model")
    make_tiny_bundle(folder)
    return str(folder)


def test_encode_decode_files(tmp_path, tiny_model, capsys):
    from tests.codec.test_api import speechlike

    for i in range(2):
        sf.write(tmp_path / f"s{i}.wav", speechlike(seed=i), 16000)
    ins = [str(tmp_path / "s0.wav"), str(tmp_path / "s1.wav")]
    assert main(["encode", *ins, "--model", tiny_model]) == 0
    srbs = [str(tmp_path / "s0.srb"), str(tmp_path / "s1.srb")]
    assert main(["decode", *srbs, "-o", str(tmp_path / "out"), "--model", tiny_model]) == 0
    wav, sr = sf.read(tmp_path / "out" / "s1.wav")
    assert sr == 16000 and wav.shape == (24000,) and np.isfinite(wav).all()
    # Refuses to overwrite without --force, and says so in one line.
    capsys.readouterr()
    assert main(["encode", ins[0], "--model", tiny_model]) == 1
    err = capsys.readouterr().err
    assert "exists (use --force" in err and err.count("\n") == 1
    assert main(["encode", ins[0], "--model", tiny_model, "--force"]) == 0


def test_decode_corrupt_file_one_line(tmp_path, tiny_model, capsys):
    (tmp_path / "bad.srb").write_bytes(b"SRB\x10" + bytes(30))
    assert main(["decode", str(tmp_path / "bad.srb"), "--model", tiny_model]) == 1
    err = capsys.readouterr().err
    assert err.startswith("srb decode: error:") and err.count("\n") == 1
    assert not (tmp_path / "bad.wav").exists()


def test_unknown_model(capsys):
    assert main(["demo", "--model", "no-such-model"]) == 1
    assert "unknown model" in capsys.readouterr().err


def test_invalid_bundle_is_one_line(tmp_path, tiny_model, capsys):
    import shutil

    shutil.copytree(tiny_model, tmp_path / "bad")
    (tmp_path / "bad" / "bundle.json").write_text('{"format": "srb-bundle"}')  # pydantic: several errors
    assert main(["demo", "--model", str(tmp_path / "bad"), "-o", str(tmp_path / "x.wav")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("srb demo: error:") and "bundle.json is invalid" in err and err.count("\n") == 1


def test_demo_with_a_model(tiny_model, capsys, tmp_path):
    assert main(["demo", "--model", tiny_model, "-o", str(tmp_path / "demo.wav")]) == 0
    out = capsys.readouterr().out
    assert "bits/s" in out and "total" in out and (tmp_path / "demo.wav").exists()


def test_train_dispatch(capsys):
    assert main(["train"]) == 2
    assert "teacher-units" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:  # argparse of codec.train.units: --help exits 0
        main(["train", "units", "--help"])
    assert exc.value.code == 0 and "--content" in capsys.readouterr().out


def test_info_uses_the_models_tables(tmp_path, tiny_model, capsys):
    """A file coded by a model needs no --tables: info reads them from --model (default: the bundled one)."""
    wav = (0.3 * np.sin(np.arange(24000) * 2 * np.pi * 150 / 16000)).astype(np.float32)
    sf.write(tmp_path / "s.wav", wav, 16000)
    assert main(["encode", str(tmp_path / "s.wav"), "--model", tiny_model]) == 0
    capsys.readouterr()
    assert main(["info", str(tmp_path / "s.srb"), "--model", tiny_model]) == 0
    total = [line for line in capsys.readouterr().out.splitlines() if line.startswith("total")][0]
    assert int(total.split()[1]) == 8 * (tmp_path / "s.srb").stat().st_size
    # the bundled default's tables are not this model's: one line naming both ids
    assert main(["info", str(tmp_path / "s.srb")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "entropy tables" in err


def test_decode_no_postfilter(tmp_path, tiny_model):
    import shutil

    from codec.bundle import RenderConfig, save_render
    from codec.postfilter import PostfilterConfig
    from tests.codec.test_api import speechlike

    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    save_render(model, RenderConfig(postfilter=PostfilterConfig(strength=3.0)))
    sf.write(tmp_path / "s.wav", speechlike(), 16000)
    assert main(["encode", str(tmp_path / "s.wav"), "--model", str(model)]) == 0
    srb = str(tmp_path / "s.srb")
    assert main(["decode", srb, "-o", str(tmp_path / "pf.wav"), "--model", str(model)]) == 0
    assert main(["decode", srb, "-o", str(tmp_path / "raw.wav"), "--model", str(model), "--no-postfilter"]) == 0
    assert main(["decode", srb, "-o", str(tmp_path / "plain.wav"), "--model", tiny_model]) == 0  # same model id
    pf, raw, plain = (sf.read(tmp_path / f"{n}.wav")[0] for n in ("pf", "raw", "plain"))
    np.testing.assert_array_equal(raw, plain)
    assert pf.shape == raw.shape and not np.allclose(pf, raw)


def test_decode_no_resynth(tmp_path, tiny_model, monkeypatch):
    import shutil

    from codec.bundle import RenderConfig, save_render
    from codec.resynth import ResynthConfig
    from tests.codec.test_api import speechlike

    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    save_render(model, RenderConfig(resynth=ResynthConfig(mask="target")))
    # The tiny model's untrained F0 decoder calls every frame unvoiced: give it a voiced contour.
    monkeypatch.setattr("codec.resynth.transmitted_f0", lambda f0vq, codes, n, stats, ratio=1.0: np.full(n, 150.0))
    sf.write(tmp_path / "s.wav", speechlike(), 16000)
    assert main(["encode", str(tmp_path / "s.wav"), "--model", str(model)]) == 0
    srb = str(tmp_path / "s.srb")
    assert main(["decode", srb, "-o", str(tmp_path / "rs.wav"), "--model", str(model)]) == 0
    assert main(["decode", srb, "-o", str(tmp_path / "plain.wav"), "--model", str(model), "--no-resynth"]) == 0
    assert main(["decode", srb, "-o", str(tmp_path / "tiny.wav"), "--model", tiny_model]) == 0
    rs, plain, tiny = (sf.read(tmp_path / f"{n}.wav")[0] for n in ("rs", "plain", "tiny"))
    np.testing.assert_array_equal(plain, tiny)
    assert rs.shape == plain.shape and not np.allclose(rs, plain)


def test_outputs_that_would_collide_or_overwrite_are_refused_before_any_work(tmp_path, tiny_model, capsys):
    from tests.codec.test_api import speechlike

    sf.write(tmp_path / "a.wav", speechlike(seed=0), 16000)
    sf.write(tmp_path / "a.flac", speechlike(seed=1), 16000)
    sf.write(tmp_path / "b.wav", speechlike(seed=2), 16000)
    out = tmp_path / "out"
    # a.wav and a.flac would both become out/a.srb: refused, nothing written
    assert main(["encode", str(tmp_path / "b.wav"), str(tmp_path / "a.wav"), str(tmp_path / "a.flac"),
                 "-o", str(out), "--model", tiny_model]) == 1
    err = capsys.readouterr().err
    assert "would both be written to" in err and err.count("\n") == 1
    assert not out.exists() or not any(out.iterdir())
    # an existing output among several: refused before the first file is encoded
    out.mkdir(exist_ok=True)
    (out / "b.srb").write_bytes(b"keep")
    assert main(["encode", str(tmp_path / "a.wav"), str(tmp_path / "b.wav"), "-o", str(out),
                 "--model", tiny_model]) == 1
    assert not (out / "a.srb").exists() and (out / "b.srb").read_bytes() == b"keep"
    # the output is the input: refused even with --force, for files and for --stream
    assert main(["encode", str(tmp_path / "a.wav"), "--model", tiny_model]) == 0
    srb = tmp_path / "a.srb"
    data = srb.read_bytes()
    capsys.readouterr()
    for extra in ([], ["--stream"]):
        assert main(["decode", str(srb), *extra, "-o", str(srb), "--force", "--model", tiny_model]) == 1
        assert "would overwrite the input" in capsys.readouterr().err
    assert srb.read_bytes() == data
    # --stream -o honours --force like the others
    (tmp_path / "x.raw").write_bytes(b"keep")
    assert main(["decode", str(srb), "--stream", "-o", str(tmp_path / "x.raw"), "--model", tiny_model]) == 1
    assert (tmp_path / "x.raw").read_bytes() == b"keep"


def test_standard_input_and_output(tmp_path, tiny_model):
    """``srb encode -`` and ``srb decode -`` read standard input and write standard output, as a
    filter: the bytes are those of the file-to-file commands."""
    from tests.codec.test_api import speechlike

    sf.write(tmp_path / "a.wav", speechlike(seed=3), 16000)
    assert main(["encode", str(tmp_path / "a.wav"), "--model", tiny_model]) == 0
    run = [sys.executable, "-m", "codec"]
    enc = subprocess.run([*run, "encode", "-", "--model", tiny_model], input=(tmp_path / "a.wav").read_bytes(),
                         capture_output=True, cwd=ROOT)
    assert enc.returncode == 0 and enc.stdout == (tmp_path / "a.srb").read_bytes()
    dec = subprocess.run([*run, "decode", "-", "-o", "-", "--model", tiny_model], input=enc.stdout,
                         capture_output=True, cwd=ROOT)
    assert dec.returncode == 0 and dec.stdout[:4] == b"RIFF"
    assert main(["decode", str(tmp_path / "a.srb"), "-o", str(tmp_path / "b.wav"), "--model", tiny_model]) == 0
    assert dec.stdout == (tmp_path / "b.wav").read_bytes()
    bad = subprocess.run([*run, "encode", "-", "--model", tiny_model], input=b"not audio", capture_output=True,
                         cwd=ROOT)
    assert bad.returncode == 1 and bad.stderr.decode() == "srb encode: error: cannot read audio <stdin>: Format not recognised.\n"


def test_max_bitrate(tmp_path, tiny_model, capsys):
    wav = (0.3 * np.sin(np.arange(24000) * 2 * np.pi * 150 / 16000)).astype(np.float32)
    sf.write(tmp_path / "s.wav", wav, 16000)
    assert main(["encode", str(tmp_path / "s.wav"), "--model", tiny_model, "--max-bitrate", "100000"]) == 0
    assert capsys.readouterr().err == ""
    assert main(["encode", str(tmp_path / "s.wav"), "--model", tiny_model, "--max-bitrate", "1", "--force"]) == 0
    assert "over --max-bitrate 1" in capsys.readouterr().err  # written all the same, and named
    assert (tmp_path / "s.srb").is_file()
    assert main(["encode", str(tmp_path / "s.wav"), "--model", tiny_model, "--max-bitrate", "300", "--stream",
                 "--force"]) == 1
    assert "drop --stream" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["encode", str(tmp_path / "s.wav"), "--max-bitrate", "0"])
