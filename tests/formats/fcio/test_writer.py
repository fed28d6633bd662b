"""Tests of the FCIO stream writer, cross-checked with FlashCam's own reader (`fcio`)."""

from __future__ import annotations

import io
import struct

import fcio
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rawconv.formats.fcio import layout, synthetic
from rawconv.formats.fcio.synthetic import write_synthetic_run
from rawconv.formats.fcio.writer import CARD_STATUS_DTYPE, FCIOWriter, make_card_status

TAGS = fcio.Tags
PROTO = struct.pack("<i", -1000000001) + b"FlashCamV1" + b"\0" * 54
CONFIG_KEYS = (
    "adcs",
    "triggers",
    "eventsamples",
    "adcbits",
    "sumlength",
    "blprecision",
    "mastercards",
    "triggercards",
    "adccards",
    "gps",
    "streamid",
)
CARD_SCALARS = layout.STATUS_WORDS


# -- reading back with fcio ---------------------------------------------------------------
def _config(c) -> dict:
    out = {k: int(getattr(c, k)) for k in CONFIG_KEYS}
    out["tracemap"] = np.array(c.tracemap, copy=True)
    return out


def _event(e, tag: int) -> dict:
    out = {
        "type": int(e.type),
        "pulser": np.float32(e.pulser),
        "num_traces": int(e.num_traces),
        "trace_list": np.array(e.trace_list, copy=True),
        "theader": np.array(e.theader, copy=True),
        "deadregion_size": int(e.deadregion_size),
    }
    for k in ("timeoffset", "timestamp", "deadregion"):
        out[k] = np.array(getattr(e, k), copy=True)
    if tag != TAGS.EventHeader:
        out["trace"] = np.array(e.trace, copy=True)
    return out


def _status(s) -> dict:
    cards = []
    for d in s.data:
        card = {k: int(getattr(d, k)) for k in CARD_SCALARS}
        for k in ("othererrors", "environment", "ctilinks", "linkstates"):
            card[k] = np.array(getattr(d, k), copy=True)
        cards.append(card)
    return {
        "status": int(s.status),
        "statustime": np.array(s.statustime, copy=True),
        "cards": int(s.cards),
        "size": int(s.size),
        "data": cards,
    }


def read_records(path) -> list[tuple[int, dict | None]]:
    """Every record as (tag, fields); fcio consumes the first config on open.

    ``extended=False``: the raw fields only (fcio's derived quantities, e.g. dead-time
    bookkeeping, fail or crash on random field values).
    """
    f = fcio.FCIO(str(path), extended=False)
    records: list[tuple[int, dict | None]] = [(TAGS.Config, _config(f.config))]
    while f.get_record():
        tag = f.tag
        if tag == TAGS.Config:
            records.append((tag, _config(f.config)))
        elif tag in (TAGS.Event, TAGS.SparseEvent, TAGS.EventHeader):
            records.append((tag, _event(f.event, tag)))
        elif tag == TAGS.Status:
            records.append((tag, _status(f.status)))
        else:
            records.append((tag, None))
    f.close()
    return records


def fcio_deadregion(dr, tag: int, ntraces: int) -> np.ndarray:
    """What fcio reports for a written deadregion: for full events it sets [5]=0, [6]=all."""
    dr = np.array(dr, dtype=np.int32)
    if tag == TAGS.Event:
        dr[5:6] = 0
        dr[6:7] = ntraces
    return dr


def check_event(got: dict, *, tag, ntraces, trace_list, traces, theader, meta) -> None:
    assert got["type"] == meta.get("type", 1)
    assert got["pulser"] == np.float32(meta.get("pulser", 0.0))
    np.testing.assert_array_equal(got["timeoffset"], meta.get("timeoffset", [0] * 10))
    np.testing.assert_array_equal(got["timestamp"], meta.get("timestamp", [0, 0, 0, 249999999, 0]))
    if "deadregion" in meta and meta["deadregion"] is None:
        assert got["deadregion_size"] <= 0
    else:
        dr = meta["deadregion"]
        np.testing.assert_array_equal(got["deadregion"], fcio_deadregion(dr, tag, ntraces))
    assert got["num_traces"] == len(trace_list)
    got_list, got_theader, got_trace = got["trace_list"], got["theader"], got.get("trace")
    if tag == TAGS.Event:
        # fcio keeps the trace_list of a preceding sparse event listing every trace
        # (permuted) for a full event; rows follow that list, so sort them back
        order = np.argsort(got_list, kind="stable")
        got_list, got_theader, got_trace = got_list[order], got_theader[order], got_trace[order]
    np.testing.assert_array_equal(got_list, trace_list)
    np.testing.assert_array_equal(got_theader, theader)
    if tag != TAGS.EventHeader:
        np.testing.assert_array_equal(got_trace, traces)


