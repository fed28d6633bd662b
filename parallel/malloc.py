"""glibc's handling of large allocations in Dask worker processes."""

from __future__ import annotations

import ctypes

__all__ = ["tune_malloc"]

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_tuned = False


def tune_malloc() -> None:
    """Give this process glibc's usual treatment of large allocations (once).

    Dask starts worker processes with ``MALLOC_TRIM_THRESHOLD_`` set, which also fixes
    glibc's mmap threshold at 128 KiB: every array of a chunk's size is then a fresh mmap,
    page-faulted and zeroed again, which cost a worker 2 s of system time per GB converted
    (a third more CPU than build_raw). Here arrays up to 32 MiB come from the heap again
    and up to 64 MiB of freed heap is kept for reuse, as in a plain Python process.
    """
    global _tuned
    if _tuned:
        return
    _tuned = True
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20)
        libc.mallopt(_M_TRIM_THRESHOLD, 64 << 20)
    except (OSError, AttributeError):  # not glibc: nothing to restore
        pass
