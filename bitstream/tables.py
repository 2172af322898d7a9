"""Probability tables of the entropy coder: how they are trained, stored, identified and used.

Each stream (units, F0) has a :class:`StreamTables`: rows of probabilities for its symbols and,
in run-length coding, for its durations. A table with one row is a unigram model; a symbol table
with ``vocab + 1`` rows is a bigram model, ``p(symbol | previous symbol)`` with the last row for
the packet's start; a duration table with ``vocab`` rows is ``p(duration | symbol)``. A run-length
stream may add a trigram table (``(vocab + 1)^2`` rows of counts, one per pair of previous run
symbols), interpolated with the bigram: ``p = (n(c, s) + beta * p2(s | prev1)) / (n(c) + beta)``,
so contexts seen rarely or never fall back on the bigram. A per-frame stream (F0) may instead be
conditioned on the unit stream: ``unit_classes`` maps every unit to one of ``M`` classes, and the
symbol of F0 frame ``i`` has the context ``prev + (vocab + 1) * (M * class(first unit) + class(last
unit))`` over the unit frames it spans (:func:`unit_context`), ``(vocab + 1) * M^2`` rows.

Trained tables may add a third stream (format 1.4), the *envelope* codes: per-frame coded like F0
(previous code in the packet as context, START at each packet's start, no unit classes), one code
per ``envelope_ratio`` unit frames.

Both sides must hand constriction bit-identical float64 rows, so rows are normalised once, when
tables are built or loaded, and the coder only ever reads them. Trained tables are identified by a
32-bit hash of their content (:attr:`EntropyTables.tables_id`), written in every ``.srb`` header;
id 0 means "uniform tables", which the decoder rebuilds from the header alone.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import constriction
import numpy as np

from .errors import SrbTablesError
from .runlength import CODINGS, DURATION, SYMBOL, Events, events
from .streams import MAX_HOP, MAX_VOCAB

_Categorical = constriction.stream.model.Categorical
TABLES_FORMAT = "srb-tables"
TABLES_VERSION = 1  # tables with a trigram or unit classes are version 2; others stay 1 (and keep their ids)
CONTEXT_VERSION = 2
#: Tables with an envelope stream. A reader of versions 1 and 2 refuses them by number rather than
#: load them without their envelope (it would then compute another id and misname the tables).
ENVELOPE_VERSION = 3
MAX_RUN_LIMIT = 4096


def _normalise(name: str, rows: np.ndarray, allow_zero_diagonal: bool) -> tuple[np.ndarray, np.ndarray]:
    """``(weights, probabilities)``: the rows as given (float64) and normalised to sum to one.

    Files store the weights, and both coder sides derive the probabilities from them with this
    same function: normalising already-normalised floats again could move them by an ulp."""
    rows = np.array(rows, dtype=np.float64, order="C", copy=True)
    if rows.ndim != 2 or rows.shape[0] < 1 or rows.shape[1] < 1:
        raise SrbTablesError(f"{name}: expected a 2-D table, got shape {rows.shape}")
    if not np.all(np.isfinite(rows)) or np.any(rows < 0):
        raise SrbTablesError(f"{name}: probabilities must be finite and non-negative")
    positive = rows > 0
    if allow_zero_diagonal:
        # A bigram run-length table may give a run's own symbol zero mass: it can never follow itself.
        k = min(rows.shape)
        positive[np.arange(k), np.arange(k)] = True
    if not positive.all():
        raise SrbTablesError(f"{name}: every symbol needs a positive probability (smooth the counts)")
    rows.flags.writeable = False
    probs = rows / rows.sum(axis=1, keepdims=True)
    probs.flags.writeable = False
    return rows, probs


@dataclass(frozen=True, eq=False)
class StreamTables:
    """The coding tables of one stream.

    Args:
        vocab: alphabet size ``K``.
        coding: ``"runlength"`` or ``"frame"`` (see :mod:`bitstream.runlength`).
        max_run: duration alphabet size ``D >= 2`` (run-length coding; the last symbol is the escape).
        symbol: ``(1, K)`` or ``(K + 1, K)`` weights (counts or probabilities; rows are normalised).
        duration: ``(1, D)`` or ``(K, D)`` weights; ``(1, 1)`` placeholder in frame coding.
        trigram: ``None``, or (run-length coding with a bigram ``symbol`` table) ``((K + 1)^2, K)``
            counts of a symbol after the context ``prev1 + (K + 1) * prev2`` (START = ``K``).
        trigram_beta: weight of the bigram in the interpolation (see the module doc), ``> 0``.
        unit_classes: ``None``, or (per-frame coding) ``(unit_vocab,)`` class of each unit, in
            ``0 .. num_classes - 1``; ``symbol`` then has ``(K + 1) * num_classes^2`` rows.
        num_classes: ``M``, with ``unit_classes``.

    After construction ``symbol`` and ``duration`` hold the normalised probabilities and
    ``weights`` the arrays as given, which is what files store and hashes cover.
    """

    vocab: int
    coding: str
    max_run: int
    symbol: np.ndarray
    duration: np.ndarray
    trigram: np.ndarray | None = None
    trigram_beta: float = 32.0
    unit_classes: np.ndarray | None = None
    num_classes: int = 0
    weights: dict = field(init=False, repr=False, compare=False)
    _models: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self):
        if not 1 <= self.vocab <= MAX_VOCAB:
            raise SrbTablesError(f"vocab must be in 1..{MAX_VOCAB}, got {self.vocab}")
        if self.coding not in CODINGS:
            raise SrbTablesError(f"coding must be one of {CODINGS}, got {self.coding!r}")
        runlength = self.coding == "runlength"
        if runlength and not 2 <= self.max_run <= MAX_RUN_LIMIT:
            raise SrbTablesError(f"max_run must be in 2..{MAX_RUN_LIMIT}, got {self.max_run}")
        sym_w, sym = _normalise("symbol table", self.symbol, allow_zero_diagonal=runlength)
        if self.unit_classes is not None:
            m = int(self.num_classes)
            classes = np.array(self.unit_classes, dtype=np.float64, copy=True).ravel()
            if runlength:
                raise SrbTablesError("unit classes are for per-frame coding only")
            if not 1 <= m <= 16 or classes.size < 1 or classes.size > MAX_VOCAB:
                raise SrbTablesError(f"need 1..16 unit classes and 1..{MAX_VOCAB} units, got {m} and {classes.size}")
            if not np.all(np.isin(classes, np.arange(m))):
                raise SrbTablesError(f"unit classes must be integers in 0..{m - 1}")
            if sym.shape != ((self.vocab + 1) * m * m, self.vocab):
                raise SrbTablesError(f"symbol table shape {sym.shape} does not fit {self.vocab} symbols x {m} classes")
            classes.flags.writeable = False
            object.__setattr__(self, "num_classes", m)
            object.__setattr__(self, "unit_classes", classes.astype(np.int64))
        elif sym.shape not in ((1, self.vocab), (self.vocab + 1, self.vocab)):
            raise SrbTablesError(f"symbol table shape {sym.shape} fits neither unigram nor bigram of {self.vocab}")
        object.__setattr__(self, "symbol", sym)
        if runlength:
            dur_w, dur = _normalise("duration table", self.duration, allow_zero_diagonal=False)
            if dur.shape not in ((1, self.max_run), (self.vocab, self.max_run)):
                raise SrbTablesError(f"duration table shape {dur.shape} does not fit {self.vocab} x {self.max_run}")
        else:
            dur_w = dur = np.ones((1, 1))
        object.__setattr__(self, "duration", dur)
        object.__setattr__(self, "weights", {"symbol": sym_w, "duration": dur_w})
        if self.unit_classes is not None:
            self.weights["unit_classes"] = classes  # float64, as every stored array
        if self.trigram is not None:
            k = self.vocab
            tri = np.array(self.trigram, dtype=np.float64, order="C", copy=True)
            if not runlength or sym.shape[0] != k + 1:
                raise SrbTablesError("a trigram table needs run-length coding and a bigram symbol table")
            if tri.shape != ((k + 1) ** 2, k):
                raise SrbTablesError(f"trigram table shape {tri.shape} does not fit {(k + 1) ** 2} x {k}")
            if not np.all(np.isfinite(tri)) or np.any(tri < 0):
                raise SrbTablesError("trigram counts must be finite and non-negative")
            beta = float(self.trigram_beta)
            if not (np.isfinite(beta) and beta > 0):
                raise SrbTablesError(f"trigram_beta must be positive, got {self.trigram_beta}")
            tri.flags.writeable = False
            totals = tri.sum(axis=1)
            totals.flags.writeable = False
            object.__setattr__(self, "trigram", tri)
            object.__setattr__(self, "trigram_beta", beta)
            object.__setattr__(self, "_trigram_totals", totals)
            self.weights["trigram"] = tri

    @property
    def order(self) -> int:
        """Runs (or frames) of symbol context: 0, 1 or 2."""
        return 2 if self.trigram is not None else (0 if self.symbol.shape[0] == 1 else 1)

    @property
    def num_symbol_contexts(self) -> int:
        if self.unit_classes is not None:
            return (self.vocab + 1) * self.num_classes**2
        return (self.vocab + 1) ** 2 if self.trigram is not None else self.vocab + 1

    def unit_context(self, units: np.ndarray, num_frames: int, ratio: int) -> np.ndarray:
        """This stream's :func:`unit_context` under its unit classes."""
        return unit_context(self.unit_classes, self.num_classes, units, num_frames, ratio)

    @classmethod
    def uniform(cls, vocab: int, coding: str = "runlength", max_run: int = 32) -> "StreamTables":
        if coding != "runlength":
            max_run = 0
        return cls(vocab, coding, max_run, np.ones((1, vocab)), np.ones((1, max(max_run, 1))))

    # -- probabilities -------------------------------------------------------------------------

    def _symbol_row_index(self, ctx: np.ndarray) -> np.ndarray:
        return ctx if self.symbol.shape[0] > 1 else np.zeros_like(ctx)

    def _duration_row_index(self, ctx: np.ndarray) -> np.ndarray:
        return ctx if self.duration.shape[0] > 1 else np.zeros_like(ctx)

    def _trigram_probs(self, ctx: np.ndarray, sym: np.ndarray) -> np.ndarray:
        """Interpolated trigram probability of ``sym`` in each context ``ctx`` (before exclusion)."""
        prev1 = ctx % (self.vocab + 1)
        beta = self.trigram_beta
        return (self.trigram[ctx, sym] + beta * self.symbol[prev1, sym]) / (self._trigram_totals[ctx] + beta)

    def symbol_row(self, ctx: int) -> np.ndarray:
        """The distribution of a symbol in context ``ctx`` (``vocab`` = START; with a trigram
        ``prev1 + (vocab + 1) * prev2``), as coded."""
        if self.trigram is not None:
            prev1 = ctx % (self.vocab + 1)
            row = self._trigram_probs(ctx, np.arange(self.vocab))
        else:
            prev1 = ctx
            row = self.symbol[ctx if self.symbol.shape[0] > 1 else 0]
        if self.coding == "runlength" and prev1 < self.vocab:
            row = row.copy()
            row[prev1] = 0.0  # runs are maximal: the previous run's symbol cannot come next
            row /= row.sum()
        return np.ascontiguousarray(row)

    def models(self, part: int, contexts) -> list:
        """Constriction models of ``part`` indexed by context, built (once, then cached) for
        at least ``contexts``; entries for contexts never asked for stay ``None``."""
        size = self.num_symbol_contexts if part == SYMBOL else self.vocab
        cache = self._models.setdefault(part, [None] * size)
        for ctx in contexts:
            if cache[ctx] is None:
                if part == SYMBOL:
                    row = self.symbol_row(ctx)
                else:
                    row = self.duration[ctx if self.duration.shape[0] > 1 else 0]
                cache[ctx] = _Categorical(row, perfect=False)
        return cache

    def event_bits(self, ev: Events) -> np.ndarray:
        """``(E,)`` ideal code length ``-log2 p`` of each event under these tables."""
        p = np.empty(len(ev))
        is_sym = ev.part == SYMBOL
        ctx, sym = ev.ctx[is_sym], ev.sym[is_sym]
        if self.trigram is not None:
            prev1 = ctx % (self.vocab + 1)
            q = self._trigram_probs(ctx, sym)
            inside = prev1 < self.vocab  # the previous symbol's mass is removed from the row
            q[inside] = q[inside] / (1.0 - self._trigram_probs(ctx[inside], prev1[inside]))
        else:
            q = self.symbol[self._symbol_row_index(ctx), sym]
            if self.coding == "runlength" and ctx.size:
                inside = ctx < self.vocab  # the previous symbol's mass is removed from the row
                q[inside] = q[inside] / (1.0 - self.symbol[self._symbol_row_index(ctx[inside]), ctx[inside]])
        p[is_sym] = q
        ctx, sym = ev.ctx[~is_sym], ev.sym[~is_sym]
        p[~is_sym] = self.duration[self._duration_row_index(ctx), sym]
        return -np.log2(p)

    def information_bits(self, ev: Events) -> tuple[float, float]:
        """Ideal code length of ``ev`` under these tables: ``(symbol_bits, duration_bits)``."""
        bits = self.event_bits(ev)
        return float(bits[ev.part == SYMBOL].sum()), float(bits[ev.part == DURATION].sum())

    def events(self, seq: np.ndarray, starts=None, units: np.ndarray | None = None, ratio: int = 0) -> Events:
        """Coding events of ``seq``, with packets starting at frames ``starts`` (default: one);
        with unit classes, ``units`` (the unit frames of the same span) and ``ratio`` (unit frames
        per frame) give each frame its unit context."""
        extra = None
        if self.unit_classes is not None:
            if units is None or ratio < 1:
                raise SrbTablesError("these tables code F0 given the units: pass the units and the frame ratio")
            extra = self.unit_context(units, np.asarray(seq).size, ratio)
        return events(seq, self.vocab, self.coding, self.max_run, starts,
                      order=2 if self.trigram is not None else 1, extra=extra)

    def describe(self) -> dict:
        d = {
            "vocab": self.vocab,
            "coding": self.coding,
            "max_run": self.max_run,
            "symbol_order": 0 if self.symbol.shape[0] == 1 else 1,
            "duration_order": 0 if self.duration.shape[0] == 1 else 1,
        }
        if self.trigram is not None:  # only then: bigram tables keep the description (and ids) they had
            d.update(symbol_order=2, trigram_beta=self.trigram_beta)
        if self.unit_classes is not None:
            d.update(unit_classes=self.num_classes)
        return d


