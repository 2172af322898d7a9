import numpy as np
import pytest
import torch

from benchmarks.envelope_dequant import Dequantiser, neighbours


@pytest.mark.parametrize("k, want", [
    pytest.param(0, [0, 1, 2, 3, 4], id="none"),
    pytest.param(1, [1, 2, 2, 4, 4], id="next-held-at-file-end"),
    pytest.param(-2, [0, 0, 0, 3, 3], id="previous-held-at-file-start"),
])
def test_neighbours_stay_in_their_file(k, want):
    x = np.arange(5)
    file_of = np.array([0, 0, 0, 1, 1])
    assert neighbours(x, file_of, k).tolist() == want


def test_dequantiser_starts_from_the_codebook_vector():
    torch.manual_seed(0)
    m = Dequantiser(size=16, bands=8)
    codes = torch.randint(0, 16, (3, 9))
    vec = torch.randn(3, 8)
    out = m(codes, torch.randn(3, 24), vec)
    assert out.shape == (3, 8)
    torch.nn.init.zeros_(m.net[-1].weight)
    torch.nn.init.zeros_(m.net[-1].bias)
    assert torch.equal(m(codes, torch.randn(3, 24), vec), vec)  # a residual on the frame's own vector
