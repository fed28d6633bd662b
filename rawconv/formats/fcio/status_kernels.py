"""Numba kernel decoding blocks of FCIOStatus records (tag 4), one row per card.

Frames (formats.md 1.5): status i32, statustime i32 x 10, cards i32, size i32, then `cards`
frames of `size` bytes, one card status block each (layout in :mod:`.layout`).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from .kernels import DECODE_BAD_RECORD, DECODE_OK, read_i32

_OTHERERRORS = 56
_ENVIRONMENT = 76
_CTILINKS = 140
_LINKSTATES = 156
_MIN_CARD_BYTES = _LINKSTATES


@nb.njit(cache=True, nogil=True)
def _u32(buf, pos):
    return np.uint32(read_i32(buf, pos))


@nb.njit(cache=True, nogil=True)
def status_rows_needed(buf, rec_frame0, rec_nframes, frame_off, frame_len, i):
    """Cards in status record `i`, or -1 if its frames are malformed."""
    f = rec_frame0[i]
    if rec_nframes[i] < 4 or frame_len[f + 2] != 4 or frame_len[f + 3] != 4:
        return -1
    cards = read_i32(buf, frame_off[f + 2])
    if cards < 0 or rec_nframes[i] < 4 + cards:
        return -1
    return cards


@nb.njit(cache=True, nogil=True)
def decode_status(
    buf,
    rec_frame0,
    rec_nframes,
    rec_pid,
    frame_off,
    frame_len,
    first,
    last,
    max_rows,
    flat_start,
    out,
):
    """Decode status records ``[first, last)`` into `out` (a
    :data:`~.fields.FCStatusColumns` from the buffer's fill position); its vector columns
    continue from `flat_start` (adc_temps, cti_links, link_states: their flattened lengths
    before row 0). Returns ``(records_done, rows, status, bad)``."""
    row = 0
    n_adc = flat_start[0]
    n_cti = flat_start[1]
    n_link = flat_start[2]
    statustime = np.zeros(10, dtype=np.int32)
    for i in range(first, last):
        f = rec_frame0[i]
        cards = status_rows_needed(buf, rec_frame0, rec_nframes, frame_off, frame_len, i)
        if cards < 0 or frame_len[f] < 4 or frame_len[f + 1] % 4 != 0 or frame_len[f + 1] > 64:
            return i - first, row, DECODE_BAD_RECORD, i
        for c in range(cards):
            if frame_len[f + 4 + c] < _MIN_CARD_BYTES:
                return i - first, row, DECODE_BAD_RECORD, i
        if row + cards > max_rows:
            return i - first, row, DECODE_OK, -1
        status = read_i32(buf, frame_off[f])
        for k in range(min(frame_len[f + 1] // 4, 10)):
            statustime[k] = read_i32(buf, frame_off[f + 1] + 4 * k)
        fpga_time = statustime[0] + statustime[1] * 1e-6
        server_time = statustime[2] + statustime[3] * 1e-6
        start_time = statustime[5] + statustime[6] * 1e-6
        for c in range(cards):
            p = frame_off[f + 4 + c]
            length = frame_len[f + 4 + c]
            r = row + c
            out.packet_id[r] = rec_pid[i]
            out.status[r] = 1 if status != 0 else 0
            out.fpga_time[r] = fpga_time
            out.server_time[r] = server_time
            out.fpga_start_time[r] = start_time
            out.id[r] = _u32(buf, p)
            out.eventnumber[r] = _u32(buf, p + 8)
            pps = np.int64(_u32(buf, p + 12))
            ticks = np.int64(_u32(buf, p + 16))
            out.fpga_time_nsec[r] = np.uint32((pps * 1000000000 + 4 * ticks) & 0xFFFFFFFF)
            numenv = np.int64(_u32(buf, p + 24))
            numcti = np.int64(_u32(buf, p + 28))
            numlinks = np.int64(_u32(buf, p + 32))
            out.n_total_errors[r] = _u32(buf, p + 40)
            out.n_environment_errors[r] = _u32(buf, p + 44)
            out.n_cti_errors[r] = _u32(buf, p + 48)
            out.n_link_errors[r] = _u32(buf, p + 52)
            for k in range(5):
                out.n_other_errors[r, k] = _u32(buf, p + _OTHERERRORS + 4 * k)
                out.mb_temps[r, k] = read_i32(buf, p + _ENVIRONMENT + 4 * k)
            for k in range(6):
                out.mb_voltages[r, k] = read_i32(buf, p + _ENVIRONMENT + 20 + 4 * k)
            out.mb_current[r] = read_i32(buf, p + _ENVIRONMENT + 44)
            out.mb_humidity[r] = read_i32(buf, p + _ENVIRONMENT + 48)
            for k in range(13, min(numenv, 16)):
                out.adc_temps.flattened_data[n_adc] = read_i32(buf, p + _ENVIRONMENT + 4 * k)
                n_adc += 1
            out.adc_temps.cumulative_length[r] = n_adc
            for k in range(min(numcti, 4)):
                out.cti_links.flattened_data[n_cti] = _u32(buf, p + _CTILINKS + 4 * k)
                n_cti += 1
            out.cti_links.cumulative_length[r] = n_cti
            for k in range(min(numlinks, 256, (length - _LINKSTATES) // 4)):
                out.link_states.flattened_data[n_link] = _u32(buf, p + _LINKSTATES + 4 * k)
                n_link += 1
            out.link_states.cumulative_length[r] = n_link
        row += cards
    return last - first, row, DECODE_OK, -1
