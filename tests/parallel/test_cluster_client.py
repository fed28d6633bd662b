"""rawconv-parallel and its cluster: the dashboard link, -q, the workers' versions."""

from __future__ import annotations

import re
import sys

import numpy
import pytest
from rawconv.parallel import convert
from rawconv.parallel.cli import main
from rawconv.parallel.versions import PACKAGES, WorkerVersionError, package_versions

from tests.parallel.conftest import assert_same_lh5


def _args(th228, tmp_path, *extra: str) -> list[str]:
    return [str(th228), "-o", str(tmp_path / "out.lh5"), "--chunk-size", "1M",
            "--cache", str(tmp_path / "cache"), "--scratch", str(tmp_path / "scratch"),
            *extra]  # fmt: skip


def test_dashboard_link_first_with_scheduler_and_quiet(th228, client, tmp_path, capsys):
    status = main(_args(th228, tmp_path, "--scheduler", client.scheduler.address))
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert client.dashboard_link.startswith("http://127.0.0.1:")
    assert captured.err == f"rawconv-parallel: dashboard: {client.dashboard_link}\n"
    assert captured.out.startswith("1 input file(s): 1 done;")
    status = main(_args(th228, tmp_path, "--scheduler", client.scheduler.address, "-q", "-w"))
    assert status == 0
    assert capsys.readouterr() == ("", "")
    ref = tmp_path / "ref.lh5"
    convert([str(th228)], out_spec=str(ref), client=client, cache_dir=str(tmp_path / "cache"))
    assert assert_same_lh5(ref, tmp_path / "out.lh5") > 10


def test_dashboard_link_first_with_the_embedded_cluster_and_quiet(th228, tmp_path, capsys):
    assert main(_args(th228, tmp_path, "--workers", "1")) == 0
    err = capsys.readouterr().err
    assert re.fullmatch(r"rawconv-parallel: dashboard: http://127\.0\.0\.1:\d+/status\n", err)
    assert main(_args(th228, tmp_path, "--workers", "1", "-q", "-w")) == 0
    assert capsys.readouterr() == ("", "")


def test_worker_versions_differ_refused_before_any_work(th228, client, tmp_path, capsys,
                                                        monkeypatch):  # fmt: skip
    theirs = client.run(package_versions)
    assert sorted(next(iter(theirs.values()))) == sorted(PACKAGES)
    assert all(v == package_versions() for v in theirs.values())  # the same environment
    first = sorted(theirs)[0]
    real = numpy.__version__
    monkeypatch.setattr(numpy, "__version__", "0.0.1")
    status = main(_args(th228, tmp_path, "--scheduler", client.scheduler.address, "-q"))
    assert status == 1
    assert capsys.readouterr() == ("", (
        f"rawconv-parallel: error: worker {first} runs numpy {real}, this client numpy 0.0.1: "
        "install the same versions of rawconv, numpy, numba, h5py on the client and the "
        "workers\n"
    ))  # fmt: skip
    with pytest.raises(WorkerVersionError, match=f"worker {first} runs numpy {real}"):
        convert([str(th228)], out_spec=str(tmp_path / "out.lh5"), client=client,
                cache_dir=str(tmp_path / "cache"), scratch=str(tmp_path / "scratch"))  # fmt: skip
    # before any work: nothing indexed, nothing written
    assert not (tmp_path / "out.lh5").exists()
    assert not (tmp_path / "cache").exists()
    assert list((tmp_path / "scratch").glob("*")) == []


def test_a_progress_bar_per_phase_on_a_terminal_never_with_quiet(th228, client, tmp_path, capsys,
                                                                 monkeypatch):  # fmt: skip
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    status = main(_args(th228, tmp_path, "--scheduler", client.scheduler.address))
    err = capsys.readouterr().err
    assert status == 0, err
    plain = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", err)  # tqdm moves the cursor between bars
    states = [t for t in re.split(r"[\r\n]", plain) if t.strip()]
    assert states[0] == f"rawconv-parallel: dashboard: {client.dashboard_link}"
    phases: dict[str, list[str]] = {}
    for state in states[1:]:
        phases.setdefault(state[:6], []).append(state)
    assert list(phases) == ["index ", "decode", "merge "]  # in this order, one bar each
    size = th228.stat().st_size / 2**20
    assert re.match(r"index : 100%\S* 1/1 \[", phases["index "][-1])
    assert re.match(rf"decode: 100%\S* {size:.2f}M/{size:.2f}M \[", phases["decode"][-1])
    assert re.match(r"merge : 100%\S* 1/1 \[", phases["merge "][-1])
    status = main(_args(th228, tmp_path, "--scheduler", client.scheduler.address, "-q", "-w"))
    assert status == 0
    assert capsys.readouterr() == ("", "")


def test_a_worker_that_joins_late_with_another_version_is_refused(th228, tmp_path, capsys):
    """The run starts on a cluster with no worker (the check at the start sees none); a
    worker whose numpy reports another version joins once the first task waits (numba then
    fails to import there: the task's call cannot even be loaded): its first task refuses
    to run, and the run ends with the one-line message, nothing written."""
    import threading
    import time

    from distributed import LocalCluster

    preload = tmp_path / "other_numpy.py"
    preload.write_text("import numpy\n\nnumpy.__version__ = '0.0.1'\n")
    with LocalCluster(n_workers=0, threads_per_worker=1, processes=True, dashboard_address=":0",
                      preload=[str(preload)]) as cluster:  # fmt: skip
        done = threading.Event()

        def join_when_a_task_waits() -> None:
            while not cluster.scheduler.tasks and not done.is_set():
                time.sleep(0.02)
            cluster.scale(1)

        joiner = threading.Thread(target=join_when_a_task_waits)
        joiner.start()
        try:
            status = main(_args(th228, tmp_path, "--scheduler", cluster.scheduler_address, "-q"))
        finally:
            done.set()
            joiner.join()
        worker = next(iter(cluster.scheduler.workers))
    assert capsys.readouterr() == ("", (
        f"rawconv-parallel: error: worker {worker} runs numpy 0.0.1, this client numpy "
        f"{numpy.__version__}: install the same versions of rawconv, numpy, numba, h5py on the "
        "client and the workers\n"
    ))  # fmt: skip
    assert status == 1
    assert not (tmp_path / "out.lh5").exists()
    assert not (tmp_path / "cache").exists()  # its index task refused: nothing indexed
    assert list((tmp_path / "scratch").glob("*")) == []
