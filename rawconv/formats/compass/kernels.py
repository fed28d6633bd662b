"""Numba kernels of CoMPASS events: find event boundaries in a block, decode events.

Layouts and offsets are those of :class:`~.layout.EventLayout` (formats.md, section 3),
passed as plain integers (-1: field absent). Every read is checked against the bytes the
caller says are valid; kernels return status codes and offsets, their wrappers raise.
"""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = [
    "INDEX_BAD_LENGTH",
    "INDEX_END",
    "INDEX_FULL",
    "INDEX_NEED_MORE",
    "decode_events",
    "index_events",
    "resync",
]

INDEX_END = 0
"""Every byte up to `fill` belongs to a complete event."""
INDEX_NEED_MORE = 1
"""The bytes from `next` on are the start of an event that does not end before `fill`."""
INDEX_FULL = 2
"""The event table is full."""
INDEX_BAD_LENGTH = 3
"""The sample count of the event at `next` differs from the file's."""


@nb.njit(cache=True, nogil=True, inline="always")
def read_u16(buf, pos):
    """Little-endian uint16 at any position (the caller checks bounds)."""
    return np.uint16(buf[pos]) | (np.uint16(buf[pos + 1]) << np.uint16(8))


@nb.njit(cache=True, nogil=True, inline="always")
def read_u32(buf, pos):
    """Little-endian uint32 at any position (the caller checks bounds)."""
    return (
        np.uint32(buf[pos])
        | (np.uint32(buf[pos + 1]) << np.uint32(8))
        | (np.uint32(buf[pos + 2]) << np.uint32(16))
        | (np.uint32(buf[pos + 3]) << np.uint32(24))
    )


@nb.njit(cache=True, nogil=True, inline="always")
def read_u64(buf, pos):
    """Little-endian uint64 at any position (the caller checks bounds)."""
    lo = np.uint64(read_u32(buf, pos))
    hi = np.uint64(read_u32(buf, pos + 4))
    return lo | (hi << np.uint64(32))


@nb.njit(cache=True, nogil=True)
def index_events(buf, pos, fill, head, off_nsamples, wf_len, starts, max_events):
    """Table the complete events of ``buf[pos:fill]``.

    Parameters
    ----------
    buf : uint8[:]
        the bytes; ``pos`` is an event boundary.
    head, off_nsamples, wf_len : int
        bytes before the samples, offset of the sample count (-1: none, events are
        `head` bytes) and the sample count every event must have.
    starts : int64[:]
        receives the event offsets (at most ``min(max_events, len(starts))``).

    Returns
    -------
    (n, next, status)
        events found, offset after the last one, and INDEX_END / INDEX_NEED_MORE /
        INDEX_FULL / INDEX_BAD_LENGTH (then `next` is the offset of the bad event).
    """
    n = 0
    limit = min(max_events, len(starts))
    fill = min(fill, len(buf))
    while True:
        if pos >= fill:
            return n, pos, INDEX_END
        if n >= limit:
            return n, pos, INDEX_FULL
        if pos + head > fill:
            return n, pos, INDEX_NEED_MORE
        size = head
        if off_nsamples >= 0:
            ns = np.int64(read_u32(buf, pos + off_nsamples))
            if ns != wf_len:
                return n, pos, INDEX_BAD_LENGTH
            size += 2 * ns
        if pos + size > fill:
            return n, pos, INDEX_NEED_MORE
        starts[n] = pos
        n += 1
        pos += size


