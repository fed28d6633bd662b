"""MGDO (GERDA tier1 ROOT) conversion throughput; no reference converter reads MGDO.

Two inputs:

- the GERDA test file (0.1 MB, 11 entries), converted --repeat times in one process: what
  a small file costs once rawconv is loaded;
- grown files: rawconv's writer puts writer-made entries (1-5 channels of 24, 4096-sample
  main and 1000-sample aux traces: noisy baselines with pulses, as in the test file) into
  the test file's tree, in zlib-1 baskets of 16 entries, about --size-mb MB (500
  distinct entries, repeated: baskets lie far apart, so zlib gains nothing by it).

Each conversion runs in a fresh process after a tiny warm-up conversion (imports and
compiled kernels are timed apart) and reports wall seconds, CPU seconds (all threads) and
peak RSS; MB/s are input (compressed file) bytes per wall second.

    python benchmarks/bench_mgdo.py --size-mb 100 --repeat 50 --rss-sizes 25,100
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
PER_BASKET = 16
"""Entries per basket of the grown files (~250 kB; the test file's baskets hold 1-4)."""
TEST_FILE = Path(
    os.environ.get("RAWCONV_TESTDATA", HERE.parent.parent / "shared" / "testdata")
) / "mgdo" / "gerda-run0050-20150826T170402Z-cal-ged-tier1.root"  # fmt: skip


def entries(n: int, seed: int) -> list[bytes]:
    """`n` entries shaped like the test file's."""
    from rawconv.formats.mgdo.writer import Digitizer, Event, Trace, entry_bytes

    rng = np.random.default_rng(seed)
    t = np.arange(4096)
    out = []
    for k in range(n):
        chans = sorted(rng.choice(24, size=int(rng.integers(1, 6)), replace=False).tolist())
        traces, aux = [], []
        for c in chans:
            amp = rng.uniform(500, 20000)
            pulse = np.where(t > 2000, amp * np.exp(-(t - 2000) / 3000.0), 0)
            main = 55000 - pulse + rng.normal(0, 6, len(t))
            traces.append(Trace(c, np.clip(main, 0, 65535).astype(np.int64)))
            aux.append(Trace(c, np.clip(main[1750:2000].repeat(4) / 4, 0, 65535).astype(np.int64),
                             0.1, 76420.0))  # fmt: skip
        digis = [Digitizer(float(rng.uniform(0, 9000)), 1440608785 + k // 10, 0, 0.025, k)
                 for _ in chans]  # fmt: skip
        out.append(entry_bytes(Event(traces, digis, aux, [c in chans for c in range(24)],
                                     0, 0.0, 1.44e9 + k / 10, 0)))  # fmt: skip
    return out


def grow(path: Path, size_mb: float) -> int:
    """Write a file of about `size_mb` MB; returns its entry count."""
    from rawconv.formats.mgdo.writer import rebasket

    sample = entries(20, seed=1)
    per_entry = sum(len(e) for e in sample) / len(sample) / 1.3  # zlib-1 shrinks ~1.3x
    n = max(PER_BASKET, int(size_mb * 1e6 / per_entry))
    made = entries(min(n, 500), seed=2)  # distinct entries, then repeated
    made = [made[i % len(made)] for i in range(n)]
    rebasket(TEST_FILE, path, [made[i : i + PER_BASKET] for i in range(0, n, PER_BASKET)])
    return n


def one(src: str, out: str, compression: str, repeat: int) -> None:
    """(In a fresh process) warm up, then convert `src` `repeat` times; print a JSON line."""
    from rawconv import build_raw

    settings = None if compression == "default" else compression
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        build_raw(str(TEST_FILE), out_spec=str(Path(tmp) / "w.lh5"))
    startup = time.perf_counter() - t0
    os.sync()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    rows = 0
    for _ in range(repeat):
        report = build_raw(src, out_spec=out, overwrite=True, hdf5_settings=settings)
        rows += report.rows
    seconds = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    from _memory import peak_memory_mb

    rss, private = peak_memory_mb()
    print(json.dumps({"seconds": seconds, "cpu": cpu, "rows": rows, "rss_mb": rss,
                      "private_mb": private, "startup": startup}))  # fmt: skip


def run(src: Path, out: Path, compression: str, repeat: int = 1) -> dict:
    cmd = [sys.executable, __file__, "--one", str(src), str(out), compression, str(repeat)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"conversion of {src.name} failed:\n{proc.stderr[-2000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["in_mb"] = src.stat().st_size * repeat / 1e6
    result["out_mb"] = out.stat().st_size / 1e6
    return result


def line(name: str, comp: str, r: dict) -> str:
    return (f"{name:<26} {comp:<5} {r['in_mb']:8.1f} {r['in_mb'] / r['seconds']:8.1f} "
            f"{r['rows'] / r['seconds']:9.0f} {r['cpu']:7.2f} {r['rss_mb']:7.0f} "
            f"{r['private_mb']:7.0f} {r['out_mb']:7.1f}")  # fmt: skip


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        one(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
        return
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--size-mb", type=float, default=100.0, help="size of the grown file")
    p.add_argument("--repeat", type=int, default=50, help="conversions of the test file")
    p.add_argument("--rss-sizes", default="", help="grown sizes (MB) for the RSS table")
    p.add_argument("--workdir", default=None, help="folder for inputs and outputs")
    args = p.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench-mgdo-"))
    work.mkdir(parents=True, exist_ok=True)
    head = (f"{'input':<26} {'comp':<5} {'in MB':>8} {'MB/s':>8} {'rows/s':>9} "
            f"{'CPU s':>7} {'RSS MB':>7} {'priv MB':>7} {'out MB':>7}")  # fmt: skip
    print(head)
    print("-" * len(head))
    startups = []
    for comp in ("default", "none"):
        r = run(TEST_FILE, work / "test.lh5", comp, args.repeat)
        startups.append(r["startup"])
        print(line(f"test file x{args.repeat}", "gzip" if comp == "default" else comp, r))
    grown = work / f"grown-{args.size_mb:g}.root"
    n = grow(grown, args.size_mb)
    for comp in ("default", "none"):
        r = run(grown, work / "grown.lh5", comp)
        print(line(f"grown ({n} entries)", "gzip" if comp == "default" else comp, r))
    print(f"\nstart-up (imports, compiled kernels, one tiny conversion): {min(startups):.2f} s")
    if args.rss_sizes:
        print("\npeak RSS by input size (grown files, gzip):")
        for size in [float(s) for s in args.rss_sizes.split(",")]:
            path = work / f"rss-{size:g}.root"
            grow(path, size)
            r = run(path, work / "rss.lh5", "default")
            print(f"  {r['in_mb']:8.1f} MB input: {r['rss_mb']:6.0f} MB peak RSS, "
                  f"{r['private_mb']:6.0f} MB private, "
                  f"{r['in_mb'] / r['seconds']:6.1f} MB/s")  # fmt: skip
            path.unlink()


if __name__ == "__main__":
    main()
