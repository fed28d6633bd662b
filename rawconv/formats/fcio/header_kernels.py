"""Numba kernel decoding blocks of FCIOEventHeader records (tag 7), one row per record.

Frames (formats.md 1.4): type, pulser, timeoffset, timestamp, deadregion, trace_list
(u16 x n), then one frame of n (hdr0, hdr1) u16 pairs. Per-trace values go to
vector-of-vector columns.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from .event_kernels import (
    CFG_ADCBITS,
    CFG_ADCS,
    CFG_BLPRECISION,
    CFG_FCID,
    CFG_GPS,
    CFG_SUMLENGTH,
    CFG_TRIGGERS,
    SIZE_DR,
    _energy,
    _read_prefix,
    _timestamp,
)
from .kernels import (
    DECODE_BAD_RECORD,
    DECODE_DEAD_QUEUE_FULL,
    DECODE_OK,
    enable_value,
    read_u16,
    update_dead_time,
)

_TAG_HEADER = 7


@nb.njit(cache=True, nogil=True)
def decode_event_headers(
    buf, rec_tag, rec_frame0, rec_nframes, rec_pid, frame_off, frame_len,
    first, last, max_rows, flat_start, cfg, tracemap,
    st_to, st_ts, st_dr, st_sizes,
    enable_ns, cur_dead, total_dead, q_begin, q_end, q_read, q_write, q_fill,
    out,
):
    """Decode event-header records ``[first, last)`` into `out` (a
    :data:`~.fields.FCEventHeaderColumns` from the buffer's fill position); the vector
    columns continue from `flat_start` (their flattened length before row 0). Returns
    ``(records_done, rows, status, bad_record)``."""
    adcs = cfg[CFG_ADCS]
    ntr = cfg[CFG_ADCS] + cfg[CFG_TRIGGERS]
    adcbits = cfg[CFG_ADCBITS]
    blprec = cfg[CFG_BLPRECISION] if cfg[CFG_BLPRECISION] != 0 else 1
    sumlength = cfg[CFG_SUMLENGTH]
    gps = cfg[CFG_GPS]
    fcid = cfg[CFG_FCID]
    flat = flat_start
    tracelist = out.tracelist.flattened_data
    capacity = min(
        tracelist.shape[0], out.board_id.flattened_data.shape[0],
        out.fc_input.flattened_data.shape[0], out.runtime.flattened_data.shape[0],
        out.lifetime.flattened_data.shape[0], out.deadtime.flattened_data.shape[0],
        out.deadinterval_nsec.flattened_data.shape[0], out.baseline.flattened_data.shape[0],
        out.daqenergy.flattened_data.shape[0],
    )  # fmt: skip
    r = 0
    for i in range(first, last):
        if rec_tag[i] != _TAG_HEADER:
            continue  # another decoder's record in a mixed run
        if r >= max_rows:
            return i - first, r, DECODE_OK, -1
        f = rec_frame0[i]
        nframes = rec_nframes[i]
        if nframes < 7 or frame_len[f + 5] % 2 != 0 or frame_len[f + 6] % 4 != 0:
            return i - first, r, DECODE_BAD_RECORD, i
        listed = frame_len[f + 5] // 2
        n = min(listed, frame_len[f + 6] // 4)
        if n > ntr or flat + n > capacity:
            return i - first, r, DECODE_BAD_RECORD, i
        for j in range(n):
            if read_u16(buf, frame_off[f + 5] + 2 * j) >= ntr:
                return i - first, r, DECODE_BAD_RECORD, i
        ev_type = _read_prefix(
            buf, f, frame_off, frame_len, _TAG_HEADER, st_to, st_ts, st_dr, st_sizes, nframes
        )
        if ev_type == -1:
            return i - first, r, DECODE_BAD_RECORD, i
        if st_sizes[SIZE_DR] >= 7:
            dr_idx = st_dr[5]
            dr_len = st_dr[6]
        else:
            dr_idx = 0
            dr_len = adcs
        fpga_ns = np.int64(st_ts[1]) * 1000000000 + np.int64(st_ts[2]) * 4
        ok = update_dead_time(
            fpga_ns, ev_type, st_dr, dr_idx, dr_len, st_to[5], st_to[6], adcs,
            enable_ns, cur_dead, total_dead, q_begin, q_end, q_read, q_write, q_fill,
        )
        if not ok:
            return i - first, r, DECODE_DEAD_QUEUE_FULL, i
        out.packet_id[r] = rec_pid[i]
        out.fcid[r] = fcid
        out.event_type[r] = ev_type
        out.numtraces[r] = n
        out.eventnumber[r] = st_ts[0]
        out.ts_pps[r] = st_ts[1]
        out.ts_ticks[r] = st_ts[2]
        out.ts_maxticks[r] = st_ts[3]
        out.mu_offset_sec[r] = st_to[0]
        out.mu_offset_usec[r] = st_to[1]
        out.to_master_sec[r] = st_to[2]
        out.delta_mu_usec[r] = st_to[3]
        out.abs_delta_mu_usec[r] = st_to[4]
        out.to_start_sec[r] = st_to[5]
        out.to_start_usec[r] = st_to[6]
        out.dr_start_pps[r] = st_dr[0]
        out.dr_start_ticks[r] = st_dr[1]
        out.dr_stop_pps[r] = st_dr[2]
        out.dr_stop_ticks[r] = st_dr[3]
        out.dr_maxticks[r] = st_dr[4]
        out.dr_ch_idx[r] = dr_idx
        out.dr_ch_len[r] = dr_len
        out.timestamp[r] = _timestamp(fpga_ns, gps, st_to)
        for j in range(n):
            t = np.int64(read_u16(buf, frame_off[f + 5] + 2 * j))
            hdr0 = read_u16(buf, frame_off[f + 6] + 4 * j)
            hdr1 = read_u16(buf, frame_off[f + 6] + 4 * j + 2)
            tm = tracemap[t]
            if enable_ns[t] == -1:
                enable_ns[t] = enable_value(st_dr, st_to[5], st_to[6])
            runtime = (fpga_ns - enable_ns[t]) / 1e9
            deadtime = total_dead[t] / 1e9
            p = flat + j
            tracelist[p] = t
            out.board_id.flattened_data[p] = tm >> 16
            out.fc_input.flattened_data[p] = tm & 0xFFFF
            out.runtime.flattened_data[p] = runtime
            out.deadtime.flattened_data[p] = deadtime
            out.lifetime.flattened_data[p] = (fpga_ns - enable_ns[t] - total_dead[t]) / 1e9
            out.deadinterval_nsec.flattened_data[p] = cur_dead[t]
            out.baseline.flattened_data[p] = np.uint16(np.int64(hdr0 / blprec) & 0xFFFF)
            out.daqenergy.flattened_data[p] = _energy(hdr0, hdr1, adcbits, sumlength, blprec)
        flat += n
        out.tracelist.cumulative_length[r] = flat
        out.board_id.cumulative_length[r] = flat
        out.fc_input.cumulative_length[r] = flat
        out.runtime.cumulative_length[r] = flat
        out.lifetime.cumulative_length[r] = flat
        out.deadtime.cumulative_length[r] = flat
        out.deadinterval_nsec.cumulative_length[r] = flat
        out.baseline.cumulative_length[r] = flat
        out.daqenergy.cumulative_length[r] = flat
        r += 1
    return last - first, r, DECODE_OK, -1
