"""``srb decode --stream``, loss warnings and ``--strict``, and ``srb edit`` (tiny model)."""

import numpy as np
import pytest
import soundfile as sf

from pathlib import Path

from bitstream import SpeakerCode, read_header, read_srb
from bitstream.container import read_packet
from codec.cli import main
from tests.codec.test_api import speechlike
from tests.codec.tiny_bundle import make_tiny_bundle


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    make_tiny_bundle(folder)
    return str(folder)


@pytest.fixture(scope="module")
def srb(model, tmp_path_factory):
    d = tmp_path_factory.mktemp("files")
    sf.write(d / "s.wav", speechlike(seconds=5.0), 16000)  # 3 packets
    assert main(["encode", str(d / "s.wav"), "--model", model]) == 0
    return d / "s.srb"


def test_stream_raw_and_wav(model, srb, tmp_path, capsys):
    assert main(["decode", str(srb), "-o", str(tmp_path / "ref.wav"), "--model", model]) == 0
    ref, _ = sf.read(tmp_path / "ref.wav", dtype="int16")
    assert main(["decode", "--stream", str(srb), "-o", str(tmp_path / "x.raw"), "--model", model]) == 0
    raw = np.frombuffer((tmp_path / "x.raw").read_bytes(), "<i2")
    assert raw.size == ref.size and np.abs(raw.astype(int) - ref).max() <= 1
    assert main(["decode", "--stream", str(srb), "--format", "wav", "-o", str(tmp_path / "x.wav"), "--model", model]) == 0
    wav, sr = sf.read(tmp_path / "x.wav", dtype="int16")
    assert sr == 16000 and np.array_equal(wav, raw)


