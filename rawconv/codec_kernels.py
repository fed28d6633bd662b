"""numba kernels of the LEGEND waveform codecs (numpy in, numpy out).

They write the same bytes as legend-lh5io's ``radware-sigcompress`` and
``uleb128_zigzag_diff`` encoders (``lh5.compression``), which tests check, without importing
legend-pydataobj and without the (rows x 2·samples) scratch array those encoders allocate:
rows are encoded one after the other into one flat byte array.

Each encoder returns the number of bytes written, or -1 - k when row k holds a value the
codec cannot store losslessly (radware: a sample + shift outside int16; ULEB128: a
difference of consecutive samples outside int32), so that the caller raises instead of
writing data that would not decode to the original.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = [
    "radware_bound",
    "radware_encode_rows",
    "radware_encode_vectors",
    "uleb128_bound",
    "uleb128_encode_rows",
    "uleb128_encode_vectors",
]

_MASK = np.array(
    [0, 1, 3, 7, 15, 31, 63, 127, 255, 511, 1023, 2047, 4095, 8191, 16383, 32767, 65535],
    dtype=np.int64,
)

_JIT = {"nogil": True, "cache": True, "boundscheck": False}


def radware_bound(n_samples: int) -> int:
    """Most bytes one radware-encoded row of `n_samples` can take.

    Every section but the last holds at least 48 samples and costs at most 4 header words
    beyond its (at most one per sample) data words; a few more cover zeroing and padding.
    """
    return 2 * (n_samples + 5 * (n_samples // 48 + 2) + 8)


def uleb128_bound(n_samples: int) -> int:
    """Most bytes one ULEB128-zigzag-diff row of `n_samples` can take (5 per sample)."""
    return 5 * n_samples


@numba.njit(inline="always", **_JIT)
def _put16(out: np.ndarray, base: int, word: int, x: int) -> None:
    out[base + 2 * word] = (x >> 8) & 0xFF
    out[base + 2 * word + 1] = x & 0xFF


@numba.njit(**_JIT)
def _radware_row(sig: np.ndarray, shift: int, out: np.ndarray, base: int) -> int:
    """Encode one signal at ``out[base:]``; the bytes written, -1 if not lossless.

    The sections, their bit widths and the bit packing are those of the C original (and of
    legend-lh5io's port); bits are gathered in a register instead of OR-ing into memory.
    """
    mask = _MASK
    n = sig.size
    for k in range(n):
        v = np.int64(sig[k]) + shift
        if v < -32768 or v > 32767:
            return -1
    _put16(out, base, 0, n)
    iso = 1
    j = 0
    bp = 0
    while j < n:
        si_j = np.int64(sig[j]) + shift
        max1 = si_j
        min1 = si_j
        max2 = -16000
        min2 = 16000
        nb1 = 2
        nb2 = 2
        nw = 1
        i = j + 1
        prev = si_j
        while i < n and i < j + 48:
            si_i = np.int64(sig[i]) + shift
            ds = si_i - prev
            prev = si_i
            max1 = max(max1, si_i)
            min1 = min(min1, si_i)
            max2 = max(max2, ds)
            min2 = min(min2, ds)
            i += 1
        nw = i - j
        if max1 - min1 <= max2 - min2:  # absolute values
            nb2 = 99
            while max1 - min1 > mask[nb1]:
                nb1 += 1
            while i < n and i < j + 128:
                si_i = np.int64(sig[i]) + shift
                max1 = max(max1, si_i)
                dd1 = max1 - min1
                if min1 > si_i:
                    dd1 = max1 - si_i
                if dd1 > mask[nb1]:
                    break
                min1 = min(min1, si_i)
                i += 1
        else:  # differences
            nb1 = 99
            while max2 - min2 > mask[nb2]:
                nb2 += 1
            while i < n and i < j + 128:
                si_i = np.int64(sig[i]) + shift
                ds = si_i - prev
                max2 = max(max2, ds)
                dd2 = max2 - min2
                if min2 > ds:
                    dd2 = max2 - ds
                if dd2 > mask[nb2]:
                    break
                min2 = min(min2, ds)
                prev = si_i
                i += 1
        nw = i - j
        if bp > 0:
            iso += 1
        _put16(out, base, iso, nw)
        iso += 1
        bp = 0
        acc = 0
        if nb1 <= nb2:
            nb = nb1
            _put16(out, base, iso, nb1)
            _put16(out, base, iso + 1, min1)
            iso += 2
            for k in range(j, j + nw):
                dd = ((np.int64(sig[k]) + shift - min1) << (32 - bp - nb)) & 0xFFFFFFFF
                acc |= dd >> 16
                bp += nb
                if bp > 15:
                    _put16(out, base, iso, acc)
                    iso += 1
                    acc = dd & 0xFFFF
                    bp -= 16
        else:
            nb = nb2
            _put16(out, base, iso, nb2 + 32)
            _put16(out, base, iso + 1, si_j)
            _put16(out, base, iso + 2, min2)
            iso += 3
            prev = si_j
            for k in range(j + 1, j + nw):
                si_i = np.int64(sig[k]) + shift
                dd = ((si_i - prev - min2) << (32 - bp - nb)) & 0xFFFFFFFF
                prev = si_i
                acc |= dd >> 16
                bp += nb
                if bp > 15:
                    _put16(out, base, iso, acc)
                    iso += 1
                    acc = dd & 0xFFFF
                    bp -= 16
        _put16(out, base, iso, acc)  # the partial (or empty) current word
        j += nw
    if bp > 0:
        iso += 1
    if iso % 2 > 0:
        _put16(out, base, iso, 0)
        iso += 1
    return 2 * iso


@numba.njit(**_JIT)
def _uleb128_row(sig: np.ndarray, out: np.ndarray, base: int) -> int:
    """Encode one signal at ``out[base:]``; the bytes written, -1 if not lossless."""
    pos = base
    last = np.int64(0)
    for k in range(sig.size):
        s = np.int64(sig[k])
        d = s - last
        if d < -2147483648 or d > 2147483647:
            return -1
        x = ((d << 1) ^ (d >> 31)) & 0xFFFFFFFF
        while x >= 0x80:
            out[pos] = (x & 0x7F) | 0x80
            pos += 1
            x >>= 7
        out[pos] = x
        pos += 1
        last = s
    return pos - base


@numba.njit(**_JIT)
def radware_encode_rows(
    values: np.ndarray, shift: int, out: np.ndarray, cumulative_length: np.ndarray
) -> int:
    """Encode the rows of a 2-D array one after the other into `out`.

    `out` needs ``rows * radware_bound(samples)`` bytes; `cumulative_length[i]` gets the end
    of row i. Returns the bytes written, or -1 - k if row k is not losslessly encodable.
    """
    pos = 0
    for r in range(values.shape[0]):
        nbytes = _radware_row(values[r], shift, out, pos)
        if nbytes < 0:
            return -1 - r
        pos += nbytes
        cumulative_length[r] = pos
    return pos


@numba.njit(**_JIT)
def uleb128_encode_rows(values: np.ndarray, out: np.ndarray, cumulative_length: np.ndarray) -> int:
    """As :func:`radware_encode_rows`, for ULEB128 zigzag differences."""
    pos = 0
    for r in range(values.shape[0]):
        nbytes = _uleb128_row(values[r], out, pos)
        if nbytes < 0:
            return -1 - r
        pos += nbytes
        cumulative_length[r] = pos
    return pos


@numba.njit(**_JIT)
def radware_encode_vectors(
    flat: np.ndarray,
    ends: np.ndarray,
    shift: int,
    out: np.ndarray,
    cumulative_length: np.ndarray,
) -> int:
    """Encode variable-length rows ``flat[ends[i-1]:ends[i]]`` (a vector of vectors)."""
    pos = 0
    start = 0
    for r in range(ends.size):
        stop = ends[r]
        nbytes = _radware_row(flat[start:stop], shift, out, pos)
        if nbytes < 0:
            return -1 - r
        pos += nbytes
        cumulative_length[r] = pos
        start = stop
    return pos


@numba.njit(**_JIT)
def uleb128_encode_vectors(
    flat: np.ndarray, ends: np.ndarray, out: np.ndarray, cumulative_length: np.ndarray
) -> int:
    """As :func:`radware_encode_vectors`, for ULEB128 zigzag differences."""
    pos = 0
    start = 0
    for r in range(ends.size):
        stop = ends[r]
        nbytes = _uleb128_row(flat[start:stop], out, pos)
        if nbytes < 0:
            return -1 - r
        pos += nbytes
        cumulative_length[r] = pos
        start = stop
    return pos
