"""The shuffle kernels (``rawconv/lh5/shuffle_kernels.py``) write HDF5's byte planes.

HDF5's shuffle filter stores byte ``b`` of element ``i`` at ``b * n + i``; numpy's
transpose of the bytes is the reference here, and HDF5's own filter reads the chunks back
in the tests of ``test_compression.py``. The arrays are small: CI runs this file again with
numba's JIT disabled, where the kernels are plain Python that checks every index.
"""

from __future__ import annotations

import zlib

import h5py
import numpy as np
import pytest

from rawconv.lh5 import chunks
from rawconv.lh5.shuffle_kernels import shuffle_words2, shuffle_words4, shuffle_words8

KERNELS = {2: shuffle_words2, 4: shuffle_words4, 8: shuffle_words8}


def planes(a: np.ndarray) -> np.ndarray:
    """HDF5's shuffle of `a`'s bytes, by numpy."""
    return np.ascontiguousarray(a.view(np.uint8).reshape(-1, a.itemsize).T).reshape(-1)


def values(dtype: str, n: int) -> np.ndarray:
    """`n` values of `dtype` that use every byte of their elements (signs, large values)."""
    rng = np.random.default_rng(n)
    dt = np.dtype(dtype)
    if dt.kind == "f":
        return (rng.standard_normal(n) * 10.0 ** rng.integers(-30, 30, n)).astype(dt)
    info = np.iinfo(dt)
    return rng.integers(info.min, info.max, n, dtype=dt, endpoint=True)


@pytest.mark.parametrize("dtype", ["<i2", "<u2", "<i4", "<u4", "<f4", "<i8", "<u8", "<f8"])
@pytest.mark.parametrize("n", [0, 1, 7, 1000])
def test_each_kernel_writes_the_byte_planes_of_its_words(dtype, n):
    a = values(dtype, n)
    out = np.full(a.nbytes + 5, 0xAB, dtype=np.uint8)  # longer than needed: the rest stays
    assert KERNELS[a.itemsize](a.view(f"<u{a.itemsize}"), out) == a.nbytes
    np.testing.assert_array_equal(out[: a.nbytes], planes(a))
    assert (out[a.nbytes :] == 0xAB).all()


@pytest.mark.parametrize("size", [2, 4, 8])
def test_a_kernel_refuses_an_output_too_short_and_writes_nothing(size):
    words = np.arange(1, 11, dtype=f"<u{size}")
    out = np.zeros(words.nbytes - 1, dtype=np.uint8)
    assert KERNELS[size](words, out) == -1
    assert not out.any()


@pytest.mark.parametrize("dtype", ["<i2", "<f4", "<f8", "<c16", "u1"])
def test_the_codec_shuffles_as_numpy_whatever_the_item_size(dtype):
    a = values(dtype, 300) if np.dtype(dtype).kind != "c" else values("<f8", 600).view(dtype)
    codec = chunks.ChunkCodec(a.itemsize, shuffle=True, level=1, row_elements=30)
    got = codec.shuffled(a.reshape(10, 30))
    assert got.dtype == np.uint8 and got.flags.c_contiguous
    np.testing.assert_array_equal(got, planes(a))
    # the encoded chunk is one zlib stream of those planes, whether the codec shuffles or
    # is given the planes already shuffled (the appender's copy for its threads)
    assert zlib.decompress(codec.encode(a.reshape(10, 30))) == planes(a).tobytes()
    assert codec.encode(got, shuffled=True) == codec.encode(a.reshape(10, 30))


@pytest.mark.parametrize("threads", [0, 2])
def test_rows_appended_with_shuffle_read_back_through_hdf5s_filter(threads, tmp_path):
    """The appender's chunks, shuffled by the kernels (in the appending thread, or as the
    copy handed to the compression threads), decode with HDF5's own filters."""
    rows = values("<i2", 40 * 64).reshape(40, 64)
    wide = values("<f8", 40 * 8).reshape(40, 8)
    with chunks.compress_threads(threads), h5py.File(tmp_path / "a.h5", "w") as f:
        for name, data in (("i2", rows), ("f8", wide)):
            ds = f.create_dataset(
                name, shape=(0, data.shape[1]), maxshape=(None, data.shape[1]),
                chunks=(16, data.shape[1]), dtype=data.dtype, compression="gzip",
                shuffle=True,
            )  # fmt: skip
            codec = chunks.ChunkCodec(data.itemsize, True, 1, data.shape[1])
            layout = chunks.ChunkLayout(codec, ds.chunks, data.dtype)
            appender = chunks.DirectChunkAppender(ds, layout)
            for start in range(0, 40, 13):  # pieces across chunk boundaries
                piece = data[start : start + 13].copy()
                appender.append(piece)
                appender.wait()
                piece[...] = 0  # the caller reuses its array after wait()
            appender.flush()
    with h5py.File(tmp_path / "a.h5", "r") as f:
        np.testing.assert_array_equal(f["i2"][()], rows)
        np.testing.assert_array_equal(f["f8"][()], wide)
        assert f["i2"].id.get_num_chunks() == 3


@pytest.mark.parametrize("threads", [0, 2])
def test_rows_of_a_strided_array_are_shuffled_as_their_values(threads, tmp_path):
    """Rows appended from a view that is not C-contiguous (every other column of a wider
    array, a Fortran-ordered array) are stored as their values."""
    wide = values("<i4", 40 * 64).reshape(40, 64)
    pieces = [wide[:, ::2], np.asfortranarray(wide[:, :32])]
    with chunks.compress_threads(threads), h5py.File(tmp_path / "s.h5", "w") as f:
        for k, data in enumerate(pieces):
            assert not data.flags.c_contiguous
            ds = f.create_dataset(
                f"x{k}", shape=(0, 32), maxshape=(None, 32), chunks=(16, 32), dtype="<i4",
                compression="gzip", shuffle=True,
            )  # fmt: skip
            codec = chunks.ChunkCodec(4, True, 1, 32)
            appender = chunks.DirectChunkAppender(ds, chunks.ChunkLayout(codec, ds.chunks,
                                                                         ds.dtype))  # fmt: skip
            appender.append(data)
            appender.flush()
    with h5py.File(tmp_path / "s.h5", "r") as f:
        for k, data in enumerate(pieces):
            np.testing.assert_array_equal(f[f"x{k}"][()], data)