def fit_stream_tables(
    sequences,
    vocab: int,
    coding: str = "runlength",
    max_run: int = 32,
    symbol_order: int = 1,
    duration_order: int = 1,
    alpha: float = 0.5,
    packet_frames: int | None = None,
    trigram_beta: float = 32.0,
) -> StreamTables:
    """Count-based tables with additive smoothing, trained on the slices the coder will see.

    Args:
        sequences: iterable of ``(T,)`` int arrays (one per utterance).
        packet_frames: frames of this stream per packet, so that runs are cut and the START
            context is trained as the coder will see them; ``None``: one packet per sequence.
        vocab, coding, max_run: as in :class:`StreamTables`.
        symbol_order, duration_order: 0 (unigram) or 1 (conditioned on the context); symbol_order 2
            (run-length coding) adds trigram counts, interpolated with the bigram by ``trigram_beta``.
        alpha: pseudo-count added to every cell that can occur.
    """
    if symbol_order == 2 and coding != "runlength":
        raise SrbTablesError("trigram symbol tables are for run-length coding only")
    if coding != "runlength":
        max_run = 0
    sym_counts = np.zeros((vocab + 1, vocab))
    dur_counts = np.zeros((vocab, max(max_run, 1)))
    tri_counts = np.zeros(((vocab + 1) ** 2, vocab)) if symbol_order == 2 else None
    for seq in sequences:
        seq = np.asarray(seq, dtype=np.int32)
        starts = None if packet_frames is None else np.arange(0, max(seq.size, 1), packet_frames)
        ev = events(seq, vocab, coding, max_run, starts)
        ctx, sym = ev.select(SYMBOL)
        np.add.at(sym_counts, (ctx, sym), 1.0)
        ctx, sym = ev.select(DURATION)
        np.add.at(dur_counts, (ctx, sym), 1.0)
        if tri_counts is not None:
            ctx, sym = events(seq, vocab, coding, max_run, starts, order=2).select(SYMBOL)
            np.add.at(tri_counts, (ctx, sym), 1.0)
    if symbol_order == 0:
        sym_counts = sym_counts.sum(axis=0, keepdims=True)
    sym_counts = sym_counts + alpha
    if coding == "runlength" and symbol_order == 1:
        sym_counts[np.arange(vocab), np.arange(vocab)] = 0.0
        if vocab == 1:
            sym_counts[:] = 1.0  # never used: one-symbol streams code no symbols
    if duration_order == 0:
        dur_counts = dur_counts.sum(axis=0, keepdims=True)
    if tri_counts is not None and vocab == 1:
        tri_counts = None  # a one-symbol stream codes no symbols
    return StreamTables(vocab, coding, max_run, sym_counts, dur_counts + alpha, tri_counts, trigram_beta)


