"""Peak resident memory, from the kernel (Linux), for the report and the speed measurements.

Kernel numbers, not an allocator trace: numpy, torch and C libraries are all counted.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def rss_mib(field: str = "VmRSS") -> float | None:
    """This process's ``VmRSS`` (now) or ``VmHWM`` (peak since start or the last reset), in MiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def reset_peak() -> bool:
    """Set the peak mark (``VmHWM``) to the current RSS: writing 5 to clear_refs (Linux >= 4.0)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


class PeakRss:
    """``with PeakRss() as m: ...`` then ``m.added_mib``: the peak RSS inside the block minus the
    RSS at its start (None where the kernel cannot reset the peak mark)."""

    def __enter__(self) -> "PeakRss":
        self.before = rss_mib()
        self.ok = reset_peak() and self.before is not None
        self.added_mib = None
        return self

    def __exit__(self, *exc) -> None:
        peak = rss_mib("VmHWM")
        if self.ok and peak is not None:
            self.added_mib = max(0.0, peak - self.before)


def run_measured(cmd: list[str]) -> float:
    """Run a command, raise on failure; return its peak RSS in MiB (``wait4``'s ``ru_maxrss``,
    KiB on Linux), which is the child's own, unlike ``RUSAGE_CHILDREN``'s maximum over all."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = proc.stderr.read()
    proc.stderr.close()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
        raise RuntimeError(f"{' '.join(cmd[:2])} failed with status {proc.returncode}: {tail[0]}")
    return usage.ru_maxrss / 1024
