"""Servers the remote-data tests start on 127.0.0.1: a static HTTP file server that counts
requests and bytes (with or without Range support), and moto's S3 server."""

from __future__ import annotations

import email.utils
import hashlib
import os
import socket
import ssl
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass
class HttpFiles:
    """What a running test HTTP server serves and what it has sent."""

    root: Path
    url: str
    ranges: bool = True
    """Whether Range requests are honoured (else every GET sends the whole file)."""
    forbidden: set[str] = field(default_factory=set)
    """File names answered with 403."""
    validators: bool = True
    """Whether ETag and Last-Modified headers are sent."""
    drop: int = 0
    """The next this many ranged GETs send half their body and close the connection."""
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    """(method, path, Range header) of every request."""
    bytes_sent: int = 0
    """Body bytes sent (all requests)."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    _digests: dict[tuple[str, int, int], str] = field(default_factory=dict)

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.bytes_sent = 0

    def get_requests(self, name: str) -> list[tuple[str, str, str | None]]:
        return [r for r in self.requests if r[1] == f"/{name}"]

    def digest(self, path: Path, st: os.stat_result) -> str:
        """The MD5 of a file's content (the ETag), computed once per size and mtime."""
        key = (str(path), st.st_size, st.st_mtime_ns)
        if key not in self._digests:
            md5 = hashlib.md5()
            with path.open("rb") as f:
                while block := f.read(16 << 20):
                    md5.update(block)
            self._digests[key] = md5.hexdigest()
        return self._digests[key]


def _read(path: Path, start: int, stop: int) -> bytes:
    """Bytes ``[start, stop)`` of a file (a range read reads only its range)."""
    with path.open("rb") as f:
        f.seek(start)
        return f.read(stop - start)


def _handler(files: HttpFiles) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _serve(self, body: bool) -> None:
            rng = self.headers.get("Range")
            with files.lock:
                files.requests.append((self.command, self.path, rng))
            name = self.path.partition("?")[0].lstrip("/")  # S3 clients add ?x-id=...
            path = files.root / name
            if name in files.forbidden:
                self._send(403, b"forbidden", body)
                return
            if not name or not path.is_file():
                self._send(404, b"not found", body)
                return
            st = path.stat()
            size = st.st_size
            headers = {}
            if files.validators:
                headers["ETag"] = '"' + files.digest(path, st) + '"'
                headers["Last-Modified"] = email.utils.formatdate(st.st_mtime, usegmt=True)
            if files.ranges:
                headers["Accept-Ranges"] = "bytes"
            if rng and files.ranges and rng.startswith("bytes="):
                first, _, last = rng[6:].partition("-")
                start = int(first)
                stop = min(size, int(last) + 1) if last else size
                if start >= size:
                    self._send(416, b"", body, {"Content-Range": f"bytes */{size}"})
                    return
                headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
                with files.lock:
                    drop = body and files.drop > 0
                    files.drop -= drop
                if not body:
                    self._send(206, b"", body, headers, stop - start)
                    return
                if drop:
                    self._send_cut(_read(path, start, stop), headers)
                    return
                self._send_file(path, start, stop, headers)
                return
            if not body:
                self._send(200, b"", body, headers, size)
                return
            self._send(200, path.read_bytes(), body, headers)

        def _send(self, status: int, data: bytes, body: bool, headers: dict | None = None,
                  length: int | None = None):  # fmt: skip
            """`length`: the Content-Length of a HEAD answer (its `data` is empty)."""
            self.send_response(status)
            self.send_header("Content-Length", str(len(data) if length is None else length))
            self.send_header("Content-Type", "application/octet-stream")
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if body:
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    return
                with files.lock:
                    files.bytes_sent += len(data)

        def _send_file(self, path: Path, start: int, stop: int, headers: dict) -> None:
            """A 206 answer whose body, bytes ``[start, stop)`` of `path`, goes from the
            file to the socket in the kernel (``sendfile``; copied through Python with TLS)."""
            self._send(206, b"", False, headers, stop - start)  # the headers alone
            self.wfile.flush()
            try:
                if isinstance(self.connection, ssl.SSLSocket):
                    self.wfile.write(_read(path, start, stop))
                    sent = stop - start
                else:
                    with path.open("rb") as f:
                        sent = self.connection.sendfile(f, start, stop - start)
            except (BrokenPipeError, ConnectionResetError):
                return
            with files.lock:
                files.bytes_sent += sent

        def _send_cut(self, data: bytes, headers: dict) -> None:
            """Headers for all of `data`, half of it, then the connection closes."""
            self.send_response(206)
            self.send_header("Content-Length", str(len(data)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            with files.lock:
                files.bytes_sent += len(data) // 2
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)

        def do_GET(self) -> None:
            self._serve(True)

        def do_HEAD(self) -> None:
            self._serve(False)

    return Handler


class _Server(ThreadingHTTPServer):
    """The test server: a client that hangs up on an answer it will not read (rawconv
    does, on a whole file sent for a range) is not an error to print."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


TLS = Path(__file__).parent / "tls"
"""A self-signed certificate for 127.0.0.1 (no client trusts it), made for these tests."""


@contextmanager
def http_files(root: Path, ranges: bool = True, tls: bool = False) -> Iterator[HttpFiles]:
    """Serve the files of `root` on 127.0.0.1 (a free port) while the block runs (`tls`:
    HTTPS with the self-signed certificate of :data:`TLS`)."""
    files = HttpFiles(root=root, url="", ranges=ranges)
    server = _Server(("127.0.0.1", 0), _handler(files))
    server.daemon_threads = True
    scheme = "http"
    if tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(TLS / "localhost.pem", TLS / "localhost.key")
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    files.url = f"{scheme}://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield files
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
