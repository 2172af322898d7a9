import pytest
import torch


@pytest.fixture
def one_thread():
    """Tiny models on a shared machine: extra threads only add contention. Modules of tiny-model
    tests use it with ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