def rand_event(rng, n: int, ns: int):
    traces = rng.integers(0, 65536, (n, ns), dtype=np.uint16)
    theader = rng.integers(0, 65536, (n, 2), dtype=np.uint16)
    if traces.size:
        traces.flat[0], traces.flat[-1] = 0, 65535
    return traces, theader


# -- fcio round trips ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "tracemap_expected"),
    [
        ({"adcs": 3, "eventsamples": 10}, [0, 0, 0]),
        (
            {
                "adcs": 4,
                "triggers": 2,
                "eventsamples": 257,
                "adcbits": 12,
                "sumlength": 16,
                "blprecision": 8,
                "mastercards": 2,
                "triggercards": 3,
                "adccards": 5,
                "gps": 50000,
                "tracemap": [0x2100000, 0x2100001, 0x2100017, 0x2110000, 0x10000, 0xFFFFFFFF],
            },
            [0x2100000, 0x2100001, 0x2100017, 0x2110000, 0x10000, 0xFFFFFFFF],
        ),
        (
            {"adcs": 2, "eventsamples": 1, "tracemap": [0x1000005, 7], "streamid": 0x30002},
            [0x1000005, 7],
        ),
    ],
)
def test_config_roundtrip(tmp_path, kwargs, tracemap_expected):
    path = tmp_path / "c.fcio"
    with FCIOWriter(path) as w:
        w.write_config(**kwargs)
        w.write_config(**kwargs)  # a second config is returned by get_record
    records = read_records(path)
    assert [t for t, _ in records] == [TAGS.Config, TAGS.Config]
    defaults = {"triggers": 0, "adcbits": 16, "sumlength": 1, "blprecision": 1}
    defaults |= {"mastercards": 1, "triggercards": 0, "adccards": 1, "gps": 0, "streamid": 0}
    expected = defaults | {k: v for k, v in kwargs.items() if k != "tracemap"}
    for _, got in records:
        assert {k: got[k] for k in CONFIG_KEYS} == expected
        np.testing.assert_array_equal(got["tracemap"], tracemap_expected)


@pytest.mark.parametrize(
    ("adcs", "triggers", "ns", "adcbits", "tracemap"),
    [
        (1, 0, 1, 16, False),
        (6, 0, 7, 16, True),
        (24, 2, 33, 12, True),
        (3, 1, 2, 12, False),
        (100, 0, 1024, 16, True),
    ],
)
def test_full_event_roundtrip(tmp_path, adcs, triggers, ns, adcbits, tracemap):
    rng = np.random.default_rng(adcs * 1000 + ns)
    n = adcs + triggers
    metas = [
        {},
        {
            "type": 2,
            "pulser": 1.25,
            "timeoffset": [1700000000, 123, 0, -5, 5, 1, 500000],
            "timestamp": [7, 3, 1234567, 249999999, 0, 0, 0, 0, 0, 0],
            "deadregion": [2, 100, 2, 200, 249999999, 0, adcs, 0, 0, 9],
        },
        {"type": 11, "timestamp": [1, 2, 3, 4, 5], "deadregion": None},
        {"timeoffset": [], "timestamp": [-1], "deadregion": [1, 2, 3, 4, 5, 6]},
    ]
    events = [rand_event(rng, n, ns) for _ in metas]
    path = tmp_path / "full.fcio"
    tmap = np.arange(n) | (0x210 << 16) if tracemap else None
    with FCIOWriter(path) as w:
        w.write_config(
            adcs=adcs, triggers=triggers, eventsamples=ns, adcbits=adcbits, tracemap=tmap
        )
        for (traces, theader), meta in zip(events, metas, strict=True):
            w.write_event(traces, theader, **meta)
    records = read_records(path)
    assert [t for t, _ in records] == [TAGS.Config] + [TAGS.Event] * len(metas)
    for (_, got), (traces, theader), meta in zip(records[1:], events, metas, strict=True):
        meta = {"deadregion": [0, 0, 0, 0, 249999999, 0, adcs]} | meta
        check_event(
            got,
            tag=TAGS.Event,
            ntraces=n,
            trace_list=np.arange(n),
            traces=traces,
            theader=theader,
            meta=meta,
        )


