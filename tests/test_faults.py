"""Faults of the serial command: a full disk, kill -9, SIGTERM and SIGINT at named points.

Each case runs the real ``rawconv`` command and checks its exit status, its one line on
stderr, and that nothing but complete outputs is left.
"""

from __future__ import annotations

import errno
import importlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from rawconv import build_raw
from rawconv.cli import main as rawconv
from rawconv.formats.fcio.synthetic import write_synthetic_run
from rawconv.lh5.chunks import DirectChunkAppender
from rawconv.lh5.columns import ArrayCol
from rawconv.lh5.writer import LH5Writer
from tests.conftest import read_column, wait_for

RAWCONV = [sys.executable, "-m", "rawconv.cli"]


@pytest.fixture
def run(spms, tmp_path):
    """A copy of the spms file (300 events of 6 channels) in an empty folder."""
    shutil.copy(spms, tmp_path / "run.fcio")
    return tmp_path / "run.fcio"


def _rawconv(args, cwd, limit_kib=None, env=None, timeout=300):
    cmd = " ".join(map(str, [*RAWCONV, *args]))
    if limit_kib is not None:  # Python ignores SIGXFSZ: writes past the limit fail (EFBIG)
        cmd = f"ulimit -f {limit_kib}; exec {cmd}"
    return subprocess.run(["bash", "-c", cmd], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=dict(os.environ, **(env or {})))  # fmt: skip


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize(("compression", "limit_kib"), [("lzf", 50), ("none", 300), ("gzip", 1000)])
def test_file_size_limit_mid_write(run, compression, limit_kib):
    """EFBIG while writing (uncompressed) or while closing (compressed: HDF5 writes its
    metadata at close): one line naming the output and the cause, no crash, nothing left."""
    done = _rawconv([run.name, "-o", "out.lh5", "-c", compression], run.parent, limit_kib)
    assert done.returncode == 1, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"rawconv: error: {run.parent / 'out.lh5'}: cannot write ")
    assert lines[0].endswith(": File too large (EFBIG)")
    assert "rawconv-tmp" not in done.stderr
    assert _names(run.parent) == ["run.fcio"]


@pytest.mark.parametrize(
    ("code", "where"),
    [(errno.ENOSPC, "chunk"), (errno.EIO, "chunk"), (errno.ENOSPC, "flush")],
)
def test_injected_write_errors(run, capsys, monkeypatch, code, where):
    """ENOSPC / EIO from a chunk write or from HDF5's flush at close (as HDF5 words it,
    with the temporary name): the message names the output and the cause."""
    message = (f"Can't write data (file write failed: filename = '/x/.out.lh5.1234.rawconv-tmp',"
               f" errno = {code}, error message = '{os.strerror(code)}')")  # fmt: skip

    def fail(*args, **kwargs):
        raise OSError(code, message)

    if where == "chunk":
        monkeypatch.setattr(DirectChunkAppender, "_encode_write", fail)
    else:
        monkeypatch.setattr(h5py.File, "flush", fail)
    out = run.parent / "out.lh5"
    assert rawconv([str(run), "-o", str(out), "-q"]) == 1
    err = capsys.readouterr().err.strip()
    cause = f"{os.strerror(code)} ({errno.errorcode[code]})"
    assert err.startswith(f"rawconv: error: {out}: cannot write ")
    assert err.endswith(cause)
    assert "\n" not in err
    assert _names(run.parent) == ["run.fcio"]


def test_close_and_abort_are_safe_twice(run, monkeypatch):
    """A commit that fails removes the temporary file; abort and commit after it, and a
    second close of the file, do nothing (HDF5 is never asked to close it twice)."""
    out = run.parent / "w.lh5"
    writer = LH5Writer()
    writer.write(ArrayCol(np.arange(1000)), "x", out)
    (opened,) = writer._files.values()
    temp = Path(opened.write_path)
    assert temp.exists()
    calls = []

    def fail(self):
        calls.append(1)
        raise OSError(errno.ENOSPC, "no room")

    monkeypatch.setattr(h5py.File, "flush", fail)
    with pytest.raises(OSError, match=r"w.lh5: cannot write the output: No space left on device"):
        writer.commit()
    monkeypatch.undo()
    assert calls == [1]
    assert not temp.exists()
    assert not out.exists()
    opened.close()  # a second close: nothing happens
    writer.abort()
    assert writer.commit() == []
    assert _names(run.parent) == ["run.fcio"]


