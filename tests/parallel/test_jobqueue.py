"""rawconv-parallel --cluster: dask-jobqueue clusters, run here with its local job class."""

from __future__ import annotations

import re
import sys

import pytest
from rawconv.parallel.cli import main

from rawconv import build_raw
from tests.parallel.conftest import assert_same_lh5


def _config(tmp_path, text: str) -> str:
    path = tmp_path / "jobqueue.yaml"
    path.write_text(text)
    return str(path)


# dask-jobqueue's local job class stops a job with SIGKILL and never waits for it: Python
# warns, when the Popen is freed, that the process was still running (not rawconv's)
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_local_job_cluster_equals_serial(th228, tmp_path, capsys):
    config = _config(tmp_path, (
        "jobqueue:\n"
        "  local:\n"
        "    cores: 1\n"
        "    memory: 2GB\n"
        "    processes: 1\n"
        f"    local-directory: {tmp_path / 'workers'}\n"
        "    scheduler-options: {dashboard_address: ':0'}\n"
        "  slurm:\n"  # a site file may configure other kinds too
        "    queue: long\n"
    ))  # fmt: skip
    out = tmp_path / "out.lh5"
    argv = [str(th228), "-o", str(out), "--cluster", "local", "--jobs", "1", "--cluster-config",
            config, "--chunk-size", "1M", "--cache", str(tmp_path / "cache"), "--scratch",
            str(tmp_path / "scratch"), "-q"]  # fmt: skip
    assert main(argv) == 0
    assert capsys.readouterr() == ("", "")
    ref = tmp_path / "serial.lh5"
    build_raw(str(th228), out_spec=str(ref))
    assert assert_same_lh5(ref, out) > 10
    assert list((tmp_path / "scratch").iterdir()) == []


BAD = [
    (["--cluster", "lsf"], None,
     "--cluster lsf: unknown cluster kind (choose from slurm, pbs, htcondor, sge, local)"),
    (["--cluster", "slurm", "--scheduler", "tcp://127.0.0.1:1"], None,
     "--cluster and --scheduler exclude each other"),
    (["--cluster", "slurm", "--workers", "2"], None, "--cluster and --workers exclude each other"),
    (["--jobs", "2"], None, "--jobs needs --cluster"),
    (["--worker-timeout", "5"], None, "--worker-timeout needs --cluster"),
    (["--cluster", "slurm"], None,
     "jobqueue.slurm.cores and memory not set: give them in --cluster-config FILE "
     "(dask-jobqueue needs the cores and memory of a job)"),
    (["--cluster", "slurm"], "jobqueue:\n  slurm:\n    cores: 4\n",
     "--cluster-config {cfg}: jobqueue.slurm.memory not set (dask-jobqueue needs the cores "
     "and memory of a job)"),
    (["--cluster", "pbs"], "jobqueue:\n  pbs:\n    cores: 4\n    memroy: 8GB\n",
     "--cluster-config {cfg}: jobqueue.pbs.memroy: not a dask-jobqueue setting (known: "),
    (["--cluster", "sge"], "jobqueue: [sge]\n",
     "--cluster-config {cfg}: not a dask-jobqueue configuration: it needs a mapping "
     "'jobqueue:' of cluster kinds (slurm, pbs, htcondor, sge, local) to their settings"),
    (["--cluster", "htcondor"], "jobqueue:\n  htcondor: {cores: 1\n",
     "--cluster-config {cfg}: not valid YAML: expected ',' or '}', but got '<stream end>' "
     "(line 3)"),
]  # fmt: skip


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # as above
def test_jobs_that_start_no_worker_end_the_run_after_the_timeout(th228, tmp_path, capsys):
    """A job whose worker cannot start (here: its Python exits at once) is no hang: one line after
    --worker-timeout, nothing written."""
    config = _config(tmp_path, (
        "jobqueue:\n  local:\n    cores: 1\n    memory: 1GB\n"
        "    python: /bin/false\n"
        "    scheduler-options: {dashboard_address: ':0'}\n"
    ))  # fmt: skip
    out = tmp_path / "out.lh5"
    argv = [str(th228), "-o", str(out), "--cluster", "local", "--cluster-config", config,
            "--worker-timeout", "3", "-q"]  # fmt: skip
    assert main(argv) == 1
    assert capsys.readouterr().err == (
        "rawconv-parallel: error: --cluster local: no worker joined within 3 s (the jobs may "
        "still wait in the queue, or failed to start: see their logs); --worker-timeout sets "
        "the wait\n"
    )
    assert not out.exists()
    with pytest.raises(SystemExit) as exc:
        main([*argv[:-3], "--worker-timeout", "0"])
    assert exc.value.code == 2
    assert "argument --worker-timeout: must be a number above 0, not 0" in capsys.readouterr().err


