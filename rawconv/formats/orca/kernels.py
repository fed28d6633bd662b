"""Numba kernels of the ORCA record walk: numpy in, numpy and a status code out.

:func:`index_block` tables the complete records of a byte buffer (formats.md 2.2) and, for
FCIO-wrapped records (2.5), the tmio records and frames inside their payloads, as offsets
into the same buffer, so that the FCIO decoders run on them unchanged. :func:`resync`
finds the next position where a chain of valid record headers starts, after corruption.
Every read is bounds-checked; nothing here raises.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from ..fcio.layout import MAX_TAG, PROTOCOL_HEADER, PROTOCOL_LENGTH
from .layout import (
    FCIO_PAYLOAD_WORD,
    KIND_FCIO_CONFIG,
    KIND_FCIO_EVENT,
    KIND_FCIO_HEADER,
    KIND_FCIO_STATUS,
    KIND_UNDESCRIBED,
    REC_BAD_PAYLOAD,
    REC_OK,
)

# index_block status codes
IDX_OK = 0
"""every byte up to the end of the input is in complete records."""
IDX_NEED_MORE = 1
"""the buffer ends inside a record; more input follows."""
IDX_FULL = 2
"""a table is full: call again from next_pos."""
IDX_TRUNCATED = 3
"""the input ends inside the record at status_pos."""
IDX_BAD_LENGTH = 4
"""the record header at status_pos has an impossible length."""
IDX_UNDESCRIBED = 5
"""the record header at status_pos has a data id the file header does not describe."""

# resync status codes
SYNC_FOUND = 0
SYNC_NEED_MORE = 1
SYNC_NONE = 2
"""no valid record before the end of the input."""

_FSP_FIRST, _FSP_LAST = 8, 10
_TAG_CONFIG, _TAG_EVENT, _TAG_STATUS, _TAG_RECEVENT, _TAG_SPARSE, _TAG_HEADER = 1, 3, 4, 5, 6, 7


@nb.njit(cache=True, nogil=True, inline="always")
def read_u32(buf, pos):
    """Little-endian uint32 at any position (the caller checks bounds)."""
    return (
        np.uint32(buf[pos])
        | (np.uint32(buf[pos + 1]) << 8)
        | (np.uint32(buf[pos + 2]) << 16)
        | (np.uint32(buf[pos + 3]) << 24)
    )


@nb.njit(cache=True, nogil=True, inline="always")
def read_i32(buf, pos):
    return np.int32(read_u32(buf, pos))


@nb.njit(cache=True, nogil=True, inline="always")
def _header(buf, pos, n, kind_long, kind_short):
    """(words, kind, id) of the record header at pos; words -1: not enough bytes, 0: bad."""
    w0 = read_u32(buf, pos)
    if w0 >> 31:
        ident = np.int64(w0 >> 26) & 0x3F
        return np.int64(1), np.int64(kind_short[ident]), ident | 0x10000
    ident = np.int64(w0 >> 18)
    words = np.int64(w0 & 0x3FFFF)
    if words == 0:
        if pos + 8 > n:
            return np.int64(-1), np.int64(kind_long[ident]), ident
        words = np.int64(read_u32(buf, pos + 4))
        if words < 2:
            words = np.int64(0)
    return words, np.int64(kind_long[ident]), ident


@nb.njit(cache=True, nogil=True, inline="always")
def _is_main(kind, tag):
    """Whether FCIO `tag` is the record an ORCA record of `kind` carries."""
    if kind == KIND_FCIO_CONFIG:
        return tag == _TAG_CONFIG
    if kind == KIND_FCIO_EVENT:
        return tag in (_TAG_EVENT, _TAG_SPARSE, _TAG_RECEVENT)
    if kind == KIND_FCIO_HEADER:
        return tag == _TAG_HEADER
    return tag == _TAG_STATUS


@nb.njit(cache=True, nogil=True)
def _walk_fcio(
    buf, start, words, kind, orec, nf, nfr, f_tag, f_start, f_stop, f_frame0, f_nframes,
    f_fcid, f_orec, frame_off, frame_len,
):  # fmt: skip
    """Table the tmio records inside one FCIO-wrapped ORCA record.

    Returns (n_fcio, n_frames, code): code 0 ok, 1 bad payload, 2 tables full (the tables
    are then left as they were before this record).
    """
    nf0 = nf
    nfr0 = nfr
    if words < FCIO_PAYLOAD_WORD or np.int64(read_u32(buf, start + 4)) != words:
        return nf0, nfr0, 1
    fcid = np.int64(read_u32(buf, start + 8) & 0xFFFF)
    p = start + 4 * FCIO_PAYLOAD_WORD
    end = start + 4 * words
    is_open = False
    n_main = 0
    while end - p >= 4:
        h = read_i32(buf, p)
        if h == PROTOCOL_HEADER:
            if is_open or p + 4 + PROTOCOL_LENGTH > end:
                return nf0, nfr0, 1
            p += 4 + PROTOCOL_LENGTH
            continue
        if h < 0:
            tag = -np.int64(h)
            if tag > MAX_TAG:
                return nf0, nfr0, 1
            if _is_main(kind, tag):
                n_main += 1
            elif tag < _FSP_FIRST or tag > _FSP_LAST:
                return nf0, nfr0, 1
            if is_open:
                f_stop[nf] = p
                nf += 1
            if nf >= f_tag.shape[0]:
                return nf0, nfr0, 2
            f_tag[nf] = tag
            f_start[nf] = p
            f_frame0[nf] = nfr
            f_nframes[nf] = 0
            f_fcid[nf] = fcid
            f_orec[nf] = orec
            is_open = True
            p += 4
            continue
        if not is_open or p + 4 + np.int64(h) > end:
            return nf0, nfr0, 1
        if nfr >= frame_off.shape[0]:
            return nf0, nfr0, 2
        frame_off[nfr] = p + 4
        frame_len[nfr] = h
        nfr += 1
        f_nframes[nf] += 1
        p += 4 + np.int64(h)
    if not is_open or n_main != 1:
        return nf0, nfr0, 1
    f_stop[nf] = p
    nf += 1
    return nf, nfr, 0


@nb.njit(cache=True, nogil=True)
def index_block(
    buf, n, start, eof, kind_long, kind_short, max_words,
    rec_start, rec_words, rec_kind, rec_id, rec_bad, rec_fcio,
    f_tag, f_start, f_stop, f_frame0, f_nframes, f_fcid, f_orec, frame_off, frame_len,
):  # fmt: skip
    """Walk the record headers of ``buf[start:n]`` and table the complete records.

    ``rec_fcio[i]`` is the first FCIO record of ORCA record i (``rec_fcio[n_records]`` the
    end); FCIO-wrapped records whose payload does not parse get ``rec_bad = 1`` and no
    FCIO records. Returns ``(n_records, n_fcio, n_frames, next_pos, status, status_pos)``.
    """
    max_rec = rec_start.shape[0] - 1
    pos = start
    nrec = 0
    nf = 0
    nfr = 0
    status = IDX_OK
    spos = -1
    while True:
        if pos + 4 > n:
            if pos == n and eof:
                status = IDX_OK
            elif eof:
                status = IDX_TRUNCATED
                spos = pos
            else:
                status = IDX_NEED_MORE
            break
        words, kind, ident = _header(buf, pos, n, kind_long, kind_short)
        if words < 0:
            status = IDX_TRUNCATED if eof else IDX_NEED_MORE
            spos = pos
            break
        if words == 0 or words > max_words:
            status = IDX_BAD_LENGTH
            spos = pos
            break
        if kind == KIND_UNDESCRIBED:
            status = IDX_UNDESCRIBED
            spos = pos
            break
        if pos + 4 * words > n:
            status = IDX_TRUNCATED if eof else IDX_NEED_MORE
            spos = pos
            break
        if nrec >= max_rec:
            status = IDX_FULL
            break
        bad = REC_OK
        if kind in (KIND_FCIO_CONFIG, KIND_FCIO_EVENT, KIND_FCIO_HEADER, KIND_FCIO_STATUS):
            nf2, nfr2, code = _walk_fcio(
                buf, pos, words, kind, nrec, nf, nfr, f_tag, f_start, f_stop, f_frame0,
                f_nframes, f_fcid, f_orec, frame_off, frame_len,
            )  # fmt: skip
            if code == 2:
                status = IDX_FULL
                break
            if code == 1:
                bad = REC_BAD_PAYLOAD
            rec_fcio[nrec] = nf
            nf = nf2
            nfr = nfr2
        else:
            rec_fcio[nrec] = nf
        rec_start[nrec] = pos
        rec_words[nrec] = words
        rec_kind[nrec] = kind
        rec_id[nrec] = ident
        rec_bad[nrec] = bad
        nrec += 1
        pos += 4 * words
    rec_fcio[nrec] = nf
    return nrec, nf, nfr, pos, status, spos


@nb.njit(cache=True, nogil=True)
def _chain_ok(buf, p, n, eof, kind_long, kind_short, max_words, n_chain):
    """1: `n_chain` valid headers chain from p (or fewer ending exactly at EOF);
    0: not; -1: the buffer ends before the chain is decided."""
    q = p
    for c in range(n_chain):
        if q + 4 > n:
            if eof:
                return 1 if (q == n and c > 0) else 0
            return -1
        words, kind, _ = _header(buf, q, n, kind_long, kind_short)
        if words < 0:
            return 0 if eof else -1
        if words == 0 or words > max_words or kind == KIND_UNDESCRIBED:
            return 0
        if kind in (KIND_FCIO_CONFIG, KIND_FCIO_EVENT, KIND_FCIO_HEADER, KIND_FCIO_STATUS):
            if q + 12 > n:
                return 0 if eof else -1
            if np.int64(read_u32(buf, q + 4)) != words:
                return 0
        q += 4 * words
    return 1


@nb.njit(cache=True, nogil=True)
def resync(buf, pos, n, eof, kind_long, kind_short, max_words, n_chain):
    """First byte offset >= pos where `n_chain` valid record headers chain.

    Returns (offset, status): SYNC_FOUND; SYNC_NEED_MORE with the offset to rescan from once
    more bytes are in the buffer; SYNC_NONE when nothing valid follows before EOF.
    """
    for p in range(pos, n):
        ok = _chain_ok(buf, p, n, eof, kind_long, kind_short, max_words, n_chain)
        if ok == 1:
            return p, SYNC_FOUND
        if ok == -1:
            return p, SYNC_NEED_MORE
    if eof:
        return n, SYNC_NONE
    return n, SYNC_NEED_MORE


@nb.njit(cache=True, nogil=True)
def walk_headers(buf, n, start, kind_long, kind_short, max_words, out_start, out_words, out_id):
    """Record headers only (for ``OrcaStreamer.index``): returns (n_records, next_pos,
    status) with the status codes of :func:`index_block`."""
    pos = start
    k = 0
    while k < out_start.shape[0]:
        if pos + 4 > n:
            return k, pos, IDX_NEED_MORE
        words, kind, ident = _header(buf, pos, n, kind_long, kind_short)
        if words < 0:
            return k, pos, IDX_NEED_MORE
        if words == 0 or words > max_words:
            return k, pos, IDX_BAD_LENGTH
        if kind == KIND_UNDESCRIBED:
            return k, pos, IDX_UNDESCRIBED
        if pos + 4 * words > n:
            return k, pos, IDX_NEED_MORE
        out_start[k] = pos
        out_words[k] = words
        out_id[k] = ident
        k += 1
        pos += 4 * words
    return k, pos, IDX_FULL
