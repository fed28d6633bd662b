"""AWS Signature Version 4 for S3 URLs signed in their query string (presigned URLs).

The query-string form of SigV4 that S3 (and MinIO, Ceph, moto) accepts for a GET or HEAD
of one object: the canonical request hashes the method, the path, the sorted query
parameters and the ``host`` header, with the payload left unsigned; the signing key is
derived from the secret, the date, the region and the service. Only what rawconv's own
range reads need is here (:mod:`rawconv.direct_inputs`); anything else goes through s3fs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from urllib.parse import quote, urlsplit

__all__ = ["presign"]

_ALGORITHM = "AWS4-HMAC-SHA256"
MAX_EXPIRES = 7 * 24 * 3600
"""The longest validity S3 accepts for a presigned URL, in seconds."""


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def _encode(text: str) -> str:
    """URI-encoding of a query key or value (RFC 3986 unreserved characters kept)."""
    return quote(text, safe="-_.~")


def host_header(url: str) -> str:
    """The ``Host`` header a request of `url` carries: the port only when not the
    scheme's default (as :mod:`http.client` sends it)."""
    parts = urlsplit(url)
    default = 443 if parts.scheme == "https" else 80
    host = parts.hostname or ""
    return host if parts.port in (None, default) else f"{host}:{parts.port}"


def presign(
    method: str, url: str, *, key: str, secret: str, region: str, now: dt.datetime,
    expires: int, token: str | None = None, params: dict[str, str] | None = None,
    service: str = "s3",
) -> str:  # fmt: skip
    """`url` (scheme, host and already-encoded path, no query) signed for `method` in its
    query string, valid `expires` seconds from `now`; `params`: more query parameters
    (signed too)."""
    if not 1 <= expires <= MAX_EXPIRES:
        raise ValueError(f"expires must be 1-{MAX_EXPIRES} seconds, not {expires}")
    parts = urlsplit(url)
    if parts.query:
        raise ValueError(f"the URL to sign has a query already: {url}")
    stamp = now.astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    day = stamp[:8]
    scope = f"{day}/{region}/{service}/aws4_request"
    pairs = [
        *(params or {}).items(),
        ("X-Amz-Algorithm", _ALGORITHM),
        ("X-Amz-Credential", f"{key}/{scope}"),
        ("X-Amz-Date", stamp),
        ("X-Amz-Expires", str(expires)),
        ("X-Amz-SignedHeaders", "host"),
    ]
    if token:
        pairs.append(("X-Amz-Security-Token", token))
    query = "&".join(f"{_encode(k)}={_encode(v)}" for k, v in sorted(pairs))
    canonical = "\n".join(
        [method, parts.path or "/", query, f"host:{host_header(url)}", "", "host",
         "UNSIGNED-PAYLOAD"]
    )  # fmt: skip
    to_sign = "\n".join([_ALGORITHM, stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    signing_key = _hmac(("AWS4" + secret).encode(), day)
    for part in (region, service, "aws4_request"):
        signing_key = _hmac(signing_key, part)
    signature = hmac.new(signing_key, to_sign.encode(), hashlib.sha256).hexdigest()
    return f"{parts.scheme}://{parts.netloc}{parts.path or '/'}?{query}&X-Amz-Signature={signature}"
