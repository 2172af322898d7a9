import contextlib

import pytest


@pytest.fixture(autouse=True)
def one_thread():
    """One thread for torch and, where threadpoolctl is installed, for BLAS, as the report runs: on
    a busy 2-core machine multi-threaded BLAS makes ``estimate_lag`` forty times slower and torch's
    default pool makes Resemblyzer and DistillMOS a hundred times slower."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        from threadpoolctl import threadpool_limits

        limit = threadpool_limits(limits=1)
    except ImportError:
        limit = contextlib.nullcontext()
    with limit:
        yield
    torch.set_num_threads(before)
