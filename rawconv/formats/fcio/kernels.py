"""FCIO numba kernels: numpy in, numpy and a status code out (formats.md, section 1).

Every read is bounds-checked against the frame it belongs to. A kernel that meets bad
bytes returns a status and the index of the offending record; its Python wrapper raises.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from .layout import MAX_ARRAY, MAX_TAG, PROTOCOL_HEADER, PROTOCOL_LENGTH

# index_records status codes
INDEX_OK = 0
"""stopped at the end of the data (all records complete at EOF)."""
INDEX_NEED_MORE = 1
"""the data ends inside a record (or header) and more data follows."""
INDEX_FULL = 2
"""the record or frame tables are full; call again from next_pos."""
INDEX_TRUNCATED = 3
"""the input ends inside a record (at EOF)."""
INDEX_BAD_HEADER = 4
"""an impossible frame header: negative beyond the tag range."""
INDEX_ORPHAN_FRAME = 5
"""a data frame before any record tag."""
INDEX_BAD_FRAME_SIZE = 6
"""a frame larger than the largest frame the configuration allows."""

TAG_PROTOCOL = 0
"""pseudo tag of a protocol header in the record table."""

# decode status codes
DECODE_OK = 0
DECODE_BAD_RECORD = 1
"""a record's frames do not have the layout of its tag."""
DECODE_DEAD_QUEUE_FULL = 2

DEAD_QUEUE = 2048
"""dead intervals queued per trace (the FlashCam hardware buffer depth)."""


@nb.njit(cache=True, nogil=True, inline="always")
def read_i32(buf: np.ndarray, pos: int) -> np.int32:
    """Little-endian int32 at an unaligned position (caller checks bounds)."""
    v = (
        np.uint32(buf[pos])
        | (np.uint32(buf[pos + 1]) << 8)
        | (np.uint32(buf[pos + 2]) << 16)
        | (np.uint32(buf[pos + 3]) << 24)
    )
    return np.int32(v)


@nb.njit(cache=True, nogil=True, inline="always")
def read_u16(buf: np.ndarray, pos: int) -> np.uint16:
    return np.uint16(np.uint16(buf[pos]) | (np.uint16(buf[pos + 1]) << 8))


@nb.njit(cache=True, nogil=True, inline="always")
def read_f32(buf: np.ndarray, pos: int) -> np.float32:
    tmp = np.empty(1, dtype=np.uint32)
    tmp[0] = np.uint32(read_i32(buf, pos))
    return tmp.view(np.float32)[0]


@nb.njit(cache=True, nogil=True)
def index_records(
    buf,
    n,
    start,
    eof,
    max_frame_bytes,
    rec_tag,
    rec_start,
    rec_stop,
    rec_frame0,
    rec_nframes,
    frame_off,
    frame_len,
):
    """Walk tmio frame headers in ``buf[start:n]`` and table the complete records.

    Returns ``(n_records, n_frames, next_pos, status, status_pos)``: records are stored in
    the ``rec_*`` arrays (protocol headers as tag 0), their frames in ``frame_off`` /
    ``frame_len``; ``next_pos`` is the first byte not consumed (the start of the first
    incomplete record); ``status_pos`` locates a problem.
    """
    max_records = rec_tag.shape[0]
    max_frames = frame_off.shape[0]
    pos = start
    nrec = 0
    nfr = 0
    cur_open = False
    cur_start = start
    status = INDEX_OK
    status_pos = -1
    while True:
        if pos + 4 > n:
            if eof and pos == n:
                if cur_open:
                    rec_stop[nrec] = pos
                    nrec += 1
                    cur_open = False
                status = INDEX_OK
            elif eof:
                # a cut header: the open record ends here (the streamer checks its frames)
                if cur_open:
                    rec_stop[nrec] = pos
                    nrec += 1
                    cur_open = False
                status = INDEX_TRUNCATED
                status_pos = pos
            else:
                status = INDEX_NEED_MORE
            break
        h = read_i32(buf, pos)
        if h < 0:
            if h < -MAX_TAG and h != PROTOCOL_HEADER:
                status = INDEX_BAD_HEADER
                status_pos = pos
                break
            if cur_open:
                rec_stop[nrec] = pos
                nrec += 1
                cur_open = False
            if nrec >= max_records:
                status = INDEX_FULL
                break
            if h == PROTOCOL_HEADER:
                if pos + 4 + PROTOCOL_LENGTH > n:
                    if eof:
                        status = INDEX_TRUNCATED
                        status_pos = pos
                    else:
                        status = INDEX_NEED_MORE
                    break
                rec_tag[nrec] = TAG_PROTOCOL
                rec_start[nrec] = pos
                rec_stop[nrec] = pos + 4 + PROTOCOL_LENGTH
                rec_frame0[nrec] = nfr
                rec_nframes[nrec] = 0
                nrec += 1
                pos += 4 + PROTOCOL_LENGTH
                continue
            rec_tag[nrec] = -h
            rec_start[nrec] = pos
            rec_frame0[nrec] = nfr
            rec_nframes[nrec] = 0
            cur_open = True
            cur_start = pos
            pos += 4
        else:
            if not cur_open:
                status = INDEX_ORPHAN_FRAME
                status_pos = pos
                break
            if h > max_frame_bytes:
                status = INDEX_BAD_FRAME_SIZE
                status_pos = pos
                break
            if pos + 4 + h > n:
                if eof:
                    status = INDEX_TRUNCATED
                    status_pos = pos
                else:
                    status = INDEX_NEED_MORE
                break
            if nfr >= max_frames:
                status = INDEX_FULL
                break
            frame_off[nfr] = pos + 4
            frame_len[nfr] = h
            nfr += 1
            rec_nframes[nrec] += 1
            pos += 4 + h
    next_pos = cur_start if cur_open else pos
    if cur_open and nrec > 0:
        nfr = rec_frame0[nrec]  # drop the frames of the incomplete record
    elif cur_open:
        nfr = 0
    return nrec, nfr, next_pos, status, status_pos


