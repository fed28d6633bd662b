"""A .bz2 (or .gz) input split by rawconv-parallel: 1 worker against 2 (or --workers), and
serial rawconv, each in a fresh process.

Grows an FCIO file with bench_fcio's grower (--size-mb, shape --shape), compresses it once
(kept in --workdir between runs: bzip2 level 9 costs minutes), then converts the compressed
file with `rawconv` and with `rawconv-parallel --workers N --chunk-size C` for each N, and
the plain file with `rawconv`. Prints wall seconds, MB/s (decompressed input MB per wall
second), CPU seconds (user + sys of the command and its children) and the speed-up over
one worker; every output is checked equal to the serial one of the plain file.

The index task of a split input decompresses it once into the scratch folder, with the
cluster's threads (indexed_bzip2 / rapidgzip with the compressed extra, else one thread),
and its chunks are decoded in parallel from the copy.

    python benchmarks/bench_compressed.py --size-mb 300 --chunk-size 64M --workers 1,2
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from _timing import timed  # noqa: E402

from benchmarks.bench_fcio import SHAPES  # noqa: E402
from tests.parallel.conftest import assert_same_lh5  # noqa: E402

BIN = Path(sys.executable).parent
STEP = 16 << 20


def compress(src: Path, codec: str) -> Path:
    """`src` compressed once (bzip2 level 9 / gzip level 6); kept beside it for next time."""
    packed = src.with_name(f"{src.name}.{codec}")
    if packed.exists() and packed.stat().st_mtime >= src.stat().st_mtime:
        return packed
    tmp = packed.with_name(f".{packed.name}.tmp")
    opener = bz2.open if codec == "bz2" else gzip.open
    with open(src, "rb") as f, opener(tmp, "wb") as out:
        while block := f.read(STEP):
            out.write(block)
    tmp.replace(packed)
    return packed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=300.0, help="plain input size (MB)")
    parser.add_argument("--shape", default="6x6000-sparse", choices=sorted(SHAPES))
    parser.add_argument("--codec", default="bz2", choices=("bz2", "gz"))
    parser.add_argument("--workers", default="1,2", help="rawconv-parallel --workers values")
    parser.add_argument("--chunk-size", default="64M", help="rawconv-parallel --chunk-size")
    parser.add_argument("--workdir", default=None, help="kept: the grown and compressed file")
    args = parser.parse_args()

    work = Path(args.workdir or Path(tempfile.gettempdir()) / "rawconv-bench-compressed")
    work.mkdir(parents=True, exist_ok=True)
    src = work / f"{args.shape}-{args.size_mb:g}MB.fcio"
    if not src.exists():
        SHAPES[args.shape].write(src, args.size_mb)
    t0 = time.perf_counter()
    packed = compress(src, args.codec)
    made = time.perf_counter() - t0
    runs = work / "runs"
    shutil.rmtree(runs, ignore_errors=True)
    runs.mkdir()
    serial = [str(BIN / "rawconv"), "-q", "-w"]
    timed([*serial, str(src), "-o", str(runs / "warm.lh5"), "-n", "10"])  # caches warm
    ref = runs / "plain-serial.lh5"
    rows = [("rawconv, plain file", *timed([*serial, str(src), "-o", str(ref)]))]
    out = runs / "serial.lh5"
    rows.append((f"rawconv, .{args.codec}", *timed([*serial, str(packed), "-o", str(out)])))
    assert_same_lh5(ref, out)
    for n in [int(x) for x in args.workers.split(",")]:
        out = runs / f"par{n}.lh5"
        cmd = [str(BIN / "rawconv-parallel"), "-q", "-w", "--workers", str(n), "--chunk-size",
               args.chunk_size, "--scratch", str(runs / "scratch"), str(packed), "-o",
               str(out)]  # fmt: skip
        rows.append((f"rawconv-parallel --workers {n}", *timed(cmd)))
        assert_same_lh5(ref, out)
        assert list((runs / "scratch").iterdir()) == []  # the decompressed copy is gone
    shutil.rmtree(runs, ignore_errors=True)

    try:
        import indexed_bzip2 as extra_bz2
        import rapidgzip as extra_gz

        extra = f"indexed_bzip2 {extra_bz2.__version__}, rapidgzip {extra_gz.__version__}"
    except ImportError:
        extra = "not installed (one decompression thread)"
    mb = src.stat().st_size / 1e6
    print(f"{args.shape}, {mb:.0f} MB plain, {packed.stat().st_size / 1e6:.0f} MB .{args.codec}"
          f" (compressed once in {made:.0f} s), {os.cpu_count()} cores, --chunk-size "
          f"{args.chunk_size}; compressed extra: {extra}")  # fmt: skip
    base = next((wall for label, wall, _ in rows if label.endswith("--workers 1")), None)
    print(f"{'run':30} {'wall s':>7} {'MB/s':>7} {'CPU s':>7} {'vs 1 worker':>12}")
    for label, wall, cpu in rows:
        speed = f"{base / wall:.2f}x" if base and "--workers" in label else "-"
        print(f"{label:30} {wall:7.2f} {mb / wall:7.1f} {cpu:7.2f} {speed:>12}")


if __name__ == "__main__":
    main()
