"""Peak memory of a benchmark's child process, as two numbers.

``rss``: peak resident set (VmHWM), what ``/usr/bin/time -f %M`` shows. ``private``: that
peak less the file-backed pages mapped at the end, i.e. the memory the conversion
allocates. The file-backed share is the shared libraries' code (numba's LLVM alone is
40-110 MB); how much of it is resident depends on how the kernel cached the installed
files (the same conversion peaks 70 MB higher in a freshly installed environment), not on
the tool. (ru_maxrss is no good here: Linux keeps it across exec.)
"""

from __future__ import annotations

import resource


def peak_memory_mb() -> tuple[float, float]:
    """(peak RSS, peak private memory) of this process in MB (MiB)."""
    try:
        with open("/proc/self/status") as f:
            kb = {line.split(":")[0]: int(line.split()[1]) for line in f
                  if line.startswith(("VmHWM", "RssFile", "RssShmem"))}  # fmt: skip
    except OSError:
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return rss, rss
    return kb["VmHWM"] / 1024, (kb["VmHWM"] - kb["RssFile"] - kb["RssShmem"]) / 1024
