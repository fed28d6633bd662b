"""The embedded cluster's workers, forked from a server that imported rawconv; the
dashboard only where its link is shown."""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from rawconv.parallel import convert
from rawconv.parallel import forkserver as fs

from rawconv import build_raw
from tests.parallel.conftest import assert_same_lh5

PARALLEL = [sys.executable, "-m", "rawconv.parallel.cli"]


def _worker_state() -> tuple[int, bool, bool, str | None]:
    """A worker's parent, whether the task modules and a format's streamer were imported
    before any task, whether it ignores SIGINT, its OMP_NUM_THREADS."""
    imported = {"rawconv.parallel.tasks", "rawconv.formats.fcio.streamer", "h5py"}
    return (os.getppid(), imported <= set(sys.modules),
            signal.getsignal(signal.SIGINT) is signal.SIG_IGN,
            os.environ.get("OMP_NUM_THREADS"))  # fmt: skip


def _convert(th228: Path, tmp_path: Path, **kwargs) -> tuple[list, dict]:
    """th228 in 4 chunks on an embedded cluster of 2 workers; the workers' states and the
    HTTP status of the dashboard's page, taken before any task."""
    seen: dict = {}

    def on_client(client) -> None:
        seen["workers"] = list(client.run(_worker_state).values())
        port = client.scheduler_info()["services"]["dashboard"]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=60) as r:
                seen["status"] = r.status
        except urllib.error.HTTPError as exc:
            seen["status"] = exc.code

    report = convert([str(th228)], out_spec=str(tmp_path / "out.lh5"), n_workers=2,
                     chunk_size=1 << 20, scratch=str(tmp_path / "scratch"),
                     cache_dir=str(tmp_path / "cache"), on_client=on_client, **kwargs)  # fmt: skip
    assert [f.status for f in report.files] == ["done"]
    assert report.files[0].chunks == 4
    return seen["workers"], seen["status"]


def test_workers_are_forked_from_the_server_with_rawconv_imported(th228, tmp_path):
    workers, status = _convert(th228, tmp_path)
    assert fs.start_worker_server()  # running: the run started it
    import multiprocessing.forkserver

    server = multiprocessing.forkserver._forkserver._forkserver_pid
    assert len(workers) == 2
    for parent, imported, ignores_sigint, omp in workers:
        assert parent == server != os.getpid()
        assert imported  # before the first task: in the server, once
        assert ignores_sigint  # a Ctrl-C reaches the command alone
        assert omp == "1"  # Dask's environment for the workers it spawns
    assert status == 200  # the dashboard: bokeh is installed (the test extra)
    build_raw(str(th228), out_spec=str(tmp_path / "serial.lh5"))
    assert assert_same_lh5(tmp_path / "serial.lh5", tmp_path / "out.lh5") > 10


def test_without_a_dashboard(th228, tmp_path):
    workers, status = _convert(th228, tmp_path, dashboard=False)
    assert status == 404  # Dask's HTTP server, without the dashboard
    assert len(workers) == 2


def test_workers_spawned_where_the_server_cannot_start(th228, tmp_path, monkeypatch):
    monkeypatch.setattr(fs, "_started", None)
    monkeypatch.setattr(fs, "_socket_folder", lambda: False)  # no folder fits its socket
    assert fs.start_worker_server() is False
    workers, _ = _convert(th228, tmp_path)
    for parent, _imported, ignores_sigint, _omp in workers:
        assert parent == os.getpid()  # Dask's nanny spawned it from this process
        assert ignores_sigint
    build_raw(str(th228), out_spec=str(tmp_path / "serial.lh5"))
    assert assert_same_lh5(tmp_path / "serial.lh5", tmp_path / "out.lh5") > 10


def test_a_socket_folder_fits_or_is_refused():
    assert fs._fits("/tmp/rawconv-workers-4194304-0123abcd")
    assert not fs._fits("/" + "x" * 90)  # with /listener-12345678: 109 bytes