def frame_unit_bounds(num_units: int, num_frames: int, ratio: int) -> tuple[np.ndarray, np.ndarray]:
    """``(first, last)`` unit frame of each of ``num_frames`` frames spanning ``ratio`` unit frames:
    ``[i * ratio, min((i + 1) * ratio, num_units))``, the first clipped to the last unit."""
    i = np.arange(num_frames, dtype=np.int64)
    return np.minimum(i * ratio, max(num_units - 1, 0)), np.minimum((i + 1) * ratio, num_units) - 1


def unit_context(classes: np.ndarray, num_classes: int, units: np.ndarray, num_frames: int, ratio: int) -> np.ndarray:
    """``(num_frames,)`` unit context of each frame: ``M * class(first) + class(last)`` of the unit
    frames it spans (:func:`frame_unit_bounds`; ``ratio`` unit frames per frame, packets hold whole
    frames of both)."""
    units = np.asarray(units, np.int64)
    if units.size == 0 and num_frames:
        raise SrbTablesError("unit-conditioned F0 frames need their units")
    if units.size and (units.min() < 0 or units.max() >= classes.size):
        raise SrbTablesError(f"units outside the {classes.size} these tables classify")
    if not num_frames:
        return np.zeros(0, np.int64)
    first, last = frame_unit_bounds(units.size, num_frames, ratio)
    return classes[units[first]] * num_classes + classes[units[last]]


