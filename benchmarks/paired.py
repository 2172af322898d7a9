"""How sure is "srb beats Codec2 700C"? A paired bootstrap over files.

    python -m benchmarks.paired benchmarks/results/report-dev-75ff242e/results.json --against codec2-700C

Every number in the report's summary is one draw: other files of the same speakers would give
others. Two systems scored on the same files differ per file, and most of that spread is the
files', not the systems'; so the files are resampled with replacement, the same draw for both
systems (Efron and Tibshirani 1993, ch. 16; Koehn 2004 for MT scores), and each resample's
difference is computed exactly as the summary computes its figures (``benchmarks.report.summarise``:
means per file, F0 and word error rates pooled over files as ratios of summed counts). The
report gives the difference on the files both systems were scored on, its 2.5-97.5 % percentile
interval, and the share of resamples in which the system was the better one.

The interval is over the choice of files only: a recogniser's own run-to-run noise (Whisper's
windows depend on their neighbours) comes on top of it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from benchmarks.metrics import METRIC_BY_KEY, corpus_parts

def paired_bootstrap(rows: list[dict], against: list[dict], metric_keys: list[str], resamples: int = 2000,
                     seed: int = 0) -> dict[str, dict]:
    """Per-file rows of a system and of a peer (matched by ``"file"``) -> for each metric key, the
    difference system minus peer on the files both have it for, with a bootstrap interval.

    Args:
        rows, against: the ``files`` lists of ``results.json`` for the two systems.
        metric_keys: keys of :data:`benchmarks.metrics.METRICS`.
        resamples: bootstrap draws of the files.
        seed: the draws' seed (the report's numbers are reproducible).

    Returns:
        ``{key: {"files", "diff", "low", "high", "better", "resamples"}}``: ``diff`` the system's figure minus the
        peer's, ``low``/``high`` the 2.5 and 97.5 percentiles of the resampled differences,
        ``better`` the share of resamples in which the system's figure is the better one (ties
        count half). Keys with no file scored for both are left out.
    """
    peer = {r["file"]: r for r in against}
    pairs = [(r, peer[r["file"]]) for r in rows if r["file"] in peer]
    # One draw of the files serves every metric (a file without a metric adds nothing to either
    # sum), so a metric's interval does not depend on which other metrics were scored.
    idx = np.random.default_rng(seed).integers(0, max(len(pairs), 1), size=(resamples, len(pairs)))
    out: dict[str, dict] = {}
    for key in metric_keys:
        parts = [(corpus_parts(a, key), corpus_parts(b, key)) for a, b in pairs]
        have = np.array([pa is not None and pb is not None and pa[1] > 0 and pb[1] > 0 for pa, pb in parts], bool)
        if not have.any():
            continue
        a = np.array([pa if h else (0.0, 0.0) for (pa, _), h in zip(parts, have)])  # (files, 2): num, den
        b = np.array([pb if h else (0.0, 0.0) for (_, pb), h in zip(parts, have)])
        den_a, den_b = a[idx, 1].sum(1), b[idx, 1].sum(1)
        ok = (den_a > 0) & (den_b > 0)  # draws that hold at least one scored file
        diff = a[idx[ok], 0].sum(1) / den_a[ok] - b[idx[ok], 0].sum(1) / den_b[ok]
        point = a[:, 0].sum() / a[:, 1].sum() - b[:, 0].sum() / b[:, 1].sum()
        sign = 1.0 if METRIC_BY_KEY[key].higher_is_better else -1.0
        better = float(np.mean(sign * diff > 0) + 0.5 * np.mean(diff == 0))
        low, high = np.percentile(diff, [2.5, 97.5])
        out[key] = {"files": int(have.sum()), "diff": float(point), "low": float(low), "high": float(high),
                    "better": better, "resamples": int(ok.sum())}
    return out


def compare_systems(results: dict, against: str, resamples: int = 2000, seed: int = 0) -> dict[str, dict]:
    """Every other scored system of a report's ``results`` against the system named ``against``:
    ``{system: paired_bootstrap(...)}`` (empty if ``against`` was not scored)."""
    files = results.get("files", {})
    if against not in files:
        return {}
    return {name: paired_bootstrap(rows, files[against], results["metrics"], resamples, seed)
            for name, rows in files.items() if name != against and rows}


def _fmt_diff(key: str, v: float) -> str:
    if METRIC_BY_KEY[key].pooled:
        return f"{100 * v:+.1f}"
    return f"{v:+.3f}" if key in ("stoi", "spk_cos") else f"{v:+.2f}"


def markdown(paired: dict[str, dict], against: str, systems: list[str] | None = None,
             from_results: bool = True) -> list[str]:
    """The report's section for :func:`compare_systems`' result (lines, no trailing blank);
    ``from_results``: say that ``python -m benchmarks.paired`` recomputes it from ``results.json``."""
    names = [n for n in (systems or list(paired)) if paired.get(n)]
    if not names:
        return []
    keys = [k for k in METRIC_BY_KEY if any(k in paired[n] for n in names)]
    L = [f"## Against {against}, paired over files", "",
         f"Each system's figure minus {against}'s on the same files (error rates in points), the 95 % "
         "interval of that difference over files resampled with replacement (2.5-97.5 percentiles of "
         f"{_resamples(paired, names)} draws), and how often the system came out better. An interval "
         "that spans 0 is not a difference these files can show."
         + (" `python -m benchmarks.paired` recomputes it from `results.json`." if from_results else ""), ""]
    arrows = {True: "↑", False: "↓"}
    L.append("| system | " + " | ".join(f"{METRIC_BY_KEY[k].label} {arrows[METRIC_BY_KEY[k].higher_is_better]}"
                                      for k in keys) + " |")
    L.append("|---|" + "---:|" * len(keys))
    for n in names:
        cells = []
        for k in keys:
            c = paired[n].get(k)
            cells.append("–" if c is None else f"{_fmt_diff(k, c['diff'])} [{_fmt_diff(k, c['low'])}, "
                                                 f"{_fmt_diff(k, c['high'])}] {100 * c['better']:.0f} %")
        L.append(f"| {n} | " + " | ".join(cells) + " |")
    return L


def _resamples(paired: dict, names: list[str]) -> int:
    return int(next(iter(paired[names[0]].values())).get("resamples", 2000))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results", type=Path, help="a report's results.json")
    ap.add_argument("--against", default="codec2-700C", help="the peer every other system is compared with")
    ap.add_argument("--resamples", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    results = json.loads(args.results.read_text(encoding="utf-8"))
    if args.against not in results.get("files", {}):
        print(f"benchmarks.paired: {args.against} was not scored in {args.results}", file=sys.stderr)
        return 2
    paired = compare_systems(results, args.against, args.resamples, args.seed)
    print("\n".join(markdown(paired, args.against)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
