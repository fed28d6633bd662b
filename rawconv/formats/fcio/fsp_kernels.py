"""Numba kernel decoding blocks of FSPEvent records (formats.md 1.6; fsp_fields.EVENT_FRAMES).

FSPEvent records come one per event in software-trigger runs, so they are decoded in one
kernel call per block. Every read is checked against its frame: a frame shorter than a field
leaves the field 0, bytes beyond the fields are ignored, array lengths follow frame lengths.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from .fsp_fields import EVENT_NFRAMES
from .kernels import read_f32, read_i32, read_u16
from .layout import (
    MAX_CHANNELS,
    TAG_EVENT,
    TAG_EVENTHEADER,
    TAG_FSPEVENT,
    TAG_RECEVENT,
    TAG_SPARSEEVENT,
)

FSP_OK = 0
FSP_BAD_LAYOUT = 1
"""the record's frame count matches no known FSPEvent layout."""
FSP_TOO_MANY = 2
"""an index list holds more than MAX_CHANNELS entries."""
FSP_NEED_ROOM = 3
"""the flattened vector arrays are full: grow them and call again from the returned record."""

KIND_NONE = -1
"""the record precedes no event record: no row."""
KIND_EVENT = 0
"""the record precedes an Event, SparseEvent or RecEvent record: key ``swtid_N/event``."""
KIND_EVT_HDR = 1
"""the record precedes an EventHeader record: key ``swtid_N/evt_hdr``."""

_MIN_FRAMES = min(EVENT_NFRAMES)
_MAX_FRAMES = max(EVENT_NFRAMES)


@nb.njit(cache=True, nogil=True, inline="always")
def _u8(buf, off, length, pos):
    return buf[off + pos] if pos < length else np.uint8(0)


@nb.njit(cache=True, nogil=True, inline="always")
def _i32(buf, off, length, pos):
    return read_i32(buf, off + pos) if pos + 4 <= length else np.int32(0)


@nb.njit(cache=True, nogil=True, inline="always")
def _u16(buf, off, length, pos):
    return read_u16(buf, off + pos) if pos + 2 <= length else np.uint16(0)


@nb.njit(cache=True, nogil=True, inline="always")
def _f32(buf, off, length, pos):
    return read_f32(buf, off + pos) if pos + 4 <= length else np.float32(0)


@nb.njit(cache=True, nogil=True)
def following_kind(buf, tag, stop, n_records, i):
    """Which table record `i` annotates, from the tag of the record after it (the next
    indexed record, else the frame header at its end when that lies in the buffer)."""
    if i + 1 < n_records:
        nxt = tag[i + 1]
    elif stop[i] + 4 <= buf.shape[0]:
        nxt = -read_i32(buf, stop[i])
    else:
        return KIND_NONE
    if nxt in (TAG_EVENT, TAG_SPARSEEVENT, TAG_RECEVENT):
        return KIND_EVENT
    if nxt == TAG_EVENTHEADER:
        return KIND_EVT_HDR
    return KIND_NONE


