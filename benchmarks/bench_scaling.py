"""Scaling of rawconv-parallel with the number of workers, against serial build_raw.

Generates a run of --total-mb MB in --files FCIO files, converts it once with serial
build_raw (one process, file after file, one compression thread) and then with
rawconv.parallel.convert on an embedded LocalCluster of 1..N workers (one thread each),
and prints wall time, MB/s, speed-up over 1 worker and efficiency. Each conversion indexes
the files from scratch (a fresh index cache); workers are warmed up (imports, compiled
kernels) before the clock starts, as a long-running cluster would be.

    python benchmarks/bench_scaling.py --total-mb 2000 --files 8 --workers 1,2
    python benchmarks/bench_scaling.py --total-mb 8000 --files 32 --workers 1,2,4,8,16
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench_fcio import SHAPES, WARM_UP  # noqa: E402

SERIAL = """
import json, os, sys, time
from pathlib import Path
from rawconv import build_raw
from rawconv.lh5.chunks import set_compress_threads
set_compress_threads(1)
files, out, warm = sys.argv[1].split(","), Path(sys.argv[2]), sys.argv[3]
build_raw(warm, out_spec=str(out / "warm.lh5"), overwrite=True)
os.sync()
t0 = time.perf_counter()
for f in files:
    build_raw(f, out_spec=str(out / (Path(f).stem + ".lh5")), overwrite=True)
print(json.dumps({"seconds": time.perf_counter() - t0}))
"""


def _peak_rss_mb() -> float:
    """Peak resident memory of this (worker) process, MB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _warm_up(client, warm: str, out: Path) -> None:
    """Every worker converts a small file once (its numba caches loaded), each to its own
    output (two writers of one output would be refused)."""

    def work(path: str, folder: str) -> None:
        import os

        from rawconv import build_raw

        target = Path(folder) / f"warm-{os.getpid()}.lh5"
        build_raw(path, out_spec=str(target), overwrite=True)
        target.unlink()

    client.run(work, warm, str(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--total-mb", type=float, default=2000)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--shape", default="6x6000-sparse", choices=sorted(SHAPES))
    parser.add_argument(
        "--workers", default=",".join(str(n) for n in range(1, (os.cpu_count() or 1) + 1))
    )
    parser.add_argument("--chunk-size", type=int, default=512 << 20)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()

    from distributed import Client, LocalCluster
    from rawconv.parallel import convert

    from rawconv.formats.fcio.synthetic import write_synthetic_run

    work = Path(args.workdir or tempfile.mkdtemp(prefix="rawconv-scaling-"))
    work.mkdir(parents=True, exist_ok=True)
    shape = SHAPES[args.shape]
    files = []
    for k in range(args.files):
        f = work / f"run-{k:03d}.fcio"
        shape.write(f, args.total_mb / args.files)
        files.append(str(f))
    if not WARM_UP.exists():
        write_synthetic_run(WARM_UP, n_events=20, adcs=2, eventsamples=64, status_every=10)
    mb = sum(Path(f).stat().st_size for f in files) / 1e6
    print(f"run: {len(files)} files, {mb:.0f} MB, shape {shape.name}, chunk size "
          f"{args.chunk_size >> 20} MiB, {os.cpu_count()} cores")  # fmt: skip
    serial_out = work / "serial"
    serial_out.mkdir(exist_ok=True)
    cmd = [sys.executable, "-c", SERIAL, ",".join(files), str(serial_out), str(WARM_UP)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    serial = json.loads(proc.stdout.strip().splitlines()[-1])["seconds"]
    shutil.rmtree(serial_out)
    rows = []
    for n in [int(x) for x in args.workers.split(",")]:
        out = work / f"par{n}"
        with LocalCluster(n_workers=n, threads_per_worker=1, dashboard_address=":0") as cluster, \
                Client(cluster) as client:  # fmt: skip
            _warm_up(client, str(WARM_UP), work)
            os.sync()
            t0 = time.perf_counter()
            report = convert(files, out_spec=str(out / "{orig_basename}.lh5"), client=client,
                             chunk_size=args.chunk_size, cache_dir=str(work / f"cache{n}"),
                             overwrite=True)  # fmt: skip
            seconds = time.perf_counter() - t0
            peak = max(client.run(_peak_rss_mb).values())
        assert not report.failed, report.summary()
        busy = report.task_seconds / (seconds * n)
        rows.append((n, seconds, peak, report.index_seconds, busy, mb / report.task_seconds))
        shutil.rmtree(out)
    base = rows[0][1] if rows and rows[0][0] == 1 else None
    print(f"\n{'':<14} {'wall s':>8} {'MB/s':>8} {'speed-up':>9} {'efficiency':>10} "
          f"{'worker RSS MB':>14} {'plan s':>7} {'busy':>5} {'MB/s/task':>10}")  # fmt: skip
    print(f"{'serial':<14} {serial:8.2f} {mb / serial:8.1f}")
    for n, seconds, peak, plan_s, busy, task_mb_s in rows:
        speed = (base / seconds) if base else float("nan")
        print(f"{n:>3} worker(s)   {seconds:8.2f} {mb / seconds:8.1f} {speed:9.2f} "
              f"{speed / n:10.0%} {peak:14.0f} {plan_s:7.2f} {busy:5.0%} "
              f"{task_mb_s:10.1f}")  # fmt: skip
    print("\nplan s: indexing and planning, before any decode task; busy: decode task time "
          "over wall time x workers; MB/s/task: input MB per second of one decode task")
    if base:
        print(f"\n1 worker / serial wall time: {base / serial:.2f}")
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
