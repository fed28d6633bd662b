"""numba kernels of HDF5's shuffle filter: the bytes of a chunk's elements as byte planes.

HDF5's shuffle stores byte ``b`` of element ``i`` of an ``n``-element chunk at
``b * n + i``: all first bytes, then all second bytes... numpy does it as a strided copy
of single bytes (``a.view(uint8).reshape(-1, size).T``), at about 0.4 s per GB on this
project's machines, a twentieth of a whole conversion; these kernels read each element
once as a little-endian word and write its bytes with shifts, at about copy speed for
2- and 4-byte elements. The caller passes the elements viewed as unsigned words of their
size, on a little-endian machine only (byte ``b`` of a word is then ``(w >> 8b) & 0xFF``).
There is one kernel per size with its bytes written out: a loop over the bytes of a size
known only at run time does not vectorise, and took 4-10x as long.

Each kernel returns the bytes written, or -1 when `out` is too short (nothing written).
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["shuffle_words2", "shuffle_words4", "shuffle_words8"]

_JIT = {"nogil": True, "cache": True}


@numba.njit(**_JIT)
def shuffle_words2(words: np.ndarray, out: np.ndarray) -> int:
    """Byte planes of 2-byte words into ``out[:2 * len(words)]``."""
    n = words.size
    if out.size < 2 * n:
        return -1
    for i in range(n):
        v = words[i]
        out[i] = v & 0xFF
        out[n + i] = v >> 8
    return 2 * n


@numba.njit(**_JIT)
def shuffle_words4(words: np.ndarray, out: np.ndarray) -> int:
    """Byte planes of 4-byte words into ``out[:4 * len(words)]``."""
    n = words.size
    if out.size < 4 * n:
        return -1
    for i in range(n):
        v = words[i]
        out[i] = v & 0xFF
        out[n + i] = (v >> 8) & 0xFF
        out[2 * n + i] = (v >> 16) & 0xFF
        out[3 * n + i] = v >> 24
    return 4 * n


@numba.njit(**_JIT)
def shuffle_words8(words: np.ndarray, out: np.ndarray) -> int:
    """Byte planes of 8-byte words into ``out[:8 * len(words)]``."""
    n = words.size
    if out.size < 8 * n:
        return -1
    mask = np.uint64(0xFF)
    for i in range(n):
        v = words[i]
        out[i] = v & mask
        out[n + i] = (v >> np.uint64(8)) & mask
        out[2 * n + i] = (v >> np.uint64(16)) & mask
        out[3 * n + i] = (v >> np.uint64(24)) & mask
        out[4 * n + i] = (v >> np.uint64(32)) & mask
        out[5 * n + i] = (v >> np.uint64(40)) & mask
        out[6 * n + i] = (v >> np.uint64(48)) & mask
        out[7 * n + i] = v >> np.uint64(56)
    return 8 * n
