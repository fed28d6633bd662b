"""The column helpers of the fuzzing's in-memory mode: ragged rows, equality, the first
differing row."""

from __future__ import annotations

import numpy as np
import pytest

from tests.fuzz.memory import Ragged, concat, first_difference, same


def ragged(rows: list[list[int]]) -> Ragged:
    flat = np.array([v for r in rows for v in r], np.int32)
    return Ragged(np.array([len(r) for r in rows], np.int64), flat)


def test_ragged_rows_slice_and_join():
    r = ragged([[1, 2], [], [3], [4, 5, 6]])
    assert len(r) == 4
    assert r[1:3].lengths.tolist() == [0, 1] and r[1:3].flat.tolist() == [3]
    assert r[:0].flat.tolist() == [] and r[3:].flat.tolist() == [4, 5, 6]
    joined = concat([r[:2], r[2:]])
    assert same(joined, r)
    with pytest.raises(ValueError, match="step 1"):
        r[::2]


def test_same_and_first_difference():
    a = np.array([1.0, np.nan, 3.0, 4.0])
    assert same(a, a.copy())
    assert not same(a, a[:3])
    b = a.copy()
    b[2] = 0
    assert first_difference(a, b, 4) == 2
    assert first_difference(a, b, 2) == 2  # the first 2 rows are equal
    r, s = ragged([[1], [2, 3], [4], [5]]), ragged([[1], [2, 3], [4, 0], [5]])
    assert first_difference(r, s, 4) == 2
    assert first_difference(r, ragged([[1], [2], [3, 4], [5]]), 4) == 1
    assert not same(r, r.flat) and same(r, r[:])
