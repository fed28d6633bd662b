"""Remote failures: one line naming the URL and the cause, exit status 1, no traceback."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys

import pytest

from rawconv.cli import main as rawconv_main


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    return err.rstrip("\n")


def test_connection_refused(tmp_path, capsys):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/th228.fcio"
    assert rawconv_main([url, "-o", str(tmp_path / "x.lh5")]) == 1
    assert (
        _one_error_line(capsys)
        == f"rawconv: error: {url}: cannot open the input: connection refused"
    )
    assert list(tmp_path.iterdir()) == []


def test_forbidden(on_http, http, tmp_path, capsys):
    http.forbidden.add("th228.fcio")
    assert rawconv_main([on_http, "-o", str(tmp_path / "x.lh5")]) == 1
    line = _one_error_line(capsys)
    assert line == f"rawconv: error: {on_http}: cannot open the input: access denied (HTTP 403)"


def test_not_found(http, tmp_path, capsys):
    url = f"{http.url}/missing.fcio"
    assert rawconv_main([url, "-o", str(tmp_path / "x.lh5")]) == 1
    line = _one_error_line(capsys)
    assert line == f"rawconv: error: {url}: cannot open the input: not found (HTTP 404)"


def test_tls_failure(th228, served, tmp_path, capsys):
    from .servers import http_files

    shutil.copyfile(th228, served / "th228.fcio")
    with http_files(served, tls=True) as https:
        url = f"{https.url}/th228.fcio"
        assert rawconv_main([url, "-o", str(tmp_path / "x.lh5")]) == 1
    line = _one_error_line(capsys)
    assert line.startswith(f"rawconv: error: {url}: cannot open the input: TLS failure (")
    assert "CERTIFICATE_VERIFY_FAILED" in line
    assert list(tmp_path.iterdir()) == []


def test_server_ignoring_range(th228, served, http_norange, tmp_path, capsys):
    shutil.copyfile(th228, served / "th228.fcio")
    url = f"{http_norange.url}/th228.fcio"
    assert rawconv_main([url, "-o", str(tmp_path / "x.lh5")]) == 1
    line = _one_error_line(capsys)
    assert line.startswith(
        f"rawconv: error: {url}, offset 0: cannot read: asked for bytes 0-65535 and got "
        f"{th228.stat().st_size} bytes: the server ignores HTTP Range requests"
    )
    assert list(tmp_path.iterdir()) == []


def test_s3_object_missing(s3, tmp_path, capsys):
    bucket, options, _ = s3
    endpoint = options["client_kwargs"]["endpoint_url"]
    argv = [f"{bucket}/none.fcio", "-o", str(tmp_path / "x.lh5"),
            "--storage-option", f"client_kwargs.endpoint_url={endpoint}",
            "--storage-option", "key=testing", "--storage-option", "secret=testing"]  # fmt: skip
    assert rawconv_main(argv) == 1
    line = _one_error_line(capsys)
    assert line == f"rawconv: error: {bucket}/none.fcio: cannot open the input: not found"


def test_unset_s3_endpoint_is_refused_before_any_request(tmp_path, capsys):
    # isolated_aws: no endpoint, no credentials, no config files: nothing is contacted
    assert rawconv_main(["s3://bucket/run.fcio", "-o", str(tmp_path / "x.lh5")]) == 1
    line = _one_error_line(capsys)
    assert line.startswith(
        "rawconv: error: s3://bucket/run.fcio: no S3 endpoint and no credentials are set: "
        "give --storage-option client_kwargs.endpoint_url=URL"
    )


@pytest.mark.parametrize(
    ("module", "url", "extra"),
    [("s3fs", "s3://bucket/run.fcio", "s3"), ("aiohttp", "http://127.0.0.1:9/run.fcio", "http")],
)
def test_missing_backend_names_the_extra(module, url, extra, tmp_path):
    code = (
        f"import sys; sys.modules[{module!r}] = None\n"
        "from rawconv.cli import main\n"
        f"sys.exit(main([{url!r}, '-o', {str(tmp_path / 'x.lh5')!r}, "
        "'--storage-option', 'client_kwargs.endpoint_url=http://127.0.0.1:9']))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120)  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert done.stdout == ""
    assert done.stderr == (
        f"rawconv: error: {url}: {url.split(':')[0]}:// URLs need a package that is not "
        f"installed: pip install 'rawconv[{extra}]'\n"
    )


def test_parallel_reports_the_remote_cause(http, tmp_path, capsys):
    from rawconv.parallel.cli import main as parallel_main

    url = f"{http.url}/missing.fcio"
    argv = [url, "-o", str(tmp_path / "{orig_basename}.lh5"), "--workers", "1", "-q",
            "--cache", str(tmp_path / "cache")]  # fmt: skip
    assert parallel_main(argv) == 1
    line = _one_error_line(capsys)
    assert line == (f"rawconv-parallel: error: {url}: cannot open the input: not found (HTTP 404)")