@nb.njit(cache=True, nogil=True)
def decode_fsp_events(
    buf, tag, stop, frame0, nframes, pid, frame_off, frame_len, n_records,
    first, last, row0, max_rows, flat, out, kind,
):  # fmt: skip
    """Decode FSPEvent records ``[first, last)`` into rows ``row0..`` of `out` (a
    :data:`~.fsp_fields.FSPEventColumns` from the table's first row) and `kind`.

    `flat` holds the fill of the flattened arrays (ct, ps) and is updated. Records that
    precede no event record are consumed without a row. Returns ``(records_done, rows,
    status, bad_record)``; with `FSP_NEED_ROOM` the caller grows the flattened data of
    ``obs_ct_*`` / ``obs_ps_*`` and calls again from ``first + records_done``.
    """
    ct_idx = out.obs_ct_trace_idx.flattened_data
    ct_max = out.obs_ct_max.flattened_data
    ps_idx = out.obs_ps_hwm_prescaled_trace_idx.flattened_data
    rows = 0
    r = first
    while r < last:
        if tag[r] != TAG_FSPEVENT:  # another decoder's record in a mixed run
            r += 1
            continue
        row = row0 + rows
        nf = nframes[r]
        if nf < _MIN_FRAMES or nf > _MAX_FRAMES:
            return r - first, rows, FSP_BAD_LAYOUT, r
        k = following_kind(buf, tag, stop, n_records, r)
        if k == KIND_NONE:
            r += 1
            continue
        if rows >= max_rows:
            break
        f0 = frame0[r]
        n_ct = frame_len[f0 + 5] // 4
        n_ps = frame_len[f0 + 10] // 2 if nf > 10 else 0
        if n_ct > MAX_CHANNELS or n_ps > MAX_CHANNELS:
            return r - first, rows, FSP_TOO_MANY, r
        if (flat[0] + n_ct > min(ct_idx.shape[0], ct_max.shape[0])
                or flat[1] + n_ps > ps_idx.shape[0]):  # fmt: skip
            return r - first, rows, FSP_NEED_ROOM, r
        # write flags: event flag bytes 0-1, trigger flag bytes 8-13, int32 write at 16
        o, n = frame_off[f0], frame_len[f0]
        out.is_consecutive[row] = _u8(buf, o, n, 0) != 0
        out.is_extended[row] = _u8(buf, o, n, 1) != 0
        out.is_hwm_multiplicity[row] = _u8(buf, o, n, 8) != 0
        out.is_hwm_prescaled[row] = _u8(buf, o, n, 9) != 0
        out.is_wps_sum[row] = _u8(buf, o, n, 10) != 0
        out.is_wps_coincident_sum[row] = _u8(buf, o, n, 11) != 0
        out.is_wps_prescaled[row] = _u8(buf, o, n, 12) != 0
        out.is_ct_multiplicity[row] = _u8(buf, o, n, 13) != 0
        out.is_written[row] = _i32(buf, o, n, 16) != 0
        # frame 1: processor flags (not in the table)
        o, n = frame_off[f0 + 2], frame_len[f0 + 2]
        out.obs_evt_nconsecutive[row] = _i32(buf, o, n, 0)
        o, n = frame_off[f0 + 3], frame_len[f0 + 3]
        out.obs_hwm_hw_multiplicity[row] = _i32(buf, o, n, 0)
        out.obs_hwm_max_value[row] = _u16(buf, o, n, 4)
        out.obs_hwm_min_value[row] = _u16(buf, o, n, 6)
        out.obs_hwm_sw_multiplicity[row] = _i32(buf, o, n, 8)
        o, n = frame_off[f0 + 4], frame_len[f0 + 4]
        out.obs_wps_sum_value[row] = _f32(buf, o, n, 0)
        out.obs_wps_sum_offset[row] = _i32(buf, o, n, 4)
        out.obs_wps_sum_multiplicity[row] = _i32(buf, o, n, 8)
        out.obs_wps_max_peak_value[row] = _f32(buf, o, n, 12)
        out.obs_wps_max_peak_offset[row] = _i32(buf, o, n, 16)
        # channel threshold: trace indices (int32) and their maxima (uint16, 0 if missing)
        o = frame_off[f0 + 5]
        om, nm = frame_off[f0 + 6], frame_len[f0 + 6]
        base = flat[0]
        for j in range(n_ct):
            ct_idx[base + j] = read_i32(buf, o + 4 * j)
            ct_max[base + j] = _u16(buf, om, nm, 2 * j)
        flat[0] = base + n_ct
        out.obs_ct_trace_idx.cumulative_length[row] = flat[0]
        out.obs_ct_max.cumulative_length[row] = flat[0]
        out.obs_ct_multiplicity[row] = n_ct
        # frames 7-9: WPS sub-event list (not in the table); frame 10: prescaled HWM traces
        base = flat[1]
        if n_ps > 0:
            o = frame_off[f0 + 10]
            for j in range(n_ps):
                ps_idx[base + j] = read_u16(buf, o + 2 * j)
        flat[1] = base + n_ps
        out.obs_ps_hwm_prescaled_trace_idx.cumulative_length[row] = flat[1]
        out.packet_id[row] = pid[r]
        kind[row] = k
        rows += 1
        r += 1
    return r - first, rows, FSP_OK, -1
