"""glibc's handling of large allocations in rawconv's processes (the commands, Dask workers)."""

from __future__ import annotations

import ctypes
import os

__all__ = ["tune_malloc"]

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")
_tuned = False


def tune_malloc(keep_user_settings: bool = False) -> None:
    """Have glibc keep large freed blocks for reuse in this process (once; on other C
    libraries nothing changes).

    Chunks, their shuffled copies and compressed bytes are arrays of about a MiB, made and
    freed in several threads. With glibc's defaults many of them are fresh memory each time
    (a new map, or heap given back and taken again), page-faulted and zeroed again: the
    `rawconv` command converting 1 GB took 100,000-150,000 page faults and 1.1-1.9 s of
    system time, 27,000 and 0.7-0.9 s with these settings, for 4 MB more peak memory. Dask
    starts its workers with ``MALLOC_TRIM_THRESHOLD_`` set, which also fixes glibc's mmap
    threshold at 128 KiB: there every such array was a fresh map (2 s of system time per
    GB converted). Here arrays up to 32 MiB come from the heap and up to 64 MiB of freed
    heap is kept. The commands call this first (`keep_user_settings`: not when the user
    set either threshold in the environment); ``build_raw`` leaves a caller's process as
    it is.
    """
    global _tuned
    if _tuned or (keep_user_settings and any(k in os.environ for k in _USER_SETTINGS)):
        return
    _tuned = True
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20)
        libc.mallopt(_M_TRIM_THRESHOLD, 64 << 20)
    except (OSError, AttributeError):  # not glibc: nothing to restore
        pass
