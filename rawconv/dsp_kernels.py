"""numba kernels of the dspeed processors rawconv runs itself (see :mod:`rawconv.dsp_native`).

Each runs over all rows of a block at once and gives dspeed's values for the inputs
:mod:`rawconv.dsp_native` hands it (tests check them against dspeed's own processors).
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["saturation_rows"]


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
