"""Byte sources: where the bytes of an input come from, and nothing about what they mean.

A :class:`Source` gives bytes by absolute, half-open offset ranges ``[start, stop)``
from a local file, an fsspec URL (``file://``, ``memory://``, ``s3://``, ``https://``, ...),
an in-memory buffer, or a ``.gz`` / ``.bz2`` stream. Sources drop their handles when
pickled and reopen lazily, so they can be sent to Dask workers.
"""

from __future__ import annotations

import contextlib
import os
import time
from abc import ABC, abstractmethod
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .decompressors import (
    DECOMPRESS_ERRORS,
    gzip_isize,
    is_reference,
    locate_error,
    one_thread,
    open_decompressor,
)
from .errors import RawconvError, RemoteError
from .remote import attempt, filesystem, is_transient, remote_error

__all__ = [
    "CompressedSource",
    "FileSource",
    "FsspecSource",
    "MemorySource",
    "PrefixSource",
    "Source",
    "open_source",
]


class Source(ABC):
    """Random access to the bytes of one input."""

    name: str

    @property
    @abstractmethod
    def size(self) -> int | None:
        """Total size in bytes, or None when unknown until read (compressed streams)."""

    @abstractmethod
    def readinto(self, start: int, out: np.ndarray | memoryview) -> int:
        """Fill `out` with bytes from `start` on; return how many were read (short at EOF)."""

    def prefetch(self, start: int, stop: int) -> None:
        """A hint that bytes ``[start, stop)`` are read next: a source whose reads wait on
        a network fetches them in the background (the default does nothing)."""

    def read(self, start: int, stop: int) -> bytes:
        """Bytes ``[start, stop)``; fewer only at the end of the input."""
        if stop <= start:
            return b""
        buf = bytearray(stop - start)
        n = self.readinto(start, memoryview(buf))
        return bytes(buf[:n])

    def identity(self) -> tuple:
        """What identifies this version of the input (name, size, modification stamp)."""
        return (self.name, self.size)

    @property
    def cacheable(self) -> bool:
        """Whether :meth:`identity` tells versions apart (so an index may be cached)."""
        return True

    def close(self) -> None:
        """Release handles; the source reopens itself on the next read."""

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


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