@pytest.fixture
def big(tmp_path):
    """An input that takes seconds to convert (so that it can be killed mid-write)."""
    path = tmp_path / "big.fcio"
    write_synthetic_run(path, n_events=6000, adcs=8, eventsamples=1500, seed=3)
    return path


def test_kill_9_mid_write_then_next_run_cleans_up(big):
    folder = big.parent
    proc = subprocess.Popen([*RAWCONV, big.name, "-o", "out.lh5", "-b", "500", "-q"],
                            cwd=folder, stderr=subprocess.DEVNULL)  # fmt: skip
    wait_for(lambda: any(n.endswith(".rawconv-tmp") for n in _names(folder)), proc,
              "temporary file")  # fmt: skip
    time.sleep(0.3)
    proc.kill()
    proc.wait()
    left = _names(folder)
    assert "out.lh5" not in left
    assert any(n.startswith(".out.lh5.") and n.endswith(".rawconv-tmp") for n in left), left
    done = _rawconv([big.name, "-o", "out.lh5", "-q"], folder)
    assert done.returncode == 0, done.stderr
    assert "left by an interrupted run" in done.stderr
    assert _names(folder) == ["big.fcio", "out.lh5"]
    assert len(read_column(folder / "out.lh5", "FCEvent/channel")) == 6000 * 8


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT"])
def test_signal_mid_write(big, how):
    folder = big.parent
    proc = subprocess.Popen([*RAWCONV, big.name, "-o", "out.lh5", "-b", "500", "-q"],
                            cwd=folder, stderr=subprocess.PIPE, text=True)  # fmt: skip
    wait_for(lambda: any(n.endswith(".rawconv-tmp") for n in _names(folder)), proc,
              "temporary file")  # fmt: skip
    proc.send_signal(getattr(signal, how))
    err = proc.communicate(timeout=120)[1]
    status = {"SIGTERM": 143, "SIGINT": 130}[how]
    word = {"SIGTERM": "terminated", "SIGINT": "interrupted"}[how]
    assert proc.returncode == status, err
    assert err == f"rawconv: {word} ({how}); 0 of 1 input(s) converted, no partial output left\n"
    assert _names(folder) == ["big.fcio"]


@pytest.mark.parametrize("where", ["inside the open", "after the open"])
def test_signal_while_an_output_is_created_leaves_no_file(tmp_path, monkeypatch, where):
    """The windows where a signal lands after HDF5 created the temporary file but before the
    writer holds it: abort() still deletes the file."""
    import rawconv.lh5.outfile as outfile
    import rawconv.lh5.writer as writer_module

    seen = []  # the folder when the signal came

    if where == "inside the open":
        def interrupted(h5):
            seen.append(_names(tmp_path))
            raise KeyboardInterrupt

        monkeypatch.setattr(outfile, "_descriptor", interrupted)
    else:
        class Interrupted(outfile.OpenFile):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                self.h5.close()
                seen.append(_names(tmp_path))
                raise KeyboardInterrupt

        monkeypatch.setattr(writer_module, "OpenFile", Interrupted)
    writer = LH5Writer(atomic=True)
    with pytest.raises(KeyboardInterrupt):
        try:
            writer.write(ArrayCol(np.arange(5)), "x", tmp_path / "out.lh5")
        finally:
            writer.abort()
    ((temp,),) = seen
    assert temp.startswith(".out.lh5.") and temp.endswith(".rawconv-tmp")
    assert _names(tmp_path) == []


