"""Local files as byte sources: large reads copied from a memory map of the range, small
ones and every read the map cannot serve through preadv, the same bytes either way."""

from __future__ import annotations

import mmap
import pickle

import numpy as np
import pytest

import rawconv.sources
from rawconv.sources import MAP_MIN_BYTES, FileSource


@pytest.fixture
def data_file(tmp_path):
    data = np.random.default_rng(1).integers(0, 256, 5 * MAP_MIN_BYTES + 777, dtype=np.uint8)
    path = tmp_path / "input.bin"
    path.write_bytes(data.tobytes())
    return path, data


def spy_maps(monkeypatch) -> list[int]:
    """Count the reads served by a map (their lengths)."""
    served: list[int] = []
    copy = rawconv.sources._copy_mapped

    def counted(fd, start, view):
        ok = copy(fd, start, view)
        if ok:
            served.append(len(view))
        return ok

    monkeypatch.setattr(rawconv.sources, "_copy_mapped", counted)
    return served


@pytest.mark.parametrize(
    ("start", "n"),
    [(0, MAP_MIN_BYTES), (12345, 3 * MAP_MIN_BYTES + 5), (mmap.ALLOCATIONGRANULARITY, 2 << 20),
     (7, 100), (5 * MAP_MIN_BYTES - 10, 200)],
)  # fmt: skip
def test_reads_give_the_files_bytes(data_file, monkeypatch, start, n):
    path, data = data_file
    served = spy_maps(monkeypatch)
    out = np.zeros(n, np.uint8)
    with FileSource(path) as src:
        assert src.readinto(start, out) == n
    np.testing.assert_array_equal(out, data[start : start + n])
    assert served == ([n] if n >= MAP_MIN_BYTES else [])


def test_a_read_past_the_end_is_short(data_file, monkeypatch):
    path, data = data_file
    served = spy_maps(monkeypatch)
    start = len(data) - MAP_MIN_BYTES // 2
    out = np.zeros(2 * MAP_MIN_BYTES, np.uint8)
    with FileSource(path) as src:
        assert src.readinto(start, out) == MAP_MIN_BYTES // 2
        assert src.readinto(len(data), out) == 0
    np.testing.assert_array_equal(out[: MAP_MIN_BYTES // 2], data[start:])
    assert served == []  # preadv reads what is there


def test_a_file_cut_or_grown_after_opening_reads_what_it_holds_now(data_file):
    """A truncation after the source was opened gives a short read (touching a mapped page
    past the new end would kill the process); bytes appended later are read."""
    path, data = data_file
    out = np.zeros(2 * MAP_MIN_BYTES, np.uint8)
    with FileSource(path) as src:
        assert src.readinto(0, out) == len(out)
        with open(path, "r+b") as f:
            f.truncate(3 * MAP_MIN_BYTES)
        assert src.readinto(2 * MAP_MIN_BYTES, out) == MAP_MIN_BYTES
        np.testing.assert_array_equal(
            out[:MAP_MIN_BYTES], data[2 * MAP_MIN_BYTES : 3 * MAP_MIN_BYTES]
        )
        with open(path, "ab") as f:
            f.write(bytes(range(256)) * (MAP_MIN_BYTES // 128))
        assert src.readinto(3 * MAP_MIN_BYTES, out) == 2 * MAP_MIN_BYTES
        assert out[:512].tolist() == list(range(256)) * 2


def test_a_file_that_cannot_be_mapped_is_read(data_file, monkeypatch):
    path, data = data_file

    def refuse(*args, **kwargs):
        raise OSError("mmap not supported here")

    monkeypatch.setattr(rawconv.sources.mmap, "mmap", refuse)
    out = np.zeros(2 * MAP_MIN_BYTES, np.uint8)
    with FileSource(path) as src:
        assert src.readinto(100, out) == len(out)
    np.testing.assert_array_equal(out, data[100 : 100 + len(out)])


def test_an_empty_file_and_a_pickled_source(tmp_path, data_file):
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    out = np.zeros(MAP_MIN_BYTES, np.uint8)
    with FileSource(empty) as src:
        assert src.readinto(0, out) == 0
    path, data = data_file
    src = FileSource(path)
    src.readinto(0, out)
    copy = pickle.loads(pickle.dumps(src))
    src.close()
    assert copy.readinto(MAP_MIN_BYTES, out) == len(out)
    np.testing.assert_array_equal(out, data[MAP_MIN_BYTES : 2 * MAP_MIN_BYTES])
    copy.close()
