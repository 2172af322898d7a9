"""The report's work, file by file: in this process, or spread over ``--jobs`` worker processes.

Each worker loads the systems and the metric models once (:func:`init`), then takes whole files
(:func:`code_and_score`: every system codes the file and is scored on it) and, at the end, windows
of speech recognition (:func:`transcribe`). Whisper's windows are packed in the main process over
all files in order, the same way whatever ``--jobs`` is, so the number of workers changes the
wall time and not the scores. Workers are spawned, not forked: torch and ONNX Runtime do not
survive a fork with their thread pools started.
"""

from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context

import numpy as np

from benchmarks.cache import ScoreCache
from benchmarks.evaluator import Evaluator

_STATE: dict = {}


@dataclass(frozen=True)
class Setup:
    """Everything a worker needs to build its own systems and evaluator (picklable)."""

    systems: tuple[str, ...]
    model: str | None
    groups: tuple[str, ...]
    threads: int
    f0_tracker: str
    cache: str | None


def init(setup: Setup) -> None:
    import torch

    from benchmarks.report import build_systems

    torch.set_num_threads(setup.threads)
    try:  # BLAS too: on a busy 2-core machine a multi-threaded BLAS is many times slower
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=setup.threads)
    except ImportError:
        pass
    systems = [s for s in build_systems(list(setup.systems), setup.model) if s.available()[0]]
    evaluator = Evaluator(list(setup.groups), threads=setup.threads, f0_tracker=setup.f0_tracker,
                          cache=ScoreCache(setup.cache))
    _STATE.update(systems=systems, evaluator=evaluator)


def describe() -> dict:
    """The worker's evaluator: what the main process needs to write the report."""
    ev: Evaluator = _STATE["evaluator"]
    return {"metric_keys": [m.key for m in ev.metrics], "groups": ev.groups, "notes": ev.notes,
            "load_seconds": ev.load_seconds, "f0_tracker": ev.f0_tracker, "asr_groups": ev.asr_groups}


def _counters() -> tuple[dict, int, int]:
    ev: Evaluator = _STATE["evaluator"]
    return dict(ev.seconds), ev.cache.hits, ev.cache.misses


def _stats(before: tuple[dict, int, int]) -> dict:
    seconds, hits, misses = _counters()
    return {"seconds": {g: v - before[0].get(g, 0.0) for g, v in seconds.items()},
            "hits": hits - before[1], "misses": misses - before[2]}


def code_and_score(item) -> dict:
    """One file through every system: ``{"ref_scores", "wav", "systems": {name: {"row", "wav"} or
    {"error"}}, "stats"}``. Speech recognition is left for :func:`transcribe`."""
    from benchmarks.report import SR, read_audio

    before = _counters()
    ev: Evaluator = _STATE["evaluator"]
    wav = read_audio(item.path)
    ref = ev.reference(wav, item.text)
    out: dict = {"ref_scores": dict(ref.scores), "wav": wav, "systems": {}}
    for s in _STATE["systems"]:
        try:
            coded = s.run(wav)
        except Exception as exc:  # one bad file must not end the run: record it
            out["systems"][s.name] = {"error": f"{item.key}: {type(exc).__name__}: {exc}"}
            continue
        seconds = len(wav) / SR
        row = {"bits": coded.num_bits, "bps": coded.num_bits / seconds, "encode_s": coded.encode_s,
               "decode_s": coded.decode_s, "decoded_seconds": len(coded.wav) / SR, "peak_rss_mib": coded.peak_rss_mib}
        if coded.extra:
            row["srb"] = coded.extra
        row.update(ev.score(ref, coded.wav))
        out["systems"][s.name] = {"row": row, "wav": coded.wav}
    out["stats"] = _stats(before)
    return out


def transcribe(task: tuple[str, list[np.ndarray]]) -> dict:
    """``(group, wavs)`` -> ``{"hyps", "stats"}``; ``wavs`` is one packed window for Whisper."""
    group, wavs = task
    before = _counters()
    hyps = _STATE["evaluator"].transcribe(group, wavs)
    return {"hyps": hyps, "stats": _stats(before)}


class Runner:
    """``map`` over files or tasks, in this process (``jobs=1``) or in a pool of workers."""

    def __init__(self, setup: Setup, jobs: int = 1):
        self.jobs = max(1, int(jobs))
        self.pool = None
        if self.jobs == 1:
            init(setup)
        else:
            self.pool = ProcessPoolExecutor(self.jobs, mp_context=get_context("spawn"), initializer=init,
                                            initargs=(setup,))
        self.load_s = 0.0
        t0 = time.perf_counter()
        self.info = self.call(describe)
        self.load_s = time.perf_counter() - t0

    def call(self, fn):
        return fn() if self.pool is None else self.pool.submit(fn).result()

    def map(self, fn, tasks):
        return map(fn, tasks) if self.pool is None else self.pool.map(fn, tasks)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()