@pytest.mark.parametrize(("flags", "text", "message"), BAD)
def test_bad_cluster_arguments_are_one_line(th228, tmp_path, capsys, flags, text, message):
    extra = ["--cluster-config", _config(tmp_path, text)] if text is not None else []
    out = tmp_path / "out.lh5"
    assert main([str(th228), "-o", str(out), *flags, *extra]) == 2
    cfg = str(tmp_path / "jobqueue.yaml")
    err = capsys.readouterr().err
    assert err.startswith(f"rawconv-parallel: error: {message.replace('{cfg}', cfg)}")
    assert err.count("\n") == 1 and err.endswith("\n")
    assert not out.exists()


def test_missing_config_file_and_missing_dask_jobqueue(th228, tmp_path, capsys, monkeypatch):
    missing = tmp_path / "none.yaml"
    argv = [str(th228), "-o", str(tmp_path / "o.lh5"), "--cluster", "slurm"]
    assert main([*argv, "--cluster-config", str(missing)]) == 2
    assert capsys.readouterr().err == (
        f"rawconv-parallel: error: --cluster-config {missing}: cannot read it: No such file or "
        "directory\n"
    )
    monkeypatch.setitem(sys.modules, "dask_jobqueue", None)  # import fails
    assert main(argv) == 1
    assert capsys.readouterr().err == (
        "rawconv-parallel: error: --cluster needs dask-jobqueue, which is not installed: "
        "pip install 'rawconv[jobqueue]'\n"
    )


def test_batch_system_absent(th228, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch
    config = _config(tmp_path, "jobqueue:\n  slurm:\n    cores: 1\n    memory: 1GB\n")
    argv = [str(th228), "-o", str(tmp_path / "o.lh5"), "--cluster", "slurm",
            "--cluster-config", config]  # fmt: skip
    assert main(argv) == 1
    assert capsys.readouterr().err == (
        "rawconv-parallel: error: --cluster slurm: sbatch is not found: run on a machine that "
        "submits slurm jobs\n"
    )


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # as above
def test_dashboard_link_printed_before_any_worker_joins(th228, tmp_path, capsys):
    """The jobs may wait in their queue for hours: the link comes as soon as the cluster
    exists (here no worker ever starts), before the wait ends."""
    config = _config(tmp_path, (
        "jobqueue:\n  local:\n    cores: 1\n    memory: 1GB\n"
        "    python: /bin/false\n"
        "    scheduler-options: {dashboard_address: ':0'}\n"
    ))  # fmt: skip
    argv = [str(th228), "-o", str(tmp_path / "out.lh5"), "--cluster", "local",
            "--cluster-config", config, "--worker-timeout", "2"]  # fmt: skip
    assert main(argv) == 1
    lines = capsys.readouterr().err.splitlines()
    # first the link; last the error (between them, dask-jobqueue's local job class may fail
    # to stop the job that never started: a warning)
    assert re.fullmatch(r"rawconv-parallel: dashboard: http://[\w.\-]+:\d+/status", lines[0])
    assert lines[-1].startswith(
        "rawconv-parallel: error: --cluster local: no worker joined within 2 s"
    )
    assert [line for line in lines if "dashboard" in line] == lines[:1]
