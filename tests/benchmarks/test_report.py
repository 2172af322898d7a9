"""The benchmark report end to end on two short synthetic files, and the peers on their own.

srb runs through the tiny untrained bundle; Codec2 and Opus run when their binaries are installed
and are reported as skipped otherwise. Only cheap metrics are asked for here (the metric tests
cover the rest).
"""

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from benchmarks import report
from benchmarks.memory import GNU_TIME
from benchmarks.peers import CODEC2_MODES, Codec2, Opus, peer_systems
from tests.benchmarks.test_metrics import _has, speech_like
from tests.codec.tiny_bundle import make_tiny_bundle

SR = 16000


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    (root / "a").mkdir()
    (root / "b").mkdir()
    sf.write(root / "a" / "one.wav", speech_like(1.5, seed=0), SR)
    sf.write(root / "b" / "two.flac", speech_like(1.2, f0_scale=1.4, seed=1), SR)
    with open(root / "manifest.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "seconds", "speaker", "gender", "text", "corpus"])
        w.writerow(["a/one.wav", 1.5, "spk1", "F", "hello world", "synthetic"])
        w.writerow(["b/two.flac", 1.2, "spk2", "M", "", "synthetic"])
    return root


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bundle")
    make_tiny_bundle(folder)
    return folder


def test_report_end_to_end(data, bundle, tmp_path, capsys):
    out = tmp_path / "out"
    argv = [str(data), "--systems", "srb,codec2-700C,opus-6k", "--model", str(bundle), "--metrics", _cheap_metrics(),
            "--out", str(out), "--save-audio", "--cache", str(tmp_path / "cache")]
    assert report.main(argv) == 0
    assert "wrote" in capsys.readouterr().out
    res = json.loads((out / "results.json").read_text())
    md = (out / "report.md").read_text()

    assert res["data"]["files"] == 2 and res["data"]["speakers"] == 2
    assert res["data"]["seconds"] == pytest.approx(2.7)
    assert "audio seconds per wall-clock second" in md and "--systems srb,codec2-700C,opus-6k" in md
    systems = {s["name"]: s for s in res["systems"]}
    assert list(systems) == ["srb", "codec2-700C", "opus-6k"]

    srb = res["summary"]["srb"]
    assert systems["srb"]["available"] and srb["files"] == 2
    assert srb["bits"] == sum(r["bits"] for r in res["files"]["srb"]) and srb["bps"] > 0
    assert srb["mcd"] > 0 and srb["encode_x_rt"] > 0 and srb["decode_x_rt"] > 0
    assert all(r["peak_rss_mib"] is None or r["peak_rss_mib"] >= 0 for r in res["files"]["srb"])
    assert res["cache"]["misses"] > 0 and res["cache"]["hits"] == 0
    b = res["srb_breakdown"]
    assert sum(b["bps"].values()) == pytest.approx(b["total_bps"])  # the lines add up to the files
    assert b["fixed_length_bps"] == pytest.approx(3 * 50 + 3 * 12.5)  # tiny bundle: K=7 units, 6 F0 codes
    assert "paper-style fixed-length" in md and "srb bitrate breakdown" in md
    assert len(systems["srb"]["model_id"]) == 8 and f"model id {systems['srb']['model_id']}" in md
    assert set(res["per_speaker"]["srb"]) == {"spk1", "spk2"}
    assert (out / "audio" / "srb" / "a" / "one.wav").is_file()

    for name, binary in (("codec2-700C", "c2enc"), ("opus-6k", "opusenc")):
        if shutil.which(binary):
            s = res["summary"][name]
            assert systems[name]["available"] and s["files"] == 2 and s["mcd"] >= 0
            if Path(GNU_TIME).is_file():  # the tools' own processes, not this one's gigabyte
                assert 0 < s["peak_rss_mib"] < 100
            assert name in md.split("## srb bitrate")[0]
            if name == "codec2-700C":  # the file-paired comparison with the peer
                mcd = res["paired"]["systems"]["srb"]["mcd"]
                assert res["paired"]["against"] == name and mcd["files"] == 2
                assert mcd["diff"] == pytest.approx(srb["mcd"] - s["mcd"])
                assert mcd["low"] <= mcd["diff"] <= mcd["high"]
                assert "Against codec2-700C, paired over files" in md
        else:
            assert not systems[name]["available"] and "not found" in systems[name]["note"]
            assert f"system **{name}** skipped" in md
    if "stoi" in res["metrics"]:
        assert 0 <= res["summary"]["srb"]["stoi"] <= 1
    if _has("matplotlib"):
        for png in ["rate_vs_mcd.png", "srb_bitrate.png", "per_speaker.png"]:
            assert png in res["plots"] and (out / png).read_bytes()[:4] == b"\x89PNG"
    else:
        assert not res["plots"] and "matplotlib" in md


def _cheap_metrics():
    return ",".join(["mcd"] + [g for g, mod in (("stoi", "pystoi"), ("f0", "parselmouth")) if _has(mod)])


def test_a_second_run_reuses_the_cache(data, bundle, tmp_path, capsys):
    """Through ``srb bench`` itself: the second run computes no metric and reports the same."""
    from codec.cli import main as cli_main

    def run(name):
        out = tmp_path / name
        argv = ["bench", str(data), "--systems", "srb,codec2-700C", "--model", str(bundle), "--metrics",
                _cheap_metrics(), "--out", str(out), "--cache", str(tmp_path / "cache")]
        assert cli_main(argv) == 0
        return json.loads((out / "results.json").read_text())

    first, second = run("a"), run("b")
    assert first["cache"]["hits"] == 0 and second["cache"]["misses"] == 0 and second["cache"]["hits"] > 0
    for name in first["summary"]:
        for key in first["metrics"]:
            assert first["summary"][name].get(key) == second["summary"][name].get(key)
    assert all(v == 0 for v in second["metric_seconds_per_audio_s"].values())


def test_srb_is_skipped_without_a_model(data, tmp_path, monkeypatch):
    import codec.api

    monkeypatch.setattr(codec.api, "bundled_models", lambda: {})  # as while the default is being trained
    out = tmp_path / "out"
    assert report.main([str(data), "--systems", "srb", "--metrics", "mcd", "--limit", "1", "--out", str(out),
                        "--no-cache"]) == 0
    res = json.loads((out / "results.json").read_text())
    assert res["systems"][0]["available"] is False and "no bundled default model" in res["systems"][0]["note"]
    assert res["data"]["files"] == 1 and res["summary"] == {} and res["srb_breakdown"] is None
    assert "system **srb** skipped" in (out / "report.md").read_text()


def test_folder_of_audio_files(tmp_path):
    (tmp_path / "alice").mkdir()
    sf.write(tmp_path / "alice" / "x.wav", speech_like(0.5), SR)
    (tmp_path / "alice" / "x.txt").write_text("some words\n")
    sf.write(tmp_path / "y.flac", speech_like(0.5), SR)
    items = report.load_items(tmp_path)
    assert [(i.key, i.speaker, i.text) for i in items] == [("alice/x.wav", "alice", "some words"), ("y.flac", "-", None)]
    assert len(report.load_items(tmp_path, limit=1)) == 1


def test_unknown_system_or_metric(data, tmp_path):
    with pytest.raises(SystemExit, match="unknown system"):
        report.main([str(data), "--systems", "mp3", "--out", str(tmp_path)])
    with pytest.raises(SystemExit, match="unknown metric"):
        report.main([str(data), "--metrics", "pesq", "--out", str(tmp_path)])


def test_srb_bench_is_the_report(capsys):
    from codec.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["bench", "--help"])
    assert exc.value.code == 0 and "--systems" in capsys.readouterr().out


