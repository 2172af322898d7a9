"""Compare content units on dev without a vocoder: bitrate proxies, agreement with Whisper, speed.

    python -m codec.train.ssl --compare runs/ssl-it1/model [runs/ssl-it2/model ...] [--data DATA]

Rows: the Whisper-base teacher's K=100 units (cached, ``--teacher``), the shipped student
(``codec/assets/default``), k-means of 50 Hz log-mel (the SSL model's iteration-1 targets, applied
to dev: what a model that learned nothing would give), and each SSL model. Columns:

* bits/s of the units (+ durations) as srb codes them: ``bitstream`` run-length + bigram tables
  fitted on the system's own units of every 4th train file (``unit_stats.fit_unit_tables``), code
  length measured on dev (``unit_stats.unit_stats``); mean run length; units used.
* normalised mutual information (arithmetic normalisation) and purity of the system's units
  against the teacher's K=50 / 100 / 200 clusterings of dev frames.
* single-thread CPU speed and parameters (``codec.train.content.speed_report``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from codec.content import ContentEncoder
from codec.ssl import SSLEncoder
from codec.train.content import speed_report
from codec.train.teacher_units import load_units
from codec.train.unit_stats import fit_unit_tables, unit_stats

TEACHER = Path("/work/main/.cache/teacher")
STUDENT = Path("codec/assets/default")


def contingency(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ka, kb = int(a.max()) + 1, int(b.max()) + 1
    return np.bincount(a.astype(np.int64) * kb + b, minlength=ka * kb).reshape(ka, kb).astype(np.float64)


def nmi(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised mutual information ``2 I(a; b) / (H(a) + H(b))`` of two labelings (plug-in, bits)."""
    c = contingency(a, b)
    p = c / c.sum()
    pa, pb = p.sum(1), p.sum(0)
    nz = p > 0
    mi = float((p[nz] * np.log2(p[nz] / np.outer(pa, pb)[nz])).sum())
    ha = float(-(pa[pa > 0] * np.log2(pa[pa > 0])).sum())
    hb = float(-(pb[pb > 0] * np.log2(pb[pb > 0])).sum())
    return 2 * mi / (ha + hb) if ha + hb > 0 else 1.0


