"""Waveform samples copied from a record into a buffer row (``rawconv/formats/copy_kernels.py``),
as 16-bit words at an even offset and byte by byte at an odd one; CI runs this file again
with numba's JIT disabled."""

from __future__ import annotations

import numpy as np
import pytest

from rawconv.formats.copy_kernels import copy_samples, copy_samples_padded


@pytest.mark.parametrize("start", [0, 1, 6, 7, 10])
@pytest.mark.parametrize("nbytes", [0, 2, 12])
def test_samples_are_copied_bit_for_bit_at_any_offset(start, nbytes):
    src = np.arange(31, dtype=np.uint8) * 7  # odd length: its last byte has no word
    dst = np.full((3, 12), 0xEE, dtype=np.uint8)
    copy_samples(dst, 1, src, start, nbytes)
    assert dst[1, :nbytes].tolist() == src[start : start + nbytes].tolist()
    assert (dst[1, nbytes:] == 0xEE).all() and (dst[[0, 2]] == 0xEE).all()  # nothing else


def test_the_last_word_of_an_odd_sized_record_is_copied():
    src = np.arange(1, 20, dtype=np.uint8)  # 19 bytes: words end at byte 18
    dst = np.zeros((1, 4), dtype=np.uint8)
    copy_samples(dst, 0, src, 14, 4)
    assert dst[0].tolist() == [15, 16, 17, 18]


def test_rows_of_16_bit_samples_read_back_as_the_record_wrote_them():
    samples = np.array([1, 0x7FFF, 0x8000, 0xFFFF, 0x1234], dtype="<u2")
    record = np.concatenate([np.zeros(3, np.uint8), samples.view(np.uint8)])  # odd offset
    even = np.concatenate([np.zeros(4, np.uint8), samples.view(np.uint8)])
    out = np.zeros((2, 5), dtype="<u2")
    copy_samples(out.view(np.uint8), 0, record, 3, 10)
    copy_samples(out.view(np.uint8), 1, even, 4, 10)
    assert out.tolist() == [samples.tolist(), samples.tolist()]


@pytest.mark.parametrize(("ns", "longer_or_shorter"), [(0, True), (3, True), (5, False), (7, True)])
@pytest.mark.parametrize("start", [2, 3])
def test_padded_copy_fills_the_row_and_says_when_the_record_does_not_fit(ns, longer_or_shorter,
                                                                         start):  # fmt: skip
    samples = np.arange(1, 8, dtype="<u2") * 0x0101  # seven samples, both bytes set
    record = np.concatenate([np.zeros(start, np.uint8), samples.view(np.uint8)])
    out = np.full((2, 5), 0xEEEE, dtype="<u2")
    assert copy_samples_padded(out.view(np.uint8), 1, record, start, ns) is longer_or_shorter
    m = min(ns, 5)
    assert out[1].tolist() == samples[:m].tolist() + [0] * (5 - m)  # the rest zeroed
    assert out[0].tolist() == [0xEEEE] * 5  # no other row touched
