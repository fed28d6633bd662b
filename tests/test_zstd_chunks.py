"""zstd chunks rawconv compresses itself: what hdf5plugin's filter stores and reads back,
written through the writer's appenders, and the pipelines rawconv leaves to HDF5."""

from __future__ import annotations

import h5py
import hdf5plugin
import numpy as np
import pytest
import zstandard

from rawconv.lh5 import chunks
from rawconv.lh5 import datasets as lh5_datasets
from rawconv.lh5.columns import ArrayCol, TableCol
from rawconv.lh5.writer import LH5Writer

from .conftest import datasets
from .test_compression import PIECES, SHUFFLE, ZSTD, expected, filters, source_table, write_pieces


def shuffled(rows: np.ndarray) -> bytes:
    """HDF5's shuffle filter applied to a C-ordered chunk."""
    size = rows.dtype.itemsize
    return np.ascontiguousarray(rows.view(np.uint8).reshape(-1, size).T).tobytes()


def stored_chunks(ds: h5py.Dataset) -> list[tuple[int, bytes]]:
    """(first row, stored bytes) of each chunk of a 1-D or 2-D chunked dataset."""
    rows = ds.chunks[0]
    return [(r, ds.id.read_direct_chunk((r,) + (0,) * (ds.ndim - 1))[1])
            for r in range(0, ds.shape[0], rows)]  # fmt: skip


def test_zstd_tables_written_by_rawconv_read_as_hdf5_filter_writes_them(tmp_path, monkeypatch):
    tables = [source_table(seed) for seed in range(len(PIECES))]
    fast, slow = tmp_path / "fast.lh5", tmp_path / "slow.lh5"
    compressed: list[int] = []
    real = chunks._zstd

    def counting(level: int) -> zstandard.ZstdCompressor:
        compressed.append(level)
        return real(level)

    monkeypatch.setattr(chunks, "_zstd", counting)
    write_pieces(fast, tables, "zstd:3")
    assert compressed and set(compressed) == {3}  # rawconv compressed the chunks
    n_fast = len(compressed)
    monkeypatch.setattr(lh5_datasets, "_chunk_layout", lambda ds: None)
    write_pieces(slow, tables, "zstd:3")  # every chunk through HDF5's filter
    assert len(compressed) == n_fast
    monkeypatch.undo()

    want = expected(tables)
    checked = 0
    fast_sets, slow_sets = datasets(fast), datasets(slow)
    assert fast_sets.keys() == slow_sets.keys() == want.keys()
    for name, ds in fast_sets.items():
        other = slow_sets[name]
        np.testing.assert_array_equal(ds[()], want[name], err_msg=name)
        np.testing.assert_array_equal(other[()], want[name], err_msg=name)
        if not ds.shape:
            continue
        if name.endswith("encoded_data/flattened_data"):
            assert filters(ds) == filters(other) == [], name
            continue
        assert filters(ds) == filters(other) == [SHUFFLE, ZSTD], name
        assert ds.id.get_create_plist().get_filter(1)[2] == (3,), name
        assert ds.chunks == other.chunks, name
        # each chunk a zstd frame with its size, holding the shuffled rows padded with zeros
        pad = np.zeros(ds.chunks, dtype=ds.dtype)
        for (first, mine), (_, theirs) in zip(stored_chunks(ds), stored_chunks(other)):
            assert zstandard.frame_content_size(mine) == pad.nbytes, name
            rows = want[name][first : first + ds.chunks[0]]
            full = pad.copy()
            full[: len(rows)] = rows
            plain = zstandard.ZstdDecompressor().decompress(mine)
            assert plain == shuffled(full) == zstandard.ZstdDecompressor().decompress(theirs)
            checked += 1
    assert checked >= 20
    for sets in (fast_sets, slow_sets):
        next(iter(sets.values())).file.close()


@pytest.mark.parametrize(
    ("settings", "found"),
    [
        ({"compression": "gzip", "compression_opts": 4, "shuffle": True}, (True, "gzip", 4)),
        ({"compression": "gzip", "compression_opts": 1}, (False, "gzip", 1)),
        ({"shuffle": True, **hdf5plugin.Zstd(clevel=5)}, (True, "zstd", 5)),
        ({**hdf5plugin.Zstd(clevel=3)}, (False, "zstd", 3)),
        ({"compression": ZSTD, "compression_opts": (9,), "shuffle": True}, (True, "zstd", 9)),
        ({"shuffle": True}, (True, None, None)),
        ({}, (False, None, None)),
        ({"compression": ZSTD, "shuffle": True}, None),  # no level: HDF5's filter writes
        ({"compression": ZSTD, "compression_opts": (30,)}, None),  # not a level of zstandard
        ({"compression": "lzf", "shuffle": True}, None),
        ({"compression": "gzip", "fletcher32": True}, None),
        ({"scaleoffset": 0}, None),
        ({"chunks": None}, None),  # contiguous
    ],
)
def test_chunk_filters_of_creation_properties(settings, found):
    with h5py.File("mem.h5", "w", driver="core", backing_store=False) as f:
        kwargs = {"chunks": (64,), "maxshape": (None,), **settings}
        if kwargs["chunks"] is None:
            kwargs.pop("maxshape")
        ds = f.create_dataset("d", shape=(10,), dtype="i4", **kwargs)
        assert chunks.chunk_filters(ds.id.get_create_plist()) == found


def test_zstd_level_of_settings():
    assert chunks.zstd_level(hdf5plugin.Zstd(clevel=7)) == 7
    assert chunks.zstd_level(ZSTD, (2,)) == 2
    assert chunks.zstd_level(ZSTD, None) is None
    assert chunks.zstd_level(ZSTD, (2, 1)) is None
    assert chunks.zstd_level(ZSTD, (0,)) is None and chunks.zstd_level(ZSTD, (23,)) is None
    assert chunks.zstd_level("gzip", 4) is None
    assert chunks.zstd_level(hdf5plugin.LZ4()) is None
    u2 = np.dtype("u2")
    assert chunks.direct_chunks_supported({"compression": hdf5plugin.Zstd(clevel=3)}, u2)
    assert not chunks.direct_chunks_supported({"compression": ZSTD}, u2)
    assert not chunks.direct_chunks_supported({"compression": hdf5plugin.LZ4()}, u2)


@pytest.mark.parametrize("settings", ["zstd:3", "gzip", "none"])
def test_rows_of_another_dtype_are_converted_to_the_dataset_dtype(tmp_path, settings):
    """An int64 column appended with int32 rows: whole chunks are encoded straight from
    the caller's array, which must first hold the dataset's dtype."""
    path = tmp_path / "t.lh5"
    first = np.array([-5], dtype=np.int64)
    more = np.arange(-1000, 2000, dtype=np.int32) * 7
    with LH5Writer(hdf5_settings=settings) as w:
        w.write(TableCol({"v": ArrayCol(first)}), "t", path)
        w.write(TableCol({"v": ArrayCol(more)}), "t", path)
    with h5py.File(path, "r") as f:
        ds = f["t/v"]
        assert ds.dtype == np.int64 and ds.chunks == (1024,)
        np.testing.assert_array_equal(ds[()], np.concatenate([first, more.astype(np.int64)]))
