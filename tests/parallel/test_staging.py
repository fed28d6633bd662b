"""Staging a remote input in the scratch folder: an exact copy, or an error and nothing."""

from __future__ import annotations

import os

import pytest
from rawconv.parallel import staging
from rawconv.parallel.staging import stage, staged_path

from rawconv import RawconvError
from rawconv.sources import MemorySource


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
