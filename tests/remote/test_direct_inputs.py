"""Remote inputs opened without fsspec's backends: SigV4 presigning as botocore signs, the
cases opened directly, and everything else left to fsspec."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
from urllib.parse import parse_qsl, urlsplit

import pytest

from rawconv import build_raw
from rawconv.direct_inputs import open_direct, s3_object_url
from rawconv.errors import RemoteNotFoundError
from rawconv.http_ranges import PRESIGNED_SECONDS
from rawconv.sigv4 import host_header, presign
from rawconv.url_source import FsspecSource

from ..parallel.conftest import assert_same_lh5

KEYS = ["run/th228.fcio", "a b+c~d=e&f.orca", "ü/%41/x.fcio"]


def botocore_url(endpoint: str, op: str, key: str, token: str | None) -> str:
    import botocore.session
    from botocore.config import Config

    client = botocore.session.get_session().create_client(
        "s3", endpoint_url=endpoint, aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="wJal/rXUtnFEMI+K7MDENG", aws_session_token=token,
        region_name="eu-central-1",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )  # fmt: skip
    return client.generate_presigned_url(op, Params={"Bucket": "bkt", "Key": key},
                                         ExpiresIn=3600)  # fmt: skip


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:9000", "https://s3.example.org",
                                      "http://localhost:80"])  # fmt: skip
@pytest.mark.parametrize("token", [None, "FQoG/+=token"])
@pytest.mark.parametrize("op", ["get_object", "head_object"])
def test_presigned_urls_are_botocores(endpoint, token, op):
    for key in KEYS:
        theirs = botocore_url(endpoint, op, key, token)
        parts = urlsplit(theirs)
        query = dict(parse_qsl(parts.query))
        now = dt.datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(
            tzinfo=dt.timezone.utc
        )
        extra = {k: v for k, v in query.items() if not k.startswith("X-Amz-")}
        target = s3_object_url(endpoint, "bkt", key)
        assert urlsplit(target).path == parts.path  # the key encoded as botocore encodes it
        ours = presign("GET" if op == "get_object" else "HEAD", target, key="AKIDEXAMPLE",
                       secret="wJal/rXUtnFEMI+K7MDENG", region="eu-central-1", now=now,
                       expires=3600, token=token, params=extra)  # fmt: skip
        assert dict(parse_qsl(urlsplit(ours).query)) == query  # the signature included


def test_presign_refuses_what_s3_would():
    now = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)
    kw = {"key": "k", "secret": "s", "region": "r", "now": now}
    with pytest.raises(ValueError, match="1-604800"):
        presign("GET", "http://h/b/k", expires=604_801, **kw)
    with pytest.raises(ValueError, match="has a query"):
        presign("GET", "http://h/b/k?x=1", expires=60, **kw)
    assert host_header("http://h:80/b") == "h" and host_header("https://h:80/b") == "h:80"


def test_an_http_input_is_opened_with_one_head(th228, on_http, http):
    direct = open_direct(on_http, {})
    assert direct is not None
    assert direct.info["size"] == th228.stat().st_size
    assert direct.info["ETag"].startswith('"') and "GMT" in direct.info["Last-Modified"]
    assert http.requests == [("HEAD", "/th228.fcio", None)]
    data = th228.read_bytes()
    assert direct.ranges.fetch(10, 1000) == data[10:1000]
    direct.ranges.close()


def test_http_answers_other_than_a_plain_200_go_to_fsspec(on_http, http, served, th228):
    assert open_direct(on_http.replace("th228", "missing"), {}) is None  # 404
    http.forbidden.add("th228.fcio")
    assert open_direct(on_http, {}) is None  # 403
    http.forbidden.clear()
    assert open_direct(on_http, {"headers": {"X": "y"}}) is None  # aiohttp's options
    assert open_direct(f"{http.url}/", {}) is None  # not a file
    with pytest.raises(RemoteNotFoundError, match=r"cannot open the input: not found \(HTTP 404\)"):
        FsspecSource(on_http.replace("th228", "missing"))  # fsspec's error, as before


def test_without_the_backend_installed_the_input_goes_to_fsspec(on_http, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "aiohttp" else real(name, *a))  # fmt: skip
    assert open_direct(on_http, {}) is None


def s3_files(http, served, th228) -> tuple[str, dict]:
    """th228 as object bkt/th228.fcio of the test file server (which answers S3's
    HeadObject and ranged GetObject path-style), and storage options naming it."""
    (served / "bkt").mkdir(exist_ok=True)
    shutil.copyfile(th228, served / "bkt" / "th228.fcio")
    return "s3://bkt/th228.fcio", {
        "key": "k",
        "secret": "s",
        "client_kwargs": {"endpoint_url": http.url},
    }


def test_an_s3_object_is_opened_presigned(th228, http, served):
    url, options = s3_files(http, served, th228)
    direct = open_direct(url, options)
    assert direct is not None and direct.info["size"] == th228.stat().st_size
    method, target, _ = http.requests[0]
    query = dict(parse_qsl(urlsplit(target).query))
    assert method == "HEAD" and target.startswith("/bkt/th228.fcio?")
    assert (
        query["X-Amz-Credential"].startswith("k/") and "/us-east-1/s3/" in query["X-Amz-Credential"]
    )  # no region given: botocore's default for an endpoint of one's own
    assert query["X-Amz-Expires"] == str(PRESIGNED_SECONDS)
    assert "X-Amz-Signature" in direct.ranges.target
    assert direct.ranges.fetch(0, 5) == th228.read_bytes()[:5]
    direct.ranges.close()


def test_s3_anonymous_reads_are_not_signed(th228, http, served):
    url, options = s3_files(http, served, th228)
    direct = open_direct(url, {"anon": True, "client_kwargs": options["client_kwargs"]})
    assert direct is not None and direct.ranges.target == "/bkt/th228.fcio"
    direct.ranges.close()


def test_s3_credentials_and_endpoint_from_the_environment(th228, http, served, monkeypatch):
    url, _ = s3_files(http, served, th228)
    assert open_direct(url, {}) is None  # no endpoint: s3fs (and AWS's region lookup)
    monkeypatch.setenv("AWS_ENDPOINT_URL", http.url)
    assert open_direct(url, {}) is None  # no credentials: s3fs's chain (files, metadata)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "envkey")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "envsecret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "envtoken")
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    direct = open_direct(url, {})
    assert direct is not None
    query = dict(parse_qsl(urlsplit(direct.ranges.target).query))
    assert (
        query["X-Amz-Credential"].startswith("envkey/")
        and "/eu-west-3/" in query["X-Amz-Credential"]
    )
    assert query["X-Amz-Security-Token"] == "envtoken"
    direct.ranges.close()
    monkeypatch.setenv("AWS_PROFILE", "other")
    assert open_direct(url, {}) is None  # a profile: botocore reads it


@pytest.mark.parametrize(
    "options",
    [{"profile": "p"}, {"requester_pays": True}, {"client_kwargs": {"verify": False}},
     {"anon": "yes"}, {"key": "k"}, {"config_kwargs": {"s3": {"addressing_style": "virtual"}}}],
)  # fmt: skip
def test_other_s3_options_leave_the_object_to_s3fs(th228, http, served, options):
    url, plain = s3_files(http, served, th228)
    client = {**plain["client_kwargs"], **options.pop("client_kwargs", {})}
    assert open_direct(url, {**options, "client_kwargs": client}) is None
    assert http.requests == []  # decided without asking the server


def test_s3_without_a_key_in_the_url_goes_to_s3fs(http):
    options = {"key": "k", "secret": "s", "client_kwargs": {"endpoint_url": http.url}}
    assert open_direct("s3://bkt", options) is None
    assert open_direct("s3://bkt/", options) is None


def test_a_conversion_loads_no_backend(th228, on_http, http, served, tmp_path):
    """Whole `rawconv` runs from HTTP and from S3 import neither aiohttp nor s3fs, and
    write what a local conversion writes."""
    url, options = s3_files(http, served, th228)
    opts = tmp_path / "s3.json"
    opts.write_text(json.dumps(options))
    ref = tmp_path / "local.lh5"
    build_raw(str(th228), out_spec=str(ref))
    code = (
        "import sys; from rawconv.cli import main; rc = main(sys.argv[1:]); "
        "loaded = [m for m in ('aiohttp', 's3fs', 'botocore') if m in sys.modules]; "
        "print('LOADED', loaded); sys.exit(rc)"
    )
    for name, args in (("http", [on_http]), ("s3", [url, "--storage-option", str(opts)])):
        out = tmp_path / f"{name}.lh5"
        run = subprocess.run([sys.executable, "-c", code, *args, "-o", str(out)],
                             capture_output=True, text=True, timeout=300)  # fmt: skip
        assert run.returncode == 0, run.stderr
        assert "LOADED []" in run.stdout
        assert assert_same_lh5(ref, out) > 10


def test_moto_accepts_the_presigned_requests(th228, s3, tmp_path, local_ref):
    bucket, options, fs = s3
    fs.put_file(str(th228), f"{bucket}/th228.fcio")
    direct = open_direct(f"{bucket}/th228.fcio", options)
    assert direct is not None and direct.info["size"] == th228.stat().st_size
    direct.ranges.close()
    out = tmp_path / "s3.lh5"
    build_raw(f"{bucket}/th228.fcio", out_spec=str(out), storage_options=options)
    assert assert_same_lh5(local_ref, out) > 10
