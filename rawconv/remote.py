"""fsspec URLs: their filesystems, outputs written to them, and one-line errors.

Inputs are read through :class:`rawconv.url_source.FsspecSource`; outputs named by a URL
(``s3://``, ``memory://``, any fsspec URL that can be written) are written to a local
temporary file and put in place with ``fs.put_file`` only when complete (s3fs uploads
large files in parts). Every failure on the way becomes a :class:`~rawconv.errors.
RawconvError` naming the URL and the cause in one line.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .direct_inputs import may_open_direct
from .errors import (
    OutputError,
    OutputExistsError,
    RawconvError,
    RemoteError,
    RemoteNotFoundError,
)

__all__ = [
    "READ_ONLY_SCHEMES",
    "attempt",
    "check_input_url",
    "check_output_url",
    "filesystem",
    "is_url",
    "output_exists",
    "remote_error",
    "scheme_of",
    "staging_path",
    "upload",
]

READ_ONLY_SCHEMES = frozenset(
    {"http", "https", "github", "git", "zip", "tar", "libarchive", "reference", "blockcache",
     "filecache", "simplecache", "jlab"}
)  # fmt: skip
"""Schemes rawconv reads but never writes an output to."""

_EXTRAS = {"http": "http", "https": "http", "s3": "s3", "s3a": "s3"}
"""Scheme -> the extra of rawconv that installs its backend."""


def is_url(name: object) -> bool:
    """Whether `name` is an fsspec URL (``scheme://...``) rather than a local path."""
    return isinstance(name, str) and "://" in name


def scheme_of(url: str) -> str:
    """``s3://b/k`` -> ``s3`` (the first protocol of a chained URL)."""
    return url.split("://", 1)[0].split("::")[0].lower()


def filesystem(url: str, storage_options: Mapping[str, Any] | None = None) -> tuple[Any, str]:
    """``(fs, path)`` of a URL; a missing backend or an unknown scheme is a RawconvError
    naming the URL and what to install."""
    import fsspec

    scheme = scheme_of(url)
    if scheme in ("s3", "s3a"):
        _check_s3_configured(url, storage_options or {})
    try:
        return fsspec.core.url_to_fs(url, **dict(storage_options or {}))
    except ImportError as exc:
        extra = _EXTRAS.get(scheme)
        hint = f"pip install 'rawconv[{extra}]'" if extra else f"install it ({exc})"
        reason = f"{scheme}:// URLs need a package that is not installed: {hint}"
    except ValueError as exc:
        known = "not known" not in str(exc) and "Protocol" not in str(exc)
        reason = f"bad storage options: {exc}" if known else f"unknown URL scheme {scheme}://"
    except TypeError as exc:
        reason = f"bad storage options for {scheme}://: {exc}"
    raise RemoteError(reason, path=url)  # outside the handler: no backend error chained


def check_input_url(url: str, storage_options: Mapping[str, Any] | None = None) -> None:
    """Refuse before any work an input URL whose backend is missing, whose scheme is
    unknown, whose storage options are bad or whose S3 endpoint is set nowhere. An input
    that :mod:`rawconv.direct_inputs` may open is checked without loading its backend."""
    options = storage_options or {}
    if may_open_direct(url, options):
        if scheme_of(url) in ("s3", "s3a"):
            _check_s3_configured(url, options)
        return
    filesystem(url, options)


def attempt(call: Callable[[], Any], url: str, what: str, offset: int | None = None) -> Any:
    """``call()``; its failure as a one-line RawconvError (:func:`remote_error`) raised with
    no backend exception chained, so that it pickles (Dask sends it to the client)."""
    try:
        return call()
    except RawconvError:
        raise
    except Exception as exc:
        error = remote_error(exc, url, what, offset)
    raise error


_S3_ENV = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "FSSPEC_S3_ENDPOINT_URL", "AWS_ACCESS_KEY_ID",
           "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
           "AWS_CONTAINER_CREDENTIALS_FULL_URI")  # fmt: skip
