"""Decompressors of ``.gz`` and ``.bz2`` streams, read forwards.

One thread: ISA-L's ``isal.igzip`` (a dependency; the same bytes as Python's ``gzip``,
faster) and Python's ``bz2``. Several threads, with the ``compressed`` extra
(``pip install 'rawconv[compressed]'``): ``rapidgzip`` and ``indexed_bzip2``; without it
the one-thread decompressors are used. The parallel layer decompresses a large input once,
with several threads, to split it (:mod:`rawconv.parallel.staging`).

Errors are those of Python's ``gzip`` and ``bz2`` whichever decompressor met them: a
damaged stream is decompressed again by Python's module up to the damage
(:func:`locate_error`), which gives the message and the offset (the other decompressors
word errors their own way, and lose the bytes of the read that failed).
"""

from __future__ import annotations

import bz2
import gzip
import importlib
import io
from pathlib import Path
from typing import Any, BinaryIO

from isal import igzip

__all__ = [
    "DECOMPRESS_ERRORS",
    "MULTI_THREAD_MODULES",
    "SourceFile",
    "gzip_isize",
    "is_reference",
    "locate_error",
    "one_thread",
    "open_decompressor",
]

MULTI_THREAD_MODULES = {"gz": "rapidgzip", "bz2": "indexed_bzip2"}
"""The module that decompresses each codec in several threads (the ``compressed`` extra)."""

DECOMPRESS_ERRORS = (OSError, EOFError, RuntimeError, ValueError)
"""What the decompressors raise for a damaged or truncated stream (rapidgzip and
indexed_bzip2 raise RuntimeError / ValueError where Python's modules raise OSError /
EOFError)."""


class SourceFile(io.RawIOBase):
    """A seekable, read-only file object over a :class:`~rawconv.sources.Source` (what
    the decompressors read)."""

    def __init__(self, source: Any) -> None:
        self._source = source
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._source.size is not None

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_CUR:
            offset += self._pos
        elif whence == io.SEEK_END:
            if self._source.size is None:
                raise io.UnsupportedOperation("the size of the input is unknown")
            offset += self._source.size
        if offset < 0:
            raise ValueError(f"negative seek position {offset}")
        self._pos = offset
        return offset

    def readinto(self, b: Any) -> int:
        n = self._source.readinto(self._pos, b)
        self._pos += n
        return n


def _multi_thread_module(codec: str) -> Any | None:
    """rapidgzip / indexed_bzip2, or None when not installed."""
    try:
        return importlib.import_module(MULTI_THREAD_MODULES[codec])
    except ImportError:
        return None


def open_decompressor(codec: str, inner: Any, threads: int = 1) -> BinaryIO:
    """A file object of the bytes decompressed from the source `inner` (``gz`` or ``bz2``).

    With `threads` > 1 and the ``compressed`` extra installed, the stream is decompressed
    in that many threads (a local file is opened by its path, any other source through a
    :class:`SourceFile`); else by ISA-L (gz) or Python's bz2 in the calling thread.
    """
    if codec not in MULTI_THREAD_MODULES:
        raise ValueError(f"unknown compression {codec!r}: use 'gz' or 'bz2'")
    module = _multi_thread_module(codec) if threads > 1 else None
    if module is not None:
        path = getattr(inner, "path", None)  # a FileSource: read by the library itself
        target = path if isinstance(path, str) and Path(path).is_file() else SourceFile(inner)
        stream = module.open(target, parallelization=threads)
        if isinstance(stream, io.BufferedIOBase):  # indexed_bzip2
            return stream  # type: ignore[return-value]
        return io.BufferedReader(stream, buffer_size=1 << 20)  # type: ignore[return-value]
    raw = io.BufferedReader(SourceFile(inner), buffer_size=1 << 20)
    if codec == "gz":
        return igzip.IGzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    return bz2.BZ2File(raw, mode="rb")  # type: ignore[return-value]


def _open_reference(codec: str, inner: Any) -> BinaryIO:
    """Python's own decompressor of `codec` over `inner`."""
    raw = io.BufferedReader(SourceFile(inner), buffer_size=1 << 20)
    if codec == "gz":
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    return bz2.BZ2File(raw, mode="rb")  # type: ignore[return-value]


def is_reference(stream: Any) -> bool:
    """Whether `stream` is Python's own decompressor (whose errors are the reference)."""
    return type(stream) in (gzip.GzipFile, bz2.BZ2File)


def one_thread(stream: Any) -> bool:
    """Whether `stream` is a decompressor of one thread (not of the ``compressed`` extra)."""
    return type(stream) in (gzip.GzipFile, bz2.BZ2File, igzip.IGzipFile)


def gzip_isize(inner: Any) -> int | None:
    """ISIZE of a gzip stream: the decompressed size modulo 2**32 of its last member, from
    its last 4 bytes (a lower bound of the stream's decompressed size); None when the
    compressed size is unknown or too small for a gzip member."""
    packed = inner.size
    if packed is None or packed < 18:
        return None
    return int.from_bytes(inner.read(packed - 4, packed), "little")


def locate_error(codec: str, inner: Any) -> tuple[int, BaseException] | None:
    """(decompressed offset, error) where Python's decompressor of `codec` fails on the
    stream of `inner`, reading it from its start; None if it does not fail."""
    buf = memoryview(bytearray(1 << 20))
    pos = 0
    with _open_reference(codec, inner) as stream:
        try:
            while n := stream.readinto1(buf):  # no decompressed byte lost to the error
                pos += n
        except DECOMPRESS_ERRORS as exc:
            return pos, exc
    return None
