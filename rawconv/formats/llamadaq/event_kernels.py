"""Numba kernel that decodes LlamaDAQ events into table columns (formats.md, section 4).

One call decodes the events of one table layout ("part") among records ``[first, last)``
of a block (records of other parts and damaged records are passed over). Per-channel
constants come in tables indexed by the channel's position ``ci = index_of[fch]``.

Differences from the reference converter (its bugs, reference-converter.md 8):

* timestamps keep bits 47-32 of the tick counter (word 0, bits 31-16); the reference
  shifts them out in uint32 arithmetic, so its times wrap every 2^32 ticks (17.2 s at
  250 MHz);
* ``cumsum_N`` is accumulator gate N: gate 1 is word 3 bits 23-0, gates 2-6 words 4-8,
  gates 7-8 the format-bit-1 words. The reference writes gates 2-7 as cumsum_1-6, so
  gate 1 is lost and gate 7 appears twice;
* ``fadc_status_bits`` holds the marker word's bits 27-26: bit 0 the status (pile-up)
  flag, as in the reference, bit 1 the MAW-test flag; events with MAW test data are
  decoded (their MAW test buffer in ``waveform_maw``) where the reference stops with an
  error.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from ..copy_kernels import copy_samples
from .layout import (
    ABSENT,
    AVG_COUNT_MASK,
    AVG_COUNT_SHIFT,
    MARKER_AVG,
    MAW_TEST_BIT,
    RAW_WORDS_MASK,
    REC_EVENT,
    STATUS_BIT,
)
from .walk_kernels import read_u32

DECODE_OK = 0
DECODE_BAD_EVENT = 1
"""an event's layout does not match its table (the walk accepted it: a bug, not damage)."""


@nb.njit(cache=True, nogil=True)
def _scalars(buf, s, fmt, out, row):
    """Format-bit fields of the event at `s` into ``out[row]`` (SCALAR_FIELDS order)."""
    for j in range(out.shape[1]):
        out[row, j] = ABSENT
    at = s + 8
    if fmt & 1:
        w2 = read_u32(buf, at)
        out[row, 0] = w2 & 0xFFFF  # peak value
        out[row, 1] = w2 >> 16  # peak index
        w3 = read_u32(buf, at + 4)
        out[row, 2] = (w3 >> 24) & 0xFF  # info bits
        out[row, 3] = w3 & 0xFFFFFF  # gate 1
        for g in range(5):  # gates 2-6
            out[row, 4 + g] = read_u32(buf, at + 8 + 4 * g)
        at += 28
    if fmt & 2:
        out[row, 9] = read_u32(buf, at)
        out[row, 10] = read_u32(buf, at + 4)
        at += 8
    if fmt & 4:
        for j in range(3):
            out[row, 11 + j] = read_u32(buf, at + 4 * j)
        at += 12
    if fmt & 8:
        out[row, 14] = read_u32(buf, at)
        out[row, 15] = read_u32(buf, at + 4)
        at += 8
    return at


@nb.njit(cache=True, nogil=True)
def decode_events(buf, rec_start, rec_stop, rec_kind, rec_fch, rec_pid, first, last,
                  max_rows, part_of, part, index_of, dt_raw, dt_avg, t0_win, t0_pre_base,
                  initial_ts, packet_id, fch_out, status, tsr, unixtime, accuracy, scalars,
                  win, win_t0, win_dt, pre, pre_t0, pre_dt, maw, maw_t0, maw_dt):  # fmt: skip
    """Decode the events of `part` among records ``[first, last)``; rows from 0 of the
    output arrays (waveform values as uint8 views: rows x bytes; ``maw`` uint32). Stops
    before the event that would exceed `max_rows`. Returns (records done, rows,
    DECODE_* status, record index of a bad event or -1)."""
    rows = 0
    for i in range(first, last):
        if rec_kind[i] != REC_EVENT:
            continue
        fch = rec_fch[i]
        if fch < 0 or fch >= len(part_of) or part_of[fch] != part:
            continue
        if rows >= max_rows:
            return i - first, rows, DECODE_OK, -1
        s = rec_start[i]
        e = rec_stop[i]
        if s < 0 or e > len(buf) or e - s < 12:
            return i - first, rows, DECODE_BAD_EVENT, i
        ci = index_of[fch]
        w0 = read_u32(buf, s)
        ticks = (np.uint64(w0 >> 16) << np.uint64(32)) | np.uint64(read_u32(buf, s + 4))
        t = np.float64(ticks) * dt_raw[ci] * 1e-9
        packet_id[rows] = np.uint32(rec_pid[i] & 0xFFFFFFFF)
        fch_out[rows] = fch
        tsr[rows] = t
        unixtime[rows] = t + initial_ts
        accuracy[rows] = 1.0
        at = _scalars(buf, s, w0 & 0xF, scalars, rows)
        marker = read_u32(buf, at)
        status[rows] = (marker >> STATUS_BIT) & 3  # status flag, MAW-test flag (bit 27)
        raw_bytes = 4 * np.int64(marker & RAW_WORDS_MASK)
        at += 4
        avg_bytes = 0
        avg_count = 0
        if (marker >> 28) == MARKER_AVG:
            avg_word = read_u32(buf, at)
            avg_bytes = 4 * np.int64(avg_word & 0xFFFF)
            avg_count = (avg_word >> AVG_COUNT_SHIFT) & AVG_COUNT_MASK
            at += 4
        maw_words = (e - at - raw_bytes - avg_bytes) // 4 if (marker >> MAW_TEST_BIT) & 1 else 0
        if (
            raw_bytes != win.shape[1]
            or avg_bytes != pre.shape[1]
            or maw_words < 0
            or maw_words > maw.shape[1]
            or at + raw_bytes + avg_bytes + 4 * maw_words != e
        ):
            return i - first, rows, DECODE_BAD_EVENT, i  # fmt: skip
        if raw_bytes:
            copy_samples(win, rows, buf, at, raw_bytes)
            win_t0[rows] = np.float32(t0_win[ci])
            win_dt[rows] = dt_raw[ci]
            at += raw_bytes
        if avg_bytes:
            copy_samples(pre, rows, buf, at, avg_bytes)
            pre_t0[rows] = np.float32(t0_pre_base[ci] + np.float64(avg_count) * dt_raw[ci])
            pre_dt[rows] = dt_avg[ci]
            at += avg_bytes
        if maw.shape[1]:
            for j in range(maw.shape[1]):
                maw[rows, j] = read_u32(buf, at + 4 * j) if j < maw_words else 0
            maw_t0[rows] = 0.0
            maw_dt[rows] = dt_raw[ci]
        rows += 1
    return last - first, rows, DECODE_OK, -1
