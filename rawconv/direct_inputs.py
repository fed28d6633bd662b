"""Remote inputs opened without loading fsspec's backends.

Importing s3fs (aiobotocore, botocore, aiohttp) and building its client costs about 0.8 CPU
s per process, fsspec's HTTP filesystem (aiohttp) about 0.3 s: a large share of a remote
conversion that the standard library can do without. :func:`open_direct` opens the common
cases itself:

- a plain http(s) URL read without storage options: one ``HEAD`` for the size and the
  validators, then ranged GETs (:class:`~rawconv.http_ranges.RangeClient`);
- an ``s3://`` object on an endpoint that the storage options (or ``AWS_ENDPOINT_URL_S3`` /
  ``AWS_ENDPOINT_URL``) name, read with explicit credentials (options, else
  ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN``) or anonymously,
  path-style, through URLs presigned here (:mod:`rawconv.sigv4`).

Anything else (other storage options, profiles, AWS itself with its region lookup, a
redirect, an answer that is not a plain ``200`` with a length, a refused connection)
returns None and the input is opened by fsspec as before, whose errors rawconv reports.
The backend must still be installed, so that a failed direct open falls back to it.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from .http_ranges import PLAIN_S3_CLIENT, PLAIN_S3_OPTIONS, PRESIGNED_SECONDS, RangeClient
from .sigv4 import presign

__all__ = ["DirectInput", "may_open_direct", "open_direct", "s3_object_url"]

_S3_OPTIONS = PLAIN_S3_OPTIONS - {"profile"}
"""Storage options of an S3 object opened here: those read through a presigned URL, less
a profile (botocore reads it)."""
_BACKENDS = {"http": "aiohttp", "https": "aiohttp", "s3": "s3fs", "s3a": "s3fs"}


@dataclass
class DirectInput:
    """An input opened here: its details (as fsspec lists them) and its range reader."""

    info: dict[str, Any]
    ranges: RangeClient


def may_open_direct(url: str, storage_options: Mapping[str, Any]) -> bool:
    """Whether :func:`open_direct` may open `url`: an http(s) or s3 URL whose backend is
    installed, with no storage options but those it applies itself (the options' values
    and the server's answer decide the rest)."""
    scheme = urlsplit(url).scheme.lower()
    backend = _BACKENDS.get(scheme)
    if backend is None or importlib.util.find_spec(backend) is None:
        return False
    if scheme in ("http", "https"):
        return RangeClient.for_url(url, dict(storage_options)) is not None
    client = storage_options.get("client_kwargs") or {}
    return set(storage_options) <= _S3_OPTIONS and set(client) <= PLAIN_S3_CLIENT


def open_direct(url: str, storage_options: Mapping[str, Any]) -> DirectInput | None:
    """`url` opened without fsspec, or None where fsspec must open it (see the module)."""
    if not may_open_direct(url, storage_options):
        return None
    if urlsplit(url).scheme.lower() in ("http", "https"):
        head, get = url, url
    else:
        signed = _s3_signed(url, storage_options)
        if signed is None:
            return None
        head, get = signed
    ranges = RangeClient(get)
    probe = ranges if head == get else RangeClient(head)  # http: one kept-alive connection
    try:
        info = probe.head()
    finally:
        if probe is not ranges:
            probe.close()
    if info is None:
        ranges.close()
        return None
    return DirectInput(info, ranges)


def s3_object_url(endpoint: str, bucket: str, key: str) -> str:
    """The path-style URL of an object (the key encoded as botocore encodes it)."""
    return f"{endpoint.rstrip('/')}/{bucket}/{quote(key, safe='/~')}"


def _s3_signed(url: str, options: Mapping[str, Any]) -> tuple[str, str] | None:
    """(HEAD URL, GET URL) of an S3 object, presigned unless anonymous; None where s3fs
    must read it."""
    client = options.get("client_kwargs") or {}
    endpoint = client.get("endpoint_url") or options.get("endpoint_url")
    endpoint = (
        endpoint or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    )
    if not endpoint or urlsplit(endpoint).scheme not in ("http", "https"):
        return None
    bucket, _, key = url.split("://", 1)[1].partition("/")
    if not bucket or not key or urlsplit(endpoint).path.strip("/"):
        return None
    if _fsspec_s3_config():
        return None
    target = s3_object_url(endpoint, bucket, key)
    if options.get("anon") is True:
        return target, target
    if options.get("anon") not in (None, False):
        return None
    creds = _credentials(options)
    region = (
        client.get("region_name")
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
    )
    if creds is None or (region is None and _aws_config_files()):
        return None  # a region in ~/.aws/config: botocore's reading of it is s3fs's
    now = dt.datetime.now(dt.timezone.utc)
    sign = {"key": creds[0], "secret": creds[1], "token": creds[2],
            "region": region or "us-east-1", "now": now, "expires": PRESIGNED_SECONDS}  # fmt: skip
    return presign("HEAD", target, **sign), presign("GET", target, **sign)


def _credentials(options: Mapping[str, Any]) -> tuple[str, str, str | None] | None:
    """(key, secret, token) from the options, else from the environment (as botocore
    takes them, when no profile is asked for); None otherwise."""
    if options.get("key") or options.get("secret"):
        key, secret, token = options.get("key"), options.get("secret"), options.get("token")
    elif options.get("token") or os.environ.get("AWS_PROFILE"):
        return None
    else:
        key = os.environ.get("AWS_ACCESS_KEY_ID")
        secret = os.environ.get("AWS_SECRET_ACCESS_KEY")
        token = os.environ.get("AWS_SESSION_TOKEN")
    if not (isinstance(key, str) and isinstance(secret, str) and key and secret):
        return None
    return key, secret, token if isinstance(token, str) and token else None


def _fsspec_s3_config() -> bool:
    """Whether fsspec's configuration sets options for s3 (s3fs applies them)."""
    import fsspec.config

    return bool(fsspec.config.conf.get("s3") or fsspec.config.conf.get("s3a"))


def _aws_config_files() -> bool:
    """Whether botocore's config file (where a region may be set) exists."""
    config = os.environ.get("AWS_CONFIG_FILE") or Path("~/.aws/config").expanduser()
    return Path(config).is_file()
