"""Serial conversions of HTTP and S3 inputs equal local ones, on few bytes and requests."""

from __future__ import annotations

from rawconv.parallel import convert
from rawconv.parallel.staging import STAGE_READ_BYTES

from rawconv import build_raw

from ..parallel.conftest import assert_same_lh5

MiB = 1 << 20


def test_http_serial_equals_local_on_few_bytes(th228, on_http, http, local_ref, tmp_path):
    out = tmp_path / "http.lh5"
    build_raw(on_http, out_spec=str(out))
    assert assert_same_lh5(local_ref, out) > 10
    size = th228.stat().st_size
    assert size <= http.bytes_sent <= 1.05 * size, http.bytes_sent / size
    methods = [m for m, _, _ in http.requests]
    assert methods.count("HEAD") == 1  # one listing, no exists() probe
    assert all(r is not None for m, _, r in http.requests if m == "GET")  # ranged only


def test_s3_serial_equals_local(th228, local_ref, tmp_path, s3):
    bucket, options, fs = s3
    fs.put_file(str(th228), f"{bucket}/th228.fcio")
    out = tmp_path / "s3.lh5"
    report = build_raw(f"{bucket}/th228.fcio", out_spec=str(out), storage_options=options)
    assert report.bytes_read == th228.stat().st_size
    assert assert_same_lh5(local_ref, out) > 10


def test_dropped_connection_is_retried(on_http, http, local_ref, tmp_path):
    http.drop = 2
    out = tmp_path / "dropped.lh5"
    build_raw(on_http, out_spec=str(out))
    assert http.drop == 0  # both cut short, both read again
    assert assert_same_lh5(local_ref, out) > 10


def test_parallel_http_wire_bytes_and_requests(th228, on_http, http, local_ref, client, tmp_path):
    cache = tmp_path / "cache"
    out = tmp_path / "out.lh5"
    http.reset()
    scratch = tmp_path / "scratch"
    report = convert([on_http], out_spec=str(out), client=client, chunk_size=MiB,
                     cache_dir=str(cache), scratch=scratch)  # fmt: skip
    assert report.files[0].status == "done", report.files[0].reason
    n_chunks = report.files[0].chunks
    assert n_chunks == 4
    assert assert_same_lh5(local_ref, out) > 10
    size = th228.stat().st_size
    print(f"wire: {http.bytes_sent / size:.3f}x, {len(http.requests)} requests")
    # the index task stages the file in the scratch folder; the chunks read that copy
    assert size <= http.bytes_sent <= 1.10 * size, http.requests
    assert len(http.requests) <= 3 * n_chunks
    # one listing, the format detection's first bytes, the staging reads; none by the chunks
    staging = ["GET"] * -(-size // STAGE_READ_BYTES)
    assert [m for m, _, _ in http.requests] == ["HEAD", "GET", *staging], http.requests
    assert len(list(cache.iterdir())) == 1  # keyed by the ETag
    assert list(scratch.iterdir()) == []  # the staged copy went with the run's folder
    http.reset()
    out.unlink()
    convert([on_http], out_spec=str(out), client=client, chunk_size=MiB, cache_dir=str(cache))
    assert size <= http.bytes_sent <= 1.10 * size  # the index came from the cache
    assert len(http.requests) <= 3 * n_chunks + 3
    assert assert_same_lh5(local_ref, out) > 10


def test_parallel_http_one_chunk_input_read_once(th228, on_http, http, local_ref, client,
                                                 tmp_path):  # fmt: skip
    """An input no larger than a chunk is converted whole by one task; the index task reads
    only its header (64 KiB), not a reader's block of it."""
    http.reset()
    out = tmp_path / "out.lh5"
    report = convert([on_http], out_spec=str(out), client=client, cache_dir=str(tmp_path / "c"))
    assert report.files[0].status == "done", report.files[0].reason
    assert report.files[0].chunks == 1
    assert assert_same_lh5(local_ref, out) > 10
    size = th228.stat().st_size
    assert size <= http.bytes_sent <= 1.05 * size, http.requests
    header = next(r for m, _, r in http.requests if m == "GET")
    assert header == "bytes=0-65535"  # format detection and header: one small request


def test_index_not_cached_without_etag_or_last_modified(on_http, http, client, tmp_path):
    http.validators = False
    cache = tmp_path / "cache"
    scratch = tmp_path / "scratch"
    report = convert([on_http], out_spec=str(tmp_path / "o.lh5"), client=client,
                     chunk_size=MiB, cache_dir=str(cache), dry_run=True,
                     scratch=scratch)  # fmt: skip
    assert report.files[0].chunks == 4
    assert not cache.exists() or list(cache.iterdir()) == []
    assert list(scratch.iterdir()) == []  # the staged copy of a dry run goes too