@pytest.mark.parametrize(("adcs", "triggers", "ns"), [(1, 0, 1), (6, 1, 5), (30, 0, 300)])
def test_sparse_and_header_roundtrip(tmp_path, adcs, triggers, ns):
    rng = np.random.default_rng(ns)
    n = adcs + triggers
    # no duplicates: fcio stores traces by index, so a repeated index would read back twice
    lists = [[0], list(range(n)), list(range(n))[::-1], sorted({n - 1, 0}, reverse=True), []]
    metas = [
        {"type": 11, "pulser": -3.5, "deadregion": [1, 2, 3, 4, 249999999, 0, 6]},
        {"timestamp": [5, 1, 9, 249999999, 0, 0, 0, 0, 0, 0], "deadregion": ()},
        {"timeoffset": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "deadregion": [9] * 10},
        {"deadregion": [0, 0, 0, 0, 249999999, n - 1, 1]},
        {"deadregion": [1, 2, 3, 4, 5]},
    ]
    data = [rand_event(rng, len(tl), ns) for tl in lists]
    path = tmp_path / "sparse.fcio"
    with FCIOWriter(path) as w:
        w.write_config(adcs=adcs, triggers=triggers, eventsamples=ns, tracemap=np.arange(n))
        for tl, (traces, theader), meta in zip(lists, data, metas, strict=True):
            w.write_sparse_event(tl, traces, theader, **meta)
            w.write_event_header(tl, theader, **meta)
    records = read_records(path)
    assert [t for t, _ in records[1:]] == [TAGS.SparseEvent, TAGS.EventHeader] * len(lists)
    for i, (tl, (traces, theader), meta) in enumerate(zip(lists, data, metas, strict=True)):
        for tag, (got_tag, got) in zip(
            (TAGS.SparseEvent, TAGS.EventHeader), records[1 + 2 * i : 3 + 2 * i], strict=True
        ):
            assert got_tag == tag
            check_event(
                got, tag=tag, ntraces=n, trace_list=tl, traces=traces, theader=theader, meta=meta
            )


def test_event_accepts_other_integer_arrays(tmp_path):
    base = np.arange(48, dtype=np.int64).reshape(4, 12) * 1000
    traces = base[:, ::2]  # non-contiguous int64 view
    theader = np.asfortranarray([[1, 2], [3, 4], [5, 6], [65535, 0]])
    path = tmp_path / "ints.fcio"
    with FCIOWriter(path) as w:
        w.write_config(adcs=4, eventsamples=6)
        w.write_event(traces, theader)
        w.write_sparse_event(np.array([3, 1], np.uint8), traces[[3, 1]], theader[[3, 1]])
    (_, full), (_, sparse) = read_records(path)[1:]
    np.testing.assert_array_equal(full["trace"], traces)
    np.testing.assert_array_equal(full["theader"], theader)
    np.testing.assert_array_equal(sparse["trace"], traces[[3, 1]])
    np.testing.assert_array_equal(sparse["trace_list"], [3, 1])


def _card(i: int, *, full: bool) -> dict:
    card = {k: 1000 * i + j for j, k in enumerate(CARD_SCALARS)}
    card["reqid"] = 0x2000 + i if i else 0
    card["numenv"], card["numctilinks"], card["numlinks"] = (16, 4, 256) if full else (13, 1, 3)
    card["othererrors"] = [i, 2**32 - 1, 3, 4, 5]
    card["environment"] = np.arange(16) * 1000 - 2**31 + i
    card["ctilinks"] = [i, 9, 8, 7]
    card["linkstates"] = np.arange(256) + 7 * i
    return card


