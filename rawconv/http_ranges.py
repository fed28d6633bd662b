"""Byte ranges of plain http(s) and S3 inputs, read straight into one buffer.

fsspec's HTTP filesystem (aiohttp) hands a response body over in the asyncio loop's reads
of at most 256 KiB, each through Python callbacks, then joins the pieces: about 0.6 CPU s
per GB beyond the socket's own copy, on the cores the conversion needs. For a plain URL
(no storage options, no user name in it) :class:`RangeClient` asks for each range with the
standard library's HTTP client on a kept-alive connection per thread, and the body is read
in C into a buffer of the range's size.

An S3 object read with credentials and an endpoint only (no request options of s3fs's
own) is read the same way through a presigned URL of it (:func:`range_client`): botocore's
handling of each response costs half as much again as aiohttp's. The common cases are
opened without fsspec at all (:mod:`rawconv.direct_inputs`).

Only a ``206`` answer holding exactly the range asked for is read here. A server that
ignores ranges (``200``) raises :class:`RangeIgnoredError` without its body being read; a body
cut short is returned short (the caller retries, as for fsspec). Anything else (a
redirect, an error status, a refused connection, a TLS failure) turns the client off and
the request, and every later one, goes to fsspec, whose errors rawconv reports as before.
"""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import http.client

__all__ = [
    "PLAIN_S3_CLIENT",
    "PLAIN_S3_OPTIONS",
    "PRESIGNED_SECONDS",
    "RangeClient",
    "RangeIgnoredError",
    "range_client",
]


def _client() -> Any:
    """The standard library's HTTP client, imported by the first request: with ssl and the
    email parsers under it, 30-40 ms of every start that a local conversion does not need."""
    import http.client

    return http.client


PRESIGNED_SECONDS = 12 * 3600
"""How long a presigned S3 URL is valid (once it is not, fsspec reads the rest)."""

PLAIN_S3_OPTIONS = frozenset({"key", "secret", "token", "anon", "profile", "endpoint_url",
                              "client_kwargs", "skip_instance_cache", "use_listings_cache"})
"""Storage options of an S3 object whose ranges are read through a presigned URL
(credentials and an endpoint: no request option of s3fs's own)."""
PLAIN_S3_CLIENT = frozenset({"endpoint_url", "region_name"})
"""The ``client_kwargs`` such an object may have."""


def range_client(fs: Any, path: str, url: str, storage_options: dict) -> RangeClient | None:
    """The client that reads the ranges of input `url` (`path` on fsspec filesystem `fs`),
    or None where fsspec must: a plain http(s) URL, or an S3 object whose storage options
    give only credentials and an endpoint (read through a URL presigned by `fs`)."""
    scheme = urlsplit(url).scheme
    if scheme in ("http", "https"):
        return RangeClient.for_url(url, storage_options)
    if scheme not in ("s3", "s3a") or not set(storage_options) <= PLAIN_S3_OPTIONS:
        return None
    if not set(storage_options.get("client_kwargs") or {}) <= PLAIN_S3_CLIENT:
        return None
    try:
        signed = fs.url(path, expires=PRESIGNED_SECONDS)
    except Exception:  # no presigning here: s3fs reads
        return None
    return RangeClient.for_url(signed, {}) if isinstance(signed, str) else None


class RangeIgnoredError(Exception):
    """A server answered a range request with the whole object (`length` bytes)."""

    def __init__(self, length: int) -> None:
        super().__init__(length)
        self.length = length


class RangeClient:
    """Ranged GETs of one http(s) URL (see the module)."""

    TIMEOUT = 60.0
    """Seconds a connection waits for the server before fsspec takes over."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.https = parts.scheme == "https"
        self.host = parts.hostname or ""
        self.port = parts.port
        self.target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.name = url.split("?", 1)[0]
        """The URL without its query (a presigned URL's signature is not shown)."""
        self.enabled = True
        """False once a request went wrong: fsspec reads the rest."""
        self._local = threading.local()
        self._open: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    @classmethod
    def for_url(cls, url: str, storage_options: dict) -> RangeClient | None:
        """A client for `url` when it is a plain http(s) URL read without storage options
        (those are aiohttp's: fsspec applies them), else None."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or storage_options or not parts.hostname:
            return None
        if parts.username or parts.password:
            return None
        return cls(url)

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            client = _client()
            if self.https:
                import ssl

                context = ssl.create_default_context()
                conn = client.HTTPSConnection(
                    self.host, self.port, timeout=self.TIMEOUT, context=context
                )
            else:
                conn = client.HTTPConnection(self.host, self.port, timeout=self.TIMEOUT)
            self._local.conn = conn
            with self._lock:
                self._open.append(conn)
        return conn

    def head(self) -> dict[str, Any] | None:
        """Size and validators (``ETag``, ``Last-Modified``) of the URL from one ``HEAD``
        request, as fsspec lists them; None unless the answer is a ``200`` with a length
        and no content encoding (fsspec must open the URL then)."""
        try:
            conn = self._connection()
            conn.request("HEAD", self.target, headers={"Accept-Encoding": "identity"})
            response = conn.getresponse()
            response.read()
        except (OSError, _client().HTTPException, ValueError):
            self._drop()
            return None
        length = response.getheader("Content-Length")
        encoding = response.getheader("Content-Encoding", "identity").lower()
        if response.status != 200 or length is None or not length.isdigit():
            return None
        if encoding != "identity":
            return None
        info: dict[str, Any] = {"name": self.name, "size": int(length), "type": "file"}
        for header in ("ETag", "Last-Modified"):
            if value := response.getheader(header):
                info[header] = value
        return info

    def _drop(self) -> None:
        """Close this thread's connection (the next request opens another)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            self._local.conn = None
            conn.close()

    def fetch(self, start: int, stop: int) -> bytearray | None:
        """Bytes ``[start, stop)``: all of them, fewer when the body was cut short, or
        None when fsspec must read them (the client is off then)."""
        if not self.enabled:
            return None
        for tries_left in (1, 0):  # a kept-alive connection the server closed: once more
            conn = self._connection()
            reused = conn.sock is not None
            try:
                return self._get(conn, start, stop)
            except RangeIgnoredError:
                self._drop()
                raise
            except (OSError, _client().HTTPException):
                self._drop()
                if not (reused and tries_left):
                    break
        self.enabled = False
        return None

    def _get(self, conn: http.client.HTTPConnection, start: int, stop: int) -> bytearray | None:
        headers = {"Range": f"bytes={start}-{stop - 1}", "Accept-Encoding": "identity"}
        conn.request("GET", self.target, headers=headers)
        response = conn.getresponse()
        want = stop - start
        if response.status == 200 and response.length is not None and response.length > want:
            raise RangeIgnoredError(response.length)
        expected = response.getheader("Content-Range", "").startswith(f"bytes {start}-{stop - 1}/")
        if response.status != 206 or not expected or response.length != want:
            self._drop()
            self.enabled = False
            return None
        buf = bytearray(want)
        n = response.readinto(buf)
        if n < want:  # the connection dropped mid-body
            self._drop()
            del buf[n:]
        return buf

    def close(self) -> None:
        """Close every connection the client opened."""
        with self._lock:
            conns, self._open = self._open, []
        for conn in conns:
            with contextlib.suppress(Exception):
                conn.close()

    def __getstate__(self) -> dict:
        return {"https": self.https, "host": self.host, "port": self.port,
                "target": self.target, "name": self.name, "enabled": self.enabled}  # fmt: skip

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._local = threading.local()
        self._open = []
        self._lock = threading.Lock()
