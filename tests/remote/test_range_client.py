"""RangeClient: plain http(s) inputs read by the standard library's HTTP client, and every
answer but the expected one left to fsspec, whose errors rawconv reports."""

from __future__ import annotations

import pickle
import shutil
import socket

import pytest

from rawconv import build_raw
from rawconv.http_ranges import RangeClient, RangeIgnoredError
from rawconv.url_source import FsspecSource

from ..parallel.conftest import assert_same_lh5


def test_only_plain_http_urls_get_a_client():
    assert RangeClient.for_url("http://127.0.0.1:9/x.fcio", {}) is not None
    assert RangeClient.for_url("https://127.0.0.1:9/x.fcio?v=1", {}).target == "/x.fcio?v=1"
    assert RangeClient.for_url("http://127.0.0.1:9/x", {"headers": {"A": "b"}}) is None
    assert RangeClient.for_url("http://user:pw@127.0.0.1:9/x", {}) is None
    assert RangeClient.for_url("s3://bucket/x.fcio", {}) is None
    assert RangeClient.for_url("memory://x.fcio", {}) is None


def test_ranges_are_read_on_one_kept_alive_connection(th228, on_http, http):
    data = th228.read_bytes()
    client = RangeClient(on_http)
    connections = set()
    for start, stop in ((0, 100), (100, 70_000), (len(data) - 5, len(data)), (7, 8)):
        assert client.fetch(start, stop) == data[start:stop]
        connections.add(id(client._local.conn))
    assert len(connections) == 1 and client.enabled
    assert [r for _, _, r in http.requests] == [
        "bytes=0-99", "bytes=100-69999", f"bytes={len(data) - 5}-{len(data) - 1}", "bytes=7-7"
    ]  # fmt: skip
    assert http.bytes_sent == 100 + 69_900 + 5 + 1
    client.close()
    copy = pickle.loads(pickle.dumps(client))  # to a Dask worker: without its sockets
    assert copy.fetch(10, 20) == data[10:20]
    copy.close()


def test_a_body_cut_short_is_returned_short_and_read_again(th228, on_http, http):
    data = th228.read_bytes()
    client = RangeClient(on_http)
    http.drop = 1
    got = client.fetch(0, 1 << 20)
    assert got == data[: 1 << 19]  # headers for 1 MiB, half of it, then the connection closed
    assert client.fetch(0, 1 << 20) == data[: 1 << 20] and client.enabled
    client.close()


def test_a_server_that_ignores_ranges(th228, served, http_norange):
    shutil.copyfile(th228, served / "th228.fcio")
    client = RangeClient(f"{http_norange.url}/th228.fcio")
    with pytest.raises(RangeIgnoredError) as info:
        client.fetch(0, 65_536)
    assert info.value.length == th228.stat().st_size
    client.close()


def test_any_other_answer_turns_the_client_off(on_http, http):
    client = RangeClient(on_http.replace("th228.fcio", "missing.fcio"))
    assert client.fetch(0, 10) is None and not client.enabled
    assert client.fetch(0, 10) is None
    assert len(http.requests) == 1  # fsspec asks from then on
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    refused = RangeClient(f"http://127.0.0.1:{port}/th228.fcio")
    assert refused.fetch(0, 10) is None and not refused.enabled


def spy_reads(monkeypatch, fsspec_read: str) -> list:
    """The RangeClient of each range FsspecSource fetches (None: none), with `fsspec_read`
    (the backend's range read) failing the test if called."""
    clients: list = []
    real = FsspecSource._fetch

    def spy(self, start, stop):
        clients.append(self._ranges)
        return real(self, start, stop)

    def refused(*args, **kwargs):
        raise AssertionError(f"{fsspec_read} read a range")

    monkeypatch.setattr(FsspecSource, "_fetch", spy)
    monkeypatch.setattr(fsspec_read, refused)
    return clients


def test_a_conversion_reads_every_range_through_the_client(th228, on_http, http, local_ref,
                                                           tmp_path, monkeypatch):  # fmt: skip
    clients = spy_reads(monkeypatch, "fsspec.implementations.http.HTTPFileSystem.cat_file")
    out = tmp_path / "http.lh5"
    build_raw(on_http, out_spec=str(out))
    assert clients and all(c is not None and c.enabled for c in clients)
    assert assert_same_lh5(local_ref, out) > 10
    size = th228.stat().st_size
    assert size <= http.bytes_sent <= 1.05 * size


def test_s3_objects_are_read_through_a_presigned_url(th228, local_ref, tmp_path, s3,
                                                     monkeypatch):  # fmt: skip
    bucket, options, fs = s3
    fs.put_file(str(th228), f"{bucket}/th228.fcio")
    clients = spy_reads(monkeypatch, "s3fs.S3FileSystem._cat_file")
    out = tmp_path / "s3.lh5"
    report = build_raw(f"{bucket}/th228.fcio", out_spec=str(out), storage_options=options)
    assert report.bytes_read == th228.stat().st_size
    assert assert_same_lh5(local_ref, out) > 10
    assert clients and all(c is not None and c.enabled for c in clients)
    assert "X-Amz-Signature=" in clients[0].target  # signed for the credentials given


@pytest.mark.parametrize(
    "extra",
    [{"requester_pays": True}, {"client_kwargs": {"verify": False}},
     {"s3_additional_kwargs": {"SSECustomerKey": "k"}}],
)  # fmt: skip
def test_s3_request_options_leave_the_reads_to_s3fs(th228, s3, extra):
    bucket, options, fs = s3
    fs.put_file(str(th228), f"{bucket}/th228.fcio")
    opts = {**options, **extra}
    if "client_kwargs" in extra:
        opts["client_kwargs"] = {**options["client_kwargs"], **extra["client_kwargs"]}
    source = FsspecSource(f"{bucket}/th228.fcio", **opts)
    assert source._ranges is None
    source.close()