@nb.njit(cache=True, nogil=True)
def assign_packet_ids(rec_tag, n, counter, fsp_lo, fsp_hi, out):
    """Packet ids: each record but FSP ones and protocol headers counts up from `counter`;
    an FSP record (tags fsp_lo..fsp_hi) shares the id of the record after it. Returns the
    new counter."""
    for i in range(n):
        tag = rec_tag[i]
        if tag == TAG_PROTOCOL:
            out[i] = -1
        elif fsp_lo <= tag <= fsp_hi:
            out[i] = counter + 1
        else:
            counter += 1
            out[i] = counter
    return counter


@nb.njit(cache=True, nogil=True)
def read_int_array(buf, off, length, state, size_state, which):
    """Copy an int32 frame (<= 10 values; longer frames are cut) into ``state``; keep the
    remaining entries. Returns False if the frame length is not a multiple of 4."""
    if length % 4 != 0 or length > 64:
        return False
    k = min(length // 4, MAX_ARRAY)
    for i in range(k):
        state[i] = read_i32(buf, off + 4 * i)
    size_state[which] = k
    return True


@nb.njit(cache=True, nogil=True)
def enable_value(dr, to5, to6):
    """Trigger-enable time (ns) an event implies: the end of a dead region that starts at
    0 (per-card sparse mode), else the run start time (timeoffset[5:7])."""
    dstart = np.int64(dr[0]) * 1000000000 + np.int64(dr[1]) * 4
    dstop = np.int64(dr[2]) * 1000000000 + np.int64(dr[3]) * 4
    if dstart == 0 and dstop > 0:
        return dstop
    return np.int64(to5) * 1000000000 + np.int64(to6) * 1000


@nb.njit(cache=True, nogil=True)
def update_dead_time(
    fpga_ns,
    ev_type,
    dr,
    dr_idx,
    dr_len,
    to5,
    to6,
    adcs,
    enable_ns,
    cur_dead,
    total_dead,
    q_begin,
    q_end,
    q_read,
    q_write,
    q_fill,
):
    """Sequential run/dead-time bookkeeping of one event (formats.md 1.7).

    Per trace: ``enable_ns`` is set at the first event touching it (the ADC traces, or the
    dead region's traces in per-card mode; a trace first seen outside that range gets it
    when its row is written, see :func:`enable_value`); dead intervals are
    queued and consumed once the event time passes their end; ``cur_dead`` holds the
    interval consumed by this event and ``total_dead`` the sum. Returns False when a dead
    interval queue overflows.
    """
    ntr = enable_ns.shape[0]
    lo = 0
    hi = min(adcs, ntr)
    if ev_type == 11:
        lo = max(0, min(dr_idx, ntr))
        hi = max(lo, min(dr_idx + dr_len, ntr))
    dstart = np.int64(dr[0]) * 1000000000 + np.int64(dr[1]) * 4
    dstop = np.int64(dr[2]) * 1000000000 + np.int64(dr[3]) * 4
    unset = False
    for t in range(lo, hi):
        if enable_ns[t] == -1:
            unset = True
    if unset:
        value = enable_value(dr, to5, to6)
        for t in range(lo, hi):
            enable_ns[t] = value
    q_lo = max(0, min(dr_idx, ntr))
    q_hi = max(q_lo, min(dr_idx + dr_len, ntr))
    if dstart > 0:
        depth = q_begin.shape[1]
        for t in range(q_lo, q_hi):  # queue the interval (inline: a call per trace is slow)
            slot = q_write[t]
            if dstop > q_end[t, slot]:
                if q_fill[t] >= depth:
                    return False
                slot = (slot + 1) % depth
                q_fill[t] += 1
                q_begin[t, slot] = dstart
                q_end[t, slot] = dstop
                q_write[t] = slot
    for t in range(lo, hi):
        cur_dead[t] = 0
    while q_hi > q_lo:
        # is_before: the first trace decides (an empty queue stops)
        before = False
        for t in range(q_lo, q_hi):
            if q_fill[t] == 0:
                break
            if fpga_ns - q_end[t, q_read[t]] > -4:
                before = True
                break
        if not before:
            break
        for t in range(q_lo, q_hi):
            if q_fill[t] > 0:
                r = q_read[t]
                cur_dead[t] = q_end[t, r] - q_begin[t, r]
                q_read[t] = (r + 1) % q_begin.shape[1]
                q_fill[t] -= 1
                total_dead[t] += cur_dead[t]
    return True