def _command(th228: Path, tmp_path: Path, tmp: Path) -> subprocess.CompletedProcess:
    args = [str(th228), "-o", str(tmp_path / "out.lh5"), "-w", "--workers", "2",
            "--chunk-size", "1M", "--scratch", str(tmp_path / "scratch"),
            "--cache", str(tmp_path / "cache"), "-q"]  # fmt: skip
    return subprocess.run([*PARALLEL, *args], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, TMPDIR=str(tmp)))  # fmt: skip


def test_the_command_leaves_no_socket_folder_and_removes_stale_ones(th228, tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    stale = tmp / f"rawconv-workers-{gone}-0123abcd"  # a killed run's: its process is gone
    stale.mkdir()
    (stale / "listener-12345678").write_bytes(b"")
    live = tmp / f"rawconv-workers-{os.getpid()}-0123abcd"  # a live process's: kept
    live.mkdir()
    done = _command(th228, tmp_path, tmp)
    assert done.returncode == 0, done.stderr
    assert (done.stdout, done.stderr) == ("", "")
    assert sorted(p.name for p in tmp.iterdir()) == [live.name]
    build_raw(str(th228), out_spec=str(tmp_path / "serial.lh5"))
    assert assert_same_lh5(tmp_path / "serial.lh5", tmp_path / "out.lh5") > 10


def test_the_command_with_a_temporary_folder_too_long_for_a_socket(th228, tmp_path):
    tmp = tmp_path / ("t" * 60) / ("u" * 60)
    tmp.mkdir(parents=True)
    done = _command(th228, tmp_path, tmp)
    assert done.returncode == 0, done.stderr
    assert list(tmp.iterdir()) == []  # its socket went to /tmp, and is gone
    build_raw(str(th228), out_spec=str(tmp_path / "serial.lh5"))
    assert assert_same_lh5(tmp_path / "serial.lh5", tmp_path / "out.lh5") > 10


@pytest.mark.parametrize("quiet", [True, False])
def test_the_command_starts_the_dashboard_only_where_its_link_is_shown(th228, tmp_path, quiet,
                                                                       monkeypatch):  # fmt: skip
    from rawconv.parallel import cli

    module = importlib.import_module("rawconv.parallel.convert")
    seen = {}
    real = module.convert

    def spy(*args, **kwargs):
        seen["dashboard"] = kwargs["dashboard"]
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "convert", spy)
    args = [str(th228), "-o", str(tmp_path / "o.lh5"), "--chunk-size", "1M", "--workers", "1",
            "--scratch", str(tmp_path / "s"), "--cache", str(tmp_path / "c")]  # fmt: skip
    assert cli.main(args + (["-q"] if quiet else [])) == 0
    assert seen == {"dashboard": not quiet}


def test_the_command_ends_the_server_at_its_end(th228, tmp_path):
    """The command's server ends with the command (SIGTERM, reaped), not 0.15 s after it
    with an interpreter shutdown that keeps a pipe on the command's output open."""
    import multiprocessing.forkserver

    from rawconv.parallel import cli

    assert fs.start_worker_server()
    pid = multiprocessing.forkserver._forkserver._forkserver_pid
    args = [str(th228), "-o", str(tmp_path / "o.lh5"), "--chunk-size", "1M", "--workers", "2",
            "--scratch", str(tmp_path / "s"), "--cache", str(tmp_path / "c"), "-q"]  # fmt: skip
    assert cli.main(args) == 0
    assert multiprocessing.forkserver._forkserver._forkserver_pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # ended and reaped
    build_raw(str(th228), out_spec=str(tmp_path / "serial.lh5"))
    assert assert_same_lh5(tmp_path / "serial.lh5", tmp_path / "o.lh5") > 10
    assert fs.start_worker_server()  # a later run starts it again
    assert multiprocessing.forkserver._forkserver._forkserver_pid not in (None, pid)