@nb.njit(cache=True, nogil=True)
def decode_events(buf, starts, pids, first, last, offsets, wf_len, dt_of_board, dt_default,
                  packet_id, board, channel, timestamp, energy, calibrated, energy_short,
                  flags, num_samples, dt, values):  # fmt: skip
    """Decode events ``[first, last)`` of a block into rows 0.. of the output columns.

    Parameters
    ----------
    buf : uint8[:]
        the block's bytes; ``starts[i]`` is event i's offset, ``pids[i]`` its packet id.
    offsets : int64[6]
        energy, calibrated energy, energy short, flags, sample count (-1: absent) and
        head (bytes before the samples).
    wf_len : int
        samples per event (the `values` width; 0: no waveform column).
    dt_of_board : float32[:]
        sampling period per board number (boards beyond it: `dt_default`).
    calibrated : uint8[:]
        the float64 calibrated-energy column viewed as bytes (8 per row; empty: absent).
    values : uint8[:, :]
        the waveform values (uint16 rows) viewed as bytes (2 x wf_len per row).

    Returns
    -------
    rows decoded (``last - first``), or ``-1 - i`` when event i does not fit the buffer.
    """
    off_e, off_c, off_s, off_f, off_n, head = (
        offsets[0], offsets[1], offsets[2], offsets[3], offsets[4], offsets[5]
    )  # fmt: skip
    nbytes = 2 * wf_len
    n = last - first
    if first < 0 or last > len(starts) or last > len(pids) or n > len(packet_id):
        raise IndexError("decode_events: events or rows beyond the given arrays")
    if n > len(dt) or (nbytes > 0 and n > len(values)) or 0 < len(calibrated) < 8 * n:
        raise IndexError("decode_events: more rows than an output array holds")
    for i in range(first, last):
        s = starts[i]
        if s < 0 or s + head + nbytes > len(buf):
            return -1 - i
        r = i - first
        b = read_u16(buf, s)
        packet_id[r] = pids[i]
        board[r] = b
        channel[r] = read_u16(buf, s + 2)
        timestamp[r] = np.float64(read_u64(buf, s + 4))
        energy[r] = read_u16(buf, s + off_e) if off_e >= 0 else 0
        if off_c >= 0 and len(calibrated) > 0:
            for k in range(8):
                calibrated[8 * r + k] = buf[s + off_c + k]
        energy_short[r] = read_u16(buf, s + off_s) if off_s >= 0 else 0
        flags[r] = read_u32(buf, s + off_f)
        num_samples[r] = np.int64(read_u32(buf, s + off_n)) if off_n >= 0 else 0
        dt[r] = dt_of_board[b] if b < len(dt_of_board) else dt_default
        if nbytes > 0:
            w = s + head
            for k in range(nbytes):
                values[r, k] = buf[w + k]
    return last - first


RESYNC_FOUND = 0
"""A chain of valid events starts at the returned offset."""
RESYNC_NEED_MORE = 1
"""More bytes are needed to decide (the scan goes on from the returned offset)."""
RESYNC_NONE = 2
"""No valid event up to the end of the input."""


@nb.njit(cache=True, nogil=True)
def _event_ok(buf, e, fill, head, off_nsamples, wf_len, max_board, max_channel):
    """Whether a plausible event of the file's sample count starts at e (bytes checked)."""
    if e + head > fill:
        return False
    if np.int64(read_u32(buf, e + off_nsamples)) != wf_len:
        return False
    return read_u16(buf, e) < max_board and read_u16(buf, e + 2) < max_channel


@nb.njit(cache=True, nogil=True)
def resync(buf, pos, fill, eof, head, off_nsamples, wf_len, chain, max_board, max_channel):
    """The first offset after `pos` where `chain` events of the file's layout follow each
    other (fewer when they end exactly at the end of the input), for going on after a
    damaged event. Events are ``head + 2 wf_len`` bytes; `off_nsamples` must be >= 0.

    Returns (offset, RESYNC_FOUND), (offset to scan on from, RESYNC_NEED_MORE) or
    (fill, RESYNC_NONE).
    """
    size = head + 2 * wf_len
    fill = min(fill, len(buf))
    q = pos + 1
    while q < fill:
        ok = True
        for k in range(chain):
            e = q + k * size
            if k > 0 and e == fill and eof:
                break  # the chain ends exactly at the end of the input
            if e + size > fill:
                if not eof:
                    return q, RESYNC_NEED_MORE
                ok = False
                break
            if not _event_ok(buf, e, fill, head, off_nsamples, wf_len, max_board, max_channel):
                ok = False
                break
        if ok:
            return q, RESYNC_FOUND
        q += 1
    if not eof:
        return q, RESYNC_NEED_MORE
    return fill, RESYNC_NONE
