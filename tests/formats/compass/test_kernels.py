"""The CoMPASS kernels on hand-built bytes, and a property against the oracle."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rawconv.formats.compass.kernels import (
    INDEX_BAD_LENGTH,
    INDEX_END,
    INDEX_FULL,
    INDEX_NEED_MORE,
    RESYNC_FOUND,
    RESYNC_NEED_MORE,
    RESYNC_NONE,
    decode_events,
    index_events,
    resync,
)
from rawconv.formats.compass.layout import EventLayout
from tests.formats.compass.oracle import walk

LAYOUT = EventLayout(0xB)  # energy, calibrated, waveform; head 12 + 2 + 8 + 4 + 1 + 4 = 31


def _event(board, channel, ts, energy, cal, flags, samples) -> bytes:
    return struct.pack(f"<HHQHdIBI{len(samples)}H", board, channel, ts, energy, cal, flags, 1,
                       len(samples), *samples)  # fmt: skip


E1 = _event(1, 2, 2**63 + 5, 700, 12.5, 0x4000, [1, 2, 65535])
E2 = _event(0, 7, 99, 3, -0.25, 0, [9, 8, 7])
BUF = np.frombuffer(E1 + E2, np.uint8)


def _index(buf, wf_len=3, pos=0, fill=None, max_events=10):
    starts = np.zeros(16, np.int64)
    fill = len(buf) if fill is None else fill
    n, nxt, status = index_events(buf, pos, fill, LAYOUT.head, LAYOUT.off_nsamples, wf_len,
                                  starts, max_events)  # fmt: skip
    return n, nxt, status, starts[:n].tolist()


def test_index_events_cases():
    assert LAYOUT.head == 31 and LAYOUT.event_bytes(3) == 37
    assert _index(BUF) == (2, 74, INDEX_END, [0, 37])
    assert _index(BUF, fill=73) == (1, 37, INDEX_NEED_MORE, [0])
    assert _index(BUF, fill=36) == (0, 0, INDEX_NEED_MORE, [])
    assert _index(BUF, max_events=1) == (1, 37, INDEX_FULL, [0])
    assert _index(BUF, wf_len=4) == (0, 0, INDEX_BAD_LENGTH, [])
    assert _index(BUF, fill=1000) == (2, 74, INDEX_END, [0, 37])  # fill past the buffer
    bad = BUF.copy()
    bad[37 + LAYOUT.off_nsamples] = 200
    assert _index(bad) == (1, 37, INDEX_BAD_LENGTH, [0])


def _decode(buf, starts, wf_len=3):
    n = len(starts)
    cols = [np.zeros(n, np.uint32), np.zeros(n, np.uint32), np.zeros(n, np.uint32),
            np.zeros(n, np.float64), np.zeros(n, np.uint32)]  # fmt: skip
    cal = np.zeros(n, np.float64)
    rest = [np.zeros(n, np.uint32), np.zeros(n, np.uint32), np.zeros(n, np.int64)]
    dt = np.zeros(n, np.float32)
    values = np.zeros((n, wf_len), np.uint16)
    offsets = np.array([LAYOUT.off_energy, LAYOUT.off_calibrated, LAYOUT.off_short,
                        LAYOUT.off_flags, LAYOUT.off_nsamples, LAYOUT.head], np.int64)  # fmt: skip
    pids = 4 + 2 * np.arange(n, dtype=np.int64)  # 4, 6, ...
    done = decode_events(buf, np.array(starts, np.int64), pids, 0, n,
                         offsets, wf_len, np.array([2.0], np.float32), 16.0, *cols,
                         cal.view(np.uint8), *rest, dt, values.view(np.uint8))  # fmt: skip
    return done, cols, cal, rest, dt, values


def test_decode_events_cases():
    done, (pid, board, chan, ts, energy), cal, (short, flags, ns), dt, values = _decode(
        BUF, [0, 37])
    assert done == 2
    assert pid.tolist() == [4, 6] and board.tolist() == [1, 0] and chan.tolist() == [2, 7]
    assert ts.tolist() == [float(2**63 + 5), 99.0]
    assert energy.tolist() == [700, 3] and cal.tolist() == [12.5, -0.25]
    assert short.tolist() == [0, 0] and flags.tolist() == [0x4000, 0] and ns.tolist() == [3, 3]
    assert dt.tolist() == [16.0, 2.0]  # board 1 is beyond the per-board table: the default
    assert values.tolist() == [[1, 2, 65535], [9, 8, 7]]
    assert _decode(BUF, [0, 38])[0] == -2  # event 1 would read past the bytes


def test_decode_events_refuses_arrays_shorter_than_the_events():
    """The kernel checks its arrays before reading: a packet-id array shorter than the
    events raises instead of reading past it (numba does not check indexes)."""
    cols = [np.zeros(2, np.uint32)] * 3 + [np.zeros(2, np.float64), np.zeros(2, np.uint32)]
    offsets = np.array([LAYOUT.off_energy, LAYOUT.off_calibrated, LAYOUT.off_short,
                        LAYOUT.off_flags, LAYOUT.off_nsamples, LAYOUT.head], np.int64)  # fmt: skip
    with pytest.raises(IndexError, match="beyond the given arrays"):
        decode_events(BUF, np.array([0, 37], np.int64), np.array([4], np.int64), 0, 2, offsets,
                      3, np.array([2.0], np.float32), 16.0, *cols, np.zeros(16, np.uint8),
                      np.zeros(2, np.uint32), np.zeros(2, np.uint32), np.zeros(2, np.int64),
                      np.zeros(2, np.float32), np.zeros((2, 6), np.uint8))  # fmt: skip


def test_resync_cases():
    junk = np.frombuffer(b"\x00" * 7 + E1 + E2 + E1, np.uint8)
    args = (LAYOUT.head, LAYOUT.off_nsamples, 3, 3, 4096, 512)
    assert resync(junk, 0, len(junk), True, *args) == (7, RESYNC_FOUND)
    assert resync(junk, 0, 7 + 37 * 2 + 10, False, *args)[1] == RESYNC_NEED_MORE
    two = np.frombuffer(b"\x00" * 7 + E1 + E2, np.uint8)  # two events, then the end
    assert resync(two, 0, len(two), True, *args) == (7, RESYNC_FOUND)
    assert resync(two[:-1], 0, len(two) - 1, True, *args) == (len(two) - 1, RESYNC_NONE)
    far = np.frombuffer(b"\x00" * 7 + _event(5000, 0, 0, 0, 0.0, 0, [0, 0, 0]) + E2, np.uint8)
    assert resync(far, 0, len(far), True, *args) == (44, RESYNC_FOUND)  # board 5000: no


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 12), wf_len=st.integers(0, 9), seed=st.integers(0, 2**32 - 1))
def test_index_and_decode_match_the_oracle(n, wf_len, seed):
    rng = np.random.default_rng(seed)
    raw = b"".join(
        _event(*rng.integers(0, 4, 2).tolist(), int(rng.integers(0, 2**63)),
               int(rng.integers(0, 2**16)), float(rng.normal()), int(rng.integers(0, 2**32)),
               rng.integers(0, 2**16, wf_len).tolist())
        for _ in range(n)
    )  # fmt: skip
    buf = np.frombuffer(raw, np.uint8)
    starts = np.zeros(16, np.int64)
    k, nxt, status = index_events(buf, 0, len(buf), LAYOUT.head, LAYOUT.off_nsamples, wf_len,
                                  starts, 16)  # fmt: skip
    assert (k, nxt, status) == (n, len(buf), INDEX_END)
    expected = walk(raw, 0xB, True, 0)
    _, cols, cal, rest, _, values = _decode(buf, starts[:n].tolist(), wf_len) if n else (
        0, [[]] * 5, [], [[]] * 3, [], [])  # fmt: skip
    for i, ev in enumerate(expected):
        assert (cols[1][i], cols[2][i], cols[3][i], cols[4][i]) == (
            ev["board"], ev["channel"], float(ev["timestamp"]), ev["energy"])
        assert cal[i] == ev["calibrated"] and rest[1][i] == ev["flags"]
        assert list(values[i]) == ev["samples"]