def unit_classes_by_f0(f0_seqs, unit_seqs, f0_vocab: int, unit_vocab: int, ratio: int, num_classes: int,
                       alpha: float = 0.5, iterations: int = 30, seed: int = 0) -> np.ndarray:
    """``(unit_vocab,)`` classes of the units by what F0 code tends to go with them: k-means (squared
    distance, ``num_classes`` means started at randomly chosen units) of each unit's distribution of
    the F0 codes of the frames it starts."""
    d = np.full((unit_vocab, f0_vocab), alpha)
    for f, u in zip(f0_seqs, unit_seqs):
        f, u = np.asarray(f, np.int64), np.asarray(u, np.int64)
        if f.size and u.size:
            np.add.at(d, (u[frame_unit_bounds(u.size, f.size, ratio)[0]], f), 1.0)
    d /= d.sum(axis=1, keepdims=True)
    m = min(num_classes, unit_vocab)
    means = d[np.random.default_rng(seed).choice(unit_vocab, m, replace=False)]
    for _ in range(iterations):
        label = np.argmin(((d[:, None, :] - means[None]) ** 2).sum(-1), axis=1)
        means = np.array([d[label == j].mean(0) if np.any(label == j) else means[j] for j in range(m)])
    return label.astype(np.int64)


def fit_f0_given_units(
    f0_seqs,
    unit_seqs,
    f0_vocab: int,
    unit_vocab: int,
    ratio: int,
    num_classes: int = 4,
    alpha: float = 0.5,
    packet_frames: int | None = None,
) -> StreamTables:
    """Per-frame F0 tables conditioned on the previous code and on the classes of the first and
    last unit of each F0 frame (see the module doc).

    Args:
        f0_seqs, unit_seqs: per utterance, the F0 codes and the unit stream they go with.
        ratio: unit frames per F0 frame (``f0_hop / unit_hop``).
        num_classes: ``M`` unit classes (:func:`unit_classes_by_f0`).
        packet_frames: F0 frames per packet (contexts restart at packets), ``None``: one packet.
    """
    f0_seqs, unit_seqs = [np.asarray(f, np.int32) for f in f0_seqs], [np.asarray(u, np.int64) for u in unit_seqs]
    classes = unit_classes_by_f0(f0_seqs, unit_seqs, f0_vocab, unit_vocab, ratio, num_classes, alpha)
    m = min(num_classes, unit_vocab)  # the k-means' class count
    sym_counts = np.zeros(((f0_vocab + 1) * m * m, f0_vocab))
    for f, u in zip(f0_seqs, unit_seqs):
        starts = None if packet_frames is None else np.arange(0, max(f.size, 1), packet_frames)
        extra = unit_context(classes, m, u, f.size, ratio)
        ctx, sym = events(f, f0_vocab, "frame", 0, starts, extra=extra).select(SYMBOL)
        np.add.at(sym_counts, (ctx, sym), 1.0)
    return StreamTables(f0_vocab, "frame", 0, sym_counts + alpha, np.ones((1, 1)), unit_classes=classes, num_classes=m)


