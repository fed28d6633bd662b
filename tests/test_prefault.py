"""Pages of buffer memory allocated ahead of the rows written (rawconv.prefault)."""

from __future__ import annotations

import ctypes
import errno
import mmap
import sys

import numpy as np
import pytest

import rawconv.arena
import rawconv.prefault as prefault
from rawconv.arena import PREFAULT_ROW_BYTES, BufferArena, _fresh
from rawconv.lh5.columns import ArrayCol, TableCol
from rawconv.prefault import Prefaulter
from tests.test_arena import ArrayPart, channel_buffers
from tests.test_routing import Block, records_of

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="MADV_POPULATE_WRITE is Linux's"
)

MIB = 1 << 20


def resident(array: np.ndarray) -> np.ndarray:
    """Whether each page of `array`'s memory is in RAM (``mincore``)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
    addr = array.__array_interface__["data"][0]
    assert addr % mmap.PAGESIZE == 0
    pages = -(-array.nbytes // mmap.PAGESIZE)
    vec = np.zeros(pages, dtype=np.uint8)
    assert libc.mincore(addr, array.nbytes, vec.ctypes.data) == 0, ctypes.get_errno()
    return (vec & 1).astype(bool)


@pytest.fixture
def kernel_populates():
    """Skips where the kernel refuses MADV_POPULATE_WRITE (Linux before 5.14)."""
    probe = _fresh((1,), np.uint8)
    if prefault.available():
        prefault._populate(probe, [(0, 1)])
    if not prefault.available():
        pytest.skip("this kernel refuses MADV_POPULATE_WRITE (Linux 5.14 and later have it)")


@pytest.fixture
def fake_kernel(monkeypatch):
    """madvise replaced by a recorder that succeeds: the arena's requests whatever the
    kernel."""
    calls: list[tuple[int, int]] = []
    monkeypatch.setattr(prefault, "_madvise", lambda addr, n, advice: calls.append((addr, n)) or 0)
    monkeypatch.setattr(prefault, "_usable", True)
    return calls


def test_the_pages_asked_for_are_allocated_and_the_data_kept(kernel_populates):
    a = _fresh((16 * MIB,), np.uint8)
    a[: 2 * MIB] = 7  # written before: must stay
    before = resident(a)
    assert before[: 2 * MIB // mmap.PAGESIZE].all() and not before[2 * MIB // mmap.PAGESIZE :].any()
    pf = Prefaulter()
    pf.request(a, [(MIB + 5, 8 * MIB + 3), (12 * MIB, 13 * MIB)])  # unaligned starts and ends
    pf.close(wait=True)
    page = mmap.PAGESIZE
    now = resident(a)
    assert now[: -(-(8 * MIB + 3) // page)].all()
    assert not now[-(-(8 * MIB + 3) // page) : 12 * MIB // page].any()
    assert now[12 * MIB // page : 13 * MIB // page].all() and not now[13 * MIB // page :].any()
    assert (a[: 2 * MIB] == 7).all() and not a[2 * MIB :].any()


def test_a_kernel_that_refuses_turns_it_off(monkeypatch):
    calls = []

    def refuse(addr: int, length: int, advice: int) -> int:
        calls.append((addr % mmap.PAGESIZE, length, advice))
        ctypes.set_errno(errno.EINVAL)
        return -1

    monkeypatch.setattr(prefault, "_madvise", refuse)
    monkeypatch.setattr(prefault, "_usable", True)
    a = _fresh((4 * MIB,), np.uint8)
    pf = Prefaulter()
    pf.request(a, [(0, MIB), (2 * MIB, 3 * MIB)])
    pf.close(wait=True)
    assert calls == [(0, MIB, prefault.MADV_POPULATE_WRITE)]  # the second range not tried
    assert not prefault.available()
    pf.request(a, [(0, MIB)])  # nothing queued, no thread started
    assert pf._thread is None and len(calls) == 1


class WidePart(ArrayPart):
    """ArrayPart with 300-sample traces: rows large enough to be allocated ahead."""

    samples = 300

    def make_table(self, key: int | None = None, size: int = 1) -> TableCol:
        table = super().make_table(key, size)
        table["waveform"]["values"] = ArrayCol(np.zeros((size, self.samples), np.uint16))
        return table

    def put_row(self, table: TableCol, row: int, pid: int, key: int, value: float) -> None:
        table["packet_id"].nda[row] = pid
        table["channel"].nda[row] = key
        table["value"].nda[row] = value
        table["waveform"]["values"].nda[row] = np.arange(self.samples) + key + int(value)


def arena_of(keys: list[int], size: int) -> tuple[WidePart, list, BufferArena, list]:
    part = WidePart(keys)
    rbs = channel_buffers(part, keys, size)
    arena = BufferArena.adopt(rbs, part.make_table(size=32))
    assert arena is not None
    asked: list = []
    real = Prefaulter.request

    def spy(self, array, ranges):
        asked.append((array, list(ranges)))
        real(self, array, ranges)

    arena._prefault[1].request = spy.__get__(arena._prefault[1])
    return part, rbs, arena, asked


def place(part, arena, keys_per_record, pid0, bytes_left):
    staging = part.make_table(size=32)
    block = Block(records_of("arrays", keys_per_record, pid0))
    _, n = part.decode_block(block, 0, len(keys_per_record), staging, 0, 32)
    dest = staging["channel"].nda[:n].astype(np.int64)
    return arena.place(staging, dest, n, bytes_left)


def test_an_arena_allocates_the_rows_the_rest_of_the_input_can_fill(fake_kernel):
    keys = [0, 1, 2, 3]
    part, rbs, arena, asked = arena_of(keys, 40)
    values = arena.arrays[arena.paths.index(("waveform", "values"))]
    assert values.strides[0] == 600 >= PREFAULT_ROW_BYTES
    large = [a for a in arena.arrays if a.strides[0] >= PREFAULT_ROW_BYTES]
    assert [a is values for a in large] == [True]
    # 2 rows per buffer per block; 20 rows more of input per buffer: 80 input rows
    counts = place(part, arena, [keys, keys], 1, 80 * arena.input_row_bytes)
    assert counts.tolist() == [2, 2, 2, 2]
    assert arena.ready.tolist() == [22] * 4
    (array, ranges), = asked
    row = values.strides[0]
    assert array is values
    assert ranges == [((40 * i + 2) * row, (40 * i + 22) * row) for i in range(4)]
    arena._prefault[1].close(wait=True)  # madvise got them from their first whole page
    base, page = values.__array_interface__["data"][0], mmap.PAGESIZE
    assert [(a - base, n) for a, n in fake_kernel] == [
        (lo // page * page, hi - lo // page * page) for lo, hi in ranges
    ]
    asked.clear()
    for pid in range(3, 19, 2):  # 16 rows more each: 18 written, 4 ready ahead, none asked
        place(part, arena, [keys, keys], pid, (80 - 4 * (pid - 1)) * arena.input_row_bytes)
    assert [rb.loc for rb in rbs] == [18] * 4 and asked == []
    place(part, arena, [keys, keys], 19, 0)  # the input ended: nothing more to ask for
    assert asked == [] and arena.ready.tolist() == [22] * 4
    assert [rb.loc for rb in rbs] == [20] * 4
    for i, rb in enumerate(rbs):  # the rows placed are those decoded
        pids = rb.table["packet_id"].nda[: rb.loc]
        assert pids.tolist() == [p for p in range(1, 21) for _ in (0,)]
        expect = np.arange(300) + keys[i] + (10.0 * pids[:, None] + i).astype(int)
        np.testing.assert_array_equal(rb.table["waveform"]["values"].nda[: rb.loc], expect)


def test_an_input_of_unknown_size_gets_a_few_blocks_ahead(fake_kernel):
    keys = [0, 1, 2, 3, 4]
    part, _, arena, asked = arena_of(keys, 100)
    place(part, arena, [keys], 1, None)  # one row each: 8 blocks of one row ahead
    assert arena.ready.tolist() == [9] * 5
    place(part, arena, [keys[:2]] * 6, 2, None)  # buffers 0 and 1: 8 blocks of 6 rows ahead
    assert arena.ready.tolist() == [55, 55, 9, 9, 9]
    assert [len(r) for _, r in asked] == [5, 2]


def test_outputs_are_the_same_with_and_without_pages_ahead(tmp_path, monkeypatch,
                                                         kernel_populates):  # fmt: skip
    """The l200 layout's channel tables (an arena of processed rows), a file of several
    blocks: the same datasets whether the arena allocates pages ahead or not."""
    import h5py

    from rawconv import build_raw
    from rawconv.formats.fcio.synthetic import write_synthetic_run

    src = tmp_path / "run.fcio"
    write_synthetic_run(src, n_events=700, adcs=6, eventsamples=4400, status_every=50, seed=3)
    asked: list[int] = []
    real = Prefaulter.request
    monkeypatch.setattr(Prefaulter, "request",
                        lambda self, a, r: asked.append(len(r)) or real(self, a, r))  # fmt: skip
    build_raw(str(src), layout="l200", out_spec=str(tmp_path / "ahead.lh5"))
    assert asked and sum(asked) >= 6
    monkeypatch.setattr(rawconv.arena, "available", lambda: False)
    asked.clear()
    build_raw(str(src), layout="l200", out_spec=str(tmp_path / "plain.lh5"))
    assert asked == []
    with h5py.File(tmp_path / "ahead.lh5") as a, h5py.File(tmp_path / "plain.lh5") as b:
        names: list[str] = []
        a.visit(names.append)
        assert len(names) > 6 * 40
        for name in names:
            if isinstance(a[name], h5py.Dataset):
                np.testing.assert_array_equal(a[name][()], b[name][()], err_msg=name)


@pytest.mark.parametrize(
    ("fmt", "relative"),
    [("fcio", "fcio/th228.fcio"), ("orca", "orca/fcio/l200-p14-r004-cal-20250606T010224Z.orca")],
)
def test_routes_are_told_the_bytes_their_stream_has_not_read(fmt, relative):
    from rawconv.formats.registry import get_streamer
    from tests.conftest import data_file

    path = data_file(relative)
    streamer = get_streamer(fmt)
    streamer.block_bytes = 64 << 10  # several blocks
    streamer.open_stream(str(path))
    size = path.stat().st_size
    routes = list(streamer._routes.values())
    assert routes and all(r.bytes_left is not None for r in routes)

    def left_now() -> int:
        told = {r._bytes_left() for r in routes}
        assert len(told) == 1  # every route of a stream is told the same
        return told.pop()

    left = [left_now()]
    while streamer.read_chunk():
        left.append(left_now())
    streamer.close_stream()
    assert 0 <= left[0] < size and left[-1] == 0
    assert left == sorted(left, reverse=True) and len(set(left)) > 1


@pytest.mark.parametrize("fmt", ["fcio", "orca"])
def test_a_finished_stream_is_freed_without_the_garbage_collector(tmp_path, monkeypatch, fmt):
    """Routes ask the reader, not the streamer, for the bytes left: a route holding the
    streamer would make a cycle that keeps a finished stream's buffers (an arena of the
    whole fill in the production layout) until the garbage collector runs."""
    import gc
    import weakref

    from rawconv import build_raw
    from rawconv.formats.fcio.streamer import FCIOStreamer
    from rawconv.formats.orca.streamer import OrcaStreamer
    from tests.conftest import data_file

    cls = FCIOStreamer if fmt == "fcio" else OrcaStreamer
    src = data_file("fcio/th228.fcio" if fmt == "fcio"
                    else "orca/fcio/l200-p14-r004-cal-20250606T010224Z.orca")  # fmt: skip
    streamers: list = []
    opened = cls.open_stream

    def spy(self, *args, **kwargs):
        streamers.append(weakref.ref(self))
        return opened(self, *args, **kwargs)

    monkeypatch.setattr(cls, "open_stream", spy)
    gc.collect()
    gc.disable()
    try:
        build_raw(str(src), out_spec=str(tmp_path / "out.lh5"))
        assert len(streamers) == 1 and streamers[0]() is None
    finally:
        gc.enable()
