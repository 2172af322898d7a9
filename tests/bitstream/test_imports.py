import subprocess
import sys

import pytest


def test_bitstream_never_imports_torch():
    pytest.importorskip("torch")  # the check only means something where torch is installed
    code = "import sys, bitstream, bitstream.accounting; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