@pytest.mark.parametrize("command", ["rawconv", "rawconv-parallel"])
def test_signal_that_comes_out_as_a_library_error(run, tmp_path, monkeypatch, capsys, command):
    """A signal landing inside h5py's C code that calls back into Python comes out as h5py's
    ValueError ("Operation not defined for data type class..."): the command still ends as
    interrupted (130, one line), not as a conversion error."""
    from rawconv.parallel.cli import main as rawconv_parallel

    def swallowed(*args, **kwargs):
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)  # the handler runs here
        except KeyboardInterrupt:
            raise ValueError("Operation not defined for data type class") from None
        raise AssertionError("no signal came")

    if command == "rawconv":
        monkeypatch.setattr(sys.modules["rawconv.build_raw"], "build_raw", swallowed)
        status = rawconv([str(run), "-o", str(tmp_path / "o.lh5"), "-q"])
        tail = "0 of 1 input(s) converted, no partial output left"
    else:
        module = importlib.import_module("rawconv.parallel.convert")  # not the function
        monkeypatch.setattr(module, "convert", swallowed)
        status = rawconv_parallel([str(run), "-o", str(tmp_path / "o.lh5"), "-q"])
        tail = "outputs that were not complete were removed (--resume keeps the others)"
    assert status == 130
    assert capsys.readouterr().err == f"{command}: interrupted (SIGINT); {tail}\n"
    assert not (tmp_path / "o.lh5").exists()


# points of a run: before output, while writing, while committing, after it
POINTS = [
    ("build_raw:opened", 130), ("build_raw:locked", 130), ("build_raw:header", 130),
    ("build_raw:chunk:1", 130), ("build_raw:chunk:3", 130), ("build_raw:written", 130),
    ("build_raw:written@SIGTERM", 143),
    ("build_raw:commit", 0), ("build_raw:committed@SIGTERM", 0), ("cli:done", 0),
]  # fmt: skip


@pytest.mark.parametrize(("point", "status"), POINTS)
def test_interrupt_at_named_points(run, tmp_path, point, status):
    """A signal at each point: 130/143 and one line while the work is not done; 0 and the
    complete output once it is (a Ctrl-C after the commit is no failure)."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    done = _rawconv([run.name, "-o", "out.lh5", "-b", "60", "-q"], run.parent,
                    env={"RAWCONV_INTERRUPT_AT": point, "TMPDIR": str(temp)})  # fmt: skip
    assert done.returncode == status, done.stderr
    assert "Traceback" not in done.stderr
    if status:
        assert len(done.stderr.splitlines()) == 1, done.stderr
        assert "0 of 1 input(s) converted, no partial output left" in done.stderr
        assert _names(run.parent) == ["run.fcio", "tmp"]
    else:
        assert done.stderr == ""
        assert _names(run.parent) == ["out.lh5", "run.fcio", "tmp"]
        assert len(read_column(run.parent / "out.lh5", "FCEvent/channel")) == 300
    assert _names(temp) == []


def test_build_raw_keeps_the_signal_for_its_caller(run, monkeypatch):
    """In a library call, a signal during the commit is raised once the output is
    complete, marked as such."""
    from rawconv.interrupts import Interrupted, handlers

    monkeypatch.setenv("RAWCONV_INTERRUPT_AT", "build_raw:commit")
    out = run.parent / "lib.lh5"
    with handlers(), pytest.raises(Interrupted) as info:
        build_raw(str(run), out_spec=str(out))
    assert info.value.after_commit
    assert len(read_column(out, "FCEvent/channel")) == 300


def test_a_signal_lost_in_a_destructor_is_raised_at_the_next_checkpoint(capsys):
    """A signal whose handler runs inside a ``__del__`` or weakref callback (h5py's object
    registry runs many) raises there, where Python prints the exception and goes on: the
    run must still end as interrupted, at its next checkpoint, without that printout."""
    from rawconv.interrupts import Interrupted, checkpoint, handlers, received

    class SignalledWhileDeleted:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)  # the handler runs here, inside __del__

    hook = sys.unraisablehook
    with pytest.raises(Interrupted) as info, handlers():
        SignalledWhileDeleted()  # deleted at once: its exception is lost
        assert received() is not None
        checkpoint("build_raw:chunk:7")
    assert info.value.signum == signal.SIGTERM
    assert capsys.readouterr().err == ""
    assert sys.unraisablehook is hook  # put back after the block
    checkpoint("outside any block")  # nothing to raise there