"""Environment variables that say where S3 is, or who is asking."""


def _check_s3_configured(url: str, options: Mapping[str, Any]) -> None:
    """Refuse an s3:// URL for which neither an endpoint nor credentials are set anywhere
    (options, environment, fsspec's config, ~/.aws): the request would go to AWS unsigned
    (or hang probing for credentials) and fail with a traceback far from the cause. Giving
    ``anon`` (true or false) says that the AWS default is meant."""
    import fsspec.config

    client = options.get("client_kwargs") or {}
    given = {**fsspec.config.conf.get("s3", {}), **options}
    if client.get("endpoint_url") or any(
        given.get(k) is not None for k in ("endpoint_url", "anon", "key", "token", "profile")
    ):
        return
    if any(os.environ.get(v) for v in _S3_ENV):
        return
    aws = Path.home() / ".aws"
    files = (os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or aws / "credentials",
             os.environ.get("AWS_CONFIG_FILE") or aws / "config")  # fmt: skip
    if any(Path(f).is_file() for f in files):
        return
    raise RemoteError(
        "no S3 endpoint and no credentials are set: give --storage-option "
        "client_kwargs.endpoint_url=URL (with key=/secret=, or anon=true), or set "
        "AWS_ENDPOINT_URL and AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY",
        path=url,
    )


_TRANSIENT = ("ClientPayloadError", "ServerDisconnectedError", "ClientOSError",
              "ConnectionResetError", "TimeoutError", "IncompleteRead", "ResponseStreamingError",
              "ReadTimeoutError", "ConnectionClosedError", "BrokenPipeError",
              "ServerTimeoutError")  # fmt: skip
"""Exception names of failures that another attempt may not meet."""


def is_transient(exc: BaseException) -> bool:
    """Whether a failed request is worth another attempt: a dropped connection, a timeout,
    a 5xx answer (never a 4xx, a refused connection or a missing object)."""
    for e in _chain(exc):
        status = _status(e)
        if isinstance(status, int):
            return status >= 500
        if isinstance(e, (ConnectionRefusedError, FileNotFoundError, PermissionError)):
            return False
        if type(e).__name__ in _TRANSIENT:
            return True
    return False


def _status(exc: BaseException) -> int | None:
    """The HTTP status an exception carries (aiohttp, botocore), if any."""
    status = getattr(exc, "status", None) or getattr(exc, "code", None)
    if isinstance(status, int):
        return status
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if isinstance(code, int):
            return code
    return None


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and seen not in out and len(out) < 10:
        out.append(seen)
        seen = seen.__cause__ or seen.__context__
    return out


def _cause(exc: BaseException) -> str:
    """What went wrong, in words, for the exceptions fsspec backends raise."""
    chain = _chain(exc)
    names = {type(e).__name__ for e in chain}
    for e in chain:
        status = _status(e)
        if status == 403:
            return "access denied (HTTP 403)"
        if status == 404:
            return "not found (HTTP 404)"
        if status == 416:
            return "the server refused the byte range (HTTP 416)"
        if isinstance(status, int) and status >= 400:
            return f"the server answered HTTP {status}"
    if "NoCredentialsError" in names:
        return (
            "no S3 credentials found: give key=/secret= (or anon=true) with --storage-option, "
            "or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
        )
    if "NoSuchBucket" in names:
        return "no such bucket"
    for e in chain:
        if isinstance(e, ValueError) and "range requests" in str(e):
            return ("the server ignores HTTP Range requests (rawconv reads inputs by byte "
                    "ranges; download the file first, or serve it with Range support)")  # fmt: skip
    for e in chain:
        text = str(e)
        inner = getattr(e, "os_error", None)
        if isinstance(e, ConnectionRefusedError) or isinstance(inner, ConnectionRefusedError):
            return "connection refused"
        if "Connection refused" in text or getattr(e, "errno", None) == errno.ECONNREFUSED:
            return "connection refused"
        if "SSL" in type(e).__name__ or "CERTIFICATE" in text.upper():
            return f"TLS failure ({text.splitlines()[0] if text else type(e).__name__})"
        if type(e).__name__ in ("EndpointConnectionError", "ClientConnectorError"):
            return f"cannot connect ({text})"
    if isinstance(exc, FileNotFoundError):
        return "not found"
    if isinstance(exc, PermissionError):
        return "access denied"
    if isinstance(exc, IsADirectoryError):
        return "is a directory, not a file"
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def remote_error(
    exc: BaseException, url: str, what: str = "", offset: int | None = None
) -> RawconvError:
    """A RemoteError naming `url` (and `offset`) and the cause of `exc` in one line
    (errors that already are rawconv's pass unchanged)."""
    if isinstance(exc, RawconvError):
        return exc
    cause = _cause(exc)
    reason = f"{what}: {cause}" if what else cause
    if isinstance(exc, FileNotFoundError) or cause.startswith("not found"):
        return RemoteNotFoundError(reason, path=url, offset=offset)
    return RemoteError(reason, path=url, offset=offset)