def test_status_roundtrip(tmp_path):
    dict_cards = [_card(i, full=True) for i in range(3)]
    arr_cards = np.array([make_card_status(**_card(i, full=False)) for i in range(5)])
    assert arr_cards.dtype == CARD_STATUS_DTYPE
    path = tmp_path / "status.fcio"
    with FCIOWriter(path) as w:
        # fcio shows at most mastercards + triggercards + adccards cards of a status record
        w.write_config(adcs=1, eventsamples=1, mastercards=1, triggercards=1, adccards=3)
        w.write_status(
            status=1, statustime=[10, 20, 1700000010, 30, 0, 1, 0, 0, 0, 0], cards=dict_cards
        )
        w.write_status(status=0, statustime=[1, 2, 3], cards=arr_cards)
        w.write_status(cards=arr_cards[0])  # a single record
        w.write_status(cards=[arr_cards[1], _card(2, full=False)])  # records and mappings
    records = read_records(path)
    assert [t for t, _ in records[1:]] == [TAGS.Status] * 4
    expected = [
        (1, [10, 20, 1700000010, 30, 0, 1, 0, 0, 0, 0], dict_cards),
        (0, [1, 2, 3], [_card(i, full=False) for i in range(5)]),
        (1, [0] * 10, [_card(0, full=False)]),
        (1, [0] * 10, [_card(1, full=False), _card(2, full=False)]),
    ]
    for (_, got), (status, statustime, cards) in zip(records[1:], expected, strict=True):
        assert got["status"] == status
        # fcio always shows 10 statustime entries; those past a short frame are stale
        np.testing.assert_array_equal(got["statustime"][: len(statustime)], statustime)
        assert got["cards"] == len(cards)
        assert got["size"] == 1180
        for gc, card in zip(got["data"], cards, strict=True):
            assert {k: gc[k] for k in CARD_SCALARS} == {k: card[k] for k in CARD_SCALARS}
            np.testing.assert_array_equal(gc["othererrors"], card["othererrors"])
            # fcio shows only the valid entries of the arrays
            np.testing.assert_array_equal(gc["environment"], card["environment"][: card["numenv"]])
            np.testing.assert_array_equal(gc["ctilinks"], card["ctilinks"][: card["numctilinks"]])
            np.testing.assert_array_equal(gc["linkstates"], card["linkstates"][: card["numlinks"]])


def test_unknown_record_is_skipped_by_fcio(tmp_path):
    path = tmp_path / "raw.fcio"
    with FCIOWriter(path) as w:
        w.write_config(adcs=1, eventsamples=2)
        w.write_record(55, [b"abc", np.arange(3, dtype=np.int16), b""])
        w.write_record(layout.MAX_TAG, [])
        w.write_event([[1, 2]], [[3, 4]])
    records = read_records(path)
    assert [t for t, _ in records] == [1, 55, layout.MAX_TAG, TAGS.Event]
    np.testing.assert_array_equal(records[-1][1]["trace"], [[1, 2]])


# -- property test ------------------------------------------------------------------------
_i32 = st.integers(-(2**31), 2**31 - 1)


@st.composite
def streams(draw):
    adcs = draw(st.integers(1, 30))
    triggers = draw(st.integers(0, 2))
    n = adcs + triggers
    config = {
        "adcs": adcs,
        "triggers": triggers,
        "eventsamples": draw(st.integers(1, 300)),
        "adcbits": draw(st.sampled_from([12, 16])),
        "sumlength": draw(_i32),
        "blprecision": draw(_i32),
        "gps": draw(_i32),
    }
    if draw(st.booleans()):
        config["tracemap"] = draw(st.lists(st.integers(0, 2**32 - 1), min_size=n, max_size=n))
        config["streamid"] = draw(st.none() | _i32)
    events = []
    for kind in draw(
        st.lists(st.sampled_from(["full", "sparse", "header"]), min_size=1, max_size=4)
    ):
        meta = {
            "type": draw(_i32),
            "pulser": draw(st.floats(width=32, allow_nan=False)),
            "timeoffset": draw(st.lists(_i32, max_size=10)),
            "timestamp": draw(st.lists(_i32, max_size=10)),
            "deadregion": draw(st.lists(_i32, max_size=10)),
        }
        # fcio's dead-time tracker (which runs on every event) uses deadregion[5:7] as
        # (first trace, trace count) and fails on other values: keep them realistic
        meta["deadregion"][5:7] = [0, n][: max(0, len(meta["deadregion"]) - 5)]
        tl = list(range(n))
        if kind != "full":
            tl = draw(st.lists(st.integers(0, n - 1), max_size=n, unique=True))
        events.append((kind, tl, meta))
    return config, events, draw(st.integers(0, 2**32 - 1))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(streams())
def test_random_streams_roundtrip(tmp_path, stream):
    config, events, seed = stream
    rng = np.random.default_rng(seed)
    n, ns = config["adcs"] + config["triggers"], config["eventsamples"]
    data = [rand_event(rng, len(tl), ns) for _, tl, _ in events]
    path = tmp_path / "prop.fcio"
    with FCIOWriter(path) as w:
        w.write_config(**config)
        for (kind, tl, meta), (traces, theader) in zip(events, data, strict=True):
            if kind == "full":
                w.write_event(traces, theader, **meta)
            elif kind == "sparse":
                w.write_sparse_event(tl, traces, theader, **meta)
            else:
                w.write_event_header(tl, theader, **meta)
    assert path.stat().st_size == w.bytes_written
    records = read_records(path)
    got_config = records[0][1]
    for k in ("adcs", "triggers", "eventsamples", "adcbits", "sumlength", "blprecision", "gps"):
        assert got_config[k] == config[k]
    np.testing.assert_array_equal(got_config["tracemap"], config.get("tracemap", [0] * n))
    assert got_config["streamid"] == (config.get("streamid") or 0)
    tags = {"full": TAGS.Event, "sparse": TAGS.SparseEvent, "header": TAGS.EventHeader}
    assert [t for t, _ in records[1:]] == [tags[k] for k, _, _ in events]
    for (_, got), (kind, tl, meta), (traces, theader) in zip(
        records[1:], events, data, strict=True
    ):
        check_event(
            got, tag=tags[kind], ntraces=n, trace_list=tl, traces=traces, theader=theader, meta=meta
        )


