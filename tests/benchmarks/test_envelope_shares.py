"""benchmarks/envelope_shares.py: its gains are the layer's own at share 1, and split as asked."""

import math

import numpy as np
import torch

from benchmarks.envelope_shares import shared_gains
from codec.envelope import EnvelopeConfig, EnvelopeLayer


def _layer(scale=1.0):
    return EnvelopeLayer(EnvelopeConfig(bands=2, scale=scale, codebook=[[2.0, -4.0], [-1.0, 3.0]]))


def test_whole_shares_are_the_layers_gains():
    layer, codes = _layer(), np.array([0, 1, 1])
    same = shared_gains(1.0, 1.0, None)(layer, codes)
    assert torch.allclose(same, layer.frame_gains(codes))
    assert torch.allclose(shared_gains(None, None, [1.0, 1.0])(layer, codes), layer.frame_gains(codes))


def test_boosts_cuts_and_bands_apart():
    layer, db = _layer(), math.log(10) / 20
    g = shared_gains(0.5, 0.25, None)(layer, np.array([0, 1]))
    assert torch.allclose(g, torch.tensor([[1.0, -1.0], [-0.25, 1.5]]) * db)
    g = shared_gains(None, None, [0.5, 0.0])(layer, np.array([0]), lost=np.array([False]))
    assert torch.allclose(g, torch.tensor([[1.0, 0.0]]) * db)
    assert torch.all(shared_gains(1.0, 1.0, None)(layer, np.array([0]), lost=np.array([True])) == 0)
