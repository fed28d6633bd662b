"""Buffers of one layout sharing one array per column (a channel per table)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rawconv.arena import BufferArena, leaf, leaves
from rawconv.buffers import RawBuffer, RawBufferList
from rawconv.lh5.columns import ArrayCol, TableCol
from rawconv.processing import process_table
from rawconv.routing import DecoderRoute, MergeRoute
from tests.test_routing import Block, ToyPart, records_of, stream


class ArrayPart(ToyPart):
    """A block decoder of rows (packet_id, channel, value, waveform {t0, dt, values[4]}):
    array columns only, a sub-table among them."""

    def __init__(self, keys: list[int], max_rows: int = 3, name: str = "arrays") -> None:
        super().__init__(name, keys, max_rows)

    def make_table(self, key: int | None = None, size: int = 1) -> TableCol:
        waveform = TableCol({
            "t0": ArrayCol(np.zeros(size, np.float32)),
            "dt": ArrayCol(np.full(size, 16, np.float32)),
            "values": ArrayCol(np.zeros((size, 4), np.uint16)),
        }, size=size)  # fmt: skip
        return TableCol({
            "packet_id": ArrayCol(np.zeros(size, np.int64)),
            "channel": ArrayCol(np.zeros(size, np.int64)),
            "value": ArrayCol(np.zeros(size, np.float64)),
            "waveform": waveform,
        }, size=size)  # fmt: skip

    def put_row(self, table: TableCol, row: int, pid: int, key: int, value: float) -> None:
        table["packet_id"].nda[row] = pid
        table["channel"].nda[row] = key
        table["value"].nda[row] = value
        table["waveform"]["t0"].nda[row] = -value
        table["waveform"]["values"].nda[row] = np.arange(4) + key + int(value)


def rows_of(rb: RawBuffer) -> list[tuple]:
    t = rb.table
    return [
        (int(t["packet_id"].nda[i]), int(t["channel"].nda[i]), float(t["value"].nda[i]),
         float(t["waveform"]["t0"].nda[i]), t["waveform"]["values"].nda[i].tolist())
        for i in range(rb.loc)
    ]  # fmt: skip


def expected(records, keys) -> list[tuple]:
    return [
        (r.pid, k, v, -v, (np.arange(4) + k + int(v)).tolist())
        for r in records for k, v in r.rows if k in keys
    ]  # fmt: skip


def early(rbs: list[RawBuffer]) -> RawBufferList:
    """The buffers as a list that lets routes hand them processed rows."""
    rbl = RawBufferList(rbs)
    rbl.process_early = True
    return rbl


def channel_buffers(part: ArrayPart, keys: list[int], size: int) -> list[RawBuffer]:
    rbs = []
    for k in keys:
        rb = RawBuffer(lgdo=part.make_table(size=size), key_list=[k], out_name=f"ch{k}")
        rb.fill_safety = part.max_rows
        rbs.append(rb)
    return rbs


def test_adopted_buffers_keep_their_rows_and_share_one_array_per_column():
    part = ArrayPart([0, 1, 2, 3, 4])
    rbs = channel_buffers(part, [0, 1, 2, 3, 4], 6)
    rbs[2].table["value"].nda[:2] = [7.5, 8.5]
    rbs[2].loc = 2
    arena = BufferArena.adopt(rbs, part.make_table(size=10))
    assert arena is not None and arena.intact()
    values = arena.arrays[arena.paths.index(("waveform", "values"))]
    assert values.shape == (30, 4)
    for i, rb in enumerate(rbs):
        view = leaf(rb.table, ("waveform", "values")).nda
        assert view.base is not None and np.shares_memory(view, values)
        assert view.__array_interface__["data"][0] == values[6 * i :].__array_interface__["data"][0]
        assert len(rb) == 6
    assert rbs[2].table["value"].nda[:2].tolist() == [7.5, 8.5]


def test_arena_memory_is_zeroed_and_private_to_the_process():
    """The arena's arrays (an anonymous map of ordinary pages) start at 0 and are not
    shared with a forked process: its writes stay its own."""
    import subprocess
    import sys

    from rawconv.arena import _fresh

    a = _fresh((300, 8), np.uint16)
    assert a.shape == (300, 8) and a.dtype == np.uint16 and not a.any()
    assert _fresh((0, 4), np.float32).shape == (0, 4)
    code = """if True:  # forked from a fresh interpreter, not from the test's threads
        import os
        import numpy as np
        from rawconv.arena import _fresh
        a = _fresh((300, 8), np.uint16)
        a[:] = 1
        pid = os.fork()
        if pid == 0:
            a[:] = 7
            os._exit(0)
        os.waitpid(pid, 0)
        print(int(a.min()), int(a.max()))
    """
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "1"]


def test_fewer_than_four_buffers_or_a_vector_column_get_no_arena():
    part = ArrayPart([0, 1, 2])
    assert BufferArena.adopt(channel_buffers(part, [0, 1, 2], 4), part.make_table(size=4)) is None
    toy = ToyPart("a", [0, 1, 2, 3])
    rbs = [RawBuffer(lgdo=toy.make_table(size=4), key_list=[k]) for k in range(4)]
    assert BufferArena.adopt(rbs, toy.make_table(size=4)) is None


def test_place_puts_rows_after_each_buffers_own_in_input_order():
    part = ArrayPart(list(range(5)))
    rbs = channel_buffers(part, list(range(5)), 4)
    arena = BufferArena.adopt(rbs, part.make_table(size=8))
    staging = part.make_table(size=8)
    block = Block(records_of("arrays", [[3, 0, 3], [1, 9], [3]]))
    _, n = part.decode_block(block, 0, 3, staging, 0, 8)
    rbs[3].loc = 1  # a row already there stays first
    dest = np.array([3, 0, 3, 1, -1, 3])
    counts = arena.place(staging, dest, n)
    assert counts.tolist() == [1, 1, 0, 3, 0]
    assert [rb.loc for rb in rbs] == [1, 1, 0, 4, 0]
    assert rows_of(rbs[3])[1:] == expected(block.records, [3])
    assert rows_of(rbs[0]) == expected(block.records, [0])
    assert rows_of(rbs[1]) == expected(block.records, [1])


def test_place_refuses_an_overflow_or_a_buffer_outside_without_copying():
    part = ArrayPart(list(range(5)))
    rbs = channel_buffers(part, list(range(5)), 2)
    arena = BufferArena.adopt(rbs[:4], part.make_table(size=8))
    staging = part.make_table(size=8)
    block = Block(records_of("arrays", [[0, 0, 0], [1]]))
    _, n = part.decode_block(block, 0, 2, staging, 0, 8)
    before = [a.copy() for a in arena.arrays]
    assert arena.place(staging, np.array([0, 0, 0, 1]), n) is None  # three rows, two free
    assert all(np.array_equal(a, b) for a, b in zip(arena.arrays, before))
    assert [rb.loc for rb in rbs] == [0] * 5
    whole = BufferArena.adopt(rbs, part.make_table(size=8))
    rbs[4].table = part.make_table(size=2)  # replaced: it left the arena
    assert not whole.intact()


def test_a_resized_buffer_leaves_the_arena_and_its_rows_still_arrive():
    keys = list(range(6))
    part = ArrayPart(keys)
    rbs = channel_buffers(part, keys, 40)
    route = DecoderRoute(part, RawBufferList(rbs))
    block = Block(records_of("arrays", [[k % 6, (k + 1) % 6] for k in range(12)]))
    assert route.decode_records(block, 0, 6) == (6, 12)
    assert route._arena(route.staging(part)) is not None
    rbs[0].table.resize(50)  # as a damaged map makes the router do
    assert route._arena(route.staging(part)) is None
    assert route.decode_records(block, 6, 12) == (6, 12)
    for rb in rbs:
        assert rows_of(rb) == expected(block.records, rb.key_list)


@settings(max_examples=40, deadline=None)
@given(
    keys_per_record=st.lists(st.lists(st.integers(0, 7), max_size=3), max_size=60),
    n_buffers=st.integers(4, 7),
    size=st.integers(3, 9),
)
def test_rows_reach_a_buffer_per_channel_in_order(keys_per_record, n_buffers, size):
    """Many channel buffers filled and emptied as a stream does: each sees the rows of its
    key in input order (keys 0-7: those past the buffers are unrouted and counted)."""
    part = ArrayPart(list(range(8)))
    rbs = channel_buffers(part, list(range(n_buffers)), size)
    route = DecoderRoute(part, RawBufferList(rbs))
    block = Block(records_of("arrays", keys_per_record))
    out = stream(route, block, rbs, rows_of)
    assert all(len(rb) == size for rb in rbs)
    for rb in rbs:
        assert out[id(rb)] == expected(block.records, rb.key_list)
    if any(keys_per_record):
        assert route._arenas and all(a is not None for a in route._arenas.values())
    unrouted = [k for keys in keys_per_record for k in keys if k >= n_buffers]
    assert part.skipped_channels == {k: unrouted.count(k) for k in set(unrouted)}


# --- rows processed before they reach the buffers ---------------------------------------------

ROW_WISE = {
    "window": ["waveform", 1, 3, "win"],
    "presum": ["waveform", 2, "summed", "rate"],
    "drop": ["waveform"],
}


def test_buffers_sharing_a_row_wise_proc_spec_take_processed_rows():
    """Each block is processed once and its processed rows placed: every buffer holds what
    its own proc_spec makes of its raw rows, in more rows than raw ones in the memory."""
    keys = list(range(5))
    part = ArrayPart(keys)
    rbs = channel_buffers(part, keys, 40)
    for rb in rbs:
        rb.proc_spec, rb.max_rows = dict(ROW_WISE), 1000
    raw = channel_buffers(part, keys, 40)
    route, plain = DecoderRoute(part, early(rbs)), DecoderRoute(part, early(raw))
    block = Block(records_of("arrays", [[k % 5, (k + 2) % 5] for k in range(12)]))
    assert route.decode_records(block, 0, 12) == (12, 24)
    assert plain.decode_records(block, 0, 12) == (12, 24)
    for rb, ref in zip(rbs, raw):
        assert rb.early_processed and not ref.early_processed
        # raw rows of 40 bytes, processed ones of 8 * 3 + (4 + 4 + 2 * 2) + (4 + 4 + 2 * 4)
        # + 2 = 54: the memory holds 29 of them, but a buffer keeps the 40 rows it had
        assert len(rb) == 40
        assert sorted(rb.table) == ["channel", "packet_id", "rate", "summed", "value", "win"]
        want = process_table(ref.table, ROW_WISE, ref.loc)
        assert rb.loc == ref.loc >= 4
        for path, col in leaves(want):
            got = leaf(rb.table, path).nda[: rb.loc]
            np.testing.assert_array_equal(got, col.nda[: ref.loc], err_msg=str(path))
            assert got.dtype == col.nda.dtype
            assert leaf(rb.table, path).attrs == col.attrs


def test_processed_rows_fill_the_raw_rows_memory_up_to_max_rows():
    part = ArrayPart(list(range(4)))
    spec = {"window": ["waveform", 0, 1, "win"], "drop": ["waveform", "value"]}
    for max_rows, want in ((1000, 15), (12, 12)):
        rbs = channel_buffers(part, list(range(4)), 10)
        for rb in rbs:
            rb.proc_spec, rb.max_rows = dict(spec), max_rows
        route = DecoderRoute(part, early(rbs))
        block = Block(records_of("arrays", [[0, 1, 2], [3]]))
        assert route.decode_records(block, 0, 2) == (2, 4)
        # raw rows of 40 bytes (10 per buffer: 400), processed of 8 + 8 + (4 + 4 + 2) = 26
        assert [len(rb) for rb in rbs] == [want] * 4


@pytest.mark.parametrize(
    "change",
    ["one buffer differs", "a dspeed chain", "a missing column"],
)
def test_other_proc_specs_are_applied_when_written(change):
    part = ArrayPart(list(range(4)))
    rbs = channel_buffers(part, list(range(4)), 10)
    for rb in rbs:
        rb.proc_spec = dict(ROW_WISE)
    if change == "one buffer differs":
        rbs[2].proc_spec = {**ROW_WISE, "window": ["waveform", 0, 3, "win"]}
    elif change == "a dspeed chain":  # a processor rawconv does not run itself
        mean = {"function": "mean_stdev", "module": "dspeed.processors",
                "args": ["waveform", "m", "s"]}  # fmt: skip
        chain = {"outputs": ["m"], "processors": {"m": mean}}
        for rb in rbs:
            rb.proc_spec = {**ROW_WISE, "dsp_config": chain}
    else:
        for rb in rbs:
            rb.proc_spec = {**ROW_WISE, "drop": ["nothing"]}
    route = DecoderRoute(part, early(rbs))
    block = Block(records_of("arrays", [[0, 1, 2, 3]] * 3))
    assert route.decode_records(block, 0, 3) == (3, 12)
    for rb in rbs:
        assert not rb.early_processed
        assert rows_of(rb) == expected(block.records, rb.key_list)  # raw rows


def test_buffers_fed_by_several_parts_keep_raw_rows():
    """A route of two parts: a run of one part's records reaches the buffers as a single
    staging table, a later run merges both; the buffers keep raw rows throughout."""
    a, b = ArrayPart([0, 1, 2, 3], name="a"), ArrayPart([4, 5, 6, 7], name="b")
    rbs = channel_buffers(a, list(range(8)), 50)
    for rb in rbs:
        rb.proc_spec = dict(ROW_WISE)
    route = MergeRoute(a, early(rbs), [a, b])
    first = records_of("a", [[0, 1, 2, 3]] * 3)
    both = records_of("a", [[3, 2]], pid0=10) + records_of("b", [[4, 5, 6, 7]] * 2, pid0=11)
    block = Block(first + both)
    assert route.decode([(a, block, 0, 3)]) == 12
    assert route.decode([(a, block, 3, 6), (b, block, 3, 6)]) == 10
    for rb in rbs:
        assert not rb.early_processed
        assert rows_of(rb) == expected(block.records, rb.key_list)


def test_a_stream_opened_by_a_script_keeps_raw_rows(tmp_path):
    """A script driving a DataStreamer reads ``rb.lgdo`` after ``read_chunk`` (as with
    legend-daq2lh5): its buffers hold raw rows even where build_raw's would be processed,
    and the rows it writes are processed then."""
    from rawconv import write_to_lh5_and_clear
    from rawconv.formats.fcio.synthetic import write_synthetic_run
    from rawconv.formats.registry import get_streamer
    from rawconv.layouts import l200_proc_spec

    src = tmp_path / "run.fcio"
    write_synthetic_run(src, n_events=5, adcs=6, eventsamples=4400, status_every=0, seed=5)
    out = tmp_path / "out.lh5"
    spec = {"FCEventDecoder": {"ch{key}/raw": {"key_list": ["*"], "out_stream": str(out),
                                               "proc_spec": l200_proc_spec()}}}  # fmt: skip
    streamer = get_streamer("fcio")
    streamer.open_stream(str(src), rb_lib=spec, buffer_size=10)
    chunk = streamer.read_chunk()
    rbs = [rb for rb in chunk if rb.out_name.startswith("ch")]
    assert len(rbs) == 6 and all(rb.loc == 5 for rb in rbs)
    for rb in rbs:
        assert not rb.early_processed
        assert rb.lgdo["waveform"]["values"].nda.shape == (10, 4400)
    raw = rbs[2].lgdo["waveform"]["values"].nda[:5].astype(np.int64)
    write_to_lh5_and_clear(chunk)
    streamer.close_stream()
    import h5py

    with h5py.File(out, "r") as f:
        name = f"{rbs[2].out_name}/waveform_presummed/values/decoded_size"
        assert f[name][()] == 550
        assert f[f"{rbs[2].out_name}/presum_rate"][()].tolist() == [8] * 5
    import lh5

    summed = lh5.read(f"{rbs[2].out_name}/waveform_presummed", str(out)).values.nda
    np.testing.assert_array_equal(summed, raw.reshape(5, 550, 8).sum(2))


@pytest.mark.parametrize("n_max", [None, 47])
def test_build_raw_channel_tables_processed_early_equal_processed_late(
    tmp_path, monkeypatch, n_max
):
    """An FCIO run with a table per channel and LEGEND's proc_spec: identical outputs
    whether blocks are processed before routing (all tables share the proc_spec) or each
    table when written (one table's proc_spec made different in form only), whole or cut
    by n_max within an event."""
    import h5py

    import rawconv.arena
    from rawconv import build_raw
    from rawconv.formats.fcio.synthetic import write_synthetic_run
    from rawconv.layouts import l200_proc_spec

    src = tmp_path / "run.fcio"
    write_synthetic_run(src, n_events=30, adcs=6, eventsamples=4400, status_every=7, seed=4)
    early = []
    found = rawconv.arena.early_spec
    monkeypatch.setattr(rawconv.arena, "early_spec",
                        lambda *a: early.append(found(*a)) or early[-1])  # fmt: skip
    outs = []
    for variant in ("shared", "one differs"):
        out = tmp_path / f"{variant}.lh5"
        tables = {}
        for ch in range(52800, 52806):
            spec = l200_proc_spec()
            if variant == "one differs" and ch == 52800:
                spec["skip_missing"] = False  # the default: the same processing
            tables[f"ch{ch}/raw"] = {"key_list": [ch], "out_stream": str(out), "proc_spec": spec}
        cut = {} if n_max is None else {"n_max": n_max}
        build_raw(str(src), out_spec={"FCEventDecoder": tables}, buffer_size=7, **cut)
        outs.append(out)
    assert [e is not None for e in early] == [True, False]
    with h5py.File(outs[0], "r") as a, h5py.File(outs[1], "r") as b:
        names: list[str] = []
        a.visit(names.append)
        other: list[str] = []
        b.visit(other.append)
        assert names == other and len(names) > 6 * 40
        for name in names:
            assert dict(a[name].attrs) == dict(b[name].attrs), name
            if isinstance(a[name], h5py.Dataset):
                np.testing.assert_array_equal(a[name][()], b[name][()], err_msg=name)
        encoded = a["ch52803/raw/waveform_windowed/values/encoded_data"]
        assert encoded["cumulative_length"].shape == (30 if n_max is None else 8,)
        if n_max is not None:  # 47 rows: 7 events of 6 traces and 5 of the 8th
            assert a["ch52804/raw/channel"].shape == (8,)
            assert a["ch52805/raw/channel"].shape == (7,)
