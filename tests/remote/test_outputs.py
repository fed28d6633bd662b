"""Outputs named by fsspec URLs: written locally, put in place when complete, read back
equal; schemes that cannot be written are refused before any work."""

from __future__ import annotations

import tempfile
from pathlib import Path

import fsspec
import pytest

from rawconv import build_raw
from rawconv.cli import main as rawconv_main
from rawconv.errors import OutputError, OutputExistsError, RawconvError

from ..parallel.conftest import assert_same_lh5


@pytest.fixture
def reference(spms, tmp_path) -> Path:
    out = tmp_path / "ref.lh5"
    build_raw(str(spms), out_spec=str(out))
    return out


def _staging_folders() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("rawconv-upload-*")}


def test_build_raw_to_memory_url(spms, reference, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = _staging_folders()
    report = build_raw(str(spms), out_spec="memory://rawconv-out/a/spms.lh5")
    assert report.outputs == ["memory://rawconv-out/a/spms.lh5"]
    back = tmp_path / "back.lh5"
    fsspec.filesystem("memory").get_file("/rawconv-out/a/spms.lh5", str(back))
    assert assert_same_lh5(reference, back) > 20
    assert sorted(p.name for p in tmp_path.iterdir()) == ["back.lh5", "ref.lh5"]  # no ./memory:
    assert _staging_folders() == before


def test_output_folder_url_gets_the_input_name(spms, reference, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    report = build_raw(str(spms), out_spec="memory://rawconv-out/folder/")
    assert report.outputs == ["memory://rawconv-out/folder/L200-comm-20211130-phy-spms.lh5"]
    back = tmp_path / "back.lh5"
    fsspec.filesystem("memory").get_file(
        "/rawconv-out/folder/L200-comm-20211130-phy-spms.lh5", str(back)
    )
    assert assert_same_lh5(reference, back) > 20


def test_build_raw_to_s3_with_group(spms, reference, tmp_path, s3, monkeypatch):
    bucket, options, fs = s3
    monkeypatch.chdir(tmp_path)
    url = f"{bucket}/raw/spms.lh5"
    report = build_raw(str(spms), out_spec=f"{url}:/raw", storage_options=options)
    assert report.outputs == [url]
    back = tmp_path / "back.lh5"
    fs.get_file(url, str(back))
    ref = tmp_path / "ref-raw.lh5"
    build_raw(str(spms), out_spec=f"{ref}:/raw")
    assert assert_same_lh5(ref, back) > 20
    assert not (tmp_path / "s3:").exists()
    with pytest.raises(OutputExistsError, match=f"{url}: output exists"):
        build_raw(str(spms), out_spec=url, storage_options=options)
    build_raw(str(spms), out_spec=url, storage_options=options, overwrite=True)
    fs.invalidate_cache()
    fs.get_file(url, str(back))
    assert assert_same_lh5(reference, back) > 20


def test_cli_to_s3_with_storage_options(spms, reference, tmp_path, s3, monkeypatch, capsys):
    bucket, options, fs = s3
    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "s3.yaml"
    spec.write_text(f"client_kwargs:\n  endpoint_url: {options['client_kwargs']['endpoint_url']}\n")
    argv = [str(spms), "-o", f"{bucket}/spms.lh5", "--storage-option", str(spec),
            "--storage-option", "client_kwargs.region_name=eu-central-1",
            "--storage-option", "key=testing", "--storage-option", "secret=testing"]  # fmt: skip
    assert rawconv_main(argv) == 0
    assert f"{bucket}/spms.lh5" in capsys.readouterr().out
    back = tmp_path / "back.lh5"
    fs.get_file(f"{bucket}/spms.lh5", str(back))
    assert assert_same_lh5(reference, back) > 20
    assert sorted(p.name for p in tmp_path.iterdir()) == ["back.lh5", "ref.lh5", "s3.yaml"]


@pytest.mark.parametrize("url", ["https://example.invalid/x.lh5", "http://127.0.0.1:9/x.lh5"])
def test_read_only_scheme_refused_before_any_work(spms, tmp_path, monkeypatch, url):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(OutputError, match=r"cannot write an output to a https?:// URL"):
        build_raw(str(spms), out_spec=url)
    assert list(tmp_path.iterdir()) == []


def test_cli_refuses_http_output_in_one_line(spms, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert rawconv_main([str(spms), "-o", "https://example.invalid/out/x.lh5"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("rawconv: error: https://example.invalid/out/x.lh5: cannot write")
    assert list(tmp_path.iterdir()) == []


def test_failed_upload_names_the_url_and_leaves_nothing(spms, tmp_path, s3, monkeypatch):
    _, options, fs = s3
    monkeypatch.chdir(tmp_path)
    before = _staging_folders()
    url = "s3://rawconv-no-such-bucket/x.lh5"
    with pytest.raises(RawconvError, match=f"^{url}: cannot upload the output: "):
        build_raw(str(spms), out_spec=url, storage_options=options)
    assert not fs.exists(url)
    assert _staging_folders() == before
    assert list(tmp_path.iterdir()) == []


def test_storage_option_errors_name_the_flag(spms, tmp_path, capsys):
    assert rawconv_main([str(spms), "--storage-option", "novalue"]) == 2
    err = capsys.readouterr().err
    assert "--storage-option 'novalue': use KEY=VALUE or a .json/.yaml file" in err
    assert rawconv_main([str(spms), "--storage-option", str(tmp_path / "none.json")]) == 2
    assert "--storage-option cannot read" in capsys.readouterr().err
    with pytest.raises(TypeError, match="storage_options must be a dict"):
        build_raw(str(spms), out_spec=str(tmp_path / "x.lh5"), storage_options="anon=true")


def test_parse_storage_options(tmp_path):
    from rawconv.storage_options import parse_storage_options

    f = tmp_path / "o.json"
    f.write_text('{"anon": false, "client_kwargs": {"endpoint_url": "http://a:1", "x": 1}}')
    assert parse_storage_options(
        [str(f), "client_kwargs.endpoint_url=http://b:2", "anon=true", "block_size=1024", "s=abc"]
    ) == {"anon": True, "client_kwargs": {"endpoint_url": "http://b:2", "x": 1},
          "block_size": 1024, "s": "abc"}  # fmt: skip
