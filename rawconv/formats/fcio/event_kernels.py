"""Numba kernels decoding blocks of FCIO event records (tags 3, 6 and 7).

Frame orders (formats.md 1.4):

- Event (3): type, pulser, timeoffset, timestamp, traces, [deadregion]
- SparseEvent (6): type, pulser, timeoffset, timestamp, deadregion, num_traces, trace_list,
  then one frame per listed trace
- EventHeader (7): type, pulser, timeoffset, timestamp, deadregion, trace_list, then one frame
  of (hdr0, hdr1) pairs

A trace is ``eventsamples + 2`` uint16: FPGA baseline x blprecision, FPGA integrator, samples.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from ..copy_kernels import copy_samples
from .kernels import (
    DECODE_BAD_RECORD,
    DECODE_DEAD_QUEUE_FULL,
    DECODE_OK,
    enable_value,
    read_i32,
    read_int_array,
    read_u16,
    update_dead_time,
)

# indices into the int64 configuration vector passed to the kernels
(
    CFG_ADCS,
    CFG_TRIGGERS,
    CFG_SAMPLES,
    CFG_BLPRECISION,
    CFG_SUMLENGTH,
    CFG_ADCBITS,
    CFG_GPS,
    CFG_FCID,
) = range(8)
CFG_SIZE = 8

# indices into the int32 "sizes" state vector
SIZE_TO, SIZE_TS, SIZE_DR = 0, 1, 2

_TAG_EVENT = 3
_TAG_SPARSE = 6


@nb.njit(cache=True, nogil=True)
def _read_prefix(buf, f, frame_off, frame_len, tag, st_to, st_ts, st_dr, st_sizes, nframes):
    """type, pulser, timeoffset, timestamp and (tags 6, 7) deadregion; returns type or -1."""
    if nframes < 4:
        return -1
    if frame_len[f] < 4 or frame_len[f] > 64 or frame_len[f + 1] < 4 or frame_len[f + 1] > 64:
        return -1
    ev_type = read_i32(buf, frame_off[f])
    if not read_int_array(buf, frame_off[f + 2], frame_len[f + 2], st_to, st_sizes, SIZE_TO):
        return -1
    if not read_int_array(buf, frame_off[f + 3], frame_len[f + 3], st_ts, st_sizes, SIZE_TS):
        return -1
    if tag != _TAG_EVENT:
        if nframes < 5:
            return -1
        if not read_int_array(buf, frame_off[f + 4], frame_len[f + 4], st_dr, st_sizes, SIZE_DR):
            return -1
    return ev_type


@nb.njit(cache=True, nogil=True)
def _timestamp(fpga_ns, gps, st_to):
    if gps != 0:
        return (fpga_ns + np.int64(st_to[2]) * 1000000000) / 1e9
    return (fpga_ns + np.int64(st_to[0]) * 1000000000 + np.int64(st_to[1]) * 1000) / 1e9


@nb.njit(cache=True, nogil=True)
def _energy(hdr0, hdr1, adcbits, sumlength, blprecision):
    if adcbits == 12:
        diff = (np.int64(hdr1) - np.int64(hdr0)) & 0xFFFF
        return np.uint16(np.int64(sumlength / blprecision * diff) & 0xFFFF)
    return np.uint16(hdr1)


@nb.njit(cache=True, nogil=True)
def _event_rows_needed(buf, tag, f, nframes, frame_off, frame_len, ntr):
    """Rows a record produces, or -1 if its trace frames are malformed."""
    if tag == _TAG_EVENT:
        return ntr
    if nframes < 7 or frame_len[f + 5] != 4:
        return -1
    num = read_i32(buf, frame_off[f + 5])
    listed = frame_len[f + 6] // 2
    if num < 0 or frame_len[f + 6] % 2 != 0:
        return -1
    return min(num, listed)


@nb.njit(cache=True, nogil=True)
def decode_events(
    buf,
    rec_tag,
    rec_start,
    rec_frame0,
    rec_nframes,
    rec_pid,
    frame_off,
    frame_len,
    first,
    last,
    max_rows,
    cfg,
    tracemap,
    st_to,
    st_ts,
    st_dr,
    st_sizes,
    enable_ns,
    cur_dead,
    total_dead,
    q_begin,
    q_end,
    q_read,
    q_write,
    q_fill,
    out,
    keys,
):
    """Decode Event / SparseEvent records ``[first, last)`` into one row per trace.

    Rows are written from row 0 of `out` (a :data:`~.fields.FCEventColumns` whose arrays
    start at the buffer's fill position) and their keys to `keys`; a record whose rows do
    not fit in `max_rows` is left for the next call. Returns ``(records_done, rows, status,
    bad_record)``.
    """
    adcs = cfg[CFG_ADCS]
    ntr = cfg[CFG_ADCS] + cfg[CFG_TRIGGERS]
    es = cfg[CFG_SAMPLES]
    trace_bytes = 2 * (es + 2)
    adcbits = cfg[CFG_ADCBITS]
    blprec = cfg[CFG_BLPRECISION] if cfg[CFG_BLPRECISION] != 0 else 1
    sumlength = cfg[CFG_SUMLENGTH]
    gps = cfg[CFG_GPS]
    fcid = cfg[CFG_FCID]
    wf = out.waveform.view(np.uint8)  # samples are copied as little-endian bytes
    dt_wf = wf.shape[1]
    row = 0
    for i in range(first, last):
        tag = rec_tag[i]
        if tag != _TAG_EVENT and tag != _TAG_SPARSE:
            continue  # another decoder's record in a mixed run
        f = rec_frame0[i]
        nframes = rec_nframes[i]
        # validate the layout before touching any state
        need = _event_rows_needed(buf, tag, f, nframes, frame_off, frame_len, ntr)
        if need < 0:
            return i - first, row, DECODE_BAD_RECORD, i
        if tag == _TAG_EVENT:
            if nframes < 5 or frame_len[f + 4] != ntr * trace_bytes:
                return i - first, row, DECODE_BAD_RECORD, i
        else:
            if nframes < 7 + need:
                return i - first, row, DECODE_BAD_RECORD, i
            lst = frame_off[f + 6]
            for j in range(need):
                t = read_u16(buf, lst + 2 * j)
                if t >= ntr or frame_len[f + 7 + j] != trace_bytes:
                    return i - first, row, DECODE_BAD_RECORD, i
        if dt_wf != 2 * es:
            return i - first, row, DECODE_BAD_RECORD, i
        if row + need > max_rows:
            break
        ev_type = _read_prefix(
            buf, f, frame_off, frame_len, tag, st_to, st_ts, st_dr, st_sizes, nframes
        )
        if ev_type == -1:
            return i - first, row, DECODE_BAD_RECORD, i
        if tag == _TAG_EVENT:
            # a full event covers every trace: fcio sets deadregion[5:7] = (0, traces)
            if nframes < 6:
                st_sizes[SIZE_DR] = 0
            elif not read_int_array(
                buf, frame_off[f + 5], frame_len[f + 5], st_dr, st_sizes, SIZE_DR
            ):
                return i - first, row, DECODE_BAD_RECORD, i
            st_dr[5] = 0
            st_dr[6] = ntr
        if st_sizes[SIZE_DR] >= 7:
            dr_idx = st_dr[5]
            dr_len = st_dr[6]
        else:
            dr_idx = 0
            dr_len = adcs
        fpga_ns = np.int64(st_ts[1]) * 1000000000 + np.int64(st_ts[2]) * 4
        ok = update_dead_time(
            fpga_ns,
            ev_type,
            st_dr,
            dr_idx,
            dr_len,
            st_to[5],
            st_to[6],
            adcs,
            enable_ns,
            cur_dead,
            total_dead,
            q_begin,
            q_end,
            q_read,
            q_write,
            q_fill,
        )
        if not ok:
            return i - first, row, DECODE_DEAD_QUEUE_FULL, i
        ts = _timestamp(fpga_ns, gps, st_to)
        for j in range(need):
            if tag == _TAG_EVENT:
                t = j
                p = frame_off[f + 4] + j * trace_bytes
            else:
                t = np.int64(read_u16(buf, frame_off[f + 6] + 2 * j))
                p = frame_off[f + 7 + j]
            r = row + j
            hdr0 = read_u16(buf, p)
            hdr1 = read_u16(buf, p + 2)
            copy_samples(wf, r, buf, p + 4, 2 * es)
            tm = tracemap[t]
            board = tm >> 16
            inp = tm & 0xFFFF
            out.packet_id[r] = rec_pid[i]
            out.channel[r] = t
            out.fcid[r] = fcid
            out.board_id[r] = board
            out.fc_input[r] = inp
            out.event_type[r] = ev_type
            out.numtraces[r] = need
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
            out.timestamp[r] = ts
            if enable_ns[t] == -1:
                enable_ns[t] = enable_value(st_dr, st_to[5], st_to[6])
            runtime = (fpga_ns - enable_ns[t]) / 1e9
            deadtime = total_dead[t] / 1e9
            out.runtime[r] = runtime
            out.deadtime[r] = deadtime
            out.lifetime[r] = (fpga_ns - enable_ns[t] - total_dead[t]) / 1e9
            out.deadinterval_nsec[r] = cur_dead[t]
            out.baseline[r] = np.uint16(np.int64(hdr0 / blprec) & 0xFFFF)
            out.daqenergy[r] = _energy(hdr0, hdr1, adcbits, sumlength, blprec)
            keys[r] = fcid * 1000000 + np.int64(board) * 100 + np.int64(inp)
        row += need
    else:
        return last - first, row, DECODE_OK, -1
    return i - first, row, DECODE_OK, -1
