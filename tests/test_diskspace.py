"""Free disk space is checked against an estimate before a conversion writes anything."""

from __future__ import annotations

import shutil
from collections import namedtuple

import pytest

from rawconv.cli import main as rawconv
from rawconv.diskspace import check_free_space, estimate_output_bytes
from rawconv.errors import OutputError

Usage = namedtuple("Usage", "total used free")


@pytest.fixture
def run(spms, tmp_path, monkeypatch):
    """A copy of the spms file (3,612,820 bytes) in an empty working directory."""
    monkeypatch.chdir(tmp_path)
    shutil.copy(spms, tmp_path / "run.fcio")
    return tmp_path / "run.fcio"


def _free(monkeypatch, free_bytes, only=None):
    real = shutil.disk_usage

    def usage(path):
        if only is None or str(path) == str(only):
            return Usage(1 << 40, (1 << 40) - free_bytes, free_bytes)
        return real(path)

    monkeypatch.setattr(shutil, "disk_usage", usage)


def test_estimates_per_compression():
    assert estimate_output_bytes(1000) == 750  # gzip, the default
    assert estimate_output_bytes(1000, "gzip:9") == 750
    assert estimate_output_bytes(1000, "none") == 1500
    assert estimate_output_bytes(1000, {"compression": None}) == 1500
    assert estimate_output_bytes(1000, "lzf") == 800
    assert estimate_output_bytes(1000, "zstd") == 750


def test_needs_are_summed_per_filesystem(tmp_path, monkeypatch):
    mib = 1 << 20
    _free(monkeypatch, 3 * mib)
    check_free_space([(str(tmp_path / "a.lh5"), 2 * mib), (str(tmp_path / "b" / "c.lh5"), mib)])
    with pytest.raises(OutputError) as info:
        check_free_space([(str(tmp_path / "a.lh5"), 2 * mib), (str(tmp_path / "b/c.lh5"), mib + 1)])
    assert str(info.value) == (
        f"{tmp_path}: not enough free space for the output: about 3.0 MiB needed "
        "(input size x compression factor), 3.0 MiB free"
    )


@pytest.mark.parametrize(("flags", "need"), [([], "2.6"), (["-c", "none"], "5.2")])
def test_serial_run_refused_before_writing(run, capsys, monkeypatch, flags, need):
    _free(monkeypatch, 1 << 20)
    out = run.parent / "sub" / "out.lh5"
    assert rawconv([str(run), "-o", str(out), *flags]) == 1
    err = capsys.readouterr().err
    assert err == (
        f"rawconv: error: {run.parent}: not enough free space for the output: about {need} MiB "
        "needed (input size x compression factor), 1.0 MiB free\n"
    )
    assert sorted(p.name for p in run.parent.iterdir()) == ["run.fcio"]


def test_serial_run_that_fits_or_is_limited_converts(run, capsys, monkeypatch):
    _free(monkeypatch, 3 << 20)  # enough for gzip (2.6 MiB), not for -c none (5.2 MiB)
    assert rawconv([str(run), "-o", "a.lh5", "-q"]) == 0
    assert rawconv([str(run), "-o", "b.lh5", "-q", "-c", "none"]) == 1
    assert rawconv([str(run), "-o", "c.lh5", "-q", "-c", "none", "-n", "10"]) == 0  # no estimate
    capsys.readouterr()
    assert sorted(p.name for p in run.parent.iterdir()) == ["a.lh5", "c.lh5", "run.fcio"]
