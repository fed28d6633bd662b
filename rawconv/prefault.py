"""Fresh memory paid for ahead of its first write, by a thread of its own.

The first write to a page of fresh anonymous memory costs the writing thread a page fault;
on the virtual machines rawconv is measured on, 0.8-0.9 s per GB. A buffer arena's rows
(:mod:`rawconv.arena`) are written block after block in input order, so the pages of the
rows each buffer gets next are known ahead: :class:`Prefaulter` has a daemon thread ask the
kernel to allocate them (``madvise(MADV_POPULATE_WRITE)``, Linux 5.14 and later), which
leaves their contents as they are, while the converting thread decodes the next block.
Where that call is missing or refused, nothing is done and the writes fault as before.
"""

from __future__ import annotations

import ctypes
import errno
import mmap
import queue
import sys
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["MADV_POPULATE_WRITE", "Prefaulter", "available"]

MADV_POPULATE_WRITE = 23
"""Linux's advice to allocate a range's pages writable now, without changing their data."""

_PAGE = mmap.PAGESIZE
_madvise: Any = None
_usable = sys.platform.startswith("linux")


def available() -> bool:
    """Whether pages can be allocated ahead here (Linux, until the kernel refuses)."""
    global _madvise, _usable
    if _usable and _madvise is None:
        try:
            fn = ctypes.CDLL(None, use_errno=True).madvise
        except (OSError, AttributeError):
            _usable = False
            return False
        fn.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        fn.restype = ctypes.c_int
        _madvise = fn
    return _usable


def _populate(array: np.ndarray, ranges: Sequence[tuple[int, int]]) -> None:
    """Allocate the pages of the byte ranges ``(start, stop)`` of `array`'s memory (the
    caller keeps `array` alive: it is an argument here)."""
    global _usable
    base = array.__array_interface__["data"][0]
    end = base + array.nbytes
    for start, stop in ranges:
        lo = (base + start) // _PAGE * _PAGE
        hi = min(base + stop, end)
        if hi <= lo:
            continue
        refused = _madvise(lo, hi - lo, MADV_POPULATE_WRITE) != 0
        if refused and ctypes.get_errno() in (errno.EINVAL, errno.ENOSYS, errno.EPERM):
            _usable = False  # a kernel without it: the writes fault as before
            return


class Prefaulter:
    """Allocates ranges of arrays' memory on a daemon thread, in the order asked.

    Only for anonymous memory the caller owns (:func:`rawconv.arena._fresh` arrays): the
    pages of a file mapping would be marked dirty. The thread ends when the prefaulter is
    closed or garbage-collected with nothing queued."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def request(self, array: np.ndarray, ranges: Sequence[tuple[int, int]]) -> None:
        """Queue the allocation of byte ranges ``(start, stop)`` of `array`."""
        if not ranges or not available():
            return
        if self._thread is None:
            self._thread = threading.Thread(
                target=_serve, args=(self._queue,), name="rawconv-prefault", daemon=True
            )
            self._thread.start()
        self._queue.put((array, ranges))

    def close(self, wait: bool = False) -> None:
        """Stop the thread once what is queued is done (`wait`: return then)."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            if wait:
                thread.join()

    def __del__(self) -> None:
        self.close()


def _serve(jobs: queue.SimpleQueue) -> None:
    while True:
        job = jobs.get()
        if job is None:
            return
        if _usable:
            _populate(*job)
        del job  # the array, whose memory must not outlive its owner while this waits