# -- byte layout --------------------------------------------------------------------------
def _frame(fmt: str, *values) -> bytes:
    payload = struct.pack("<" + fmt, *values)
    return struct.pack("<i", len(payload)) + payload


def test_bytes_of_a_tiny_stream():
    buf = io.BytesIO()
    with FCIOWriter(buf) as w:
        w.write_config(adcs=1, triggers=1, eventsamples=3, tracemap=[0x2100000, 0x2100001])
        w.write_event([[1, 2, 3], [4, 5, 65535]], [[8000, 17], [0, 1]], pulser=0.5)
        w.write_event(
            [[1, 2, 3], [4, 5, 6]],
            [[7, 8], [9, 10]],
            type=2,
            timeoffset=[1, -2],
            timestamp=[3],
            deadregion=None,
        )
        w.write_sparse_event([1], [[9, 8, 7]], [[6, 5]], deadregion=[1, 2])
        w.write_event_header([1, 0], [[1, 2], [3, 4]], timestamp=[], deadregion=[3])
        w.write_status(statustime=[1], cards=[{"reqid": 0x2000, "environment": [-1]}])
        w.write_record(9, [b"abc", b""])
        w.write_protocol()
    assert buf.closed is False  # a file object is only flushed
    ts, to, dr = "iiiii", "10i", "7i"
    tsv, tov, drv = (0, 0, 0, 249999999, 0), (0,) * 10, (0, 0, 0, 0, 249999999, 0, 1)
    card = struct.pack("<14I", 0x2000, *([0] * 13)) + struct.pack("<5I", *[0] * 5)
    card += struct.pack("<16i", -1, *[0] * 15) + bytes(16 + 1024)
    assert len(card) == 1180
    expected = b"".join(
        [
            PROTO,
            struct.pack("<i", -1),
            *(_frame("i", v) for v in (1, 1, 3, 1, 1, 16, 1, 0, 1, 0)),
            _frame("II", 0x2100000, 0x2100001),
            struct.pack("<i", -3),
            _frame("i", 1) + _frame("f", 0.5) + _frame(to, *tov) + _frame(ts, *tsv),
            _frame("10H", 8000, 17, 1, 2, 3, 0, 1, 4, 5, 65535),
            _frame(dr, *drv),
            struct.pack("<i", -3),
            _frame("i", 2) + _frame("f", 0.0) + _frame("ii", 1, -2) + _frame("i", 3),
            _frame("10H", 7, 8, 1, 2, 3, 9, 10, 4, 5, 6),
            struct.pack("<i", -6),
            _frame("i", 1) + _frame("f", 0.0) + _frame(to, *tov) + _frame(ts, *tsv),
            _frame("ii", 1, 2) + _frame("i", 1) + _frame("H", 1) + _frame("5H", 6, 5, 9, 8, 7),
            struct.pack("<i", -7),
            _frame("i", 1) + _frame("f", 0.0) + _frame(to, *tov) + _frame(""),
            _frame("i", 3) + _frame("HH", 1, 0) + _frame("4H", 1, 2, 3, 4),
            struct.pack("<i", -4),
            _frame("i", 1) + _frame("i", 1) + _frame("i", 1) + _frame("i", 1180),
            struct.pack("<i", 1180) + card,
            struct.pack("<i", -9) + _frame("3s", b"abc") + _frame(""),
            PROTO,
        ]
    )
    assert buf.getvalue() == expected
    assert w.bytes_written == len(expected)


def test_card_status_dtype_layout():
    assert CARD_STATUS_DTYPE.itemsize == layout.STATUS_CARD_SIZE
    offsets = {name: CARD_STATUS_DTYPE.fields[name][1] for name in CARD_STATUS_DTYPE.names}
    assert offsets["reqid"] == 0
    assert offsets["linkerrors"] == 52
    assert offsets["othererrors"] == 56
    assert offsets["environment"] == 76
    assert offsets["ctilinks"] == 140
    assert offsets["linkstates"] == 156
    rec = make_card_status(reqid=0x2001, numenv=2, environment=[-5, 7], linkstates=[1] * 256)
    raw = rec.tobytes()
    assert struct.unpack_from("<I", raw, 0) == (0x2001,)
    assert struct.unpack_from("<I", raw, 24) == (2,)
    assert struct.unpack_from("<3i", raw, 76) == (-5, 7, 0)
    assert struct.unpack_from("<256I", raw, 156) == (1,) * 256


