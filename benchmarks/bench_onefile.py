"""One big file: serial ``rawconv`` against ``rawconv-parallel --workers N``.

Grows one FCIO file of --size-mb MB (default shape 120x8192-full), converts it with the
``rawconv`` command and with ``rawconv-parallel`` for each worker count (an embedded
cluster: its start is inside the wall time, as a user sees it), and prints wall seconds,
CPU seconds of the command and all its processes, and for the parallel runs the seconds
the merge tasks ran and the wall seconds from the last decoded chunk to the finished
output (from ``--summary``).

    nice python benchmarks/bench_onefile.py --size-mb 600 --workers 1,2
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from _timing import timed  # noqa: E402
from bench_fcio import SHAPES  # noqa: E402

BIN = Path(sys.executable).parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=600)
    parser.add_argument("--shape", default="120x8192-full", choices=sorted(SHAPES))
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--chunk-size", default=None, help="rawconv-parallel --chunk-size")
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()

    work = Path(args.workdir or tempfile.mkdtemp(prefix="rawconv-onefile-"))
    work.mkdir(parents=True, exist_ok=True)
    src = work / "big.fcio"
    if not src.exists():
        SHAPES[args.shape].write(src, args.size_mb)
    mb = src.stat().st_size / 1e6
    out = work / "out.lh5"
    rows = []
    subprocess.run([BIN / "rawconv", str(src), "-o", str(out), "-w"], check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip # warm-up: page cache, numba cache
    os.sync()
    wall, cpu = timed([str(BIN / "rawconv"), str(src), "-o", str(out), "-w"])
    rows.append(("rawconv", wall, cpu, None, None))
    for n in [int(x) for x in args.workers.split(",")]:
        summary = work / f"summary{n}.json"
        cmd = [str(BIN / "rawconv-parallel"), str(src), "-o", str(out), "-w", "-q",
               "--workers", str(n), "--cache", str(work / "cache"), "--summary", str(summary),
               "--scratch", str(work / "scratch")]  # fmt: skip
        if args.chunk_size:
            cmd += ["--chunk-size", args.chunk_size]
        os.sync()
        wall, cpu = timed(cmd)
        report = json.loads(summary.read_text())
        rows.append((f"parallel --workers {n}", wall, cpu, report.get("merge_seconds"),
                     report.get("after_decode_seconds")))  # fmt: skip
    print(f"{args.shape}, {mb:.0f} MB, {os.cpu_count()} cores")
    print(f"{'run':<22} {'wall s':>7} {'CPU s':>7} {'merge s':>8} {'after decode s':>15}")
    for name, wall, cpu, merge_s, after in rows:
        m = f"{merge_s:8.2f}" if merge_s is not None else f"{'-':>8}"
        a = f"{after:15.2f}" if after is not None else f"{'-':>15}"
        print(f"{name:<22} {wall:7.2f} {cpu:7.2f} {m} {a}")
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
