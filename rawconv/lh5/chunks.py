"""Writing HDF5 chunks directly: rawconv compresses, HDF5 only stores.

For gzip, zstd and uncompressed datasets, rawconv fills whole chunks itself, applies the
standard HDF5 shuffle filter and compresses them in a thread pool, then stores them with
h5py's direct chunk write. The datasets declare the usual filters (``shuffle`` +
``deflate``, or ``shuffle`` + hdf5plugin's zstd, filter 32015), so every HDF5 reader
(h5py, legend-lh5io, h5dump; for zstd with the plugin) reads them back bit-identical.

zstd chunks are single zstd frames with the content size in their header, as the filter
plugin writes them (and needs to read them); the zstd library is the ``zstandard`` package,
one compressor per thread and level. HDF5's filter pipeline costs more per small dataset
than the compression itself (a chunk cache entry, the filter call, a fresh compression
context per chunk): the production layout's 5,000 small zstd datasets per file are why
rawconv writes these chunks itself.

Deflate streams are made plane by plane (:mod:`rawconv.lh5.deflate`): a plane is stored,
coded as blocks of literals or deflated by ISA-L, as a sample of it says.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from contextlib import contextmanager
from typing import Any, NamedTuple

import h5py
import numpy as np
import zstandard

from .deflate import ROW_FLUSH_ELEMENTS, zlib_stream

__all__ = [
    "ZSTD_FILTER",
    "ChunkCodec",
    "ChunkLayout",
    "ChunkSupply",
    "DirectChunkAppender",
    "chunk_filters",
    "compress_threads",
    "direct_chunks_supported",
    "zstd_level",
]

ZSTD_FILTER = 32015
"""HDF5's registered filter id of Zstandard (hdf5plugin's ``Zstd``)."""

_DEFLATE_FILTER, _SHUFFLE_FILTER = 1, 2

_POOL: ThreadPoolExecutor | None = None


_THREADS: int | None = None
_CORES = os.cpu_count() or 1


def set_compress_threads(n: int | None) -> None:
    """Threads that compress chunks (None: $RAWCONV_COMPRESS_THREADS, else all cores; 0:
    none, each chunk is compressed by the thread that appends it, with no copy).

    The parallel layer's tasks on one-thread workers use 0, so that each worker keeps
    one core busy and workers do not compete.
    """
    global _POOL, _THREADS
    if n != _THREADS and _POOL is not None:
        _POOL.shutdown(wait=True)
        _POOL = None
    _THREADS = n


@contextmanager
def compress_threads(n: int | None) -> Iterator[None]:
    """:func:`set_compress_threads` for the block, the previous setting restored after it."""
    previous = _THREADS
    set_compress_threads(n)
    try:
        yield
    finally:
        set_compress_threads(previous)


def compression_threads() -> int:
    """The compression threads asked for (0: compress in the appending thread)."""
    if _THREADS is not None:
        return _THREADS
    value = os.environ.get("RAWCONV_COMPRESS_THREADS")  # asked per chunk: no cpu_count()
    return int(value) if value is not None else _CORES


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(
            max_workers=max(1, compression_threads()), thread_name_prefix="rawconv-deflate"
        )
    return _POOL


class _CopyBudget:
    """Bytes of chunk copies queued for compression, over all appenders of the process.

    Decoding outruns deflate, so without a bound every appender would queue copies of
    its chunks; one shared bound keeps the peak memory independent of the number of
    datasets. Only pacing happens here: a chunk's errors reach its own appender.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.queued: deque[tuple[Future, int]] = deque()
        self.nbytes = 0
        self.lock = threading.Lock()

    def add(self, future: Future, nbytes: int) -> None:
        """Count a queued copy, then wait for the oldest ones while over the bound."""
        with self.lock:
            self.queued.append((future, nbytes))
            self.nbytes += nbytes
        while True:
            with self.lock:
                if self.nbytes <= self.limit or not self.queued:
                    return
                oldest, size = self.queued.popleft()
                self.nbytes -= size
            wait_futures([oldest])


_COPIES = _CopyBudget(16 << 20)


def zstd_level(compression: Any, opts: Any = None) -> int | None:
    """The level of a zstd ``compression`` setting (an hdf5plugin ``Zstd``, or the filter
    id with its options in `opts`); None for any other setting, and for a zstd filter
    without exactly one option, a level of 1-22, whose chunks HDF5's filter writes."""
    if getattr(compression, "filter_id", None) == ZSTD_FILTER:
        opts = compression.filter_options
    elif not isinstance(compression, int) or compression != ZSTD_FILTER:
        return None
    if opts is None or isinstance(opts, int) or len(opts) != 1:
        return None
    level = int(opts[0])
    return level if 1 <= level <= zstandard.MAX_COMPRESSION_LEVEL else None


def direct_chunks_supported(settings: dict[str, Any], dtype: np.dtype) -> bool:
    """True when rawconv can encode the chunks of a dataset with these h5py settings."""
    if dtype.kind not in "biuf" or settings.get("direct_chunks") is False:
        return False
    allowed = {"compression", "compression_opts", "shuffle", "chunks", "direct_chunks"}
    if set(settings) - allowed:
        return False
    comp = settings.get("compression")
    return comp in (None, "gzip") or zstd_level(comp, settings.get("compression_opts")) is not None