@dataclass(frozen=True)
class Profile:
    """What trained tables fix besides probabilities, so that headers need not repeat it.

    Tables are trained for one frame rate and one model's speaker alphabets; files coded with them
    carry only the tables id (see docs/FORMAT.md), and the writer refuses streams that differ.

    Args:
        sample_rate, unit_hop, f0_hop: stream geometry, as in :class:`~bitstream.Streams`.
        speaker_ids: number of known speakers (0: the model has no speaker table).
        speaker_codebook: codebook size of unseen-speaker vectors (0: none).
        speaker_length: indices per unseen-speaker vector.
    """

    sample_rate: int = 16000
    unit_hop: int = 320
    f0_hop: int = 1280
    speaker_ids: int = 0
    speaker_codebook: int = 0
    speaker_length: int = 0

    def speaker_alphabet(self, kind: str) -> int:
        return self.speaker_ids if kind == "id" else self.speaker_codebook

    def speaker_count(self, kind: str) -> int:
        return 1 if kind == "id" else self.speaker_length

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True, eq=False)
class EntropyTables:
    """Tables for every entropy-coded stream of a model.

    Args:
        units: tables of the unit stream (run-length coded).
        f0: tables of the F0 stream.
        profile: geometry and speaker alphabets these tables are for; ``None`` for uniform tables,
            whose files spell all of it out in the header.
        trained: ``False`` for the uniform fallback, whose id is 0.
        envelope: ``None``, or the tables of the envelope codes (format 1.4): per-frame coded, of
            order 0 or 1, without unit classes. Only trained tables have one: a file names its
            envelope stream through the tables id alone (the header spells out nothing of it).
        envelope_ratio: unit frames per envelope frame (``envelope_hop / unit_hop``), ``>= 1``
            with ``envelope``, 0 without.
    """

    units: StreamTables
    f0: StreamTables
    profile: Profile | None = field(default_factory=Profile)
    trained: bool = True
    envelope: StreamTables | None = None
    envelope_ratio: int = 0

    def __post_init__(self):
        if self.units.coding != "runlength":
            raise SrbTablesError("the unit stream is always run-length coded")
        if self.trained and self.profile is None:
            raise SrbTablesError("trained tables need a profile")
        ratio = self.envelope_ratio
        if not isinstance(ratio, (int, np.integer)) or isinstance(ratio, bool):
            raise SrbTablesError(f"envelope_ratio must be an integer, got {ratio!r}")
        object.__setattr__(self, "envelope_ratio", int(ratio))
        if self.envelope is None:
            if ratio:
                raise SrbTablesError(f"envelope_ratio must be 0 without envelope tables, got {ratio}")
        else:
            e = self.envelope
            if not isinstance(e, StreamTables):
                raise SrbTablesError(f"envelope tables must be StreamTables, got {type(e).__name__}")
            if not self.trained or self.profile is None:
                raise SrbTablesError("an envelope stream needs trained tables with a profile (uniform tables have none)")
            if e.coding != "frame" or e.unit_classes is not None or e.order > 1:
                raise SrbTablesError("envelope tables must be per-frame coded, of order 0 or 1, without unit classes")
            limit = MAX_HOP // self.profile.unit_hop
            if not 1 <= ratio <= limit:
                raise SrbTablesError(f"envelope_ratio must be in 1..{limit} unit frames (an envelope hop of at most "
                                     f"{MAX_HOP} samples), got {ratio}")
        if self.f0.unit_classes is not None:
            if self.profile is None or self.profile.f0_hop % self.profile.unit_hop:
                raise SrbTablesError("F0 given the units needs a profile whose F0 hop is a multiple of the unit hop")
            if self.f0.unit_classes.size != self.units.vocab:
                raise SrbTablesError(f"{self.f0.unit_classes.size} unit classes for {self.units.vocab} units")

    @property
    def f0_ratio(self) -> int:
        """Unit frames per F0 frame when F0 is coded given the units, else 0."""
        return self.profile.f0_hop // self.profile.unit_hop if self.f0.unit_classes is not None else 0

    @property
    def envelope_hop(self) -> int:
        """Samples per envelope frame of streams these tables code (0 without an envelope stream)."""
        return self.profile.unit_hop * self.envelope_ratio if self.envelope is not None else 0

    def with_envelope(self, envelope: StreamTables, ratio: int) -> "EntropyTables":
        """These tables with ``envelope`` as the tables of the envelope codes, one per ``ratio``
        unit frames (a new tables id; train them with :func:`fit_stream_tables`, ``coding="frame"``
        and ``packet_frames`` = envelope frames per packet)."""
        return dataclasses.replace(self, envelope=envelope, envelope_ratio=ratio)

    def without_envelope(self) -> "EntropyTables":
        """These tables less their envelope stream: exactly the tables (and id) they were before
        :meth:`with_envelope`, which files written without envelope codes by older tables name."""
        return dataclasses.replace(self, envelope=None, envelope_ratio=0)

    def by_id(self) -> dict[int, "EntropyTables"]:
        """These tables and :meth:`without_envelope` of them, by id (one entry without an envelope
        stream): what a model that added an envelope layer reads its files and its predecessors'
        with (a mapping :func:`bitstream.read_srb` accepts)."""
        return {t.tables_id: t for t in (self, self.without_envelope())}

    def check_streams(self, streams) -> None:
        """Raise :class:`SrbTablesError` unless these tables can code ``streams``."""
        wrong = [
            f"{name} {have} (tables: {want})"
            for name, have, want in (
                ("unit vocabulary", streams.unit_vocab, self.units.vocab),
                ("F0 vocabulary", streams.f0_vocab, self.f0.vocab),
            )
            if have != want
        ]
        p = self.profile
        if p is not None:
            kind = streams.speaker.kind
            wrong += [
                f"{name} {have} (tables: {want})"
                for name, have, want in (
                    ("sample rate", streams.sample_rate, p.sample_rate),
                    ("unit hop", streams.unit_hop, p.unit_hop),
                    ("F0 hop", streams.f0_hop, p.f0_hop),
                    (f"speaker {kind} alphabet", streams.speaker.alphabet, p.speaker_alphabet(kind)),
                    (f"speaker {kind} length", streams.speaker.indices.size, p.speaker_count(kind)),
                )
                if have != want
            ]
        if streams.envelope is not None:
            if self.envelope is None:
                wrong.append("envelope codes (tables: no envelope stream)")
            else:
                wrong += [
                    f"{name} {have} (tables: {want})"
                    for name, have, want in (
                        ("envelope vocabulary", streams.envelope_vocab, self.envelope.vocab),
                        ("envelope hop", streams.envelope_hop, self.envelope_hop),
                    )
                    if have != want
                ]
        if wrong:
            raise SrbTablesError("streams do not fit these tables: " + ", ".join(wrong))

    @classmethod
    def uniform(
        cls, unit_vocab: int, f0_vocab: int, unit_max_run: int = 32, f0_coding: str = "frame", f0_max_run: int = 16
    ) -> "EntropyTables":
        """Tables that give every symbol the same probability; need no training and no file."""
        return cls(
            StreamTables.uniform(unit_vocab, "runlength", unit_max_run),
            StreamTables.uniform(f0_vocab, f0_coding, f0_max_run),
            profile=None,
            trained=False,
        )

    def _meta(self) -> dict:
        if self.envelope is not None:
            version = ENVELOPE_VERSION
        elif self.units.order < 2 and self.f0.order < 2 and self.f0.unit_classes is None:
            version = TABLES_VERSION
        else:
            version = CONTEXT_VERSION
        meta = {
            "format": TABLES_FORMAT,
            "version": version,
            "units": self.units.describe(),
            "f0": self.f0.describe(),
            "profile": self.profile.as_dict() if self.profile else None,
        }
        if self.envelope is not None:  # only then: tables without one keep their meta (and ids)
            meta["envelope"] = {**self.envelope.describe(), "ratio": self.envelope_ratio}
        return meta

    def _streams(self) -> tuple:
        """``(name, tables)`` of every stream these tables code, as files name them."""
        named = (("units", self.units), ("f0", self.f0))
        return named + ((("envelope", self.envelope),) if self.envelope is not None else ())

    def _arrays(self) -> dict[str, np.ndarray]:
        return {f"{name}_{part}": t.weights[part] for name, t in self._streams()
                for part in ("symbol", "duration", "trigram", "unit_classes") if part in t.weights}

    @property
    def tables_id(self) -> int:
        """32-bit content hash written in each ``.srb`` header; 0 for uniform tables."""
        if not self.trained:
            return 0
        digest = hashlib.sha256(json.dumps(self._meta(), sort_keys=True).encode())
        for name, arr in sorted(self._arrays().items()):
            digest.update(name.encode())
            digest.update(np.asarray(arr.shape, dtype="<i8").tobytes())
            digest.update(np.ascontiguousarray(arr, dtype="<f8").tobytes())
        return int.from_bytes(digest.digest()[:4], "big") or 1

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        meta = np.frombuffer(json.dumps(self._meta(), sort_keys=True).encode(), dtype=np.uint8)
        np.savez_compressed(buf, meta=meta, **self._arrays())
        return buf.getvalue()

    def save(self, path) -> None:
        """Write the tables as an ``.npz`` (plain arrays, no pickle)."""
        Path(path).write_bytes(self.to_bytes())

    @classmethod
    def from_bytes(cls, data: bytes) -> "EntropyTables":
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                meta = json.loads(npz["meta"].tobytes().decode())
                arrays = {k: npz[k] for k in ("units_symbol", "units_duration", "f0_symbol", "f0_duration")}
                optional = ("units_trigram", "f0_trigram", "f0_unit_classes", "units_unit_classes", "envelope_symbol",
                            "envelope_duration")
                arrays.update({k: npz[k] for k in optional if k in npz.files})
        except SrbTablesError:
            raise
        except Exception as exc:  # numpy/zip/json raise many types for a damaged file
            raise SrbTablesError(f"not an srb tables file: {exc}") from exc
        if not isinstance(meta, dict) or meta.get("format") != TABLES_FORMAT or meta.get("version") not in (
            TABLES_VERSION, CONTEXT_VERSION, ENVELOPE_VERSION
        ):
            raise SrbTablesError("unsupported tables format (expected srb-tables version 1, 2 or 3)")
        try:
            streams = {
                name: StreamTables(
                    int(meta[name]["vocab"]),
                    meta[name]["coding"],
                    int(meta[name]["max_run"]),
                    arrays[f"{name}_symbol"],
                    arrays[f"{name}_duration"],
                    *_trigram_fields(meta, name, arrays),
                    **_unit_class_fields(meta, name, arrays),
                )
                for name in ("units", "f0")
            }
            profile = Profile(**{k: int(v) for k, v in meta["profile"].items()})
            envelope, ratio = _envelope_fields(meta, arrays)
        except SrbTablesError:
            raise
        except (TypeError, KeyError, AttributeError, ValueError) as exc:
            raise SrbTablesError(f"malformed tables metadata: {exc!r}") from exc
        return cls(streams["units"], streams["f0"], profile, trained=True, envelope=envelope, envelope_ratio=ratio)

    @classmethod
    def load(cls, path) -> "EntropyTables":
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise SrbTablesError(f"cannot read tables {path}: {exc}") from exc
        return cls.from_bytes(data)


