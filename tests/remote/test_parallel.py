"""The parallel layer on remote inputs and outputs: equal to local serial conversions."""

from __future__ import annotations

import shutil

import fsspec
import pytest
from rawconv.parallel import convert
from rawconv.parallel.cli import main as parallel_main

from ..parallel.conftest import assert_same_lh5

MiB = 1 << 20


def test_http_input_in_1mib_chunks_equals_local(th228, served, http, local_ref, client, tmp_path):
    shutil.copyfile(th228, served / "th228.fcio")
    out = tmp_path / "out" / "th228.lh5"
    report = convert([f"{http.url}/th228.fcio"], out_spec=str(out), client=client,
                     chunk_size=MiB, cache_dir=str(tmp_path / "cache"))  # fmt: skip
    assert [f.status for f in report.files] == ["done"]
    assert report.files[0].chunks == 4
    assert assert_same_lh5(local_ref, out) > 10


def test_s3_input_and_output_in_1mib_chunks(th228, local_ref, client, tmp_path, s3):
    bucket, options, fs = s3
    fs.put_file(str(th228), f"{bucket}/in/th228.fcio")
    report = convert([f"{bucket}/in/th228.fcio"], out_spec=f"{bucket}/out/{{orig_basename}}.lh5",
                     client=client, chunk_size=MiB, cache_dir=str(tmp_path / "cache"),
                     storage_options=options)  # fmt: skip
    assert [f.status for f in report.files] == ["done"], report.files[0].reason
    assert report.files[0].outputs == [f"{bucket}/out/th228.lh5"]
    assert report.files[0].chunks == 4
    back = tmp_path / "back.lh5"
    fs.invalidate_cache()
    fs.get_file(f"{bucket}/out/th228.lh5", str(back))
    assert assert_same_lh5(local_ref, back) > 10
    assert sorted(fs.find(bucket)) == [f"{bucket[5:]}/in/th228.fcio", f"{bucket[5:]}/out/th228.lh5"]
    with pytest.raises(FileExistsError, match=r"1 output\(s\) exist: s3://"):
        convert([f"{bucket}/in/th228.fcio"], out_spec=f"{bucket}/out/{{orig_basename}}.lh5",
                client=client, chunk_size=MiB, cache_dir=str(tmp_path / "cache"),
                storage_options=options)  # fmt: skip


def test_memory_output_with_an_in_process_cluster(th228, local_ref, tmp_path):
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                      dashboard_address=":0") as cluster, Client(cluster) as c:  # fmt: skip
        report = convert([str(th228)], out_spec="memory://rawconv-par/th228.lh5", client=c,
                         chunk_size=MiB, cache_dir=str(tmp_path / "cache"))  # fmt: skip
    assert [f.status for f in report.files] == ["done"], report.files[0].reason
    back = tmp_path / "back.lh5"
    fsspec.filesystem("memory").get_file("/rawconv-par/th228.lh5", str(back))
    assert assert_same_lh5(local_ref, back) > 10


def test_cli_s3_with_storage_options(th228, local_ref, tmp_path, s3, monkeypatch, capsys):
    bucket, options, fs = s3
    fs.put_file(str(th228), f"{bucket}/th228.fcio")
    monkeypatch.chdir(tmp_path)
    opts = tmp_path / "s3.json"
    opts.write_text('{"key": "testing", "secret": "testing"}')
    endpoint = options["client_kwargs"]["endpoint_url"]
    argv = [f"{bucket}/th228.fcio", "-o", f"{bucket}/out/{{orig_basename}}.lh5", "--workers", "2",
            "--chunk-size", "1M", "--cache", str(tmp_path / "cache"), "--storage-option", str(opts),
            "--storage-option", f"client_kwargs.endpoint_url={endpoint}",
            "--storage-option", "client_kwargs.region_name=eu-central-1"]  # fmt: skip
    assert parallel_main(argv) == 0, capsys.readouterr().err
    back = tmp_path / "back.lh5"
    fs.invalidate_cache()
    fs.get_file(f"{bucket}/out/th228.lh5", str(back))
    assert assert_same_lh5(local_ref, back) > 10
    assert sorted(p.name for p in tmp_path.iterdir()) == ["back.lh5", "cache", "ref.lh5", "s3.json"]


def test_cli_refuses_http_output_before_starting_a_cluster(th228, tmp_path, capsys):
    argv = [str(th228), "-o", "https://example.invalid/{orig_basename}.lh5", "--workers", "1"]
    assert parallel_main(argv) == 1
    err = capsys.readouterr().err
    assert err == (
        "rawconv-parallel: error: https://example.invalid/{orig_basename}.lh5: cannot write an "
        "output to a https:// URL (rawconv reads https:// but writes only to local paths and "
        "writable fsspec URLs such as s3:// or memory://)\n"
    )


def test_url_glob_lists_the_bucket(th228, spms, tmp_path, s3, capsys):
    bucket, options, fs = s3
    fs.put_file(str(th228), f"{bucket}/in/th228.fcio")
    fs.put_file(str(spms), f"{bucket}/in/spms.fcio")
    fs.put_file(str(spms), f"{bucket}/other/x.fcio")
    endpoint = options["client_kwargs"]["endpoint_url"]
    flags = ["--storage-option", f"client_kwargs.endpoint_url={endpoint}",
             "--storage-option", "key=testing", "--storage-option", "secret=testing"]  # fmt: skip
    out = str(tmp_path / "{orig_basename}.lh5")
    argv = [f"{bucket}/in/*.fcio", "-o", out, "--dry-run", "--workers", "1",
            "--chunk-size", "1M", "--cache", str(tmp_path / "c"), *flags]  # fmt: skip
    assert parallel_main(argv) == 0, capsys.readouterr().err
    assert capsys.readouterr().out.splitlines() == [
        f"{bucket}/in/spms.fcio: planned, 4 chunk(s) -> {tmp_path / 'spms.lh5'}",
        f"{bucket}/in/th228.fcio: planned, 4 chunk(s) -> {tmp_path / 'th228.lh5'}",
    ]
    argv = [f"{bucket}/none/*.fcio", "-o", str(tmp_path / "{orig_basename}.lh5"), *flags]
    assert parallel_main(argv) == 2
    assert capsys.readouterr().err == (
        f"rawconv-parallel: error: no input matches '{bucket}/none/*.fcio'\n"
    )