def chunk_filters(dcpl: h5py.h5p.PropDCID) -> tuple[bool, str | None, int | None] | None:
    """(shuffle, method, level) of a chunked dataset's creation property list whose chunks
    rawconv can write: ``shuffle`` then optionally ``deflate`` (method "gzip") or zstd with
    its level (method "zstd"); None for any other layout or filter pipeline."""
    if dcpl.get_layout() != h5py.h5d.CHUNKED:
        return None
    shuffle, method, level = False, None, None
    for i in range(dcpl.get_nfilters()):
        code, _, values, _ = dcpl.get_filter(i)
        if code == _SHUFFLE_FILTER and not shuffle and method is None:
            shuffle = True
        elif code == _DEFLATE_FILTER and method is None and len(values) == 1:
            method, level = "gzip", int(values[0])
        elif code == ZSTD_FILTER and method is None and len(values) == 1:
            if not 1 <= int(values[0]) <= zstandard.MAX_COMPRESSION_LEVEL:
                return None  # a level zstandard refuses: HDF5's filter knows what it means
            method, level = "zstd", int(values[0])
        else:
            return None
    return shuffle, method, level


_ZSTD = threading.local()


def _zstd(level: int) -> zstandard.ZstdCompressor:
    """This thread's zstd compressor of `level` (compressors are not shared by threads)."""
    made = getattr(_ZSTD, "by_level", None)
    if made is None:
        made = _ZSTD.by_level = {}
    comp = made.get(level)
    if comp is None:
        comp = made[level] = zstandard.ZstdCompressor(level=level, write_content_size=True)
    return comp


class ChunkCodec:
    """Encodes one chunk as HDF5's shuffle + deflate (or zstd) filters would, or not at all
    (`level` None)."""

    def __init__(self, itemsize: int, shuffle: bool, level: int | None, row_elements: int,
                 method: str = "gzip") -> None:  # fmt: skip
        self.itemsize = itemsize
        self.shuffle = shuffle and itemsize > 1
        self.level = level
        self.row_elements = row_elements
        self.method = method
        """"gzip" or "zstd" (for a `level` that is not None)."""

    def shuffled(self, chunk: np.ndarray) -> np.ndarray:
        """The bytes of `chunk` in HDF5's shuffle order, as a new array."""
        raw = np.ascontiguousarray(chunk).view(np.uint8).reshape(-1)
        kernel = _shuffle_kernel(self.itemsize)
        if kernel is None or len(raw) % self.itemsize:
            return np.ascontiguousarray(raw.reshape(-1, self.itemsize).T).reshape(-1)
        out = np.empty(len(raw), dtype=np.uint8)
        kernel(raw.view(f"<u{self.itemsize}"), out)
        return out

    def encode(self, chunk: np.ndarray, shuffled: bool = False) -> bytes:
        """The bytes HDF5 stores for `chunk` (C-contiguous, full chunk shape), or for the
        bytes :meth:`shuffled` made of it (`shuffled`)."""
        if self.shuffle and not shuffled:
            raw = self.shuffled(chunk)
        else:
            raw = chunk.view(np.uint8).reshape(-1)
        if self.level is None:
            return raw
        if self.method == "zstd":
            return _zstd(self.level).compress(raw)
        planes = self.itemsize if self.shuffle else 1
        row_bytes = self.row_elements * (1 if self.shuffle else self.itemsize)
        step = row_bytes if self.row_elements >= ROW_FLUSH_ELEMENTS else len(raw) // planes
        return zlib_stream(raw, planes, step, self.level)


class ChunkLayout(NamedTuple):
    """How rawconv writes the chunks of a dataset."""

    codec: ChunkCodec
    chunks: tuple[int, ...]
    """The chunk shape."""
    dtype: np.dtype
    """The dataset's dtype."""


_SHUFFLE_KERNELS: dict[int, Callable[[np.ndarray, np.ndarray], int]] = {}


def _shuffle_kernel(itemsize: int) -> Callable[[np.ndarray, np.ndarray], int] | None:
    """The numba kernel that shuffles elements of `itemsize` bytes (None: numpy does; on a
    big-endian machine the kernels' shifts would not pick the bytes in memory order)."""
    if not _SHUFFLE_KERNELS and sys.byteorder == "little":
        from . import shuffle_kernels as k  # numba: imported by the first chunk shuffled

        _SHUFFLE_KERNELS.update({2: k.shuffle_words2, 4: k.shuffle_words4, 8: k.shuffle_words8})
    return _SHUFFLE_KERNELS.get(itemsize)


ChunkSupply = Callable[[int, int, "ChunkCodec"], "bytes | None"]
"""Called as ``supply(first_row, chunk_rows, codec)`` for each whole chunk an appender is
about to encode: the chunk's stored bytes, already encoded as `codec` would (the parallel
merge copies chunks its pack tasks compressed), or None to encode it."""