def _trigram_fields(meta: dict, name: str, arrays: dict) -> tuple:
    """``(trigram, beta)`` of stream ``name`` as a tables file declares them (``()`` for none);
    the array and the declaration must agree, and only a version-2 (or later) file may have them."""
    declared = meta[name].get("symbol_order") == 2
    if declared != (f"{name}_trigram" in arrays) or (declared and meta["version"] < CONTEXT_VERSION):
        raise SrbTablesError(f"{name}: trigram table and its declaration disagree")
    return (arrays[f"{name}_trigram"], float(meta[name]["trigram_beta"])) if declared else ()


def _unit_class_fields(meta: dict, name: str, arrays: dict) -> dict:
    """``unit_classes`` and ``num_classes`` of stream ``name`` as a tables file declares them."""
    declared = "unit_classes" in meta[name]
    if declared != (f"{name}_unit_classes" in arrays) or (declared and meta["version"] < CONTEXT_VERSION):
        raise SrbTablesError(f"{name}: unit classes and their declaration disagree")
    if not declared:
        return {}
    return {"unit_classes": arrays[f"{name}_unit_classes"], "num_classes": int(meta[name]["unit_classes"])}


def _envelope_fields(meta: dict, arrays: dict) -> tuple[StreamTables | None, int]:
    """``(envelope tables, ratio)`` as a tables file declares them (``(None, 0)`` for none): the
    ``envelope`` entry, both arrays and version 3 go together, and the entry may declare only what
    envelope tables can be (per-frame, order 0 or 1), so that its description is the arrays'."""
    declared = "envelope" in meta
    present = [k for k in ("envelope_symbol", "envelope_duration") if k in arrays]
    if declared != (meta["version"] == ENVELOPE_VERSION):
        raise SrbTablesError(f"envelope: tables version {meta['version']} and the envelope declaration disagree "
                             "(version 3 is exactly the tables with an envelope stream)")
    if (len(present) == 2) != declared or len(present) == 1:
        raise SrbTablesError(f"envelope: arrays {present or 'none'} and the declaration disagree")
    if not declared:
        return None, 0
    d = meta["envelope"]
    if not isinstance(d, dict) or d.get("coding") != "frame" or d.get("symbol_order") not in (0, 1) or (
        "unit_classes" in d or "trigram_beta" in d
    ):
        raise SrbTablesError(f"envelope: must be per-frame tables of order 0 or 1, declared {d!r}")
    ratio = d["ratio"]
    if not isinstance(ratio, int) or isinstance(ratio, bool):
        raise SrbTablesError(f"envelope: ratio must be an integer, got {ratio!r}")
    tables = StreamTables(int(d["vocab"]), "frame", int(d["max_run"]), arrays["envelope_symbol"],
                          arrays["envelope_duration"])
    if tables.order != d["symbol_order"]:
        raise SrbTablesError(f"envelope: symbol table of order {tables.order}, declared {d['symbol_order']}")
    return tables, ratio
