"""FCIO decode kernels on hand-built records, writing into their output structs."""

from __future__ import annotations

import struct
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rawconv.formats.fcio import kernels as k
from rawconv.formats.fcio.decoders import FCIOEventState
from rawconv.formats.fcio.event_kernels import CFG_SIZE, decode_events
from rawconv.formats.fcio.fields import (
    STATUS_FIELDS,
    FCEventColumns,
    FCEventHeaderColumns,
    FCStatusColumns,
    event_fields,
    event_header_fields,
)
from rawconv.formats.fcio.header_kernels import decode_event_headers
from rawconv.formats.fcio.status_kernels import decode_status
from rawconv.formats.kernel_outputs import columns_of
from tests.formats.kernel_tables import table_of

ADCS, SAMPLES, BLPREC, FCID, BOARD = 2, 3, 2, 7, 0x10
TRACEMAP = np.array([(BOARD << 16) | i for i in range(ADCS)], dtype=np.uint32)
TO = (100, 500, 0, 3, 3, 5, 0)  # run start (trigger enable) 5 s
TS = (5, 10, 2500, 249999999)  # event 5 at 10 s + 2500 ticks
FPGA_NS = 10 * 10**9 + 4 * 2500
HDR = [(200, 1234), (402, 55)]  # (baseline * blprecision, integrator) per trace
WAVES = [[1, 2, 3], [7, 8, 9]]


def frame(payload: bytes) -> bytes:
    return struct.pack("<i", len(payload)) + payload


def i32s(*values: int) -> bytes:
    return struct.pack(f"<{len(values)}i", *values)


def u16s(*values: int) -> bytes:
    return struct.pack(f"<{len(values)}H", *values)


def prefix(tag: int, dr: tuple | None = None, ev_type: int = 1) -> bytes:
    head = struct.pack("<i", -tag) + frame(i32s(ev_type)) + frame(struct.pack("<f", 0.0))
    head += frame(i32s(*TO)) + frame(i32s(*TS))
    return head + (frame(i32s(*dr)) if dr is not None else b"")


def trace(t: int) -> bytes:
    return u16s(*HDR[t], *WAVES[t])


def full_event() -> bytes:
    return prefix(3) + frame(trace(0) + trace(1))


def sparse_event(traces: list[int], dr=(0, 0, 0, 0, 249999999, 1, 1), payloads=None) -> bytes:
    """A sparse event listing `traces`, with the trace frames of `payloads` (default: the
    listed traces)."""
    listing = frame(i32s(len(traces))) + frame(u16s(*traces))
    frames = b"".join(frame(trace(t)) for t in (traces if payloads is None else payloads))
    return prefix(6, dr) + listing + frames


def event_header(traces: list[int]) -> bytes:
    pairs = b"".join(u16s(*HDR[t]) for t in traces)
    return prefix(7, (0, 0, 0, 0, 249999999, 0, 2)) + frame(u16s(*traces)) + frame(pairs)


def block(*records: bytes) -> SimpleNamespace:
    """The record table of `records` (packet ids from 0), as the streamer builds it."""
    buf = np.frombuffer(b"".join(records), dtype=np.uint8).copy()
    rec = [np.zeros(16, dtype=np.int64) for _ in range(4)]
    tag = np.zeros(16, dtype=np.int32)
    off, length = np.zeros(256, dtype=np.int64), np.zeros(256, dtype=np.int64)
    n, _, _, status, _ = k.index_records(buf, len(buf), 0, True, 1 << 20, tag, *rec, off, length)
    assert status == k.INDEX_OK
    pid = np.zeros(n, dtype=np.int64)
    k.assign_packet_ids(tag, n, -1, 8, 10, pid)
    return SimpleNamespace(buf=buf, tag=tag, start=rec[0], frame0=rec[2], nframes=rec[3],
                           pid=pid, off=off, len=length, n=n)  # fmt: skip


def cfg_vector(samples: int = SAMPLES) -> np.ndarray:
    cfg = np.zeros(CFG_SIZE, dtype=np.int64)
    cfg[:] = [ADCS, 0, samples, BLPREC, 1, 16, 0, FCID]
    return cfg


def events(b, table, row0=0, max_rows=16, first=0, last=None, samples=SAMPLES, state=None):
    state = state or FCIOEventState(ADCS)
    keys = np.zeros(64, dtype=np.int64)
    result = decode_events(
        b.buf, b.tag, b.start, b.frame0, b.nframes, b.pid, b.off, b.len, first,
        b.n if last is None else last, max_rows, cfg_vector(samples), TRACEMAP,
        *state.kernel_args(), columns_of(table, FCEventColumns, row0), keys,
    )  # fmt: skip
    return result, keys


