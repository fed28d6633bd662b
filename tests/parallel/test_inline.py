"""A run of one local input no larger than a chunk: one task, done in the calling process
without starting a cluster (rawconv.parallel.inline), with the cluster path's output,
report, errors and clean-up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import distributed
import pytest
from rawconv.parallel import convert
from rawconv.parallel.cli import main
from rawconv.parallel.inline import INLINE_TOTAL_BYTES, runs_inline

from rawconv import build_raw
from rawconv.formats.fcio.synthetic import write_synthetic_run
from tests.conftest import wait_for
from tests.parallel.conftest import assert_same_lh5

PARALLEL = [sys.executable, "-m", "rawconv.parallel.cli"]


def _names(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture
def no_cluster(monkeypatch):
    """Starting a cluster fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("a cluster was started")

    monkeypatch.setattr(distributed, "LocalCluster", refuse)


def test_one_small_input_converts_in_this_process(th228, tmp_path, no_cluster):
    out, scratch = tmp_path / "out.lh5", tmp_path / "scratch"
    report = convert([str(th228)], out_spec=str(out), scratch=str(scratch))
    assert report.workers == 0
    assert [f.status for f in report.files] == ["done"]
    assert report.files[0].rows == 1000 and report.files[0].bytes == th228.stat().st_size
    assert "1,000 rows" in report.summary() and "MB/s, in this process)" in report.summary()
    ref = tmp_path / "ref.lh5"
    build_raw(str(th228), out_spec=str(ref))
    assert assert_same_lh5(ref, out) > 10
    assert _names(tmp_path) == ["out.lh5", "ref.lh5"]  # written in place: no scratch folder


def test_the_command_prints_no_dashboard_for_an_inline_run(th228, tmp_path, capsys, no_cluster):
    out = tmp_path / "out.lh5"
    assert main([str(th228), "-o", str(out), "--scratch", str(tmp_path / "s")]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out.startswith("1 input file(s): 1 done; 3.8 MB, 1,000 rows in ")
    assert main([str(th228), "-o", str(out), "--scratch", str(tmp_path / "s"), "-q"]) == 1
    assert capsys.readouterr().err.startswith("rawconv-parallel: error: 1 output(s) exist: ")


def test_a_failed_input_is_reported_as_on_a_cluster(tmp_path, capsys, no_cluster):
    bad = tmp_path / "notes.fcio"
    bad.write_bytes(b"this is not a DAQ file\n" * 10)
    status = main([str(bad), "-o", str(tmp_path / "out.lh5"), "--scratch", str(tmp_path / "s")])
    captured = capsys.readouterr()
    assert status == 1
    assert captured.out.startswith("1 input file(s): 1 failed; 0.0 MB, 0 rows in ")
    assert f"FAILED {bad}: UnknownFormatError: {bad}, offset 0: unknown format" in captured.out
    assert "Traceback" not in captured.out + captured.err
    assert _names(tmp_path) == ["notes.fcio"]


def test_several_small_inputs_convert_in_this_process(th228, spms, tmp_path, no_cluster):
    out = tmp_path / "out"
    report = convert([str(th228), str(spms)], out_spec=str(out / "{orig_basename}.lh5"),
                     scratch=str(tmp_path / "scratch"))  # fmt: skip
    assert report.workers == 0
    assert [(f.status, f.chunks) for f in report.files] == [("done", 1), ("done", 1)]
    for src in (th228, spms):
        ref = tmp_path / f"ref-{src.stem}.lh5"
        build_raw(str(src), out_spec=str(ref))
        assert assert_same_lh5(ref, out / f"{src.stem}.lh5") > 10
    assert _names(out) == ["L200-comm-20211130-phy-spms.lh5", "th228.lh5"]


def test_which_runs_are_inline(th228, tmp_path):
    size = th228.stat().st_size
    assert runs_inline([str(th228)], None, size)
    assert not runs_inline([str(th228)], None, size - 1)  # two chunks: a cluster
    assert runs_inline([str(th228), str(th228)], None, size)  # two small tasks
    big = tmp_path / "big.fcio"
    with open(big, "wb") as f:
        f.truncate(INLINE_TOTAL_BYTES - size + 1)  # sparse: takes no disk
    assert runs_inline([str(big)], None, INLINE_TOTAL_BYTES)  # alone: one task
    assert not runs_inline([str(th228), str(big)], None, INLINE_TOTAL_BYTES)  # workers share
    assert not runs_inline([str(th228), str(th228)], None, size - 1)  # each is split
    assert not runs_inline([str(th228)], object(), size)  # a client given is used
    assert not runs_inline(["http://127.0.0.1:1/x.fcio"], None, size)  # remote: sizes unknown
    assert runs_inline([str(tmp_path / "missing.fcio")], None, size)  # reported by its task


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT"])
def test_signal_mid_write_of_an_inline_run(tmp_path, how):
    src = tmp_path / "big.fcio"
    write_synthetic_run(src, n_events=6000, adcs=8, eventsamples=1500, seed=3)
    out, scratch, tmp = tmp_path / "out", tmp_path / "scratch", tmp_path / "tmp"
    for folder in (out, scratch, tmp):
        folder.mkdir()
    args = [str(src), "-o", str(out / "big.lh5"), "-b", "500", "--scratch", str(scratch), "-q"]
    proc = subprocess.Popen([*PARALLEL, *args], env=dict(os.environ, TMPDIR=str(tmp)),
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    wait_for(lambda: any(n.endswith(".rawconv-tmp") for n in _names(out)), proc,
             "temporary file")  # fmt: skip
    proc.send_signal(getattr(signal, how))
    err = proc.communicate(timeout=120)[1]
    status, word = (143, "terminated") if how == "SIGTERM" else (130, "interrupted")
    assert proc.returncode == status, err
    assert err == (f"rawconv-parallel: {word} ({how}); outputs that were not complete were "
                   "removed (--resume keeps the others)\n")  # fmt: skip
    assert (_names(scratch), _names(tmp)) == ([], [])
    if _names(out):  # this test was starved of CPU until the output was being committed:
        # a signal there waits for the commit, and the complete output stays
        assert _names(out) == ["big.lh5"]
        build_raw(str(src), out_spec=str(tmp_path / "serial.lh5"))
        assert assert_same_lh5(tmp_path / "serial.lh5", out / "big.lh5") > 10