def test_protocol_flag_and_path_target(tmp_path):
    path = tmp_path / "noproto.fcio"
    with FCIOWriter(str(path), protocol=False) as w:
        w.write_config(adcs=1, eventsamples=1)
        w.flush()
    assert path.read_bytes()[:4] == struct.pack("<i", -1)
    assert w.bytes_written == 4 + 10 * 8
    w.close()  # idempotent
    with pytest.raises(ValueError, match="closed"):
        w.write_protocol()


def test_config_emit_false_only_remembers():
    buf = io.BytesIO()
    w = FCIOWriter(buf, protocol=False)
    w.write_config(adcs=1, triggers=1, eventsamples=2, tracemap=[5, 6], emit=False)
    assert buf.getvalue() == b""
    assert w.config["adcs"] == 1 and w.config["eventsamples"] == 2
    np.testing.assert_array_equal(w.config["tracemap"], [5, 6])
    w.write_event_header([1], [[7, 8]], timeoffset=[], timestamp=[], deadregion=[])
    assert buf.getvalue() == struct.pack("<i", -7) + _frame("i", 1) + _frame("f", 0.0) + (
        _frame("") * 3 + _frame("H", 1) + _frame("HH", 7, 8)
    )


# -- argument validation ------------------------------------------------------------------
def _writer(**config) -> FCIOWriter:
    w = FCIOWriter(io.BytesIO())
    w.write_config(**({"adcs": 2, "triggers": 1, "eventsamples": 4} | config))
    return w


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"adcs": 0, "eventsamples": 4}, "adcs"),
        ({"adcs": -1, "triggers": 3, "eventsamples": 4}, "adcs"),
        ({"adcs": 2401, "eventsamples": 4}, "2400"),
        ({"adcs": 1, "eventsamples": 0}, "eventsamples"),
        ({"adcs": 1, "eventsamples": 32769}, "eventsamples"),
        ({"adcs": 1, "eventsamples": 4, "adcbits": 14}, "adcbits"),
        ({"adcs": 1.0, "eventsamples": 4}, "adcs must be an integer"),
        ({"adcs": 1, "eventsamples": 4, "gps": 2**31}, "int32"),
        ({"adcs": 2, "eventsamples": 4, "tracemap": [1]}, "tracemap"),
        ({"adcs": 1, "eventsamples": 4, "tracemap": [-1]}, "tracemap"),
        ({"adcs": 1, "eventsamples": 4, "streamid": 3}, "streamid requires a tracemap"),
    ],
)
def test_config_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FCIOWriter(io.BytesIO()).write_config(**kwargs)


def test_event_validation():
    w = FCIOWriter(io.BytesIO())
    ok_tr, ok_th = np.zeros((3, 4), np.uint16), np.zeros((3, 2), np.uint16)
    with pytest.raises(ValueError, match="write_config must come before"):
        w.write_event(ok_tr, ok_th)
    with pytest.raises(ValueError, match="write_config must come before"):
        w.write_event_header([0], ok_th[:1])
    w = _writer()
    before = w.bytes_written
    cases = [
        (lambda: w.write_event(ok_tr[:2], ok_th[:2]), r"shape \(3, 4\)"),
        (lambda: w.write_event(ok_tr[:, :3], ok_th), r"shape \(3, 4\)"),
        (lambda: w.write_event(ok_tr, ok_th[:, :1]), r"theader must have shape \(3, 2\)"),
        (lambda: w.write_event(ok_tr.ravel(), ok_th), "dimension"),
        (lambda: w.write_event(ok_tr + 0.5, ok_th), "integers"),
        (lambda: w.write_event(ok_tr.astype(int) + 65536, ok_th), "65535"),
        (lambda: w.write_event(ok_tr.astype(int) - 1, ok_th), "65535"),
        (lambda: w.write_event(ok_tr, ok_th, timestamp=range(11)), "at most 10"),
        (lambda: w.write_event(ok_tr, ok_th, timeoffset=[2**31]), "timeoffset"),
        (lambda: w.write_event(ok_tr, ok_th, type=2**31), "type"),
        (lambda: w.write_event(ok_tr, ok_th, type="1"), "type"),
        (lambda: w.write_event(ok_tr, ok_th, pulser=1e40), "pulser"),
        (lambda: w.write_event(ok_tr, ok_th, pulser="x"), "pulser"),
        (lambda: w.write_sparse_event([3], ok_tr[:1], ok_th[:1]), r"\[0, 2\]"),
        (lambda: w.write_sparse_event([-1], ok_tr[:1], ok_th[:1]), r"\[0, 2\]"),
        (lambda: w.write_sparse_event([0, 1], ok_tr[:1], ok_th[:1]), r"shape \(2, 4\)"),
        (lambda: w.write_sparse_event([0], ok_tr[:1], ok_th[:1], deadregion=None), "omitted"),
        (lambda: w.write_event_header([0, 1], ok_th[:1]), r"shape \(2, 2\)"),
        (lambda: w.write_event_header([5], ok_th[:1]), r"\[0, 2\]"),
        (lambda: w.write_event_header([0], ok_th[:1], deadregion=range(11)), "at most 10"),
    ]
    for call, match in cases:
        with pytest.raises(ValueError, match=match):
            call()
    assert w.bytes_written == before  # nothing was written by a rejected call


