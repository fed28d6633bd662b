"""Faults of ``rawconv-parallel``: a full disk, kill -9, SIGTERM and SIGINT at named points.

Each case runs the real command (an embedded cluster of one worker) and checks its exit
status, its one line on stderr, and that the output folder holds complete outputs only and
the scratch and temporary folders hold nothing.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import h5py
import pytest
from rawconv.parallel import convert

from rawconv import build_raw
from rawconv.errors import OutputError
from rawconv.formats.fcio.synthetic import write_synthetic_run
from tests.conftest import data_file, wait_for
from tests.parallel.conftest import assert_same_lh5
from tests.test_diskspace import _free

PARALLEL = [sys.executable, "-m", "rawconv.parallel.cli"]


@pytest.fixture
def work(tmp_path):
    """th228 (4 chunks of 1 MiB) in ``in/``, and the folders a run uses."""
    d = tmp_path / "in"
    d.mkdir()
    shutil.copy(data_file("fcio/th228.fcio"), d / "a.fcio")
    for name in ("out", "scratch", "tmp"):
        (tmp_path / name).mkdir()
    return tmp_path


def _args(work: Path, *extra: str) -> list[str]:
    return [str(work / "in" / "a.fcio"), "-o", str(work / "out" / "a.lh5"), "--workers", "1",
            "--chunk-size", "1M", "--scratch", str(work / "scratch"), "--cache",
            str(work / "cache"), "-q", *extra]  # fmt: skip


def _env(work: Path, **extra: str) -> dict[str, str]:
    return dict(os.environ, TMPDIR=str(work / "tmp"), **extra)


def _names(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def _serial(work: Path) -> Path:
    ref = work / "serial.lh5"
    build_raw(str(work / "in" / "a.fcio"), out_spec=str(ref))
    return ref


def test_file_size_limit(work):
    """EFBIG in the part files: one line naming the output and the cause; nothing left."""
    cmd = " ".join([*PARALLEL, *_args(work)])
    done = subprocess.run(["bash", "-c", f"ulimit -f 300; exec {cmd}"], capture_output=True,
                          text=True, timeout=600, env=_env(work))  # fmt: skip
    assert done.returncode == 1, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"rawconv-parallel: error: {work / 'in' / 'a.fcio'}: ")
    assert f"{work / 'out' / 'a.lh5'}: cannot write " in lines[0]
    assert "File too large (EFBIG)" in lines[0]
    assert (_names(work / "out"), _names(work / "scratch")) == ([], [])


def test_injected_enospc_in_the_merge(work, monkeypatch):
    """ENOSPC when the merge closes the output (a threaded cluster in this process, so that
    the fault can be injected): the input fails naming its output; nothing is left."""
    from distributed import Client, LocalCluster

    real_flush = h5py.File.flush

    def flush(self):
        if ".a.lh5." in self.filename:  # the merged output, not the parts
            raise OSError(errno.ENOSPC, f"errno = {errno.ENOSPC}, filename = '{self.filename}'")
        real_flush(self)

    monkeypatch.setattr(h5py.File, "flush", flush)
    with LocalCluster(n_workers=1, processes=False, dashboard_address=":0") as cluster, \
         Client(cluster) as client:  # fmt: skip
        report = convert([str(work / "in" / "a.fcio")], out_spec=str(work / "out" / "a.lh5"),
                         client=client, chunk_size=1 << 20, scratch=str(work / "scratch"),
                         cache_dir=str(work / "cache"))  # fmt: skip
    (fr,) = report.files
    assert fr.status == "failed"
    assert fr.reason.endswith(
        f"{work / 'out' / 'a.lh5'}: cannot write the output: No space left on device (ENOSPC)"
    )
    assert (_names(work / "out"), _names(work / "scratch")) == ([], [])


def _parts(work: Path) -> bool:
    return any(p.suffix == ".lh5" for p in (work / "scratch").rglob("*"))


@pytest.fixture
def big(work):
    """A larger input (about 20 chunks) in place of th228."""
    write_synthetic_run(work / "in" / "a.fcio", n_events=4000, adcs=6, eventsamples=1000, seed=5)
    return work


def test_kill_9_then_next_run_cleans_up(big):
    work = big
    proc = subprocess.Popen([*PARALLEL, *_args(work)], env=_env(work), start_new_session=True,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    wait_for(lambda: _parts(work), proc, "part files", timeout=300.0)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert "a.lh5" not in _names(work / "out")
    (stale,) = list((work / "scratch").iterdir())
    assert stale.name.startswith("run-")
    done = subprocess.run(
        [*PARALLEL, *_args(work)[:-1]], capture_output=True, text=True, timeout=600, env=_env(work)
    )  # fmt: skip (not -q: the warning shows)
    assert done.returncode == 0, done.stderr
    assert f"removing {stale}, left by an interrupted run" in done.stderr
    assert _names(work / "out") == ["a.lh5"]
    assert _names(work / "scratch") == []
    assert_same_lh5(_serial(work), work / "out" / "a.lh5")


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT-group"])
def test_signal_mid_run(big, how):
    """SIGTERM to the command, or SIGINT to its process group (a Ctrl-C in a terminal,
    which the workers receive too) while parts are written."""
    work = big
    proc = subprocess.Popen([*PARALLEL, *_args(work)], env=_env(work), start_new_session=True,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    wait_for(lambda: _parts(work), proc, "part files", timeout=300.0)
    if how == "SIGTERM":
        proc.send_signal(signal.SIGTERM)
    else:
        os.killpg(proc.pid, signal.SIGINT)
    err = proc.communicate(timeout=300)[1]
    status, word = (143, "terminated") if how == "SIGTERM" else (130, "interrupted")
    assert proc.returncode == status, err
    name = how.split("-")[0]
    assert err == (f"rawconv-parallel: {word} ({name}); outputs that were not complete were "
                   "removed (--resume keeps the others)\n")  # fmt: skip
    assert (_names(work / "out"), _names(work / "scratch")) == ([], [])
    assert _names(work / "tmp") == []


POINTS = [
    ("parallel:cluster", 130), ("parallel:indexed", 130), ("parallel:locked", 130),
    ("parallel:part", 130), ("parallel:merging@SIGTERM", 143), ("parallel:merged", 130),
    ("parallel:finished", 0), ("parallel:done", 0),
]  # fmt: skip
"""At ``parallel:merged`` the output is complete but the run has not noted it yet: 130,
and the output stays (``--resume`` keeps it)."""


@pytest.mark.parametrize(("point", "status"), POINTS)
def test_interrupt_at_named_points(work, point, status):
    """With the two real signals above: 10 points of a run. Before the output is complete:
    130/143 and one line; after: 0 and the complete output. Never a traceback, never a
    file left in the scratch or temporary folder."""
    done = subprocess.run([*PARALLEL, *_args(work)], capture_output=True, text=True,
                          timeout=600, env=_env(work, RAWCONV_INTERRUPT_AT=point))  # fmt: skip
    assert done.returncode == status, done.stderr
    assert "Traceback" not in done.stderr
    if status:
        assert len(done.stderr.splitlines()) == 1, done.stderr
        assert _names(work / "out") == (["a.lh5"] if point == "parallel:merged" else [])
    else:
        assert done.stderr == ""
    if _names(work / "out"):
        assert_same_lh5(_serial(work), work / "out" / "a.lh5")
    assert _names(work / "scratch") == []
    assert _names(work / "tmp") == []


def test_parallel_run_refused_before_writing(tmp_path, client, monkeypatch):
    src = tmp_path / "a.fcio"
    shutil.copy(data_file("fcio/th228.fcio"), src)
    out, scratch = tmp_path / "out", tmp_path / "scratch"
    scratch.mkdir()
    kwargs = {"out_spec": str(out / "a.lh5"), "client": client, "chunk_size": 1 << 20,
              "cache_dir": str(tmp_path / "c"), "scratch": str(scratch)}  # fmt: skip
    _free(monkeypatch, 1 << 20)  # everywhere
    with pytest.raises(OutputError, match=rf"^{tmp_path}: not enough free space for the output"):
        convert([str(src)], **kwargs)
    # the outputs fit, the uncompressed parts of th228 (1.5 x 3.7 MiB) do not
    monkeypatch.undo()
    _free(monkeypatch, 4 << 20, only=scratch)
    with pytest.raises(OutputError, match=rf"^{scratch}: not enough free space for the parts"):
        convert([str(src)], **kwargs)
    assert not out.exists()
    assert list(scratch.iterdir()) == []
