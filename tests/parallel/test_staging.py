"""Staging a remote or compressed input in the scratch folder: an exact copy, or an error
and nothing."""

from __future__ import annotations

import bz2
import gzip
import os
import shutil

import pytest
from rawconv.parallel import staging
from rawconv.parallel.staging import check_stage_space, decompress_threads, stage, staged_path

from rawconv import RawconvError
from rawconv.errors import OutputError
from rawconv.sources import CompressedSource, MemorySource


class _Listed(MemorySource):
    """Bytes whose listed size may differ from what is there (a file changed under us)."""

    def __init__(self, data: bytes, listed: int) -> None:
        super().__init__(data, name="https://host/run.fcio")
        self.listed = listed

    @property
    def size(self) -> int:
        return self.listed


def test_staged_copy_is_exact_and_keeps_the_name(tmp_path, monkeypatch):
    monkeypatch.setattr(staging, "STAGE_READ_BYTES", 1000)  # several reads
    data = os.urandom(4321)
    path = staged_path(str(tmp_path), "run-x", 3, "https://host/data/run.fcio")
    assert path == str(tmp_path / "run-x" / "staged" / "f3" / "run.fcio")
    copy = stage(_Listed(data, len(data)), path)
    assert copy.name == "https://host/run.fcio"  # errors name the URL
    assert copy.read(0, 10_000) == data
    assert [p.name for p in (tmp_path / "run-x" / "staged" / "f3").iterdir()] == ["run.fcio"]


def test_input_shorter_than_listed_leaves_nothing(tmp_path):
    path = staged_path(str(tmp_path), "run-x", 0, "https://host/run.fcio")
    with pytest.raises(RawconvError) as info:
        stage(_Listed(b"x" * 100, 150), path)
    assert str(info.value) == (
        "https://host/run.fcio, offset 100: cannot read: the input ends at 100 bytes, before "
        "its listed size 150"
    )
    assert list((tmp_path / "run-x" / "staged" / "f0").iterdir()) == []


def test_unwritable_scratch_names_the_file(tmp_path):
    (tmp_path / "run-x").write_text("not a folder")
    path = staged_path(str(tmp_path), "run-x", 0, "https://host/run.fcio")
    with pytest.raises(RawconvError) as info:
        stage(_Listed(b"x" * 100, 100), path)
    assert str(info.value) == (
        f"{path}: cannot stage the remote input https://host/run.fcio in the scratch folder: "
        "Not a directory"
    )


def test_a_stream_of_unknown_size_is_read_to_its_end(tmp_path, monkeypatch):
    monkeypatch.setattr(staging, "STAGE_READ_BYTES", 1000)  # several reads
    data = os.urandom(4321)
    source = CompressedSource(MemorySource(bz2.compress(data), name="/data/run.fcio.bz2"), "bz2")
    assert source.size is None
    path = staged_path(str(tmp_path), "run-x", 0, "/data/run.fcio")
    copy = stage(source, path)
    assert (copy.name, copy.size, copy.read(0, 10_000)) == ("/data/run.fcio.bz2", 4321, data)


def test_unwritable_scratch_for_a_compressed_input(tmp_path):
    (tmp_path / "run-x").write_text("not a folder")
    path = staged_path(str(tmp_path), "run-x", 0, "/data/run.fcio")
    source = CompressedSource(MemorySource(gzip.compress(b"x" * 100), name="/d/r.fcio.gz"), "gz")
    with pytest.raises(RawconvError) as info:
        stage(source, path)
    assert str(info.value) == (
        f"{path}: cannot stage the decompressed input /d/r.fcio.gz in the scratch folder: "
        "Not a directory"
    )


def test_gzip_trailer_size_is_checked_against_free_space(tmp_path, monkeypatch):
    packed = gzip.compress(b"\0" * 5_000_000)  # ISIZE 5,000,000
    source = CompressedSource(MemorySource(packed, name="/d/r.fcio.gz"), "gz")
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda _: usage._replace(free=4_000_000))
    path = staged_path(str(tmp_path), "run-x", 0, "/d/r.fcio")
    with pytest.raises(OutputError) as info:
        check_stage_space(source, path)
    assert str(info.value) == (
        f"{tmp_path}: not enough free space for the decompressed copy of /d/r.fcio.gz: "
        "about 4.8 MiB needed (input size x compression factor), 3.8 MiB free"
    )
    monkeypatch.setattr(shutil, "disk_usage", lambda _: usage._replace(free=5_000_000))
    check_stage_space(source, path)  # fits
    bz = CompressedSource(MemorySource(bz2.compress(b"\0" * 5_000_000)), "bz2")
    monkeypatch.setattr(shutil, "disk_usage", lambda _: usage._replace(free=0))
    check_stage_space(bz, path)  # bzip2 records no size: not checked


def test_decompression_threads_are_capped_at_the_cores(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    assert [decompress_threads(n) for n in (0, 1, 3, 4, 64)] == [1, 1, 3, 4, 4]
