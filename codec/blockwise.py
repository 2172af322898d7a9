"""Run a short-time filter over long audio in blocks, each with the context its output needs.

The postfilter and the envelope smoother work on whole STFTs; on ten minutes of audio at once
those take about 0.9 GB. Cutting the input into blocks that start on the filter's hop grid, each
widened by ``context`` samples on either side, gives every block the same STFT frames as the whole
signal, so the output is the same to float rounding (their tests check it) in bounded memory.
"""

from __future__ import annotations

from typing import Callable

import torch


def in_blocks(wav: torch.Tensor, fn: Callable[..., torch.Tensor], block_samples: int, context: int,
              hop: int, with_offset: bool = False) -> torch.Tensor:
    """``fn`` applied to ``wav`` block by block.

    Args:
        wav: ``(N,)`` audio.
        fn: the filter, ``(M,)`` -> ``(M,)``, whose output sample depends on at most ``context``
            input samples either side.
        block_samples: samples per block (rounded down to the hop grid).
        context: samples of context either side (rounded up to the hop grid).
        hop: the filter's STFT hop.
        with_offset: call ``fn(segment, offset)`` with the sample of ``wav`` the segment starts at,
            for filters whose parameters depend on the position (the envelope layer's gains).

    Returns:
        ``(N,)`` float32: ``fn(wav)`` itself when ``wav`` fits in one block with its context.
    """
    n, block = wav.numel(), block_samples - block_samples % hop
    ctx = context + (-context % hop)
    call = fn if with_offset else lambda segment, offset: fn(segment)
    if n <= block + 2 * ctx:
        return call(wav, 0)
    out = torch.empty(n, dtype=torch.float32)
    for start in range(0, n, block):
        lo, hi = max(0, start - ctx), min(n, start + block + ctx)
        out[start : start + block] = call(wav[lo:hi], lo)[start - lo : start - lo + block]
    return out
