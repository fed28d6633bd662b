"""The entry parser: writer-made entries read back (hypothesis), hand-built damage cases
(one per status code), and entry hopping."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rawconv.formats.mgdo import layout
from rawconv.formats.mgdo.block import parse_basket
from rawconv.formats.mgdo.kernels import hop_entries
from rawconv.formats.mgdo.writer import Digitizer, Event, Trace, encode_samples, entry_bytes
from tests.formats.mgdo.oracle import walk_entry

FINITE = st.floats(allow_nan=False, allow_infinity=False, width=64)


def _basket(entries: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    data = np.frombuffer(b"".join(entries), np.uint8)
    return data, np.concatenate([[0], np.cumsum([len(e) for e in entries])])


def parse(entries: list[bytes], main_len: int = 4, aux_len: int = 3, max_traces: int = 0):
    data, offsets = _basket(entries)
    return parse_basket(data, offsets, main_len, aux_len, max_traces)


def simple(channels=(1,), aux=(1,), main_len=4, aux_len=3, **kw) -> Event:
    return Event(
        traces=[Trace(c, np.arange(main_len) + 100 * c) for c in channels],
        digitizers=[Digitizer(energy=float(c)) for c in channels],
        aux=[Trace(c, np.arange(aux_len) * 7 + c, 0.1, 50.0) for c in aux],
        active=[i in channels for i in range(8)], **kw,
    )  # fmt: skip


@st.composite
def events(draw, main_len: int, aux_len: int) -> Event:
    chans = draw(st.lists(st.integers(0, 40), max_size=4, unique=True))
    aux_chans = draw(st.one_of(st.none(), st.lists(st.integers(0, 40), max_size=3, unique=True)))

    def trace(c: int, n: int) -> Trace:
        values = draw(st.lists(st.integers(0, 65535), min_size=n, max_size=n))
        return Trace(c, np.array(values, np.int64), draw(FINITE), draw(FINITE),
                     draw(st.integers(-(2**31), 2**31 - 1)))  # fmt: skip

    digis = [
        Digitizer(draw(FINITE), draw(st.integers(0, 2**64 - 1)), draw(st.integers(0, 2**64 - 1)),
                  draw(FINITE), draw(st.integers(-(2**31), 2**31 - 1)),
                  draw(st.integers(0, 2**64 - 1)), draw(st.integers(0, 2**64 - 1)),
                  draw(st.integers(0, 2**32 - 1)), draw(st.integers(0, 1)),
                  draw(st.integers(0, 2**32 - 1)), draw(st.integers(0, 1)),
                  draw(st.integers(-(2**31), 2**31 - 1)))
        for _ in chans
    ]  # fmt: skip
    return Event(
        traces=[trace(c, main_len) for c in chans], digitizers=digis,
        aux=None if aux_chans is None else [trace(c, aux_len) for c in aux_chans],
        active=draw(st.one_of(st.none(), st.lists(st.booleans(), max_size=40))),
        event_type=draw(st.integers(-(2**31), 2**31 - 1)), event_energy=draw(FINITE),
        event_time=draw(FINITE), event_number=draw(st.integers(-(2**31), 2**31 - 1)),
        use_aux=draw(st.integers(0, 1)),
    )  # fmt: skip


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), main_len=st.integers(0, 20), aux_len=st.integers(0, 9))
def test_written_entries_read_back(data, main_len, aux_len):
    evs = data.draw(st.lists(events(main_len, aux_len), min_size=1, max_size=4))
    entries = [entry_bytes(e) for e in evs]
    pb = parse(entries, main_len, aux_len)
    assert pb.entries["status"].tolist() == [0] * len(evs)
    rows = [(e, t, d) for e in evs for t, d in zip(e.traces, e.digitizers)]
    assert len(pb.traces) == len(rows)
    for r, (_, t, d) in enumerate(rows):
        got = pb.traces[r]
        assert got["channel"] == t.channel
        for name in ("energy", "timestamp_sec", "digitizer_index", "clock_frequency",
                     "eventnumber", "pretrigger", "trigger_number", "timestamp_nsec",
                     "is_mu_vetoed", "mu_veto_sample", "is_inverted", "waveform_tag"):  # fmt: skip
            assert got[name] == getattr(d, name), name
        assert (got["sampling_frequency"], got["t0"]) == (t.sampling_frequency, t.t0)
        assert got["waveform_type"] == t.waveform_type and got["nsamples"] == main_len
        assert pb.main_values[r].tolist() == list(t.samples)
    aux = [t for e in evs for t in (e.aux or [])]
    assert pb.aux["channel"].tolist() == [t.channel for t in aux]
    assert [v.tolist() for v in pb.aux_values] == [list(t.samples) for t in aux]
    for k, e in enumerate(evs):
        ent = pb.entries[k]
        assert (ent["event_type"], ent["event_number"], ent["use_aux"]) == (
            e.event_type, e.event_number, e.use_aux)  # fmt: skip
        assert (ent["event_energy"], ent["event_time"]) == (e.event_energy, e.event_time)
        assert ent["n_flag_bits"] == (-1 if e.active is None else len(e.active))
        flags = pb.flags[ent["flag0"] : ent["flag0"] + ent["n_flag"]].tolist()
        assert flags == [i for i, a in enumerate(e.active or []) if a]
        walked = walk_entry(entries[k])  # the test's own reader agrees with the writer
        assert [m["samples"] for m in walked["main"]] == [list(t.samples) for t in e.traces]


def test_varints_of_every_width():
    samples = np.array([0, 63, 64, 8191, 8192, 65535, 0, 65535, 1, 2], np.int64)
    enc = encode_samples(samples)
    # zig-zag of the differences: 0 126 2 16254 2 114686 131069 131070 131067 2
    assert enc[:6] == b"\x00\x7e\x02\xfe\x7e\x02" and len(enc) == 1 + 1 + 1 + 2 + 1 + 3 * 4 + 1
    pb = parse([entry_bytes(Event([Trace(0, samples)], [Digitizer()], aux=[]))], 10, 0)
    assert pb.main_values[0].tolist() == samples.tolist()


def test_null_pointers_and_empty_arrays():
    ev = Event(traces=[], digitizers=[], aux=None, active=None)
    pb = parse([entry_bytes(ev)])
    assert pb.entries["status"].tolist() == [0]
    e = pb.entries[0]
    assert (e["n_main"], e["n_aux"], e["n_flag_bits"]) == (0, 0, -1)


def test_many_flags_grow_the_flag_list():
    ev = simple()
    ev.active = [True] * 3000 + [False, True]
    pb = parse([entry_bytes(ev)] * 3)
    assert pb.entries["n_flag"].tolist() == [3001] * 3
    assert pb.flags[-3001:].tolist() == [*range(3000), 3001]


def _edit(entry: bytes, old: bytes, new: bytes) -> bytes:
    assert entry.count(old) >= 1, old
    return entry.replace(old, new, 1)


def _status(entry: bytes, main_len: int = 4, **kw) -> tuple[int, str]:
    """Status of `entry` between two good entries (which must be unharmed)."""
    good = [entry_bytes(simple(main_len=main_len)), entry_bytes(simple((2,), main_len=main_len))]
    pb = parse([good[0], entry, good[1]], main_len, **kw)
    assert pb.entries["status"][[0, 2]].tolist() == [0, 0]  # neighbours untouched
    assert pb.traces["channel"].tolist() == [1, 2]
    assert pb.entries["n_main"][1] == 0
    return int(pb.entries["status"][1]), pb.problem(1)


def _event(**kw) -> bytes:
    return entry_bytes(simple(**kw))


GOOD = _event()
BC = struct.unpack(">I", GOOD[10:14])[0]
MAIN_HEAD = struct.pack(">ii", 4, 3)  # nsamples 4, encoding 3
CASES = {
    "prefix": (_edit(GOOD, b"MGTEvent", b"MGTEvenX"), {}, layout.E_PREFIX),
    "version": (GOOD[:14] + b"\x00\x08" + GOOD[16:], {}, layout.E_VERSION),
    "byte count": (GOOD[:10] + struct.pack(">I", BC + 9) + GOOD[14:], {}, layout.E_BYTE_COUNT),
    "cut entry": (GOOD[:-5], {}, layout.E_BYTE_COUNT),
    "string": (GOOD[:38] + b"\xc8" + GOOD[39:], {}, layout.E_TRUNCATED),
    "container": (_edit(GOOD, b"MGTClonesArray", b"MGTClonesArrax"), {}, layout.E_CLASS),
    "element": (_edit(GOOD, b"MGTWaveform;5", b"MGTWavefrom;5"), {}, layout.E_CLASS),
    "length": (GOOD, {"main_len": 5}, layout.E_LENGTH),
    "too many": (_event(channels=(1, 3)), {"max_traces": 1}, layout.E_TOO_MANY),
    "encoding": (_edit(GOOD, MAIN_HEAD, struct.pack(">ii", 4, 2)), {}, layout.E_ENCODING),
    "count": (_edit(GOOD, b"MGTWaveform;5" + struct.pack(">ii", 1, 0),
                    b"MGTWaveform;5" + struct.pack(">ii", 1000, 0)), {}, layout.E_BAD_COUNT),
    "empty slot": (_edit(GOOD, b"MGTWaveform;5" + struct.pack(">ii", 1, 0) + b"\x01",
                         b"MGTWaveform;5" + struct.pack(">ii", 1, 0) + b"\x00"), {},
                   layout.E_BAD_COUNT),
    "pointer": (_edit(GOOD, b"\xff\xff\xff\xffMGTClonesArray\x00", b"\x00\x00\x00\x10" + bytes(15)),
                {}, layout.E_POINTER),
    "closure": (GOOD[:10] + struct.pack(">I", BC + 1) + GOOD[14:] + b"\x00", {}, layout.E_CLOSURE),
    "duplicate": (_event(channels=(1, 1)), {}, layout.E_DUPLICATE),
    "counts differ": (entry_bytes(Event([Trace(1, np.arange(4))], [], aux=[])), {},
                      layout.E_COUNT_MISMATCH),
    "ids differ": (entry_bytes(Event([Trace(1, np.arange(4))], [Digitizer(channel=5)], aux=[])),
                   {}, layout.E_ID_MISMATCH),
    "sample above": (entry_bytes(Event([Trace(1, np.array([0, 70000, 0, 0]))], [Digitizer()])),
                     {}, layout.E_SAMPLE_RANGE),
    "sample below": (entry_bytes(Event([Trace(1, np.array([0, -1, 0, 0]))], [Digitizer()])),
                     {}, layout.E_SAMPLE_RANGE),
    "long varint": (_edit(entry_bytes(Event([Trace(1, np.full(12, 5000))], [Digitizer()])),
                          b"\x90\x4e" + bytes(11), b"\xff" * 12 + b"\x01"), {"main_len": 12},
                    layout.E_VARINT),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
def test_damage_cases(case):
    entry, kw, code = CASES[case]
    status, text = _status(entry, **kw)
    assert status == code, text
    assert text.startswith("entry 1 (byte ")
    assert layout.STATUS_MESSAGES[code].split("{")[0] in text


def test_every_status_code_has_a_case():
    codes = {v for k, v in vars(layout).items() if k.startswith("E_")}
    assert codes == {code for _, _, code in CASES.values()}


def test_hop_entries_finds_complete_entries():
    entries = [_event(), _event(channels=(2, 3)), _event(aux=())]
    data, offsets = _basket(entries)
    out = np.zeros(8, np.int64)
    assert hop_entries(data, len(data), out) == 3
    assert out[:4].tolist() == offsets.tolist()
    assert hop_entries(data, int(offsets[2]) + 7, out) == 2
    assert out[:3].tolist() == offsets[:3].tolist()
    assert hop_entries(data, 5, out) == 0


@pytest.mark.parametrize(("table", "sizes"), [(0, (1, 8, 8)), (1, (8, 1, 8)), (2, (8, 8, 1))])
def test_kernel_stops_where_a_table_is_full(table, sizes):
    """The kernel returns the entry that did not fit and names the table; nothing of that
    entry is kept, and a call with room goes on from there."""
    from rawconv.formats.mgdo.kernels import parse_entries

    entries = [_event(channels=(1,), aux=(1,)), _event(channels=(2, 3), aux=(2, 3))]
    data, offsets = _basket(entries)
    args = [np.zeros(2, layout.ENTRY_DTYPE), np.zeros(sizes[0], layout.TRACE_DTYPE),
            np.zeros((sizes[0], 4), np.uint16), np.zeros(sizes[1], layout.AUX_DTYPE),
            np.zeros((sizes[1], 3), np.uint16), np.zeros(sizes[2], np.uint16)]  # fmt: skip
    counts = np.zeros(4, np.int64)
    lens = np.array([4, 3], np.int64)
    k = parse_entries(data, offsets[:-1], offsets[1:], 0, lens, 0, *args, counts)
    assert (k, counts.tolist()) == (1, [1, 1, 1, table])
    big = [np.zeros((8, *a.shape[1:]), a.dtype) for a in args[1:]]
    for a, b in zip(args[1:], big):
        b[: len(a)] = a
    k = parse_entries(data, offsets[:-1], offsets[1:], 1, lens, 0, args[0], *big, counts)
    assert k == 2 and counts[:3].tolist() == [3, 3, 3]
    assert big[0]["channel"][:3].tolist() == [1, 2, 3] and big[4][:3].tolist() == [1, 2, 3]