@pytest.mark.parametrize("name", [f"codec2-{m}" for m in CODEC2_MODES] + ["opus-6k"])
def test_peer_round_trip(name):
    system = peer_systems()[name]
    ok, note = system.available()
    if not ok:
        pytest.skip(note)
    x = speech_like(2.0)
    coded = system.run(x)
    assert coded.wav.dtype == np.float32 and abs(len(coded.wav) - len(x)) <= 0.04 * SR
    bps = coded.num_bits / 2.0
    if isinstance(system, Codec2):  # c2enc stores each frame in whole bytes
        frame_s, frame_bits = {"450": (0.04, 18), "700C": (0.04, 28), "1200": (0.04, 48), "3200": (0.02, 64)}[system.mode]
        assert bps == pytest.approx(8 * -(-frame_bits // 8) / frame_s, rel=0.05)
    else:
        assert isinstance(system, Opus) and 3000 < bps < 12000  # VBR around 6 kb/s, plus the Ogg headers
    assert coded.encode_s > 0 and coded.decode_s > 0


def test_missing_binary_is_a_note(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    ok, note = Codec2("700C").available()
    assert not ok and "c2enc" in note and "apt-get install codec2" in note
    ok, note = Opus().available()
    assert not ok and "opus-tools" in note


def test_two_jobs_score_as_one(data, bundle, tmp_path):
    """Worker processes change the wall time, not the numbers."""
    res = []
    for jobs in (1, 2):
        out = tmp_path / f"jobs{jobs}"
        argv = [str(data), "--systems", "srb,codec2-700C", "--model", str(bundle), "--metrics", _cheap_metrics(),
                "--out", str(out), "--no-cache", "--jobs", str(jobs)]
        assert report.main(argv) == 0
        res.append(json.loads((out / "results.json").read_text()))
    one, two = res
    assert two["jobs"] == 2 and two["cache"]["misses"] == 0  # no cache: nothing stored, nothing looked up
    for name in one["files"]:
        for a, b in zip(one["files"][name], two["files"][name]):
            assert a["file"] == b["file"]
            for key in one["metrics"]:
                assert a.get(key) == b.get(key)


def test_word_error_rates_are_pooled_and_capped_per_recogniser():
    # Two files: the second one looped (errors far beyond its 4 words) in the packed-window run.
    rows = [{"seconds": 1.0, "wer_errors": 1, "wer_words": 6, "wf_wer_errors": 2, "wf_wer_words": 6},
            {"seconds": 1.0, "wer_errors": 40, "wer_words": 4, "wf_wer_errors": 1, "wf_wer_words": 4}]
    s = report.summarise(rows, ["wer", "wer_cap", "wf_wer", "wf_wer_cap"])
    assert s["wer"] == pytest.approx(41 / 10) and s["wer_cap"] == pytest.approx((1 + 4) / 10)
    assert s["wf_wer"] == pytest.approx(3 / 10) and s["wf_wer_cap"] == pytest.approx(3 / 10)
    assert report.fmt("wf_wer_cap", 0.3) == "30.0%"


def test_a_bitrate_limited_srb_system(tmp_path):
    from benchmarks.report import SrbSystem, build_systems

    folder = tmp_path / "layered"
    make_tiny_bundle(folder, envelope=True)
    limited, plain = build_systems(["srb-365", "srb"], str(folder))
    assert limited.name == "srb-365" and limited.max_bitrate == 365.0 and plain.max_bitrate is None
    assert plain.available()[0]
    rng = np.random.default_rng(0)
    wav = (rng.normal(0, 1, 32000) * np.repeat(rng.uniform(0.02, 0.3, 41), 800)[:32000]).astype(np.float32)
    full = plain.run(wav).num_bits / 2.0
    tight = SrbSystem(str(folder), max_bitrate=full - 8.0)  # a byte less than the file takes
    assert tight.available()[0]
    assert tight.run(wav).num_bits / 2.0 <= full - 8.0
