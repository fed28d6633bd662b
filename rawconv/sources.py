"""Byte sources: where the bytes of an input come from, and nothing about what they mean.

A :class:`Source` gives bytes by absolute, half-open offset ranges ``[start, stop)``
from a local file, an fsspec URL (``file://``, ``memory://``, ``s3://``, ``https://``, ...:
:mod:`rawconv.url_source`), an in-memory buffer, or a ``.gz`` / ``.bz2`` stream. Sources
drop their handles when pickled and reopen lazily, so they can be sent to Dask workers.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .byte_source import Source
from .decompressors import (
    DECOMPRESS_ERRORS,
    gzip_isize,
    is_reference,
    locate_error,
    one_thread,
    open_decompressor,
)
from .errors import RawconvError
from .url_source import FsspecSource

__all__ = [
    "CompressedSource",
    "FileSource",
    "MemorySource",
    "PrefixSource",
    "Source",
    "open_source",
]


class FileSource(Source):
    """A local file, read with ``os.preadv`` (no shared file position)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self._fd: int | None = None
        self.path = os.fspath(path)
        self.name = self.path
        if not Path(self.path).exists():
            raise FileNotFoundError(f"no such input file: {self.path}")
        if Path(self.path).is_dir():
            raise IsADirectoryError(f"input is a directory, not a file: {self.path}")

    def _handle(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDONLY)
        return self._fd

    @property
    def size(self) -> int:
        return Path(self.path).stat().st_size

    def readinto(self, start: int, out: np.ndarray | memoryview) -> int:
        view = memoryview(out).cast("B")
        fd = self._handle()
        total = 0
        while total < len(view):
            n = os.preadv(fd, [view[total:]], start + total)
            if n == 0:
                break
            total += n
        return total

    def identity(self) -> tuple:
        st = Path(self.path).stat()
        return (str(Path(self.path).resolve()), st.st_size, st.st_mtime_ns)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __getstate__(self) -> dict:
        return {"path": self.path, "name": self.name, "_fd": None}

    def __del__(self) -> None:
        self.close()


class MemorySource(Source):
    """Bytes already in memory (bytes, bytearray, memoryview or a uint8 array)."""

    def __init__(self, data: bytes | bytearray | memoryview | np.ndarray, name: str = "<memory>"):
        self._data = memoryview(data).cast("B")
        self.name = name

    @property
    def size(self) -> int:
        return len(self._data)

    def readinto(self, start: int, out: np.ndarray | memoryview) -> int:
        view = memoryview(out).cast("B")
        chunk = self._data[start : start + len(view)]
        view[: len(chunk)] = chunk
        return len(chunk)

    def __getstate__(self) -> dict:
        return {"_data": bytes(self._data), "name": self.name}

    def __setstate__(self, state: dict) -> None:
        self._data = memoryview(state["_data"])
        self.name = state["name"]


class PrefixSource(Source):
    """The first `stop` bytes of another source, which end there (a header read without
    reading on into the data behind it)."""

    def __init__(self, inner: Source, stop: int) -> None:
        self.inner = inner
        self.stop = stop
        self.name = inner.name

    @property
    def size(self) -> int:
        inner = self.inner.size
        return self.stop if inner is None else min(inner, self.stop)

    def readinto(self, start: int, out: np.ndarray | memoryview) -> int:
        view = memoryview(out).cast("B")
        n = max(0, min(len(view), self.stop - start))
        return self.inner.readinto(start, view[:n]) if n else 0

    def prefetch(self, start: int, stop: int) -> None:
        self.inner.prefetch(start, min(stop, self.stop))

    def identity(self) -> tuple:
        return (*self.inner.identity(), "prefix", self.stop)

    def close(self) -> None:
        self.inner.close()