def _writable(url: str, fs: Any) -> None:
    scheme = scheme_of(url)
    if scheme in READ_ONLY_SCHEMES or not getattr(fs, "protocol", None):
        raise OutputError(
            f"cannot write an output to a {scheme}:// URL (rawconv reads {scheme}:// but writes "
            "only to local paths and writable fsspec URLs such as s3:// or memory://)",
            path=url,
        )


def check_output_url(
    url: str, overwrite: bool = False, storage_options: Mapping[str, Any] | None = None,
    probe: bool = True,
) -> None:  # fmt: skip
    """Refuse, before any work, an output URL that cannot be written: a read-only scheme,
    a missing backend, and (with `probe`) an existing object without `overwrite`."""
    scheme = scheme_of(url)
    if scheme in READ_ONLY_SCHEMES:
        _writable(url, None)
    fs, _ = filesystem(url, storage_options)
    _writable(url, fs)
    if not probe:
        return
    if output_exists(url, storage_options) and not overwrite:
        raise OutputExistsError(
            "output exists; use overwrite=True (-w/--overwrite) to replace it", path=url
        )


def output_exists(url: str, storage_options: Mapping[str, Any] | None = None) -> bool:
    """Whether an output URL names an existing object (errors as RawconvError)."""
    fs, path = filesystem(url, storage_options)
    return bool(attempt(lambda: fs.exists(path), url, "cannot check the output"))


def staging_path(url: str) -> str:
    """A new local file (in a private folder of the temp folder) an output URL is written
    to before :func:`upload`."""
    folder = tempfile.mkdtemp(prefix="rawconv-upload-")
    name = url.rstrip("/").rsplit("/", 1)[-1] or "output.lh5"
    return str(Path(folder) / name)


def discard_staging(local: str) -> None:
    """Delete a file made by :func:`staging_path`, and its private folder."""
    shutil.rmtree(Path(local).parent, ignore_errors=True)


def upload(local: str, url: str, storage_options: Mapping[str, Any] | None = None) -> None:
    """Put the complete local file `local` at `url`, then delete it (and its staging folder
    when it is one); on failure the local file is deleted too and the error names `url`."""
    try:
        fs, path = filesystem(url, storage_options)
        parent = path.rsplit("/", 1)[0] if "/" in path else ""

        def put() -> None:
            if parent and scheme_of(url) not in ("s3", "s3a", "gs", "gcs"):
                fs.makedirs(parent, exist_ok=True)
            fs.put_file(local, path)

        attempt(put, url, "cannot upload the output")
    finally:
        if Path(local).parent.name.startswith("rawconv-upload-"):
            discard_staging(local)
        else:
            Path(local).unlink(missing_ok=True)
