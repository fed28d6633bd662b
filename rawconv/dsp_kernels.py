"""numba kernels of the dspeed processors rawconv runs itself (see :mod:`rawconv.dsp_native`).

Each runs over all rows of a block at once and gives dspeed's values for the inputs
:mod:`rawconv.dsp_native` hands it (tests check them against dspeed's own processors).
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["presum_rows_small", "saturation_rows"]


@numba.njit(nogil=True, cache=True)
def saturation_rows(
    values: np.ndarray, n_rows: int, high: int, n_lo: np.ndarray, n_hi: np.ndarray
) -> None:
    """For each of the first `n_rows` rows of `values` (rows x samples, integers), the
    samples equal to 0 into `n_lo` and those equal to `high` into `n_hi`, as dspeed's
    ``saturation`` counts them (``high`` = 2**bit_depth - bit_depth)."""
    if n_rows < 0 or n_rows > values.shape[0] or n_rows > len(n_lo) or n_rows > len(n_hi):
        raise IndexError("saturation_rows: more rows than an array holds")
    for row in range(n_rows):
        lo = 0
        hi = 0
        for i in range(values.shape[1]):
            x = np.int64(values[row, i])
            if x == 0:
                lo += 1
            elif x == high:
                hi += 1
        n_lo[row] = lo
        n_hi[row] = hi


@numba.njit(nogil=True, cache=True)
def presum_rows_small(values: np.ndarray, factor: int, out: np.ndarray) -> None:
    """Each row of `out` (rows x m): sums of `factor` consecutive samples of the same row of
    `values` (integers of at most 16 bits, so that no sum of up to 65536 of them overflows
    the 32-bit `out`), reading every sample once."""
    rows, m = out.shape
    if factor < 1 or rows > values.shape[0] or m * factor > values.shape[1]:
        raise IndexError("presum_rows_small: more sums than the samples hold")
    for row in range(rows):
        for j in range(m):
            acc = np.int64(0)
            start = j * factor
            for k in range(factor):
                acc += np.int64(values[row, start + k])
            out[row, j] = acc
