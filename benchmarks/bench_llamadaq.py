"""LlamaDAQ conversion throughput: rawconv against legend-daq2lh5, side by side.

Grows a file from the real pulser run (../shared/testdata/llamadaq; 2 channels, windowed
2000 + presummed 10000 / 500 samples) with rawconv's writer: its 74 events repeated, the
tick counter continued, the samples varied per event. Each tool converts it in a fresh
process (a tiny conversion first, so that start-up is timed apart) with default gzip and
without compression; reported: input MB/s, CPU seconds, peak RSS and peak private memory
(benchmarks/_memory.py), and whether the reference's output equals rawconv's (the
reference runs with TZ=UTC, as the run start is read from the file name in UTC by rawconv).

    python benchmarks/bench_llamadaq.py --size-mb 100 --reference-python /tmp/refvenv/bin/python
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
ROOT = HERE.parent
TESTDATA = Path(os.environ.get("RAWCONV_TESTDATA", ROOT.parent / "shared" / "testdata"))
PULSER = TESTDATA / "llamadaq" / "20241218-150158-pulser.bin"
NAME = "20241218-150158-bench.bin"  # a run start in the name, as llamaDAQ writes it


def _convert(tool: str, src: str, out: str, comp: str) -> int:
    import h5py

    if tool == "rawconv":
        from rawconv import build_raw

        settings = None if comp == "default" else comp
        build_raw(src, in_stream_type="LlamaDaq", out_spec=out, overwrite=True,
                  hdf5_settings=settings)  # fmt: skip
    else:
        from daq2lh5 import build_raw as ref_build_raw

        kwargs = {} if comp == "default" else {
            "hdf5_settings": {"compression": None, "shuffle": False}}  # fmt: skip
        ref_build_raw(src, in_stream_type="LlamaDaq", out_spec=out, overwrite=True, **kwargs)
    with h5py.File(out, "r") as f:
        return sum(len(f[k]["packet_id"]) for k in f if k.startswith("LLAMAEvent"))


def child(tool: str, src: str, out: str, comp: str, warm: str) -> None:
    """One timed conversion in this (fresh) process; prints a JSON line."""
    t0 = time.perf_counter()
    _convert(tool, warm, out + ".warm.lh5", comp)
    Path(out + ".warm.lh5").unlink()
    startup = time.perf_counter() - t0
    os.sync()
    w0, c0 = time.perf_counter(), time.process_time()
    rows = _convert(tool, src, out, comp)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    from _memory import peak_memory_mb

    rss, private = peak_memory_mb()
    print(json.dumps({"seconds": wall, "cpu": cpu, "rows": rows, "rss_mb": rss,
                      "private_mb": private, "startup": startup}))  # fmt: skip


def run(python: str, tool: str, src: Path, out: Path, comp: str, warm: Path) -> dict:
    env = dict(os.environ, TZ="UTC")
    cmd = [python, __file__, "--child", tool, str(src), str(out), comp, str(warm)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{tool} failed:\n{proc.stderr[-2000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["out_mb"] = out.stat().st_size / 1e6
    return result


def same_output(ours: Path, ref: Path) -> str:
    import h5py
    import numpy as np

    differ: list[str] = []
    with h5py.File(ours, "r") as fo, h5py.File(ref, "r") as fr:

        def check(name: str, obj: object) -> None:
            if isinstance(obj, h5py.Dataset) and (
                name not in fo or not np.array_equal(fo[name][()], obj[()])
            ):
                differ.append(name)

        fr.visititems(check)
    return "identical" if not differ else f"{len(differ)} differ: {', '.join(differ[:3])}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=100)
    parser.add_argument("--reference-python", default=None,
                        help="a python with legend-daq2lh5 installed")  # fmt: skip
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    sys.path.insert(0, str(ROOT))
    from rawconv.formats.llamadaq.writer import grow_file

    work = Path(args.workdir or tempfile.mkdtemp(prefix="rawconv-bench-llama-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        src, warm = work / NAME, work / "20241218-150158-warm.bin"
        n = grow_file(PULSER, src, int(args.size_mb * 1e6), seed=1)
        shutil.copy(PULSER, warm)
        mb = src.stat().st_size / 1e6
        print(f"input: {mb:.0f} MB, {n} events (the pulser run repeated, ticks continued)")
        head = (f"{'tool':<10} {'comp':<5} {'MB/s':>7} {'CPU s':>7} {'wall s':>7} "
                f"{'RSS MB':>7} {'priv MB':>7} {'out MB':>7} {'start s':>7}  output")  # fmt: skip
        print(head)
        print("-" * len(head))
        for comp in ("default", "none"):
            label = "gzip" if comp == "default" else "none"
            ours = work / f"ours.{label}.lh5"
            rows = [("rawconv", run(sys.executable, "rawconv", src, ours, comp, warm), "")]
            if args.reference_python:
                theirs = work / f"ref.{label}.lh5"
                ref = run(args.reference_python, "reference", src, theirs, comp, warm)
                rows.append(("reference", ref, same_output(ours, theirs)))
                theirs.unlink()
            for tool, r, note in rows:
                print(f"{tool:<10} {label:<5} {mb / r['seconds']:7.1f} {r['cpu']:7.2f} "
                      f"{r['seconds']:7.2f} {r['rss_mb']:7.0f} {r['private_mb']:7.0f} "
                      f"{r['out_mb']:7.1f} "
                      f"{r['startup']:7.2f}  {note}")  # fmt: skip
            if len(rows) > 1:
                ratio = rows[1][1]["seconds"] / rows[0][1]["seconds"]
                print(f"{'':<10} {label:<5} rawconv: {ratio:.1f}x the reference's throughput")
            ours.unlink()
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
