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
def _listed_traces(buf, f, nframes, frame_off, frame_len, ntr, room):
    """Traces of the event-header record whose frames start at `f`, or -1 if its frames do
    not fit the layout, list a trace >= `ntr`, or list more than `room` traces."""
    if nframes < 7 or frame_len[f + 5] % 2 != 0 or frame_len[f + 6] % 4 != 0:
        return -1
    n = min(frame_len[f + 5] // 2, frame_len[f + 6] // 4)
    if n > ntr or n > room:
        return -1
    for j in range(n):
        if read_u16(buf, frame_off[f + 5] + 2 * j) >= ntr:
            return -1
    return n


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
    # the flattened data of the vector columns
    tracelist = out.tracelist.flattened_data
    board_id = out.board_id.flattened_data
    fc_input = out.fc_input.flattened_data
    runtime = out.runtime.flattened_data
    lifetime = out.lifetime.flattened_data
    deadtime = out.deadtime.flattened_data
    deadinterval_nsec = out.deadinterval_nsec.flattened_data
    baseline = out.baseline.flattened_data
    daqenergy = out.daqenergy.flattened_data
    capacity = min(
        tracelist.shape[0], board_id.shape[0], fc_input.shape[0], runtime.shape[0],
        lifetime.shape[0], deadtime.shape[0], deadinterval_nsec.shape[0], baseline.shape[0],
        daqenergy.shape[0],
    )  # fmt: skip
    r = 0
    done, status, bad = last - first, DECODE_OK, -1
    for i in range(first, last):
        if rec_tag[i] != _TAG_HEADER:
            continue  # another decoder's record in a mixed run
        if r >= max_rows:
            done = i - first
            break
        f = rec_frame0[i]
        nframes = rec_nframes[i]
        n = _listed_traces(buf, f, nframes, frame_off, frame_len, ntr, capacity - flat)
        # the state is read only from a record whose trace frames are valid
        ev_type = -1 if n < 0 else _read_prefix(
            buf, f, frame_off, frame_len, _TAG_HEADER, st_to, st_ts, st_dr, st_sizes, nframes
        )
        if ev_type == -1:
            done, status, bad = i - first, DECODE_BAD_RECORD, i
            break
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
            done, status, bad = i - first, DECODE_DEAD_QUEUE_FULL, i
            break
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
            p = flat + j
            tracelist[p] = t
            board_id[p] = tm >> 16
            fc_input[p] = tm & 0xFFFF
            runtime[p] = (fpga_ns - enable_ns[t]) / 1e9
            deadtime[p] = total_dead[t] / 1e9
            lifetime[p] = (fpga_ns - enable_ns[t] - total_dead[t]) / 1e9
            deadinterval_nsec[p] = cur_dead[t]
            baseline[p] = np.uint16(np.int64(hdr0 / blprec) & 0xFFFF)
            daqenergy[p] = _energy(hdr0, hdr1, adcbits, sumlength, blprec)
        flat += n
        out.tracelist.cumulative_length[r] = flat
        r += 1
    # every vector column has the cumulative lengths of tracelist (copied after the loop:
    # stores to nine arrays per record slow the loop down)
    for k in range(r):
        cl = out.tracelist.cumulative_length[k]
        out.board_id.cumulative_length[k] = cl
        out.fc_input.cumulative_length[k] = cl
        out.runtime.cumulative_length[k] = cl
        out.lifetime.cumulative_length[k] = cl
        out.deadtime.cumulative_length[k] = cl
        out.deadinterval_nsec.cumulative_length[k] = cl
        out.baseline.cumulative_length[k] = cl
        out.daqenergy.cumulative_length[k] = cl
    return done, r, status, bad