def test_full_event_one_row_per_trace():
    table = table_of(event_fields(SAMPLES, 16.0), 4)
    (done, rows, status, bad), keys = events(block(full_event()), table)
    assert (done, rows, status, bad) == (1, 2, k.DECODE_OK, -1)
    col = {name: table[name].nda[:2].tolist() for name in FCEventColumns._fields[:-1]}
    assert col["packet_id"] == [0, 0]
    assert col["channel"] == [0, 1]
    assert col["fcid"] == [FCID] * 2
    assert col["board_id"] == [BOARD] * 2
    assert col["fc_input"] == [0, 1]
    assert col["event_type"] == [1, 1] and col["numtraces"] == [2, 2]
    assert (col["eventnumber"], col["ts_pps"], col["ts_ticks"]) == ([5] * 2, [10] * 2, [2500] * 2)
    assert col["mu_offset_sec"] == [100] * 2 and col["to_start_sec"] == [5] * 2
    assert col["dr_ch_idx"] == [0, 0] and col["dr_ch_len"] == [ADCS] * 2
    assert col["timestamp"] == [(FPGA_NS + 100 * 10**9 + 500 * 1000) / 1e9] * 2
    assert col["runtime"] == [(FPGA_NS - 5 * 10**9) / 1e9] * 2
    assert col["lifetime"] == col["runtime"] and col["deadtime"] == [0.0, 0.0]
    assert col["deadinterval_nsec"] == [0, 0]
    assert col["baseline"] == [100, 201]
    assert col["daqenergy"] == [1234, 55]
    assert table["waveform"]["values"].nda[:2].tolist() == WAVES
    assert keys[:2].tolist() == [FCID * 10**6 + BOARD * 100 + i for i in range(2)]


def test_sparse_event_rows_from_row0():
    table = table_of(event_fields(SAMPLES, 16.0), 4)
    (done, rows, status, _), keys = events(block(sparse_event([1])), table, row0=2)
    assert (done, rows, status) == (1, 1, k.DECODE_OK)
    assert table["channel"].nda.tolist() == [0, 0, 1, 0]
    assert table["dr_ch_idx"].nda[2] == 1 and table["dr_ch_len"].nda[2] == 1
    assert table["numtraces"].nda[2] == 1 and table["baseline"].nda[2] == 201
    assert table["waveform"]["values"].nda[2].tolist() == WAVES[1]
    assert table["waveform"]["values"].nda[:2].tolist() == [[0] * SAMPLES] * 2
    assert keys[0] == FCID * 10**6 + BOARD * 100 + 1


def test_a_record_that_does_not_fit_waits_for_the_next_call():
    table = table_of(event_fields(SAMPLES, 16.0), 4)
    b = block(full_event(), full_event())
    (done, rows, status, _), _ = events(b, table, max_rows=3)
    assert (done, rows, status) == (1, 2, k.DECODE_OK)
    (done, rows, status, _), _ = events(b, table, max_rows=4)
    assert (done, rows, status) == (2, 4, k.DECODE_OK)
    assert table["packet_id"].nda.tolist() == [0, 0, 1, 1]


def test_bad_records_stop_the_block_after_the_good_rows():
    table = table_of(event_fields(SAMPLES, 16.0), 4)
    b = block(sparse_event([0]), sparse_event([5], payloads=[0]))  # trace 5 of 2
    (done, rows, status, bad), _ = events(b, table)
    assert (done, rows, status, bad) == (1, 1, k.DECODE_BAD_RECORD, 1)
    # a waveform column of another length than the configuration's samples
    (done, rows, status, bad), _ = events(block(full_event()), table_of(event_fields(5, 16.0), 2))
    assert (done, rows, status, bad) == (0, 0, k.DECODE_BAD_RECORD, 0)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.lists(st.integers(0, ADCS - 1), min_size=1, max_size=4), max_size=5))
def test_sparse_events_match_their_trace_lists(trace_lists):
    b = block(*(sparse_event(tl) for tl in trace_lists))
    n = sum(map(len, trace_lists))
    table = table_of(event_fields(SAMPLES, 16.0), max(n, 1))
    (done, rows, status, _), keys = events(b, table, max_rows=n)
    assert (done, rows, status) == (len(trace_lists), n, k.DECODE_OK)
    traces = [t for tl in trace_lists for t in tl]
    assert table["channel"].nda[:n].tolist() == traces
    assert table["packet_id"].nda[:n].tolist() == [p for p, tl in enumerate(trace_lists)
                                                   for _ in tl]  # fmt: skip
    assert table["numtraces"].nda[:n].tolist() == [len(tl) for tl in trace_lists for _ in tl]
    assert table["daqenergy"].nda[:n].tolist() == [HDR[t][1] for t in traces]
    assert table["waveform"]["values"].nda[:n].tolist() == [WAVES[t] for t in traces]
    assert keys[:n].tolist() == [FCID * 10**6 + BOARD * 100 + t for t in traces]


def headers(b, table, row0, flat_start, max_rows=8):
    return decode_event_headers(
        b.buf, b.tag, b.frame0, b.nframes, b.pid, b.off, b.len, 0, b.n, max_rows, flat_start,
        cfg_vector(), TRACEMAP, *FCIOEventState(ADCS).kernel_args(),
        columns_of(table, FCEventHeaderColumns, row0),
    )  # fmt: skip