def purity(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of frames whose ``b`` label is the most common ``b`` label of their ``a`` unit."""
    return float(contingency(a, b).max(1).sum() / len(a))


def _units_of(fn, audio: list[np.ndarray]) -> list[np.ndarray]:
    out = []
    with torch.no_grad():
        for a in audio:
            out.append(fn(torch.from_numpy(a.astype(np.float32) / 32768.0)[None])[0].numpy().astype(np.int32))
    return out


def load_student() -> ContentEncoder:
    cfg = json.loads((STUDENT / "bundle.json").read_text())["content"]
    model = ContentEncoder.from_config(cfg)
    model.load_state_dict({k: v.float() for k, v in load_file(str(STUDENT / "content.safetensors")).items()})
    return model.eval()


def logmel_units(ssl: SSLEncoder, train_audio, targets: Path):
    """Nearest-class-mean units of 50 Hz log-mel; class means from the iteration-1 targets of ``train_audio``."""
    from codec.hubert import nearest_centroid
    from codec.train.ssl import logmel_50hz

    with np.load(targets) as z:
        units, offsets = z["units"], z["offsets"]
    sums, counts = None, None
    for i in range(0, len(offsets) - 1, 4):
        f = logmel_50hz(ssl, torch.from_numpy(train_audio[i].astype(np.float32) / 32768.0)[None])
        u = torch.from_numpy(units[offsets[i]: offsets[i + 1]].astype(np.int64))
        if sums is None:
            sums, counts = torch.zeros(int(units.max()) + 1, f.shape[1]), torch.zeros(int(units.max()) + 1)
        sums.index_add_(0, u, f)
        counts += torch.bincount(u, minlength=len(counts)).float()
    cent = sums / counts.clamp_min(1)[:, None]
    return lambda w: nearest_centroid(logmel_50hz(ssl, w), cent)[None]


def compare(models: list[Path], data: Path, teacher: Path = TEACHER, limit: int | None = None) -> str:
    """Print and return the markdown table; ``limit`` (train and dev files) is for smoke tests only."""
    from codec.train.ssl import load_audio

    torch.set_num_threads(1)
    t0 = time.time()
    train_paths, train_audio = load_audio(data / "train", limit)
    dev_paths, dev_audio = load_audio(data / "dev")
    with np.load(teacher / "dev_k100.npz") as z:
        tpaths = [str(p) for p in z["paths"]]
    order = [dev_paths.index(p) for p in tpaths]  # teacher order may differ from the manifest's
    dev_audio = [dev_audio[i] for i in order][:limit]
    n_dev = sum(-(-len(a) // 320) for a in dev_audio)
    ref = {k: load_units(teacher / f"dev_k{k}.npz")[0][:n_dev] for k in (50, 100, 200)}
    with np.load(teacher / "train_k100.npz") as z:
        ttrain = [str(p) for p in z["paths"]]
    sub = list(range(0, len(train_audio), 4))  # every 4th train file: tables and speed-limited extraction
    systems = {}
    tu, to = load_units(teacher / "train_k100.npz")
    tsplit = {p: tu[a:b] for p, a, b in zip(ttrain, to[:-1], to[1:])}
    systems["Whisper-base teacher K=100 (reference)"] = (
        [tsplit[train_paths[i]] for i in sub], None, None)
    student = load_student()
    systems["(b) Whisper-taught student (shipped)"] = (_units_of(student.units, [train_audio[i] for i in sub]),
                                                       student.units, student)
    ssl_models = [SSLEncoder.load(m) for m in models]
    lm = logmel_units(ssl_models[0], train_audio, models[0].parent / "targets.npz")  # models[0]: iteration 1
    systems["log-mel k-means (no learning)"] = (_units_of(lm, [train_audio[i] for i in sub]), lm, None)
    for path, m in zip(models, ssl_models):
        systems[f"(a) SSL {path.parent.name} layer {m.config.feature_layer}"] = (
            _units_of(m.units, [train_audio[i] for i in sub]), m.units, m)
    rows = []
    for name, (train_units, fn, model) in systems.items():
        dev_units = ref[100] if fn is None else np.concatenate(_units_of(fn, dev_audio))
        dev_off = np.r_[0, np.cumsum([-(-len(a) // 320) for a in dev_audio])]
        trn_off = np.r_[0, np.cumsum([len(u) for u in train_units])]
        trn = np.concatenate(train_units)
        k = int(max(trn.max(), dev_units.max())) + 1
        s = unit_stats(dev_units, dev_off, k, tables=fit_unit_tables(trn, trn_off, k))
        row = dict(name=name, coded_bps=s["coded_bps"], run_len=s["run_len"], used=int(len(np.unique(dev_units))))
        for kk, r in ref.items():
            row[f"nmi{kk}"], row[f"pur{kk}"] = nmi(dev_units, r), purity(dev_units, r)
        if model is not None:
            sp = speed_report(model)
            row.update(params=sp["params"], rtf=sp["rtf"])
        rows.append(row)
        print(json.dumps(row), flush=True)
    lines = ["| units (dev, K=100) | bits/s | mean run (frames) | used | NMI / purity vs teacher K=50 | "
             "K=100 | K=200 | params | x real time (1 thread) |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "rtf" in r:
            speed = f"{r['params'] / 1e6:.2f} M | {r['rtf']:.0f}x"
        elif r["name"].startswith("Whisper"):
            speed = "~20 M (Whisper-base encoder) | 17x (0.057 CPU-s per audio-s, packed windows; teacher run.log)"
        else:
            speed = "0 | STFT + nearest mean only"
        lines.append(f"| {r['name']} | {r['coded_bps']:.1f} | {r['run_len']:.2f} | {r['used']} | "
                     f"{r['nmi50']:.3f} / {r['pur50']:.3f} | {r['nmi100']:.3f} / {r['pur100']:.3f} | "
                     f"{r['nmi200']:.3f} / {r['pur200']:.3f} | {speed} |")
    table = "\n".join(lines)
    print(table)
    print(f"compared in {time.time() - t0:.0f} s")
    return table


def layer_probe(model_path: Path, data: Path, teacher: Path = TEACHER, every: int = 8) -> list[dict]:
    """NMI with the teacher's K=50 units of k-means (K=100) units of each layer, on train files.

    For picking ``feature_layer`` without looking at dev: fits k-means on every ``every``-th train
    file's frames of each layer and scores on those same frames.
    """
    from codec.hubert import nearest_centroid
    from codec.train.ssl import load_audio
    from codec.train.teacher_units import kmeans

    torch.set_num_threads(1)
    model = SSLEncoder.load(model_path)
    paths, audio = load_audio(data / "train")
    tu, to = load_units(teacher / "train_k50.npz")
    with np.load(teacher / "train_k50.npz") as z:
        tsplit = {str(p): tu[a:b] for p, a, b in zip(z["paths"], to[:-1], to[1:])}
    idx = list(range(0, len(audio), every))
    ref = np.concatenate([tsplit[paths[i]] for i in idx])
    with torch.no_grad():
        per_file = [model.hidden(torch.from_numpy(audio[i].astype(np.float32) / 32768.0)[None], all_layers=True)
                    for i in idx]
    out = []
    for layer in range(model.config.layers + 1):
        x = torch.cat([f[layer][0] for f in per_file])
        rows = torch.from_numpy(np.random.default_rng(0).permutation(len(x))[:50_000])
        c = kmeans(x[rows].contiguous(), 100, 10, 0)
        u = nearest_centroid(x, c).numpy()
        out.append(dict(layer=layer, nmi50=nmi(u, ref), frames=len(u)))
        print(json.dumps(out[-1]), flush=True)
    return out