def test_lost_packet_warns_and_strict_fails(model, srb, tmp_path, capsys):
    from bitstream import EntropyTables

    tables = EntropyTables.load(f"{model}/tables.npz")
    data = srb.read_bytes()
    h = read_header(data, tables)
    first = read_packet(data, h.size, 0)
    second = read_packet(data, h.size + first.size, 1)
    bad = tmp_path / "bad.srb"
    bad.write_bytes(data[: h.size + first.size] + data[h.size + first.size + second.size :])
    capsys.readouterr()
    for stream in ([], ["--stream", "-o", str(tmp_path / "bad.raw")]):
        out = [] if stream else ["-o", str(tmp_path / "bad.wav")]
        assert main(["decode", str(bad), *stream, *out, "--model", model]) == 0
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("srb decode: warning:") and "2.00-4.00 s (packet 1)" in err
    assert sf.info(str(tmp_path / "bad.wav")).frames == read_srb(data, tables).num_samples
    assert main(["decode", str(bad), "-o", str(tmp_path / "strict.wav"), "--strict", "--model", model]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("srb decode: error:") and not (tmp_path / "strict.wav").exists()


def test_header_alone_is_an_error_not_silence(model, srb, tmp_path, capsys):
    # Every packet missing: concealment would write nothing but silence, so both decodes fail.
    from bitstream import EntropyTables, SrbFormatError
    from codec.api import Codec

    tables = EntropyTables.load(f"{model}/tables.npz")
    data = srb.read_bytes()
    head = tmp_path / "head.srb"
    head.write_bytes(data[: read_header(data, tables).size])
    with pytest.raises(SrbFormatError, match="no packet could be decoded"):
        Codec.from_pretrained(model).decode_lossy(head.read_bytes())
    capsys.readouterr()
    for stream in ([], ["--stream", "-o", str(tmp_path / "head.raw")]):
        assert main(["decode", str(head), *stream, "--model", model, "--force"]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("srb decode: error:") and "no packet could be decoded" in err
    assert not (tmp_path / "head.wav").exists()


def test_batch_error_names_the_input(model, srb, tmp_path, capsys):
    bad = tmp_path / "bad.srb"
    bad.write_bytes(b"RIFF0000WAVE")
    out = tmp_path / "out"
    assert main(["decode", str(srb), str(bad), "-o", str(out), "--model", model]) == 1
    last = capsys.readouterr().err.splitlines()[-1]  # after the progress bar
    assert last.startswith(f"srb decode: error: {bad}: ") and "bad magic" in last
    assert (out / "s.wav").is_file()  # the input before it was decoded


def test_edit_commands(model, srb, tmp_path, capsys):
    from bitstream import EntropyTables

    tables = EntropyTables.load(f"{model}/tables.npz")
    out = tmp_path / "e.srb"
    assert main(["edit", str(srb), "-o", str(out), "--pitch", "2", "--tempo", "0.8", "--speaker", "1",
                 "--model", model]) == 0
    e, s = read_srb(out.read_bytes(), tables), read_srb(srb.read_bytes(), tables)
    assert e.pitch_cents == 200 and e.speaker.indices.tolist() == [1] and e.num_samples == round(s.num_samples / 0.8)
    assert main(["edit", str(out), "-o", str(tmp_path / "f.srb"), "--speaker-from", str(srb), "--model", model]) == 0
    assert read_srb((tmp_path / "f.srb").read_bytes(), tables).speaker == s.speaker


def test_edit_takes_a_speaker_from_a_model_the_bundle_decodes(model, srb, tmp_path, capsys):
    """A bundle whose decoder replaced another's (``decodes`` in bundle.json) shares its speaker
    codes: --speaker-from accepts a file of either model with that bundle, not with the older one."""
    import dataclasses
    import json
    import shutil

    from bitstream import EntropyTables, write_srb
    from codec.bundle_id import model_id_of

    newer = tmp_path / "newer"
    shutil.copytree(model, newer)
    old_id = model_id_of(Path(model))
    config = json.loads((newer / "bundle.json").read_text())
    (newer / "bundle.json").write_text(json.dumps({**config, "decodes": [f"{old_id:08x}"]}))
    tables = EntropyTables.load(newer / "tables.npz")
    s = read_srb(srb.read_bytes(), tables)
    mine = tmp_path / "mine.srb"  # a file of the newer model, another voice
    mine.write_bytes(write_srb(dataclasses.replace(s, model_id=model_id_of(newer), speaker=SpeakerCode.known(2, 3)),
                               tables))
    out = tmp_path / "out.srb"
    assert main(["edit", str(mine), "-o", str(out), "--speaker-from", str(srb), "--model", str(newer)]) == 0
    e = read_srb(out.read_bytes(), tables)
    assert e.speaker == s.speaker and e.model_id == model_id_of(newer)
    assert main(["edit", str(mine), "-o", str(tmp_path / "no.srb"), "--speaker-from", str(srb), "--model", model]) == 1
    assert "speaker comes from model" in capsys.readouterr().err  # the older bundle does not know the newer


@pytest.mark.parametrize("args, message", [
    (["--speaker", "9"], "knows speakers 0..2"),
    ([], "nothing to do"),
    (["--tempo", "9"], "tempo factor"),
    (["--pitch", "30"], "cents"),
])
def test_edit_errors_are_one_line(model, srb, tmp_path, capsys, args, message):
    assert main(["edit", str(srb), "-o", str(tmp_path / "x.srb"), *args, "--model", model]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("srb edit: error:") and message in err


def test_raw_format_needs_stream(model, srb, tmp_path, capsys):
    assert main(["decode", str(srb), "--format", "raw", "-o", str(tmp_path / "y.wav"), "--model", model]) == 1
    assert "needs --stream" in capsys.readouterr().err


def test_stream_to_a_closed_pipe_stops_with_one_line(model, srb):
    """A reader that goes away mid-stream (``| head -c``) ends srb with exit status 141 and one
    line on stderr, not a traceback."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-m", "codec", "decode", "--stream", str(srb), "--model", model],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=root)
    assert len(proc.stdout.read(100)) == 100
    proc.stdout.close()  # 5 s of audio is 160 kB: more than a pipe holds, so srb's next write fails
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert err == "srb decode: output closed by its reader\n"


def test_long_inputs_are_encoded_block_by_block(model, tmp_path, monkeypatch):
    # Bounded memory without asking: over LONG_INPUT_S the CLI takes the block encoder, unless
    # --max-bitrate needs the whole file.
    import codec.cli as cli
    from codec.api import Codec

    calls = []
    real = Codec.encode_stream
    monkeypatch.setattr(Codec, "encode_stream", lambda self, *a, **k: calls.append(a[0]) or real(self, *a, **k))
    sf.write(tmp_path / "s.wav", speechlike(seconds=3.0), 16000)
    for limit, extra, streamed in ((600.0, [], False), (2.0, [], True), (2.0, ["--max-bitrate", "2000"], False)):
        monkeypatch.setattr(cli, "LONG_INPUT_S", limit)
        calls.clear()
        assert main(["encode", str(tmp_path / "s.wav"), "--model", model, "--force", *extra]) == 0
        assert bool(calls) == streamed
