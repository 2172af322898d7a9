"""The file-paired bootstrap (benchmarks/paired.py): its point figures are the summary's, its
intervals bracket them, and a clear winner and a coin toss read as such."""

import json

import numpy as np
import pytest

from benchmarks import paired
from benchmarks.report import summarise

KEYS = ["stoi", "gpe", "vde", "ffe", "wer", "wer_cap"]


def _rows(rng, n, stoi_shift=0.0, extra_errors=0):
    rows = []
    for i in range(n):
        words = int(rng.integers(5, 30))
        errors = int(rng.integers(0, words)) + extra_errors
        frames = int(rng.integers(100, 500))
        both = int(rng.integers(10, frames // 2))
        rows.append({"file": f"f{i}.flac", "seconds": 1.0, "stoi": float(rng.uniform(0.5, 0.9)) + stoi_shift,
                     "f0_frames": frames, "f0_both_voiced": both, "f0_gross": int(rng.integers(0, both)),
                     "f0_voicing": int(rng.integers(0, frames // 4)), "wer_errors": errors, "wer_words": words})
    return rows


def test_point_figures_are_the_summary_figures():
    rng = np.random.default_rng(1)
    a, b = _rows(rng, 40), _rows(rng, 40)
    out = paired.paired_bootstrap(a, b, KEYS, resamples=500)
    sa, sb = summarise(a, KEYS), summarise(b, KEYS)
    for k in KEYS:
        assert out[k]["files"] == 40
        assert out[k]["diff"] == pytest.approx(sa[k] - sb[k]), k
        assert out[k]["low"] <= out[k]["diff"] <= out[k]["high"], k


def test_a_clear_winner_and_a_coin_toss():
    rng = np.random.default_rng(2)
    base = _rows(rng, 60)
    better = [dict(r, stoi=r["stoi"] + 0.05, wer_errors=max(0, r["wer_errors"] - 3)) for r in base]
    noisy = [dict(r, stoi=r["stoi"] + (0.05 if i % 2 else -0.05)) for i, r in enumerate(base)]  # mean 0
    win = paired.paired_bootstrap(better, base, ["stoi", "wer"], resamples=1000)
    assert win["stoi"]["better"] == 1.0 and win["stoi"]["low"] > 0
    assert win["wer"]["better"] == 1.0 and win["wer"]["high"] < 0  # fewer errors: lower is better
    toss = paired.paired_bootstrap(noisy, base, ["stoi"], resamples=1000)["stoi"]
    assert toss["low"] < 0 < toss["high"] and 0.02 < toss["better"] < 0.98
    same = paired.paired_bootstrap(base, base, ["stoi"], resamples=100)["stoi"]
    assert same["diff"] == 0 and same["better"] == 0.5  # ties count half


def test_files_are_matched_by_name_and_missing_scores_left_out():
    rng = np.random.default_rng(3)
    a, b = _rows(rng, 10), _rows(rng, 10)
    shuffled = list(reversed(b))
    assert paired.paired_bootstrap(a, shuffled, ["stoi"], resamples=200) == \
        paired.paired_bootstrap(a, b, ["stoi"], resamples=200)
    a[0] = {k: v for k, v in a[0].items() if k not in ("wer_errors", "wer_words")}
    a[1]["stoi"] = float("nan")
    out = paired.paired_bootstrap(a + [dict(a[2], file="only-here.flac")], b, ["stoi", "wer"], resamples=200)
    assert out["stoi"]["files"] == 9 and out["wer"]["files"] == 9
    assert paired.paired_bootstrap(a, b, ["dnsmos"]) == {}  # scored for neither


def test_the_command_reads_a_report(tmp_path, capsys):
    rng = np.random.default_rng(4)
    results = {"metrics": ["stoi", "wer"],
               "files": {"srb": _rows(rng, 20, stoi_shift=0.1), "codec2-700C": _rows(rng, 20)}}
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results))
    assert paired.main([str(path)]) == 0
    out = capsys.readouterr().out
    assert "## Against codec2-700C, paired over files" in out and "| srb |" in out
    assert paired.main([str(path), "--against", "opus-6k"]) == 2
    assert "opus-6k was not scored" in capsys.readouterr().err
