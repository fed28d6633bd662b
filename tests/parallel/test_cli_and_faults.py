"""rawconv-parallel: inputs, dry run, summary, failures, worker loss, resume, locks."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import h5py
import pytest
from rawconv.parallel import convert
from rawconv.parallel.cli import expand_inputs, main, parse_size

from rawconv import RawconvError, build_raw
from rawconv.formats.fcio.synthetic import write_synthetic_run
from rawconv.locks import OutputLocks, lock_path
from tests.conftest import data_file
from tests.parallel.conftest import assert_same_lh5


@pytest.fixture
def run_dir(tmp_path):
    """Three small inputs: two real files and a writer-made one."""
    d = tmp_path / "in"
    d.mkdir()
    shutil.copy(data_file("fcio/th228.fcio"), d / "a_th228.fcio")
    shutil.copy(data_file("fcio/L200-comm-20211130-phy-spms.fcio"), d / "b_spms.fcio")
    write_synthetic_run(d / "c_synth.fcio", n_events=500, adcs=4, eventsamples=400, seed=9)
    return d


def test_sizes_and_inputs(run_dir, tmp_path):
    assert parse_size("512M") == 512 << 20
    assert parse_size("2g") == 2 << 30
    assert parse_size("1000") == 1000
    listing = tmp_path / "list.txt"
    listing.write_text(f"# a comment\n{run_dir / 'b_spms.fcio'}\n\n{run_dir}/a_*.fcio\n")
    assert expand_inputs([f"@{listing}", "s3://bucket/x.fcio"]) == [
        str(run_dir / "b_spms.fcio"), str(run_dir / "a_th228.fcio"), "s3://bucket/x.fcio",
    ]  # fmt: skip
    with pytest.raises(FileNotFoundError, match="no input matches"):
        expand_inputs([f"{run_dir}/*.orca"])


def test_dry_run_and_summary(run_dir, tmp_path, capsys, client):
    out = tmp_path / "out"
    status = main([f"{run_dir}/*.fcio", "-o", f"{out}/{{orig_basename}}.lh5", "--dry-run",
                   "--chunk-size", "1M", "--scheduler", client.scheduler.address,
                   "--cache", str(tmp_path / "cache")])  # fmt: skip
    assert status == 0
    text = capsys.readouterr().out
    assert f"{run_dir / 'a_th228.fcio'}: planned, 4 chunk(s) -> {out / 'a_th228.lh5'}" in text
    assert not out.exists()
    summary = tmp_path / "s.json"
    status = main([f"{run_dir}/*.fcio", "-o", f"{out}/{{orig_basename}}.lh5", "-q",
                   "--summary", str(summary), "--scheduler", client.scheduler.address,
                   "--cache", str(tmp_path / "cache")])  # fmt: skip
    assert status == 0
    data = json.loads(summary.read_text())
    assert [f["status"] for f in data["files"]] == ["done"] * 3
    assert data["files"][1]["tables"][f"{out / 'b_spms.lh5'}:/FCEvent"] == 300
    assert data["rows"] == 1000 + 300 + 2 + 500 * 4


def test_failed_input_is_reported_and_others_convert(run_dir, tmp_path, capsys, client):
    (run_dir / "d_junk.fcio").write_bytes(os.urandom(5000))
    out = tmp_path / "out"
    status = main([
        f"{run_dir}/*.fcio", "-o", f"{out}/{{orig_basename}}.lh5",
        "--scheduler", client.scheduler.address, "--cache", str(tmp_path / "c"),
    ])  # fmt: skip
    assert status == 1
    text = capsys.readouterr().out
    assert f"FAILED {run_dir / 'd_junk.fcio'}: UnknownFormatError" in text
    assert sorted(p.name for p in out.iterdir()) == ["a_th228.lh5", "b_spms.lh5", "c_synth.lh5"]


def test_existing_outputs_and_locks(run_dir, tmp_path, client):
    out = tmp_path / "out"
    spec = str(out / "{orig_basename}.lh5")
    files = sorted(str(p) for p in run_dir.iterdir())
    convert(files, out_spec=spec, client=client, cache_dir=str(tmp_path / "c"))
    with pytest.raises(FileExistsError, match="3 output"):
        convert(files, out_spec=spec, client=client, cache_dir=str(tmp_path / "c"))
    # a second run at the same time: refused, naming the output and the holder
    with (
        OutputLocks([str(out / "b_spms.lh5")]),
        pytest.raises(RawconvError, match="another rawconv run"),
    ):
        convert(files, out_spec=spec, client=client, overwrite=True, cache_dir=str(tmp_path / "c"))
    assert not lock_path(str(out / "b_spms.lh5")).exists()
    # a lock left by a process that is gone is taken over
    lock_path(str(out / "a_th228.lh5")).write_text(
        json.dumps({"pid": 2**22 + 7, "host": os.uname().nodename})
    )
    report = convert(
        files, out_spec=spec, client=client, overwrite=True, cache_dir=str(tmp_path / "c")
    )
    assert [f.status for f in report.files] == ["done"] * 3


def _serial(files, out):
    out.mkdir()
    for f in files:
        build_raw(f, out_spec=str(out / (Path(f).stem + ".lh5")))


def test_worker_killed_mid_run(tmp_path):
    """A worker process dies while chunks are decoded; the run finishes, identical to serial."""
    from distributed import Client, LocalCluster

    d = tmp_path / "in"
    d.mkdir()
    files = []
    for k in range(2):
        f = d / f"big{k}.fcio"
        write_synthetic_run(f, n_events=3000, adcs=6, eventsamples=1000, status_every=400, seed=k)
        files.append(str(f))
    _serial(files, tmp_path / "serial")
    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    client = Client(cluster)
    try:
        pids = client.run(os.getpid)
        address, victim = next(iter(pids.items()))
        killed, ended = threading.Event(), threading.Event()

        def kill_while_decoding() -> None:  # once a chunk task runs on it (not a timer)
            while not ended.is_set():
                running = client.processing(workers=[address]).get(address, ())
                if any("decode_chunk" in str(key) for key in running):
                    os.kill(victim, signal.SIGKILL)
                    killed.set()
                    return
                time.sleep(0.002)

        killer = threading.Thread(target=kill_while_decoding)
        killer.start()
        try:
            report = convert(
                files, out_spec=str(tmp_path / "par" / "{orig_basename}.lh5"), client=client,
                chunk_size=1 << 20, cache_dir=str(tmp_path / "c"),
            )  # fmt: skip
        finally:
            ended.set()
            killer.join()
        assert killed.is_set()  # it died during the run, decoding a chunk
    finally:
        client.close()
        cluster.close()
    assert [f.status for f in report.files] == ["done", "done"], report.summary()
    for k in range(2):
        assert_same_lh5(tmp_path / "serial" / f"big{k}.lh5", tmp_path / "par" / f"big{k}.lh5")


def test_interrupted_run_resumes(tmp_path):
    """Kill rawconv-parallel after its first output; --resume keeps finished outputs,
    redoes the rest, and no final-named output is ever half-written."""
    d = tmp_path / "in"
    d.mkdir()
    files = []
    for k in range(4):
        f = d / f"r{k}.fcio"
        write_synthetic_run(f, n_events=2500, adcs=6, eventsamples=800, seed=k)
        files.append(str(f))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "rawconv.parallel.cli", f"{d}/*.fcio", "-o",
           f"{out}/{{orig_basename}}.lh5", "--workers", "1", "-q", "--chunk-size", "2M",
           "--cache", str(tmp_path / "c"), "--scratch", str(tmp_path / "scratch")]  # fmt: skip
    proc = subprocess.Popen(cmd, start_new_session=True)
    t0 = time.time()
    while not (out.exists() and any(p.suffix == ".lh5" for p in out.iterdir())):
        assert proc.poll() is None, "run finished before it could be interrupted"
        assert time.time() - t0 < 120
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.suffix == ".lh5"}
    assert 1 <= len(finished) < 4
    for name in finished:  # complete files: they read fully
        with h5py.File(out / name, "r") as f:
            assert len(f["FCEvent/channel"]) == 2500 * 6
    status = subprocess.run([*cmd[:-4], "--resume", "--summary", str(tmp_path / "s.json")],
                            check=False).returncode  # fmt: skip
    assert status == 0
    data = json.loads((tmp_path / "s.json").read_text())
    statuses = {Path(f["input"]).name: f["status"] for f in data["files"]}
    assert [statuses[n.replace(".lh5", ".fcio")] for n in finished] == ["skipped"] * len(finished)
    for name, mtime in finished.items():
        assert (out / name).stat().st_mtime_ns == mtime  # not redone
    _serial(files, tmp_path / "serial")
    assert sorted(p.name for p in out.iterdir()) == [f"r{k}.lh5" for k in range(4)]
    for k in range(4):
        assert_same_lh5(tmp_path / "serial" / f"r{k}.lh5", out / f"r{k}.lh5")


def test_relative_names_resolve_in_the_clients_folder(tmp_path, monkeypatch, client):
    """The shared cluster's workers were started in another folder: relative inputs, outputs
    and out_spec files still mean the client's folder (as on a cluster started elsewhere)."""
    workers_cwd = set(client.run(os.getcwd).values())
    assert workers_cwd and str(tmp_path) not in workers_cwd
    shutil.copy(data_file("fcio/th228.fcio"), tmp_path / "th228.fcio")
    (tmp_path / "spec.json").write_text(json.dumps({"FCEventDecoder": {"ev": {
        "key_list": ["*"], "out_stream": "spec_out/{orig_basename}.lh5:/raw"}}}))  # fmt: skip
    monkeypatch.chdir(tmp_path)
    report = convert(["th228.fcio"], out_spec="out/th.lh5", client=client, chunk_size=1 << 20)
    assert [f.status for f in report.files] == ["done"]
    assert report.files[0].input == str(tmp_path / "th228.fcio")
    build_raw("th228.fcio", out_spec="serial.lh5")
    assert assert_same_lh5(tmp_path / "serial.lh5", tmp_path / "out" / "th.lh5") > 0
    report = convert(["th228.fcio"], out_spec="spec.json", client=client, chunk_size=1 << 20)
    assert report.files[0].outputs == [str(tmp_path / "spec_out" / "th228.lh5")]
    with h5py.File(tmp_path / "spec_out" / "th228.lh5", "r") as f:
        assert len(f["raw/ev/packet_id"]) == 1000
    for folder in workers_cwd:  # nothing written where the workers run
        assert not (Path(folder) / "out").exists() and not (Path(folder) / "spec_out").exists()