class DirectChunkAppender:
    """Appends rows to a chunked dataset, one whole encoded chunk at a time.

    Whole chunks are encoded and stored by the shared thread pool. Uncompressed chunks are
    stored straight from the caller's array, so the caller must call :meth:`wait` before
    it reuses that array (:class:`~rawconv.lh5.writer.LH5Writer` does after every write).
    Chunks to compress are copied first (a shuffled dataset's copy is its shuffled bytes,
    made in one pass) and compressed while the caller goes on decoding (at most 16 MiB of
    such copies at a time in the whole process). Rows short of a whole
    chunk wait in a chunk buffer; :meth:`flush` writes them as a partial chunk (padded with
    zeros, which the dataset's extent hides), which later rows rewrite. A chunk that
    `supply` returns bytes for is stored as those bytes; its rows are not read.

    It works on the dataset's low-level id: a layout of thousands of small datasets
    appends once to each, and h5py's properties (``shape``, ``dtype``, ``resize``) cost
    more than HDF5's own work there.
    """

    def __init__(self, ds: h5py.Dataset, layout: ChunkLayout, supply: ChunkSupply | None = None,
                 rows: int | None = None) -> None:  # fmt: skip
        self.dsid = dsid = ds.id
        self.codec = layout.codec
        self.supply = supply
        self.chunks = tuple(layout.chunks)
        self.rows = self.chunks[0]
        self.dtype = layout.dtype
        self.n = dsid.shape[0] if rows is None else rows
        """Rows of the dataset (`rows`, when the caller knows them)."""
        self.pending: np.ndarray | None = None
        """The rows of the partial last chunk (allocated when there are any)."""
        self.fill = self.n % self.rows
        if self.fill:  # resume a partial last chunk written before
            self.pending = np.zeros(self.chunks, dtype=self.dtype)
            self.pending[: self.fill] = ds[self.n - self.fill : self.n]
        self.copies = self.codec.level is not None
        self.inflight: list[Future] = []
        self.last: Any = ds[self.n - 1] if self.n else None

    def append(self, nda: np.ndarray) -> None:
        """Add rows (shape ``(n, *row_shape)``); call :meth:`wait` before reusing `nda`."""
        if len(nda) == 0:
            return
        if nda.dtype != self.dtype:  # whole chunks are encoded from its bytes
            nda = nda.astype(self.dtype)
        self.dsid.set_extent((self.n + len(nda), *self.chunks[1:]))
        pos = 0
        if self.fill:
            take = min(self.rows - self.fill, len(nda))
            self.pending[self.fill : self.fill + take] = nda[:take]
            self.fill += take
            pos = take
            if self.fill == self.rows:
                self._submit(self.n + pos - self.rows, self.pending, owned=True)
                self.pending = None
                self.fill = 0
        while len(nda) - pos >= self.rows:
            self._submit(self.n + pos, nda[pos : pos + self.rows], owned=False)
            pos += self.rows
        if pos < len(nda):
            self.fill = len(nda) - pos
            self.pending = np.empty(self.chunks, dtype=self.dtype)
            self.pending[: self.fill] = nda[pos:]
        self.n += len(nda)
        self.last = nda[-1].copy() if nda.ndim > 1 else nda[-1]

    def _submit(self, first_row: int, chunk: np.ndarray, owned: bool) -> None:
        if self.supply is not None:
            stored = self.supply(first_row, self.rows, self.codec)
            if stored is not None:
                self.dsid.write_direct_chunk(self._offset(first_row), stored)
                return
        if compression_threads() == 0:  # here and now: the caller's rows need no copy
            self._encode_write(first_row, chunk)
            return
        shuffled = False
        if self.copies and not owned:  # the copy the pool reads is the shuffled bytes
            shuffled = self.codec.shuffle
            chunk = self.codec.shuffled(chunk) if shuffled else chunk.copy()
        future = _pool().submit(self._encode_write, first_row, chunk, shuffled)
        self.inflight.append(future)
        if self.copies:
            _COPIES.add(future, chunk.nbytes)

    def _offset(self, first_row: int) -> tuple[int, ...]:
        return (first_row,) + (0,) * (len(self.chunks) - 1)

    def _encode_write(self, first_row: int, chunk: np.ndarray, shuffled: bool = False) -> None:
        """Encode a chunk (`shuffled`: its bytes already in shuffle order) and store it (in
        a pool thread; h5py serialises the write)."""
        data = self.codec.encode(np.ascontiguousarray(chunk), shuffled)
        self.dsid.write_direct_chunk(self._offset(first_row), data)

    def wait(self, all_chunks: bool = False) -> None:
        """Block until the chunks that still read the caller's arrays are stored (with
        `all_chunks`, every chunk); errors of the pool are raised here."""
        if self.copies and not all_chunks:
            done = [f for f in self.inflight if f.done()]
            for future in done:
                future.result()
            self.inflight = [f for f in self.inflight if not f.done()]
            return
        inflight, self.inflight = self.inflight, []
        for future in inflight:
            future.result()

    def flush(self) -> None:
        """Store every chunk, the partial last one included."""
        self.wait(all_chunks=True)
        if self.fill:
            self.pending[self.fill :] = 0
            self._encode_write(self.n - self.fill, self.pending)