def test_record_and_status_validation():
    w = _writer()
    for tag in (0, -3, layout.MAX_TAG + 1):
        with pytest.raises(ValueError, match="tag"):
            w.write_record(tag, [])
    with pytest.raises(ValueError, match="unknown card status field"):
        w.write_status(cards=[{"temperature": 1}])
    with pytest.raises(ValueError, match="at most 16"):
        w.write_status(cards=[{"environment": range(17)}])
    with pytest.raises(ValueError, match="sequence of mappings"):
        w.write_status(cards={"reqid": 1})
    with pytest.raises(ValueError, match="a card must be"):
        w.write_status(cards=[1, 2])
    with pytest.raises(ValueError, match="CARD_STATUS_DTYPE"):
        w.write_status(cards=np.zeros(2, dtype=[("reqid", "<u4")]))
    with pytest.raises(ValueError, match="status"):
        w.write_status(status=2**31, cards=[])
    with pytest.raises(ValueError, match="at most 256"):
        w.write_status(cards=np.zeros(257, CARD_STATUS_DTYPE))
    with pytest.raises(ValueError, match="reqid"):
        make_card_status(reqid=-1)
    with pytest.raises(ValueError, match="target"):
        FCIOWriter(42)


# -- synthetic runs -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("mode", "adcbits", "traces_per_event"),
    [
        ("full", 16, None),
        ("full", 12, None),
        ("sparse", 16, None),
        ("sparse", 12, 3),
        ("header", 16, None),
        ("header", 12, 2),
    ],
)
def test_synthetic_run(tmp_path, mode, adcbits, traces_per_event):
    path = tmp_path / f"{mode}.fcio"
    adcs, ns = 8, 64
    write_synthetic_run(
        path,
        n_events=40,
        adcs=adcs,
        eventsamples=ns,
        mode=mode,
        adcbits=adcbits,
        traces_per_event=traces_per_event,
        status_every=15,
        seed=3,
        gps=50000 if adcbits == 12 else 0,
    )
    records = read_records(path)
    config = records[0][1]
    per_card = 6 if adcbits == 16 else 24
    adccards = -(-adcs // per_card)
    assert (config["adcs"], config["eventsamples"], config["adcbits"]) == (adcs, ns, adcbits)
    assert config["adccards"] == adccards
    idx = np.arange(adcs)
    np.testing.assert_array_equal(
        config["tracemap"], (0x210 + idx // per_card) << 16 | idx % per_card
    )
    tag = {"full": TAGS.Event, "sparse": TAGS.SparseEvent, "header": TAGS.EventHeader}[mode]
    events = [r for t, r in records if t == tag]
    statuses = [r for t, r in records if t == TAGS.Status]
    assert len(events) == 40
    assert len(records) == 1 + 40 + 2
    ts = np.array([e["timestamp"] for e in events])
    np.testing.assert_array_equal(ts[:, 0], np.arange(40))
    assert (ts[:, 3] == 249999999).all()
    fpga_ns = ts[:, 1].astype(np.int64) * 10**9 + 4 * ts[:, 2]
    assert (np.diff(fpga_ns) > 0).all() and fpga_ns[0] > 10**9
    to = np.array([e["timeoffset"] for e in events])
    assert (to[:, 0] == 1_700_000_000).all() and (to[:, 5] == 1).all()
    assert (to[:, 2] == (1_700_000_000 if adcbits == 12 else 0)).all()
    dr = np.array([e["deadregion"] for e in events])
    assert (dr[:, 4] == 249999999).all() and (dr[:, 5] == 0).all() and (dr[:, 6] == adcs).all()
    for e in events:
        tl = e["trace_list"]
        assert e["num_traces"] == len(tl) and len(set(tl)) == len(tl) and (np.diff(tl) > 0).all()
        if traces_per_event is not None:
            assert len(tl) == traces_per_event
        elif mode != "sparse":
            np.testing.assert_array_equal(tl, idx)
        if mode != "header":
            baseline = np.median(e["trace"][:, : ns // 3], axis=1)
            assert np.all(np.abs(baseline - (8000 if adcbits == 16 else 2000)) < 200)
            np.testing.assert_allclose(e["theader"][:, 0], baseline, atol=30)
            assert e["trace"].max() <= (65535 if adcbits == 16 else 4095)
    # fcio's derived quantities are sane: unix time and run time increase
    f = fcio.FCIO(str(path))
    unix, runtime = [], []
    while f.get_record():
        if f.tag == tag:
            unix.append(f.event.unix_time_utc_sec)
            runtime.append(f.event.run_time_sec.max())
    f.close()
    assert (np.diff(unix) > 0).all() and 1_700_000_000 < unix[0] < 1_700_000_003
    assert (np.diff(runtime) > 0).all() and 0 <= runtime[0] < 1
    for s, evno in zip(statuses, (14, 29), strict=True):
        assert s["status"] == 1 and s["cards"] == 1 + adccards
        assert [c["reqid"] for c in s["data"]] == [0] + [0x2000 + i for i in range(adccards)]
        assert all(c["eventno"] == evno for c in s["data"])
        assert s["statustime"][0] == ts[evno, 1]


def test_synthetic_run_chunks_and_dead_time(tmp_path, monkeypatch):
    monkeypatch.setattr(synthetic, "_CHUNK", 7)  # several timestamp chunks
    path = tmp_path / "chunks.fcio"
    write_synthetic_run(path, n_events=300, adcs=2, eventsamples=8, status_every=100)
    events = [r for t, r in read_records(path) if t == TAGS.Event]
    ts = np.array([e["timestamp"] for e in events], dtype=np.int64)
    dr = np.array([e["deadregion"] for e in events], dtype=np.int64)
    np.testing.assert_array_equal(ts[:, 0], np.arange(300))
    fpga_ns = ts[:, 1] * 10**9 + 4 * ts[:, 2]
    assert (np.diff(fpga_ns) > 0).all()
    dead_start = dr[:, 0] * 10**9 + 4 * dr[:, 1]
    dead_stop = dr[:, 2] * 10**9 + 4 * dr[:, 3]
    assert (np.diff(dead_stop) >= 0).all() and (dead_stop < fpga_ns).all()
    assert (dead_start <= dead_stop).all()
    assert 1 < len(np.unique(dead_stop[dead_stop > 0])) < 30  # occasional, carried forward
    f = fcio.FCIO(str(path))
    dead_time = 0.0
    while f.get_record():
        if f.tag == TAGS.Event:
            dead_time = f.event.dead_time_sec.max()
    f.close()
    assert 0 < dead_time < 0.1


def test_synthetic_run_is_deterministic(tmp_path):
    kw = {"n_events": 5, "adcs": 3, "eventsamples": 10, "mode": "sparse", "status_every": 2}
    buf = io.BytesIO()
    write_synthetic_run(buf, **kw)
    write_synthetic_run(tmp_path / "a.fcio", **kw)
    write_synthetic_run(tmp_path / "b.fcio", **kw, seed=1)
    assert (tmp_path / "a.fcio").read_bytes() == buf.getvalue()
    assert (tmp_path / "b.fcio").read_bytes() != buf.getvalue()
    write_synthetic_run(tmp_path / "c.fcio", n_events=2, adcs=3, eventsamples=10, tracemap=False)
    records = read_records(tmp_path / "c.fcio")
    np.testing.assert_array_equal(records[0][1]["tracemap"], [0, 0, 0])
    assert [t for t, _ in records] == [TAGS.Config, TAGS.Event, TAGS.Event]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mode": "dense"}, "mode"),
        ({"traces_per_event": 4}, "traces_per_event"),
        ({"adcbits": 10}, "adcbits"),
        ({"n_events": -1}, "n_events"),
    ],
)
def test_synthetic_run_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        write_synthetic_run(
            io.BytesIO(), **({"n_events": 1, "adcs": 3, "eventsamples": 4} | kwargs)
        )
