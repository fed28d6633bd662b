"""Numba kernel checking FCIO records found in ORCA records against their listener's shape.

The FCIO decoders raise on a record whose frames do not fit its tag and configuration. In
an ORCA file such a record is one damaged ORCA record among good ones: this check finds it
first (the same conditions the FCIO kernels test before they touch any state, formats.md
1.3-1.6), so that the streamer moves its ORCA record to the garbage table and decodes on.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from ..fcio.fsp_fields import EVENT_NFRAMES
from ..fcio.kernels import read_i32, read_u16
from ..fcio.layout import CONFIG_FIELDS, MAX_CHANNELS
from .layout import REC_BAD_PAYLOAD, REC_NO_LISTENER

_TAG_CONFIG, _TAG_EVENT, _TAG_STATUS, _TAG_RECEVENT, _TAG_SPARSE, _TAG_HEADER = 1, 3, 4, 5, 6, 7
_TAG_FSPCONFIG, _TAG_FSPEVENT, _TAG_FSPSTATUS = 8, 9, 10
_FSP_MIN, _FSP_MAX = min(EVENT_NFRAMES), max(EVENT_NFRAMES)
_MIN_CARD_BYTES = 156
_N_CONFIG = len(CONFIG_FIELDS)


@nb.njit(cache=True, nogil=True, inline="always")
def _array_ok(length):
    return length % 4 == 0 and length <= 64


@nb.njit(cache=True, nogil=True)
def _prefix_ok(f, nframes, frame_len, with_dr):
    if nframes < 4:
        return False
    for k in range(2):
        if frame_len[f + k] < 4 or frame_len[f + k] > 64:
            return False
    if not _array_ok(frame_len[f + 2]) or not _array_ok(frame_len[f + 3]):
        return False
    if with_dr:
        return nframes >= 5 and _array_ok(frame_len[f + 4])
    return True


@nb.njit(cache=True, nogil=True)
def _record_ok(buf, tag, f, nframes, frame_off, frame_len, ntr, samples):
    """Whether one FCIO record has the frames its tag needs for `ntr` x `samples` traces."""
    trace_bytes = 2 * (samples + 2)
    if tag == _TAG_EVENT:
        if not _prefix_ok(f, nframes, frame_len, False):
            return False
        if nframes < 5 or frame_len[f + 4] != ntr * trace_bytes:
            return False
        return nframes < 6 or _array_ok(frame_len[f + 5])
    if tag == _TAG_SPARSE:
        if not _prefix_ok(f, nframes, frame_len, True):
            return False
        if nframes < 7 or frame_len[f + 5] != 4 or frame_len[f + 6] % 2 != 0:
            return False
        num = np.int64(read_i32(buf, frame_off[f + 5]))
        need = min(num, frame_len[f + 6] // 2)
        if num < 0 or nframes < 7 + need:
            return False
        for j in range(need):
            t = np.int64(read_u16(buf, frame_off[f + 6] + 2 * j))
            if t >= ntr or frame_len[f + 7 + j] != trace_bytes:
                return False
        return True
    if tag == _TAG_HEADER:
        if not _prefix_ok(f, nframes, frame_len, True):
            return False
        if nframes < 7 or frame_len[f + 5] % 2 != 0 or frame_len[f + 6] % 4 != 0:
            return False
        n = min(frame_len[f + 5] // 2, frame_len[f + 6] // 4)
        if n > ntr:
            return False
        for j in range(n):  # noqa: SIM110 (numba)
            if np.int64(read_u16(buf, frame_off[f + 5] + 2 * j)) >= ntr:
                return False
        return True
    if tag == _TAG_STATUS:
        if nframes < 4 or frame_len[f + 2] != 4 or frame_len[f + 3] != 4:
            return False
        if frame_len[f] < 4 or not _array_ok(frame_len[f + 1]):
            return False
        cards = np.int64(read_i32(buf, frame_off[f + 2]))
        if cards < 0 or cards > 4 * MAX_CHANNELS or nframes < 4 + cards:
            return False
        for c in range(cards):  # noqa: SIM110 (numba)
            if frame_len[f + 4 + c] < _MIN_CARD_BYTES:
                return False
        return True
    if tag == _TAG_FSPEVENT:
        if nframes < _FSP_MIN or nframes > _FSP_MAX:
            return False
        if frame_len[f + 5] // 4 > MAX_CHANNELS:
            return False
        return nframes <= 10 or frame_len[f + 10] // 2 <= MAX_CHANNELS
    if tag == _TAG_FSPSTATUS:
        return nframes == 1
    if tag == _TAG_CONFIG:
        if nframes < _N_CONFIG:
            return False
        for k in range(_N_CONFIG):  # noqa: SIM110 (numba)
            if frame_len[f + k] < 4:
                return False
        return True
    return True  # FSPConfig (checked when parsed), RecEvent (not decoded)


@nb.njit(cache=True, nogil=True)
def check_fcio_records(
    buf, f_tag, f_frame0, f_nframes, f_fcid, f_orec, frame_off, frame_len, nf,
    ntr_lut, samples_lut, rec_bad,
):  # fmt: skip
    """Mark the ORCA record of every FCIO record that does not fit its listener's shape
    (``rec_bad = REC_BAD_PAYLOAD``), or whose listener has no configuration
    (``REC_NO_LISTENER``; ``ntr_lut[fcid] == 0``). Returns the number of records marked."""
    marked = 0
    for k in range(nf):
        o = f_orec[k]
        if rec_bad[o] != 0:
            continue
        fcid = f_fcid[k]
        tag = f_tag[k]
        ntr = ntr_lut[fcid] if fcid < ntr_lut.shape[0] else 0
        if ntr == 0:
            rec_bad[o] = REC_NO_LISTENER
            marked += 1
            continue
        samples = samples_lut[fcid]
        if tag in (_TAG_CONFIG, _TAG_FSPCONFIG):
            ok = _record_ok(buf, tag, f_frame0[k], f_nframes[k], frame_off, frame_len, 1, 1)
        else:
            ok = _record_ok(buf, tag, f_frame0[k], f_nframes[k], frame_off, frame_len, ntr, samples)
        if not ok:
            rec_bad[o] = REC_BAD_PAYLOAD
            marked += 1
    return marked


@nb.njit(cache=True, nogil=True)
def fcio_row_bounds(buf, f_tag, f_fcid, f_frame0, f_nframes, frame_off, frame_len, first, last,
                    ntr_lut):  # fmt: skip
    """Rows each FCIO record ``[first, last)`` produces (upper bound for full events:
    every trace of the listener; sparse events: the listed traces)."""
    out = np.zeros(last - first, dtype=np.int64)
    for k in range(first, last):
        tag = f_tag[k]
        if tag == _TAG_EVENT:
            fcid = f_fcid[k]
            out[k - first] = ntr_lut[fcid] if fcid < ntr_lut.shape[0] else 0
        elif tag == _TAG_SPARSE:
            f = f_frame0[k]
            if f_nframes[k] >= 7 and frame_len[f + 5] == 4:
                num = np.int64(read_i32(buf, frame_off[f + 5]))
                out[k - first] = max(0, min(num, frame_len[f + 6] // 2))
        elif tag != _TAG_RECEVENT:
            out[k - first] = 1
    return out