class CompressedSource(Source):
    """A gzip or bzip2 stream over another source, read forwards.

    Reading backwards restarts decompression from the beginning, so streamers read
    these sequentially. The decompressed size is unknown until the end is reached.
    `threads` > 1 decompresses in that many threads when the ``compressed`` extra is
    installed (:func:`rawconv.decompressors.open_decompressor`).
    """

    def __init__(self, inner: Source, codec: str, threads: int = 1) -> None:
        if codec not in ("gz", "bz2"):
            raise ValueError(f"unknown compression {codec!r}: use 'gz' or 'bz2'")
        self.inner = inner
        self.codec = codec
        self.threads = threads
        self.name = inner.name
        self._stream: BinaryIO | None = None
        self._pos = 0
        self._size: int | None = None

    def _open(self) -> BinaryIO:
        return open_decompressor(self.codec, self.inner, self.threads)

    @property
    def size(self) -> int | None:
        return self._size

    def readinto(self, start: int, out: np.ndarray | memoryview) -> int:
        view = memoryview(out).cast("B")
        if self._stream is None or start < self._pos:
            self.close()
            self._stream = self._open()
            self._pos = 0
        stream = self._stream
        try:  # one decompressor read at a time: no byte is lost to an error
            while self._pos < start:  # skip forwards
                skipped = stream.read1(min(start - self._pos, 16 * 2**20))
                if not skipped:
                    self._size = self._pos
                    return 0
                self._pos += len(skipped)
            total = 0
            while total < len(view):
                n = stream.readinto1(view[total:])
                if not n:
                    self._check_end(stream)
                    self._size = self._pos
                    break
                total += n
                self._pos += n
        except DECOMPRESS_ERRORS as exc:
            if isinstance(exc, RawconvError):  # the compressed input could not be read
                raise
            offset, cause = self._pos, exc
            self.close()  # no decompression thread stays behind
            if not is_reference(stream):  # worded and placed as Python's gzip / bz2 do
                offset, cause = locate_error(self.codec, self.inner) or (offset, exc)
            raise self._error(offset, cause) from exc
        return total

    def _error(self, offset: int, cause: BaseException) -> RawconvError:
        return RawconvError(
            f"cannot decompress {self.codec} stream: {cause}", path=self.name, offset=offset
        )

    def _check_end(self, stream: BinaryIO) -> None:
        """rapidgzip ends a gzip stream cut short without an error: a decompressed size
        that differs from the trailer's (ISIZE) has the stream decompressed again by
        Python's gzip, whose error is raised (a stream of several members differs from
        its last member's ISIZE and is sound)."""
        if self.codec != "gz" or one_thread(stream):
            return
        if gzip_isize(self.inner) in (None, self._pos % 2**32):
            return
        found = locate_error(self.codec, self.inner)
        if found is not None:
            self.close()
            raise self._error(*found)

    def identity(self) -> tuple:
        return (*self.inner.identity(), self.codec)

    @property
    def cacheable(self) -> bool:
        return self.inner.cacheable

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None
        self._pos = 0

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_stream"] = None
        state["_pos"] = 0
        return state


def _compression_of(name: str) -> str | None:
    lower = name.lower()
    if lower.endswith(".gz"):
        return "gz"
    if lower.endswith(".bz2"):
        return "bz2"
    return None


def open_source(obj: Any, **storage_options: Any) -> Source:
    """Make a :class:`Source` from a path, URL, bytes-like object or Source.

    ``.gz`` and ``.bz2`` names are decompressed on the fly. A path that does not exist
    raises FileNotFoundError.
    """
    if isinstance(obj, Source):
        return obj
    if isinstance(obj, (bytes, bytearray, memoryview, np.ndarray)):
        return MemorySource(obj)
    if isinstance(obj, (str, os.PathLike)):
        name = os.fspath(obj)
        if "://" in name:
            inner: Source = FsspecSource(name, **storage_options)
        else:
            inner = FileSource(os.path.expandvars(name))
        codec = _compression_of(name)
        return CompressedSource(inner, codec) if codec else inner
    raise TypeError(f"cannot read bytes from an object of type {type(obj).__name__}")