VECTORS = ("tracelist", "board_id", "fc_input", "runtime", "lifetime", "deadtime",
           "deadinterval_nsec", "baseline", "daqenergy")  # fmt: skip


def test_event_headers_fill_every_vector_column():
    table = table_of(event_header_fields(ADCS), 3)
    for name in VECTORS:
        table[name].cumulative_length.nda[0] = 1  # row 0: one value, decoded before
    b = block(event_header([1, 0]), event_header([1]))
    assert headers(b, table, 1, 1) == (2, 2, k.DECODE_OK, -1)
    for name in VECTORS:
        assert table[name].cumulative_length.nda.tolist() == [1, 3, 4], name
    assert table["tracelist"].flattened_data.nda[1:4].tolist() == [1, 0, 1]
    assert table["fc_input"].flattened_data.nda[1:4].tolist() == [1, 0, 1]
    assert table["board_id"].flattened_data.nda[1:4].tolist() == [BOARD] * 3
    assert table["baseline"].flattened_data.nda[1:4].tolist() == [201, 100, 201]
    assert table["daqenergy"].flattened_data.nda[1:4].tolist() == [55, 1234, 55]
    runtime = (FPGA_NS - 5 * 10**9) / 1e9
    assert table["runtime"].flattened_data.nda[1:4].tolist() == [runtime] * 3
    assert table["numtraces"].nda.tolist() == [0, 2, 1]
    assert table["packet_id"].nda.tolist() == [0, 0, 1]
    assert table["dr_ch_len"].nda[1:].tolist() == [2, 2]


def test_event_headers_beyond_the_flattened_capacity_are_refused():
    table = table_of(event_header_fields(ADCS), 2)
    table["daqenergy"].flattened_data.resize(2)  # one vector column too short
    b = block(event_header([0]), event_header([1, 0]))
    assert headers(b, table, 0, 0) == (1, 1, k.DECODE_BAD_RECORD, 1)


def card(reqid: int, links: int) -> bytes:
    words = np.zeros(39 + links, dtype="<u4")
    words[[0, 2, 3, 4]] = [reqid, 77, 2, 250]  # id, eventnumber, pps, ticks
    words[[6, 7, 8]] = [16, 3, links]  # environment values, cti links, trigger links
    words[10:19] = [9, 1, 2, 3, 4, 10, 11, 12, 13]  # error counters, other errors[0:5]
    env = words[19:35].view("<i4")
    env[:] = np.arange(16) * -10  # mb temps (5), voltages (6), current, humidity, adc temps
    words[35:39] = [21, 22, 23, 24]
    words[39:] = np.arange(links) + 100
    return frame(words.tobytes())


def status_record(*cards: bytes) -> bytes:
    head = struct.pack("<i", -4) + frame(i32s(1)) + frame(i32s(1, 500000, 2, 250000, 0, 3, 0))
    return head + frame(i32s(len(cards))) + frame(i32s(len(cards[0]) - 4)) + b"".join(cards)


def test_status_one_row_per_card():
    table = table_of(STATUS_FIELDS, 3)
    b = block(status_record(card(0x2000, 2), card(0x2001, 2)))
    flat = np.zeros(3, dtype=np.int64)
    out = columns_of(table, FCStatusColumns)
    result = decode_status(b.buf, b.frame0, b.nframes, b.pid, b.off, b.len, 0, 1, 3, flat, out)
    assert result == (1, 2, k.DECODE_OK, -1)
    assert table["id"].nda[:2].tolist() == [0x2000, 0x2001]
    assert table["status"].nda[:2].tolist() == [True, True]
    assert table["fpga_time"].nda[0] == pytest.approx(1.5)
    assert table["server_time"].nda[0] == 2.25 and table["fpga_start_time"].nda[0] == 3.0
    assert table["eventnumber"].nda[0] == 77
    assert table["fpga_time_nsec"].nda[0] == 2 * 10**9 + 1000
    assert table["n_total_errors"].nda[0] == 9 and table["n_link_errors"].nda[0] == 3
    assert table["n_other_errors"].nda[0].tolist() == [4, 10, 11, 12, 13]
    assert table["mb_temps"].nda[0].tolist() == [0, -10, -20, -30, -40]
    assert table["mb_voltages"].nda[0].tolist() == [-50, -60, -70, -80, -90, -100]
    assert (table["mb_current"].nda[0], table["mb_humidity"].nda[0]) == (-110, -120)
    assert table["adc_temps"].cumulative_length.nda[:2].tolist() == [3, 6]
    assert table["adc_temps"].flattened_data.nda[:3].tolist() == [-130, -140, -150]
    assert table["cti_links"].cumulative_length.nda[:2].tolist() == [3, 6]
    assert table["cti_links"].flattened_data.nda[:3].tolist() == [21, 22, 23]
    assert table["link_states"].cumulative_length.nda[:2].tolist() == [2, 4]
    assert table["link_states"].flattened_data.nda[:4].tolist() == [100, 101, 100, 101]
