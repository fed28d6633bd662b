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
    o_packet_id, o_fcid, o_event_type, o_numtraces, o_eventnumber,
    o_ts_pps, o_ts_ticks, o_ts_maxticks,
    o_mu_offset_sec, o_mu_offset_usec, o_to_master_sec, o_delta_mu_usec, o_abs_delta_mu_usec,
    o_to_start_sec, o_to_start_usec,
    o_dr_start_pps, o_dr_start_ticks, o_dr_stop_pps, o_dr_stop_ticks, o_dr_maxticks,
    o_dr_ch_idx, o_dr_ch_len, o_timestamp,
    o_cl, o_tracelist, o_board_id, o_fc_input, o_runtime, o_lifetime, o_deadtime,
    o_deadinterval, o_baseline, o_daqenergy,
):
    """Decode event-header records ``[first, last)``; every vector column shares the
    cumulative lengths ``o_cl`` (continuing from `flat_start`). Returns
    ``(records_done, rows, status, bad_record)``."""
    adcs = cfg[CFG_ADCS]
    ntr = cfg[CFG_ADCS] + cfg[CFG_TRIGGERS]
    adcbits = cfg[CFG_ADCBITS]
    blprec = cfg[CFG_BLPRECISION] if cfg[CFG_BLPRECISION] != 0 else 1
    sumlength = cfg[CFG_SUMLENGTH]
    gps = cfg[CFG_GPS]
    fcid = cfg[CFG_FCID]
    flat = flat_start
    capacity = o_tracelist.shape[0]
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
        o_packet_id[r] = rec_pid[i]
        o_fcid[r] = fcid
        o_event_type[r] = ev_type
        o_numtraces[r] = n
        o_eventnumber[r] = st_ts[0]
        o_ts_pps[r] = st_ts[1]
        o_ts_ticks[r] = st_ts[2]
        o_ts_maxticks[r] = st_ts[3]
        o_mu_offset_sec[r] = st_to[0]
        o_mu_offset_usec[r] = st_to[1]
        o_to_master_sec[r] = st_to[2]
        o_delta_mu_usec[r] = st_to[3]
        o_abs_delta_mu_usec[r] = st_to[4]
        o_to_start_sec[r] = st_to[5]
        o_to_start_usec[r] = st_to[6]
        o_dr_start_pps[r] = st_dr[0]
        o_dr_start_ticks[r] = st_dr[1]
        o_dr_stop_pps[r] = st_dr[2]
        o_dr_stop_ticks[r] = st_dr[3]
        o_dr_maxticks[r] = st_dr[4]
        o_dr_ch_idx[r] = dr_idx
        o_dr_ch_len[r] = dr_len
        o_timestamp[r] = _timestamp(fpga_ns, gps, st_to)
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
            o_tracelist[p] = t
            o_board_id[p] = tm >> 16
            o_fc_input[p] = tm & 0xFFFF
            o_runtime[p] = runtime
            o_deadtime[p] = deadtime
            o_lifetime[p] = (fpga_ns - enable_ns[t] - total_dead[t]) / 1e9
            o_deadinterval[p] = cur_dead[t]
            o_baseline[p] = np.uint16(np.int64(hdr0 / blprec) & 0xFFFF)
            o_daqenergy[p] = _energy(hdr0, hdr1, adcbits, sumlength, blprec)
        flat += n
        o_cl[r] = flat
        r += 1
    return last - first, r, DECODE_OK, -1
