"""Peak resident memory, from the kernel (Linux), for the report and the speed measurements.

Kernel numbers, not an allocator trace: numpy, torch and C libraries are all counted.
"""

from __future__ import annotations

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


#: GNU time, which reports its child's peak RSS (``%M``, KiB).
GNU_TIME = "/usr/bin/time"
_MARK = "SRB_MAXRSS_KIB="


def run_measured(cmd: list[str]) -> float | None:
    """Run a command, raise on failure; return its peak RSS in MiB, or None where GNU time is
    missing. Not ``wait4`` on our own child: a child forked from this process starts with this
    process's whole resident set counted in its peak (``ru_maxrss`` survives ``exec``), a
    gigabyte under the report; GNU time is small, so what it reports is the tool's own."""
    measured = Path(GNU_TIME).is_file()
    full = [GNU_TIME, "-f", _MARK + "%M", *cmd] if measured else list(cmd)
    proc = subprocess.run(full, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = proc.stderr.decode(errors="replace").strip().splitlines()
    peak = None
    if measured and err and err[-1].startswith(_MARK):
        peak = int(err.pop()[len(_MARK):]) / 1024
        err = [e for e in err if not e.startswith("Command exited with non-zero status")]  # GNU time's own
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:2])} failed with status {proc.returncode}: {(err or [''])[-1]}")
    return peak
