"""Inputs behind fsspec URLs: :class:`FsspecSource` reads byte ranges with retries and
fetches what a sequential reader hints at in a background thread."""

from __future__ import annotations

import contextlib
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, BinaryIO

import numpy as np

from .byte_source import Source
from .direct_inputs import open_direct
from .errors import RawconvError, RemoteError
from .http_ranges import RangeIgnoredError, range_client
from .remote import attempt, filesystem, is_transient, remote_error


class FsspecSource(Source):
    """Any fsspec URL (``file://``, ``memory://``, ``s3://``, ``https://``, ...).

    Opening asks for the object's details once (``fs.info``: size, ETag...; for plain
    http(s) URLs and S3 objects on an endpoint of one's own, one ``HEAD`` of rawconv's
    own, :mod:`rawconv.direct_inputs`, and the filesystem is made only if a read needs
    it); then each read fetches exactly the byte range asked for (one ranged request, at
    least :data:`MIN_FETCH` bytes; a small read ahead serves the next small reads), retried with
    backoff on transient errors. A :meth:`prefetch` hint of at least
    :data:`MIN_PREFETCH` bytes fetches that range in a background thread while the caller
    decodes what it has: a sequential reader waits on the network only when it decodes
    faster than the bytes come. Every failure (missing backend, refused connection, 403,
    404, a server that ignores byte ranges) is a one-line
    :class:`~rawconv.errors.RawconvError` naming the URL, raised by the read that needs
    the bytes. Plain http(s) URLs and S3 objects are read by
    :class:`~rawconv.http_ranges.RangeClient` while their server answers as expected.
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
        self._fs_path: tuple[Any, str] | None = None
        direct = open_direct(url, storage_options)
        if direct is not None:  # no fsspec backend loaded unless a read goes wrong
            self._info = direct.info
            self._ranges = direct.ranges
        else:
            fs, path = self._filesystem()
            self._info = attempt(lambda: fs.info(path), url, "cannot open the input")
            self._ranges = range_client(fs, path, url, storage_options)
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

    def _filesystem(self) -> tuple[Any, str]:
        """(fsspec filesystem, path) of the input, made when first needed."""
        if self._fs_path is None:
            self._fs_path = filesystem(self.url, self.storage_options)
        return self._fs_path

    def _handle(self) -> BinaryIO:
        if self._fh is None:
            fs, path = self._filesystem()
            self._fh = fs.open(path, "rb", block_size=8 * 2**20)
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
            view[done : done + k] = memoryview(data)[pos - base : pos - base + k]  # one copy
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
                data = None if self._ranges is None else self._ranges.fetch(start, stop)
                if data is None:
                    fs, path = self._filesystem()
                    data = fs.cat_file(path, start=start, end=stop)
            except RangeIgnoredError as exc:
                raise _ignores_ranges(self.url, start, stop, exc.length) from None
            except RawconvError:  # no backend to fall back on
                raise
            except Exception as exc:
                if n < self.RETRIES and is_transient(exc):
                    time.sleep(0.1 * 2**n)
                    continue
                error = remote_error(exc, self.url, "cannot read", offset=start)
            if error is not None:
                raise error  # outside the handler: no backend error chained
            if len(data) > stop - start:
                raise _ignores_ranges(self.url, start, stop, len(data))
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
        if self._ranges is not None:
            self._ranges.close()
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


def _ignores_ranges(url: str, start: int, stop: int, got: int) -> RemoteError:
    return RemoteError(
        f"cannot read: asked for bytes {start}-{stop - 1} and got {got} bytes: the server "
        "ignores HTTP Range requests (rawconv reads inputs by byte ranges; download the file "
        "first, or serve it with Range support)",
        path=url,
        offset=start,
    )
