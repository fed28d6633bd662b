"""Staging a remote or compressed input in the scratch folder: an exact copy, or an error
and nothing."""

from __future__ import annotations

import bz2
import gzip
import os
import shutil
import struct
from pathlib import Path

import pytest
from rawconv.parallel import staging
from rawconv.parallel.staging import (
    StagingCopy,
    check_stage_space,
    decompress_threads,
    stage,
    staged_path,
)

from rawconv import RawconvError
from rawconv.errors import CorruptDataError, OutputError
from rawconv.sources import CompressedSource, MemorySource
from tests.conftest import data_file


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


class _Counted(MemorySource):
    """Bytes whose every read from the input is recorded (start, bytes read)."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data, name="https://host/run.fcio")
        self.reads: list[tuple[int, int]] = []

    def readinto(self, start, out):
        n = super().readinto(start, out)
        self.reads.append((start, n))
        return n


def _fetched(source: _Counted) -> list[int]:
    """How many times each byte of the input was read from it."""
    counts = [0] * source.size
    for start, n in source.reads:
        for i in range(start, start + n):
            counts[i] += 1
    return counts


def test_a_staging_copy_is_written_as_it_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(staging, "STAGE_READ_BYTES", 1000)
    data = os.urandom(10_000)
    source = _Counted(data)
    path = staged_path(str(tmp_path), "run-x", 0, source.name)
    copy = StagingCopy(source, path)
    assert copy.read(0, 100) == data[:100] and copy.copied == 100
    assert copy.read(3000, 3500) == data[3000:3500]  # the bytes skipped are copied first
    assert copy.copied == 3500
    assert copy.read(50, 3600) == data[50:3600]  # the copied part from the copy, the rest anew
    assert copy.read(7, 9) == data[7:9]
    assert copy.identity() == source.identity() and copy.size == len(data)
    staged = copy.finish()
    assert (staged.name, staged.read(0, 20_000)) == (source.name, data)
    assert _fetched(source) == [1] * len(data)  # every byte from the input exactly once
    assert [p.name for p in (tmp_path / "run-x" / "staged" / "f0").iterdir()] == ["run.fcio"]


def test_a_staging_copy_given_up_leaves_nothing(tmp_path):
    source = _Counted(b"x" * 5000)
    path = staged_path(str(tmp_path), "run-x", 0, source.name)
    copy = StagingCopy(source, path)
    copy.read(0, 1000)
    copy.discard()
    assert list((tmp_path / "run-x" / "staged" / "f0").iterdir()) == []


def test_an_index_stages_a_remote_input_in_one_pass(tmp_path, monkeypatch):
    """index_file builds the index through the copy: the input is read once, and the
    finished copy is what the chunks read."""
    from rawconv.parallel.index import index_file

    data = data_file("fcio/th228.fcio").read_bytes()
    source = _Counted(data)
    path = staged_path(str(tmp_path), "run-x", 0, source.name)
    fi = index_file(source.name, "fcio", str(tmp_path / "cache"), source=source,
                    stage=lambda src: StagingCopy(src, path))  # fmt: skip
    assert fi.staged is not None and fi.staged.read(0, len(data) + 1) == data
    assert _fetched(source) == [1] * len(data)
    assert len(fi.records) == 1002  # the file header, the config and 1000 events
    local = index_file(str(data_file("fcio/th228.fcio")), "fcio", str(tmp_path / "cache2"))
    assert (fi.records == local.records).all()
    fi.staged.close()


def test_a_damaged_remote_input_is_staged_whole(tmp_path):
    """An index that stops at damage leaves the whole input staged, for the task that
    converts it whole."""
    from rawconv.parallel.index import index_file

    data = bytearray(data_file("fcio/th228.fcio").read_bytes()[:400_000])
    victim = 68 + 84 + 3832 * 50  # the tag word of event 51 (header, config, 50 events)
    struct.pack_into("<i", data, victim, -(2**31))
    source = _Counted(bytes(data))
    path = staged_path(str(tmp_path), "run-x", 0, source.name)
    with pytest.raises(CorruptDataError):
        index_file(source.name, "fcio", str(tmp_path / "cache"), source=source,
                   stage=lambda src: StagingCopy(src, path))  # fmt: skip
    assert Path(path).read_bytes() == bytes(data)
    assert _fetched(source) == [1] * len(data)
