"""Scores of decoder-side finishing variants (postfilter, pitch resynthesis) against the originals.

The sweeps in ``benchmarks/postfilter.py`` and ``benchmarks/resynth.py`` decode every file once and
then finish that audio several ways; :class:`RenderScorer` scores each way with the report's
metrics: STOI, MCD, DNSMOS (overall and signal), optionally DistillMOS, F0 errors with the
report's judge (Praat: GPE, VDE, FFE, and GPE on the frames voiced in both the original and the
*baseline* decode, which tells a changed pitch from a changed count of voiced frames), and
optionally Whisper word errors: against the transcripts where the split has them (dev), else
against Whisper's transcripts of the originals (dWER: train has no text).
"""

from __future__ import annotations

import numpy as np

from benchmarks import metrics as M


class RenderScorer:
    """Scores lists of decoded audio, one per item, against the items' originals.

    Args:
        items: the utterances (:func:`benchmarks.report.load_items`).
        refs: ``[(N,) float32]`` their original audio at 16 kHz.
        baseline: ``[(N,) float32]`` the decode the ``gpe_kept`` column's frames come from.
        asr: ``None``, ``"packed"`` (the report's packed windows) or ``"per-file"`` (one Whisper call each).
        distillmos: also DistillMOS.
    """

    def __init__(self, items, refs: list[np.ndarray], baseline: list[np.ndarray], asr: str | None = None,
                 distillmos: bool = False):
        self.refs = refs
        self.names = [str(it.path) for it in items]
        self.files: list[dict] = []  # the last :meth:`score`'s per-file scores (benchmarks.paired's rows)
        self.tracks = []
        for x, y in zip(refs, baseline):
            ref, deg, _ = M.align(x, y)
            self.tracks.append((M.praat_f0(ref), M.praat_f0(deg)))
        self.dns = M.DNSMOS()
        self.dmos = M.DistillMOS() if distillmos else None
        self.asr_mode = asr
        self.asr = M.WhisperASR() if asr else None
        texts = [it.text for it in items]
        self.against_text = any(texts)  # dev: the files with a transcript; train: dWER
        self.scored = [i for i, t in enumerate(texts) if t] if self.against_text else list(range(len(items)))
        if self.asr:
            self.ref_text = texts if self.against_text else self.transcribe(refs)

    def transcribe(self, wavs: list[np.ndarray]) -> list[str]:
        if self.asr_mode == "packed":
            return self.asr.transcribe_many(wavs)
        return [self.asr.transcribe(w) for w in wavs]

    def score(self, outs: list[np.ndarray]) -> dict[str, float]:
        """Mean STOI, MCD, DNSMOS, DNSMOS SIG, DistillMOS (nan without it); pooled GPE, VDE, FFE,
        ``gpe_kept``; and with ASR pooled ``wer`` and ``wer_capped`` (each file's errors capped at
        its word count). Each file's scores are left in :attr:`files`, for
        :func:`benchmarks.paired.paired_bootstrap`."""
        sc = dict(stoi=[], mcd=[], dnsmos=[], sig=[], distillmos=[])
        f0, kept = M.F0Counts(), M.F0Counts()
        self.files = [{"file": name} for name in self.names]
        for x, y, (f_ref, f_base), per in zip(self.refs, outs, self.tracks, self.files):
            ref, deg, _ = M.align(x, y)
            sc["stoi"].append(M.stoi(ref, deg))
            sc["mcd"].append(M.mcd(ref, deg))
            d = self.dns(y)
            sc["dnsmos"].append(d["dnsmos"])
            sc["sig"].append(d["dnsmos_sig"])
            if self.dmos:
                sc["distillmos"].append(self.dmos(y))
            per.update({k: v[-1] for k, v in sc.items() if v and k != "sig"})
            f_deg = M.praat_f0(deg)
            counts = M.f0_counts(f_ref, f_deg)
            per.update(f0_frames=counts.frames, f0_both_voiced=counts.both_voiced, f0_gross=counts.gross,
                       f0_voicing=counts.voicing)
            f0 = f0 + counts
            n = min(len(f_ref), len(f_base))
            kept = kept + M.f0_counts(f_ref, f_deg, (f_ref[:n] > 0) & (f_base[:n] > 0))
        row = {k: float(np.mean(v)) if v else float("nan") for k, v in sc.items()}
        row.update(gpe=f0.gpe, vde=f0.vde, ffe=f0.ffe, gpe_kept=kept.gpe)
        if self.asr:
            if self.asr_mode == "packed":  # the whole split packed as the report packs it, then the scored files
                hyps = self.transcribe(outs)
                hyps = [hyps[i] for i in self.scored]
            else:
                hyps = self.transcribe([outs[i] for i in self.scored])
            errors = [M.word_errors(self.ref_text[i], h) for i, h in zip(self.scored, hyps)]
            for i, (e, n) in zip(self.scored, errors):
                self.files[i].update(wer_errors=e, wer_words=n)
            words = max(1, sum(n for _, n in errors))
            row["wer"] = sum(e for e, _ in errors) / words
            row["wer_capped"] = sum(min(e, n) for e, n in errors) / words
        return row

    def header(self) -> str:
        """The table header :meth:`row` fills, after a first column of the caller's."""
        wer = "WER" if self.against_text else "dWER"
        return (f"| STOI | MCD dB | DNSMOS | DNSMOS SIG | DistillMOS | GPE | GPE, frames voiced in the baseline "
                f"| VDE | FFE | {wer} | {wer} capped |")

    @staticmethod
    def row(r: dict) -> str:
        wer = f"{100 * r['wer']:.1f} % | {100 * r['wer_capped']:.1f} %" if "wer" in r else "– | –"
        dm = f"{r['distillmos']:.3f}" if np.isfinite(r["distillmos"]) else "–"
        return (f"| {r['stoi']:.4f} | {r['mcd']:.3f} | {r['dnsmos']:.3f} | {r['sig']:.3f} | {dm} "
                f"| {100 * r['gpe']:.1f} % | {100 * r['gpe_kept']:.1f} % | {100 * r['vde']:.1f} % | {100 * r['ffe']:.1f} % | {wer} |")
