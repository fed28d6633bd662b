"""The router: rows of one or more block-decoding parts delivered to buffers by key."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rawconv.buffers import RawBuffer, RawBufferList
from rawconv.errors import RawconvError
from rawconv.lh5.columns import ArrayCol, TableCol, VectorCol
from rawconv.routing import DecoderRoute, MergeRoute


@dataclass
class Record:
    part: str
    pid: int
    rows: list[tuple[int, float]]  # (key, value) per row


@dataclass
class Block:
    records: list[Record]

    def where(self, i: int, decoder: str | None = None) -> dict:
        return {"path": "<toy>", "offset": i, "record": self.records[i].pid, "decoder": decoder}


@dataclass
class ToyPart:
    """A block decoder: rows (packet_id, channel, value, trace) of its own records."""

    name: str
    keys: list[int]
    max_rows: int = 3
    skipped_channels: dict = field(default_factory=dict)

    def get_key_lists(self) -> list[list[int]]:
        return [list(self.keys)]

    def get_max_rows_in_packet(self) -> int:
        return self.max_rows

    def make_table(self, key: int | None = None, size: int = 1) -> TableCol:
        return TableCol({
            "packet_id": ArrayCol(np.zeros(size, np.int64)),
            "channel": ArrayCol(np.zeros(size, np.int64)),
            "value": ArrayCol(np.zeros(size, np.float64)),
            "trace": VectorCol.empty(size, 2, np.int16),
        }, size=size)  # fmt: skip

    def decode_block(self, block, first, last, table, row0, max_rows):
        row = row0
        done = 0
        for rec in block.records[first:last]:
            if rec.part == self.name:
                if row - row0 + len(rec.rows) > max_rows:
                    break
                for key, value in rec.rows:
                    self.put_row(table, row, rec.pid, key, value)
                    row += 1
            done += 1
        return done, row - row0

    def put_row(self, table: TableCol, row: int, pid: int, key: int, value: float) -> None:
        table["packet_id"].nda[row] = pid
        table["channel"].nda[row] = key
        table["value"].nda[row] = value
        table["trace"].set_row(row, np.arange(key % 3, dtype=np.int16) + int(value))

    def row_keys(self, table, row0, n):
        return table["channel"].nda[row0 : row0 + n]


def buffer(keys: list[int], size: int, part: ToyPart, fill_safety: int = 1) -> RawBuffer:
    rb = RawBuffer(lgdo=part.make_table(size=size), key_list=keys, out_name=f"b{keys}")
    rb.fill_safety = fill_safety
    return rb


def rows_of(rb: RawBuffer) -> list[tuple[int, int, float, list[int]]]:
    t = rb.lgdo
    cl = t["trace"].cumulative_length.nda
    flat = t["trace"].flattened_data.nda
    return [
        (int(t["packet_id"].nda[i]), int(t["channel"].nda[i]), float(t["value"].nda[i]),
         flat[(cl[i - 1] if i else 0) : cl[i]].tolist())
        for i in range(rb.loc)
    ]  # fmt: skip


def expected(records: list[Record], keys: list[int]) -> list[tuple[int, int, float, list[int]]]:
    return [
        (r.pid, k, v, (np.arange(k % 3) + int(v)).tolist())
        for r in records for k, v in r.rows if k in keys
    ]  # fmt: skip


def records_of(part: str, keys_per_record: list[list[int]], pid0: int = 1) -> list[Record]:
    return [
        Record(part, pid0 + i, [(k, 10.0 * (pid0 + i) + j) for j, k in enumerate(keys)])
        for i, keys in enumerate(keys_per_record)
    ]


# --- hand-built cases -------------------------------------------------------------------------


def test_one_buffer_with_every_key_is_filled_directly():
    part = ToyPart("a", [1, 2])
    rb = buffer([1, 2], 20, part)
    route = MergeRoute(part, RawBufferList([rb]), [part])
    assert route.direct == {id(part): rb}
    block = Block(records_of("a", [[1, 2], [2], [1, 1, 2]]))
    assert route.decode([(part, block, 0, 3)]) == 6
    assert rows_of(rb) == expected(block.records, [1, 2])
    assert route._staging == {}  # nothing staged


def test_rows_go_to_the_buffer_of_their_key_and_unrouted_keys_are_counted():
    part = ToyPart("a", [1, 2, 3, 4])
    one, two_three = buffer([1], 20, part), buffer([2, 3], 20, part)
    route = DecoderRoute(part, RawBufferList([one, two_three]))
    assert route.direct == {}
    block = Block(records_of("a", [[1, 4, 2], [3], [4, 4], [2, 1]]))
    assert route.decode_records(block, 0, 4) == (4, 5)
    assert rows_of(one) == expected(block.records, [1])
    assert rows_of(two_three) == expected(block.records, [2, 3])
    assert part.skipped_channels == {4: 3}


def test_two_parts_are_merged_in_packet_order():
    a, b = ToyPart("a", [1, 2]), ToyPart("b", [3])
    mixed, only2 = buffer([1, 3], 20, a), buffer([2], 20, a)
    route = MergeRoute(a, RawBufferList([mixed, only2]), [a, b])
    assert route.direct == {}  # `mixed` takes rows of both parts: they are merged
    recs = [
        Record("a", 1, [(1, 1.0), (2, 2.0)]), Record("b", 2, [(3, 3.0)]),
        Record("a", 3, [(1, 4.0)]), Record("b", 4, [(3, 5.0), (3, 6.0)]),
    ]  # fmt: skip
    block = Block(recs)
    assert route.decode([(a, block, 0, 4), (b, block, 0, 4)]) == 6
    assert [r[:3] for r in rows_of(mixed)] == [(1, 1, 1.0), (2, 3, 3.0), (3, 1, 4.0),
                                               (4, 3, 5.0), (4, 3, 6.0)]  # fmt: skip
    assert rows_of(only2) == expected(recs, [2])


def test_a_part_that_shares_its_buffer_with_another_is_staged():
    a, b = ToyPart("a", [1]), ToyPart("b", [2])
    rb = buffer([1, 2], 20, a)
    route = MergeRoute(a, RawBufferList([rb]), [a, b])
    assert route.direct == {}  # two feeders: rows must be merged


def test_a_row_budget_keeps_the_first_routed_rows():
    part = ToyPart("a", [1, 2, 5])
    rb = buffer([1, 2], 20, part)
    route = DecoderRoute(part, RawBufferList([rb]))
    block = Block(records_of("a", [[5, 1], [5, 2, 1], [2, 2]]))
    done, kept = route.decode_records(block, 0, 3, budget=2)
    # at most max(3 rows per record, budget 2) = 3 rows are decoded: record 0 (2 rows, one
    # routed) but not record 1 (3 more)
    assert (done, kept) == (1, 1)
    assert part.skipped_channels == {5: 1}
    assert rows_of(rb) == expected(block.records[:1], [1, 2])
    done, kept = route.decode_records(block, 1, 3, budget=1)
    assert (done, kept) == (1, 1)  # record 1: routed rows 2 and 1, the budget keeps one
    assert [r[1] for r in rows_of(rb)] == [1, 2]


def test_decode_records_stops_where_the_buffers_are_full():
    part = ToyPart("a", [1, 2], max_rows=2)
    rb = buffer([1, 2], 5, part, fill_safety=2)
    route = DecoderRoute(part, RawBufferList([rb]))
    block = Block(records_of("a", [[1, 2]] * 4))
    assert route.decode_records(block, 0, 4) == (2, 4)  # direct: the third needs 2 of 1 free
    assert route.capacity_records() == 0
    rb.loc = 0
    one, two = buffer([1], 5, part, fill_safety=1), buffer([2], 5, part, fill_safety=1)
    staged = DecoderRoute(part, RawBufferList([one, two]))
    assert staged.capacity_records() == 5
    assert staged.decode_records(block, 0, 4) == (4, 8)
    assert staged.capacity_records() == 1
    small = buffer([1], 3, part, fill_safety=1)
    assert DecoderRoute(part, RawBufferList([small, two])).decode_records(block, 0, 4) == (1, 2)
    assert (len(small), small.loc) == (3, 1)  # one record: `two` had room for one more row


def test_a_sized_run_that_does_not_fit_is_an_error():
    part = ToyPart("a", [1, 2])
    rb = buffer([1, 2], 3, part)
    route = MergeRoute(part, RawBufferList([rb]), [part])
    block = Block(records_of("a", [[1, 2], [1, 2]]))
    with pytest.raises(RawconvError, match="stopped after 1 of the 2 records") as info:
        route.decode([(part, block, 0, 2)])
    assert info.value.offset == 1


def test_make_room_refuses_a_buffer_smaller_than_one_record():
    part = ToyPart("a", [1], max_rows=4)
    rb = buffer([1], 3, part, fill_safety=4)
    route = MergeRoute(part, RawBufferList([rb]), [part])
    with pytest.raises(RawconvError, match="holds 3 rows, fewer than the 4"):
        route.make_room(np.array([4]), [part], 1)


def test_no_buffers_decodes_nothing():
    part = ToyPart("a", [1])
    route = DecoderRoute(part, RawBufferList())
    block = Block(records_of("a", [[1], [1]]))
    assert route.decode_records(block, 0, 2) == (2, 0)
    assert route.decode([(part, block, 0, 2)]) == 0


# --- properties -------------------------------------------------------------------------------


def stream(route: DecoderRoute, block: Block, rbs: list[RawBuffer], rows) -> dict[int, list]:
    """Decode all records of `block` as a stream does, as many as fit at a time, emptying
    full buffers (checked never to grow); returns ``rows(rb)`` of every buffer's rows in
    the order they came, by ``id(rb)``."""
    sizes = [len(rb) for rb in rbs]
    out: dict[int, list] = {id(rb): [] for rb in rbs}
    first = 0
    for _ in range(1000):
        if first == len(block.records):
            break
        done, _ = route.decode_records(block, first, len(block.records))
        first += done
        assert [len(rb) for rb in rbs] == sizes  # no buffer overflowed (and grew)
        for rb in rbs:
            if done == 0 or rb.is_full():
                out[id(rb)] += rows(rb)
                rb.loc = 0
    for rb in rbs:
        out[id(rb)] += rows(rb)
    return out


KEYS = [0, 1, 2, 3, 4, 5]


@settings(max_examples=40, deadline=None)
@given(
    keys_per_record=st.lists(st.lists(st.sampled_from(KEYS), max_size=3), max_size=40),
    groups=st.lists(
        st.lists(st.sampled_from(KEYS), min_size=1, max_size=3, unique=True),
        min_size=1, max_size=3,
    ),
    size=st.integers(3, 12),
    one_buffer=st.booleans(),
)
def test_decoder_route_delivers_every_routed_row_in_order(
    keys_per_record, groups, size, one_buffer
):
    """Records decoded as many as fit, buffers emptied when full: each buffer sees the rows
    of its keys in input order; unrouted rows are counted."""
    if one_buffer:
        groups = [KEYS]  # every key: rows go straight into the buffer
    taken: dict[int, int] = {}
    for g, keys in enumerate(groups):
        for k in keys:
            taken.setdefault(k, g)  # a key listed twice goes to its first buffer only
    groups = [[k for k in keys if taken[k] == g] for g, keys in enumerate(groups)]
    part = ToyPart("a", KEYS)
    rbs = [buffer(keys, size, part, fill_safety=3) for keys in groups if keys]
    route = DecoderRoute(part, RawBufferList(rbs))
    assert bool(route.direct) == one_buffer
    block = Block(records_of("a", keys_per_record))
    out = stream(route, block, rbs, rows_of)
    for rb in rbs:
        assert out[id(rb)] == expected(block.records, rb.key_list)
    unrouted = [k for keys in keys_per_record for k in keys if k not in taken]
    assert part.skipped_channels == {k: unrouted.count(k) for k in set(unrouted)}


@settings(max_examples=40, deadline=None)
@given(
    owners=st.lists(st.sampled_from(["a", "b", "c"]), max_size=30),
    data=st.data(),
)
def test_merge_route_keeps_input_order_across_parts(owners, data):
    """Three parts with their own keys, buffers mixing them: rows land in packet order."""
    parts = {"a": ToyPart("a", [0, 1]), "b": ToyPart("b", [2, 3]), "c": ToyPart("c", [4, 5])}
    records = [
        Record(p, i + 1, [(k, float(i * 10 + j)) for j, k in enumerate(
            data.draw(st.lists(st.sampled_from(parts[p].keys), max_size=3)))])
        for i, p in enumerate(owners)
    ]  # fmt: skip
    rbs = [buffer([0, 2, 4], 100, parts["a"]), buffer([1, 3], 100, parts["a"])]
    route = MergeRoute(parts["a"], RawBufferList(rbs), list(parts.values()))
    block = Block(records)
    jobs = [(p, block, 0, len(records)) for p in parts.values()]
    route.decode(jobs)
    for rb in rbs:
        assert rows_of(rb) == expected(records, rb.key_list)
    unrouted = sum(1 for r in records for k, _ in r.rows if k == 5)
    assert parts["a"].skipped_channels == ({5: unrouted} if unrouted else {})
