"""FCIO kernels on hand-built bytes: framing, packet ids, dead-time bookkeeping."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rawconv.formats.fcio import kernels as k
from rawconv.formats.fcio.decoders import FCIOEventState


def frame(payload: bytes) -> bytes:
    return struct.pack("<i", len(payload)) + payload


def tag(t: int) -> bytes:
    return struct.pack("<i", -t)


PROTO = struct.pack("<i", -1000000001) + b"FlashCamV1".ljust(64, b"\0")


def index(data: bytes, eof: bool = True, max_frame: int = 1 << 20, max_records: int = 64):
    buf = np.frombuffer(data, dtype=np.uint8).copy()
    arrays = [np.zeros(max_records, dtype=np.int64) for _ in range(4)]
    tags = np.zeros(max_records, dtype=np.int32)
    off = np.zeros(256, dtype=np.int64)
    length = np.zeros(256, dtype=np.int64)
    n, _, nxt, status, spos = k.index_records(
        buf, len(buf), 0, eof, max_frame, tags, *arrays, off, length
    )
    start, stop, frame0, nframes = arrays
    recs = [
        (int(tags[i]), int(start[i]), int(stop[i]),
         [(int(off[f]), int(length[f])) for f in range(frame0[i], frame0[i] + nframes[i])])
        for i in range(n)
    ]  # fmt: skip
    return recs, int(nxt), int(status), int(spos)


def test_index_records_layout():
    data = PROTO + tag(1) + frame(b"\1\0\0\0") + frame(b"") + tag(3) + frame(b"ab")
    recs, nxt, status, _ = index(data)
    assert status == k.INDEX_OK
    assert nxt == len(data)
    assert recs == [
        (k.TAG_PROTOCOL, 0, 68, []),
        (1, 68, 84, [(76, 4), (84, 0)]),
        (3, 84, 94, [(92, 2)]),
    ]


def test_unaligned_frames_are_read():
    data = tag(6) + frame(b"x") + frame(b"\1\2\3") + tag(4)
    recs, _, status, _ = index(data)
    assert status == k.INDEX_OK
    assert recs == [(6, 0, 16, [(8, 1), (13, 3)]), (4, 16, 20, [])]


def test_need_more_keeps_the_open_record():
    data = tag(1) + frame(b"1234") + tag(3) + frame(b"abcd")
    for cut in range(1, len(data)):
        recs, nxt, status, _ = index(data[:cut], eof=False)
        assert status == k.INDEX_NEED_MORE, cut
        # a record is complete once the next record's tag has been read
        if cut < 16:
            assert (recs, nxt) == ([], 0), cut
        else:
            assert ([r[0] for r in recs], nxt) == ([1], 12), cut


@pytest.mark.parametrize(
    ("cut", "tags", "nxt"),
    [
        (14, [1], 12),  # inside the next tag: the config ends where it starts
        (17, [1, 3], 16),  # inside a frame header: the event is closed, the streamer checks it
        (22, [1], 12),  # inside a frame's payload: the event stays open and is not tabled
    ],
)
def test_truncated_at_eof(cut, tags, nxt):
    data = tag(1) + frame(b"1234") + tag(3) + frame(b"abcd")
    recs, got_nxt, status, spos = index(data[:cut])
    assert status == k.INDEX_TRUNCATED
    assert [r[0] for r in recs] == tags
    assert got_nxt == nxt
    assert spos >= 12


def test_bad_headers():
    _, nxt, status, spos = index(tag(1) + struct.pack("<i", -1000000002))
    assert (status, spos) == (k.INDEX_BAD_HEADER, 4)
    _, _, status, spos = index(frame(b"1234"))
    assert (status, spos) == (k.INDEX_ORPHAN_FRAME, 0)
    _, nxt, status, spos = index(tag(3) + frame(b"x" * 100), max_frame=99)
    assert (status, spos, nxt) == (k.INDEX_BAD_FRAME_SIZE, 4, 0)


def test_record_table_full():
    data = b"".join(tag(3) + frame(b"ab") for _ in range(5))
    recs, nxt, status, _ = index(data, max_records=3)
    assert status == k.INDEX_FULL
    assert len(recs) == 3
    assert nxt == 30


def test_packet_ids_fsp_records_share_the_next_id():
    tags = np.array([0, 1, 3, 9, 3, 4, 9, 6], dtype=np.int32)
    out = np.zeros(len(tags), dtype=np.int64)
    counter = k.assign_packet_ids(tags, len(tags), -1, 8, 10, out)
    assert out.tolist() == [-1, 0, 1, 2, 2, 3, 4, 4]
    assert counter == 4


def _dead(state, fpga_ns, dr, ev_type=1, adcs=2, to5=0, to6=0):
    ok = k.update_dead_time(
        fpga_ns, ev_type, np.asarray(dr, dtype=np.int32), dr[5], dr[6], to5, to6, adcs,
        state.enable_ns, state.cur_dead, state.total_dead, state.q_begin, state.q_end,
        state.q_read, state.q_write, state.q_fill,
    )  # fmt: skip
    assert ok


def test_enable_time_from_run_start_then_dead_intervals():
    s = FCIOEventState(2)
    # first event: no dead region -> enable at to_start (sec 1, usec 500)
    _dead(s, 2_000_000_000, [0, 0, 0, 0, 0, 0, 2], to5=1, to6=500)
    assert s.enable_ns.tolist() == [1_000_500_000] * 2
    assert s.cur_dead.tolist() == [0, 0]
    # a dead interval 2.0 s .. 2.5 s announced before it ends: queued, not yet consumed
    _dead(s, 2_100_000_000, [2, 0, 2, 125_000_000, 0, 0, 2])
    assert s.total_dead.tolist() == [0, 0]
    # the same interval again is not queued twice; consumed once the event time passes its end
    _dead(s, 2_600_000_000, [2, 0, 2, 125_000_000, 0, 0, 2])
    assert s.cur_dead.tolist() == [500_000_000] * 2
    assert s.total_dead.tolist() == [500_000_000] * 2
    _dead(s, 2_700_000_000, [2, 0, 2, 125_000_000, 0, 0, 2])
    assert s.cur_dead.tolist() == [0, 0]
    assert s.total_dead.tolist() == [500_000_000] * 2


def test_enable_time_from_dead_region_stop_and_per_card_ranges():
    s = FCIOEventState(4)
    # type 11 (per card): dead region 0 .. 1.5 s on traces 2..3 sets only their enable time
    _dead(s, 3_000_000_000, [0, 0, 1, 125_000_000, 0, 2, 2], ev_type=11, adcs=4)
    assert s.enable_ns.tolist() == [-1, -1, 1_500_000_000, 1_500_000_000]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.binary(max_size=9)), max_size=12))
def test_index_matches_a_python_walk(records):
    data = b"".join(
        tag(t + 1) + b"".join(frame(p) for p in [payload] * t) for t, payload in records
    )
    recs, nxt, status, _ = index(data)
    assert status == k.INDEX_OK
    assert nxt == len(data)
    assert [(r[0], len(r[3])) for r in recs] == [(t + 1, t) for t, _ in records]
    for r, (_, payload) in zip(recs, records):
        for off, length in r[3]:
            assert data[off : off + length] == payload