class FsspecSource(Source):
    """Any fsspec URL (``file://``, ``memory://``, ``s3://``, ``https://``, ...).

    Opening asks for the object's details once (``fs.info``: size, ETag...); then each
    read fetches exactly the byte range asked for (one ranged request, at least
    :data:`MIN_FETCH` bytes; a small read ahead serves the next small reads), retried with
    backoff on transient errors. A :meth:`prefetch` hint of at least
    :data:`MIN_PREFETCH` bytes fetches that range in a background thread while the caller
    decodes what it has: a sequential reader waits on the network only when it decodes
    faster than the bytes come. Every failure (missing backend, refused connection, 403,
    404, a server that ignores byte ranges) is a one-line
    :class:`~rawconv.errors.RawconvError` naming the URL, raised by the read that needs
    the bytes.
    """

    MIN_FETCH = 64 << 10
    """Smallest request: reads of header words do not each cost a round trip."""
    MIN_PREFETCH = 1 << 20
    """Smallest range fetched in the background (smaller hints are not worth a thread)."""
    RETRIES = 3
    """Attempts after the first for a transient error (dropped connection, 5xx)."""

    def __init__(self, url: str, **storage_options: Any) -> None:
        self.url = url
        self.name = url
        self.storage_options = storage_options
        self._fs, self._path = filesystem(url, storage_options)
        self._info = attempt(lambda: self._fs.info(self._path), url, "cannot open the input")
        if self._info.get("type") == "directory":
            raise RemoteError("cannot open the input: it is a folder, not a file", path=url)
        self._fh: BinaryIO | None = None
        self._ahead: tuple[int, bytes] = (0, b"")
        """(offset, bytes) fetched and not yet read."""
        self._pending: tuple[int, int, Future[bytes]] | None = None
        """(start, stop, future) of the background fetch."""
        self._fetcher: ThreadPoolExecutor | None = None
        self.requests = 0
        """Ranged requests made (retries included)."""

    def _handle(self) -> BinaryIO:
        if self._fh is None:
            self._fh = self._fs.open(self._path, "rb", block_size=8 * 2**20)
        return self._fh

    @property
    def size(self) -> int | None:
        size = self._info.get("size")
        return None if size is None else int(size)

    def readinto(self, start: int, out: np.ndarray | memoryview) -> int:
        view = memoryview(out).cast("B")
        size = self.size
        if size is None:  # no size from the server: read through a file object
            return self._read_stream(start, view)
        n = max(0, min(len(view), size - start))
        done = 0
        while done < n:
            pos = start + done
            base, data = self._fetched(pos)
            if not data:  # up to a background fetch further on: no byte is fetched twice
                stop = min(size, pos + max(n - done, self.MIN_FETCH))
                if self._pending is not None and pos < self._pending[0]:
                    stop = min(stop, self._pending[0])
                base, data = pos, self._fetch(pos, stop)
            k = min(n - done, base + len(data) - pos)
            view[done : done + k] = data[pos - base : pos - base + k]
            done += k
            self._ahead = (base, data) if pos + k < base + len(data) else (0, b"")
        return n

    def prefetch(self, start: int, stop: int) -> None:
        size = self.size
        if size is None:
            return
        base, ahead = self._ahead
        if base <= start < base + len(ahead):  # what is fetched already is not asked again
            start = base + len(ahead)
        stop = min(stop, size)
        if stop - start < self.MIN_PREFETCH or (self._pending and self._pending[0] == start):
            return
        self._drop_pending()
        if self._fetcher is None:
            self._fetcher = ThreadPoolExecutor(1, thread_name_prefix="rawconv-prefetch")
        self._pending = (start, stop, self._fetcher.submit(self._fetch, start, stop))

    def _fetched(self, pos: int) -> tuple[int, bytes]:
        """(offset, bytes) already fetched, or being fetched, that hold offset `pos`
        (waits for a background fetch; its error is raised here); (0, b"") if none."""
        base, ahead = self._ahead
        if base <= pos < base + len(ahead):
            return base, ahead
        pending = self._pending
        if pending is not None and pending[0] <= pos < pending[1]:
            self._pending = None
            return pending[0], pending[2].result()
        return 0, b""

    def _drop_pending(self) -> None:
        """Forget the background fetch (its bytes are not wanted)."""
        if self._pending is not None:
            self._pending[2].cancel()
            self._pending = None

    def _fetch(self, start: int, stop: int) -> bytes:
        """Bytes ``[start, stop)`` in one ranged request (retried when transient)."""
        for n in range(self.RETRIES + 1):
            self.requests += 1
            error = None
            try:
                data = self._fs.cat_file(self._path, start=start, end=stop)
            except Exception as exc:
                if n < self.RETRIES and is_transient(exc):
                    time.sleep(0.1 * 2**n)
                    continue
                error = remote_error(exc, self.url, "cannot read", offset=start)
            if error is not None:
                raise error  # outside the handler: no backend error chained
            if len(data) > stop - start:
                raise RemoteError(
                    f"cannot read: asked for bytes {start}-{stop - 1} and got {len(data)} bytes: "
                    "the server ignores HTTP Range requests (rawconv reads inputs by byte "
                    "ranges; download the file first, or serve it with Range support)",
                    path=self.url,
                    offset=start,
                )
            if len(data) == stop - start:
                return data
            if n < self.RETRIES:  # a body cut short: the connection dropped
                time.sleep(0.1 * 2**n)
                continue
            raise RemoteError(
                f"cannot read: got {len(data)} of {stop - start} bytes (the input is shorter "
                "than its listed size, or the connection keeps dropping)",
                path=self.url,
                offset=start,
            )
        raise AssertionError("unreachable")  # pragma: no cover

    def _read_stream(self, start: int, view: memoryview) -> int:
        """Read through a file object (inputs whose size the server does not tell)."""
        total = 0

        def read() -> None:
            nonlocal total
            fh = self._handle()
            fh.seek(start)
            while total < len(view):
                chunk = fh.read(len(view) - total)
                if not chunk:
                    break
                view[total : total + len(chunk)] = chunk
                total += len(chunk)

        try:
            attempt(read, self.url, "cannot read", offset=start)
        except RawconvError:
            self.close()
            raise
        return total

    def identity(self) -> tuple:
        """(url, size, version stamp): the ETag, else the modification time the filesystem
        lists (Last-Modified), else None (:attr:`cacheable` is then False)."""
        info = self._info
        stamp = None
        for key in ("ETag", "etag", "Last-Modified", "LastModified", "last_modified", "mtime",
                    "created"):  # fmt: skip
            if info.get(key):
                stamp = f"{key}={info[key]}"
                break
        return (self.url, self.size, stamp)

    @property
    def cacheable(self) -> bool:
        return self.identity()[-1] is not None

    def close(self) -> None:
        self._drop_pending()
        self._ahead = (0, b"")
        if self._fetcher is not None:  # a fetch under way ends on its own, unwaited for
            fetcher, self._fetcher = self._fetcher, None
            fetcher.shutdown(wait=False, cancel_futures=True)
        if self._fh is not None:
            fh, self._fh = self._fh, None
            with contextlib.suppress(Exception):  # a handle whose connection broke
                fh.close()

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.update(_fh=None, _pending=None, _fetcher=None, _ahead=(0, b""))
        return state


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
