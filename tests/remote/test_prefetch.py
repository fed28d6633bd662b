"""Background fetches of FsspecSource: what a sequential reader hints at is fetched once,
in one request, while it decodes; errors reach the read that needs the bytes."""

from __future__ import annotations

import itertools
import pickle
import uuid

import fsspec
import numpy as np
import pytest

from rawconv.blockreader import BlockReader
from rawconv.errors import RemoteNotFoundError
from rawconv.url_source import FsspecSource

MIB = 1 << 20


@pytest.fixture
def memory_file():
    """(url, bytes) of a 10 MiB file on fsspec's memory filesystem, removed afterwards."""
    data = np.random.default_rng(7).integers(0, 256, 10 * MIB, dtype=np.uint8).tobytes()
    url = f"memory://prefetch-{uuid.uuid4().hex[:8]}/input.bin"
    fs = fsspec.filesystem("memory")
    fs.pipe_file(url, data)
    yield url, data
    if fs.exists(url):
        fs.rm(url)


class Recording(FsspecSource):
    """An FsspecSource that records the byte ranges it fetches."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.ranges: list[tuple[int, int]] = []

    def _fetch(self, start: int, stop: int) -> bytes:
        self.ranges.append((start, stop))
        return super()._fetch(start, stop)


def test_hinted_range_is_fetched_once_and_served(memory_file):
    url, data = memory_file
    src = Recording(url)
    src.prefetch(2 * MIB, 5 * MIB)
    out = np.empty(2 * MIB, dtype=np.uint8)
    assert src.readinto(2 * MIB, out) == 2 * MIB
    assert out.tobytes() == data[2 * MIB : 4 * MIB]
    # the rest of the hinted range serves the next read; beyond it, only what is missing
    assert src.readinto(4 * MIB, out) == 2 * MIB
    assert out.tobytes() == data[4 * MIB : 6 * MIB]
    assert src.ranges == [(2 * MIB, 5 * MIB), (5 * MIB, 6 * MIB)]
    src.close()


def test_read_before_a_hint_stops_where_the_hint_starts(memory_file):
    url, data = memory_file
    src = Recording(url)
    src.prefetch(3 * MIB, 6 * MIB)
    out = np.empty(4 * MIB, dtype=np.uint8)
    assert src.readinto(1 * MIB, out) == 4 * MIB
    assert out.tobytes() == data[1 * MIB : 5 * MIB]
    assert sorted(src.ranges) == [(1 * MIB, 3 * MIB), (3 * MIB, 6 * MIB)]
    src.close()


def test_small_hints_and_hints_past_the_end(memory_file):
    url, data = memory_file
    src = Recording(url)
    src.prefetch(0, FsspecSource.MIN_PREFETCH - 1)  # too small to be worth a thread
    assert src._pending is None
    src.prefetch(9 * MIB, 20 * MIB)  # clipped to the file
    out = np.empty(2 * MIB, dtype=np.uint8)
    assert src.readinto(9 * MIB, out) == MIB
    assert out[:MIB].tobytes() == data[9 * MIB :]
    assert src.ranges == [(9 * MIB, 10 * MIB)]
    src.close()


def test_block_reader_reads_a_file_in_distinct_ranges(memory_file):
    """A BlockReader hints at each next block: every byte is fetched exactly once."""
    url, data = memory_file
    src = Recording(url)
    reader = BlockReader(src, 3 * MIB)
    seen = bytearray()
    while True:
        reader.read()
        seen += reader.buf[: reader.fill].tobytes()
        reader.compact(reader.fill)
        if reader.eof:
            break
    assert bytes(seen) == data
    starts = sorted(src.ranges)
    assert starts[0][0] == 0 and starts[-1][1] == len(data)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(starts))
    assert len(starts) == 4  # 3 MiB at a time, the first read without a hint


def test_background_error_is_raised_by_the_read_that_needs_the_bytes(memory_file):
    url, _ = memory_file
    src = FsspecSource(url)
    fsspec.filesystem("memory").rm(url)  # gone after it was opened
    src.prefetch(MIB, 4 * MIB)  # fails in the background, quietly
    out = np.empty(MIB, dtype=np.uint8)
    with pytest.raises(RemoteNotFoundError) as info:
        src.readinto(MIB, out)
    assert url in str(info.value)
    assert info.value.offset == MIB
    src.close()


def test_close_and_pickle_with_a_fetch_pending(memory_file):
    url, data = memory_file
    src = FsspecSource(url)
    src.prefetch(0, 8 * MIB)
    copy = pickle.loads(pickle.dumps(src))  # no thread, future or bytes travel
    assert copy._pending is None and copy._fetcher is None and copy._ahead == (0, b"")
    src.close()
    assert src._pending is None and src._fetcher is None
    out = np.empty(MIB, dtype=np.uint8)
    assert copy.readinto(MIB, out) == MIB and out.tobytes() == data[MIB : 2 * MIB]
    assert src.readinto(0, out) == MIB and out.tobytes() == data[:MIB]  # reopens
    copy.close()
    src.close()
