"""Numba kernels of the FCIO index: per-event state to resume decoding mid-file.

For every event record (tags 3, 6, 7) the index keeps the state the event leaves behind
(:data:`STATE_FIELDS`): the entries of the timeoffset / timestamp / deadregion arrays that
decoding reads, the deadregion size and the event type. Replaying the dead-time bookkeeping
over these rows (:func:`replay_dead_time`) gives the exact state at any record boundary.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from .event_kernels import SIZE_DR, _read_prefix
from .kernels import read_int_array, update_dead_time

# columns of the per-event state rows
S_TYPE = 0
S_TO = 1  # timeoffset[0:7]
S_TS = 8  # timestamp[0:4]
S_DR = 12  # deadregion[0:7]
S_DR_SIZE = 19
STATE_FIELDS = 20

_TAG_EVENT, _TAG_SPARSE, _TAG_HEADER = 3, 6, 7


@nb.njit(cache=True, nogil=True)
def event_states(
    buf,
    rec_tag,
    rec_frame0,
    rec_nframes,
    frame_off,
    frame_len,
    n,
    ntr,
    st_to,
    st_ts,
    st_dr,
    st_sizes,
    out,
):
    """Fill `out[k]` with the state after the k-th event record among records ``[0, n)``.

    `st_*` carry the arrays from record to record (short frames keep older entries), as
    decoding does. Returns the number of event rows written, or -(i + 1) for a record `i`
    whose prefix frames are malformed.
    """
    k = 0
    for i in range(n):
        tag = rec_tag[i]
        if tag != _TAG_EVENT and tag != _TAG_SPARSE and tag != _TAG_HEADER:
            continue
        f = rec_frame0[i]
        nframes = rec_nframes[i]
        ev_type = _read_prefix(
            buf, f, frame_off, frame_len, tag, st_to, st_ts, st_dr, st_sizes, nframes
        )
        if ev_type == -1:
            return -(i + 1)
        if tag == _TAG_EVENT:
            if nframes < 6:
                st_sizes[SIZE_DR] = 0
            elif not read_int_array(
                buf, frame_off[f + 5], frame_len[f + 5], st_dr, st_sizes, SIZE_DR
            ):
                return -(i + 1)
            st_dr[5] = 0
            st_dr[6] = ntr
        out[k, S_TYPE] = ev_type
        for j in range(7):
            out[k, S_TO + j] = st_to[j]
            out[k, S_DR + j] = st_dr[j]
        for j in range(4):
            out[k, S_TS + j] = st_ts[j]
        out[k, S_DR_SIZE] = st_sizes[SIZE_DR]
        k += 1
    return k


@nb.njit(cache=True, nogil=True)
def replay_dead_time(
    states, n, adcs, enable_ns, cur_dead, total_dead, q_begin, q_end, q_read, q_write, q_fill
):
    """Run the dead-time bookkeeping over the first `n` event state rows; False on overflow."""
    dr = np.zeros(10, dtype=np.int32)
    for k in range(n):
        for j in range(7):
            dr[j] = states[k, S_DR + j]
        if states[k, S_DR_SIZE] >= 7:
            dr_idx = np.int64(dr[5])
            dr_len = np.int64(dr[6])
        else:
            dr_idx = 0
            dr_len = adcs
        fpga_ns = np.int64(states[k, S_TS + 1]) * 1000000000 + np.int64(states[k, S_TS + 2]) * 4
        ok = update_dead_time(
            fpga_ns,
            states[k, S_TYPE],
            dr,
            dr_idx,
            dr_len,
            states[k, S_TO + 5],
            states[k, S_TO + 6],
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
            return False
    return True
