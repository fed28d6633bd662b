"""Fixtures of the remote-data tests: servers on 127.0.0.1 only, and an AWS environment
that can reach nothing else (no credentials, no instance metadata, no config files)."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest

from rawconv import build_raw

from .servers import HttpFiles, http_files


@pytest.fixture(autouse=True)
def isolated_aws(monkeypatch, tmp_path_factory):
    """No AWS credentials, endpoint or config from the machine; no metadata probes."""
    import os

    for name in list(os.environ):
        if name.startswith(("AWS_", "FSSPEC_S3")):
            monkeypatch.delenv(name)
    missing = tmp_path_factory.getbasetemp() / "no-aws"
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(missing / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(missing / "credentials"))
    monkeypatch.setenv("HOME", str(missing))


@pytest.fixture(scope="session")
def served(tmp_path_factory) -> Path:
    """The folder the HTTP servers serve."""
    return tmp_path_factory.mktemp("served")


@pytest.fixture(scope="session")
def http_session(served):
    with http_files(served) as files:
        yield files


@pytest.fixture
def http(http_session) -> HttpFiles:
    """An HTTP server with Range support on 127.0.0.1 (counters reset per test)."""
    http_session.reset()
    http_session.forbidden.clear()
    http_session.validators = True
    http_session.drop = 0
    return http_session


@pytest.fixture
def on_http(th228, served, http) -> str:
    """th228.fcio on the HTTP server: its URL."""
    shutil.copyfile(th228, served / "th228.fcio")
    return f"{http.url}/th228.fcio"


@pytest.fixture
def http_norange(served):
    """An HTTP server on 127.0.0.1 that ignores Range headers."""
    with http_files(served, ranges=False) as files:
        yield files


@pytest.fixture(scope="session")
def moto_endpoint():
    """moto's S3 server on 127.0.0.1 (a free port); its endpoint URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(moto_endpoint):
    """(bucket URL, storage options) of a new bucket on the moto server; the endpoint is
    given explicitly in the storage options."""
    import s3fs

    options = {
        "key": "testing", "secret": "testing",
        "client_kwargs": {"endpoint_url": moto_endpoint, "region_name": "eu-central-1"},
    }  # fmt: skip
    bucket = f"rawconv-{uuid.uuid4().hex[:10]}"
    fs = s3fs.S3FileSystem(**options, skip_instance_cache=True)
    fs.mkdir(bucket)
    return f"s3://{bucket}", options, fs


@pytest.fixture
def local_ref(th228, tmp_path) -> Path:
    """th228 converted locally: what every remote conversion must equal."""
    out = tmp_path / "ref.lh5"
    build_raw(str(th228), out_spec=str(out))
    return out
