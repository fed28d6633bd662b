"""Numba kernel that finds the events of a block of LlamaDAQ bytes (formats.md, section 4).

An event's length comes from the config of the channel its word 0 names. An event is
accepted only when its whole layout checks out against that config (format bits, sample
marker, raw / averaged / MAW word counts adding up to the event length); bytes that do not
are a damaged region, which ends at the next byte where an event checks out (or after
``MAX_GARBAGE_BYTES``, when the search goes on behind a new region). The walk depends only
on the bytes from where it starts, so a walk started at any event finds the same records
as a walk of the whole input.

Channel tables (indexed by fch id, 4096 entries): ``length_of`` event bytes (0: no such
channel), ``fmt_of`` format bits, ``hdr_of`` words before the marker, ``raw_of`` raw sample
words, ``avg_of`` averaged sample words (-1: the channel records no averaged samples),
``maw_of`` MAW test buffer words.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from .layout import (
    AVG_WORDS_MASK,
    BAD_FORMAT_BITS,
    BAD_LENGTHS,
    BAD_MARKER,
    BAD_UNKNOWN_CHANNEL,
    MARKER_AVG,
    MARKER_PLAIN,
    MAW_TEST_BIT,
    RAW_WORDS_MASK,
    REC_DAMAGED,
    REC_EVENT,
    REC_TRUNCATED,
)

CHECK_OK = 0
CHECK_NEED = -1
"""what the bytes so far show is an event, but it goes on past the end of the buffer."""

WALK_FULL = 0
"""the record tables are full: call again from the returned position."""
WALK_NEED_MORE = 1
"""more bytes are needed to go on (not at the end of the input)."""
WALK_END = 2
"""the end of the input is reached: every byte is in a record."""


@nb.njit(cache=True, nogil=True, inline="always")
def read_u32(buf, pos):
    """Little-endian uint32 at `pos`; 0 when it is not inside `buf` (callers check first)."""
    if pos < 0 or pos + 4 > len(buf):
        return np.uint32(0)
    return (
        np.uint32(buf[pos])
        | (np.uint32(buf[pos + 1]) << 8)
        | (np.uint32(buf[pos + 2]) << 16)
        | (np.uint32(buf[pos + 3]) << 24)
    )


@nb.njit(cache=True, nogil=True)
def check_event(buf, n, p, length_of, fmt_of, hdr_of, raw_of, avg_of, maw_of):
    """Whether an event starts at byte `p` of ``buf[:n]``: (CHECK_OK, bytes),
    (CHECK_NEED, bytes or 0) or (a BAD_* reason, 0)."""
    if p + 4 > n:
        return CHECK_NEED, 0
    w0 = read_u32(buf, p)
    fch = np.int64((w0 >> 4) & 0xFFF)
    length = length_of[fch]
    if length == 0:
        return BAD_UNKNOWN_CHANNEL, 0
    if np.int64(w0 & 0xF) != fmt_of[fch]:
        return BAD_FORMAT_BITS, 0
    at = p + 4 * hdr_of[fch]
    if at + 4 > n:
        return CHECK_NEED, length
    marker = read_u32(buf, at)
    top = np.int64(marker >> 28)
    if top != MARKER_PLAIN and top != MARKER_AVG:
        return BAD_MARKER, 0
    if np.int64(marker & RAW_WORDS_MASK) != raw_of[fch]:
        return BAD_LENGTHS, 0
    words = hdr_of[fch] + 1 + raw_of[fch]
    if top == MARKER_AVG:
        if avg_of[fch] < 0:
            return BAD_MARKER, 0
        if at + 8 > n:
            return CHECK_NEED, length
        avg = read_u32(buf, at + 4)
        if np.int64(avg >> 28) != MARKER_PLAIN:
            return BAD_MARKER, 0
        if np.int64(avg & AVG_WORDS_MASK) != avg_of[fch]:
            return BAD_LENGTHS, 0
        words += 1 + avg_of[fch]
    elif avg_of[fch] >= 0:
        return BAD_MARKER, 0
    if (marker >> MAW_TEST_BIT) & 1:
        words += maw_of[fch]
    if 4 * words != length:
        return BAD_LENGTHS, 0
    if p + length > n:
        return CHECK_NEED, length
    return CHECK_OK, length


@nb.njit(cache=True, nogil=True)
def walk_events(buf, n, pos, eof, max_garbage, length_of, fmt_of, hdr_of, raw_of, avg_of,
                maw_of, out_start, out_stop, out_kind, out_fch, out_why):  # fmt: skip
    """Records of ``buf[pos:n]`` into the out_* tables (byte offsets in `buf`, kind REC_*,
    fch id or -1, BAD_* reason of damaged regions). `eof`: `n` is the end of the input.
    Returns (records, position after the last record, WALK_* status)."""
    k = 0
    p = pos
    cap = len(out_start)
    while True:
        if p >= n and eof:
            return k, p, WALK_END
        if k >= cap:
            return k, p, WALK_FULL
        code, length = check_event(buf, n, p, length_of, fmt_of, hdr_of, raw_of, avg_of, maw_of)
        if code == CHECK_OK:
            out_start[k], out_stop[k], out_kind[k] = p, p + length, REC_EVENT
            out_fch[k] = np.int64((read_u32(buf, p) >> 4) & 0xFFF)
            out_why[k] = 0
            k += 1
            p += length
            continue
        if code == CHECK_NEED:
            if not eof:
                return k, p, WALK_NEED_MORE
            out_start[k], out_stop[k], out_kind[k], out_fch[k], out_why[k] = (
                p,
                n,
                REC_TRUNCATED,
                -1,
                0,
            )
            k += 1
            p = n
            continue
        # a damaged region: up to the next byte where an event checks out
        limit = p + max_garbage
        q = p + 1
        while q < limit:
            c2, _ = check_event(buf, n, q, length_of, fmt_of, hdr_of, raw_of, avg_of, maw_of)
            if c2 == CHECK_OK:
                break
            if c2 == CHECK_NEED:
                if not eof:
                    return k, p, WALK_NEED_MORE
                if q + 4 > n:
                    q = n  # no event can start in the last bytes
                break
            q += 1
        stop = min(q, limit, n) if eof else min(q, limit)
        out_start[k], out_stop[k], out_kind[k], out_fch[k], out_why[k] = (
            p,
            stop,
            REC_DAMAGED,
            -1,
            code,
        )
        k += 1
        p = stop


@nb.njit(cache=True, nogil=True)
def assign_packet_ids(kind, n, counter, pid):
    """Events get packet ids counter + 1, + 2, ...; damaged and truncated records -1.
    Returns the new counter."""
    for i in range(n):
        if kind[i] == REC_EVENT:
            counter += 1
            pid[i] = counter
        else:
            pid[i] = -1
    return counter
