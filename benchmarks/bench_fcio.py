"""FCIO conversion throughput: rawconv against legend-daq2lh5 and the h5py ceiling.

Writes FCIO files of about --size-mb MB in three shapes with rawconv's FCIO writer, then
converts each in fresh processes with

- rawconv, default gzip (rawconv's own chunk compression) and without compression;
- the ceiling: h5py writing the same decoded columns with the same filters (gzip-4 +
  shuffle, or none), timed for the writes only;
- legend-daq2lh5 (the reference), when installed in this interpreter or in the one given by
  --reference-python,

and prints MB/s (input bytes), rows/s, peak RSS, rawconv's ratio to the reference and its
fraction of the ceiling. --rss-sizes converts one shape at several input sizes to show that
memory does not grow with the input.

    python benchmarks/bench_fcio.py --size-mb 500 --reference-python /path/to/venv/bin/python
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


@dataclass(frozen=True)
class Shape:
    name: str
    adcs: int
    samples: int
    mode: str
    traces_per_event: int | None = None

    def event_bytes(self) -> int:
        traces = self.traces_per_event or self.adcs
        return traces * 2 * (self.samples + 2) + 200

    def write(self, path: Path, size_mb: float) -> None:
        from rawconv.formats.fcio.synthetic import write_synthetic_run

        n_events = max(1, int(size_mb * 1e6 / self.event_bytes()))
        write_synthetic_run(
            path, n_events=n_events, adcs=self.adcs, eventsamples=self.samples,
            mode=self.mode, traces_per_event=self.traces_per_event, status_every=5000, seed=7,
        )  # fmt: skip


SHAPES = {
    "1x1836-full": Shape("1x1836-full", 1, 1836, "full"),
    "6x6000-sparse": Shape("6x6000-sparse", 6, 6000, "sparse", traces_per_event=6),
    "120x8192-full": Shape("120x8192-full", 120, 8192, "full"),
}


WARM_UP = Path(tempfile.gettempdir()) / "rawconv-bench-warm-up.fcio"


def run(python: str, tool: str, src: Path, out: Path, compression: str = "default") -> dict:
    """One conversion in a fresh process: seconds (conversion only), rows, peak RSS."""
    if not WARM_UP.exists():
        from rawconv.formats.fcio.synthetic import write_synthetic_run

        write_synthetic_run(WARM_UP, n_events=20, adcs=2, eventsamples=64, status_every=10)
    cmd = [python, str(HERE / "_runner.py"), tool, str(src), str(out), compression, str(WARM_UP)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{tool} failed on {src.name}:\n{proc.stderr[-2000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if out.exists():
        result["out_mb"] = out.stat().st_size / 1e6
        if tool == "ceiling":
            out.unlink()
    return result


KNOWN_WRONG = ("FCConfig/", "FCStatus/n_link_errors")
"""Datasets where the reference writes uninitialised memory (see tests/formats/fcio)."""


def compare_outputs(ours: Path, ref: Path) -> str:
    """'identical' when every reference dataset (but the known-wrong ones) equals ours."""
    import h5py
    import numpy as np

    differ = []
    with h5py.File(ours, "r") as fo, h5py.File(ref, "r") as fr:

        def check(name: str, obj: object) -> None:
            if not isinstance(obj, h5py.Dataset) or name.startswith(KNOWN_WRONG):
                return
            if name not in fo or not np.array_equal(fo[name][()], obj[()]):
                differ.append(name)

        fr.visititems(check)
    return "identical" if not differ else f"{len(differ)} differ: {', '.join(differ[:3])}"


def has_reference(python: str) -> bool:
    probe = subprocess.run([python, "-c", "import daq2lh5"], capture_output=True, check=False)
    return probe.returncode == 0


def add_reference_flags(parser: argparse.ArgumentParser) -> None:
    """--reference-python and --no-reference (read by :func:`reference_python`)."""
    parser.add_argument(
        "--reference-python", default=None,
        help="python with legend-daq2lh5 installed (default: this one, if it has it)",
    )  # fmt: skip
    parser.add_argument("--no-reference", action="store_true")


def reference_python(args: argparse.Namespace) -> str | None:
    """The python that runs legend-daq2lh5 for a benchmark, or None (--no-reference, or
    legend-daq2lh5 missing there: then said once, and the reference columns stay empty)."""
    if args.no_reference:
        return None
    candidate = args.reference_python or sys.executable
    if has_reference(candidate):
        return candidate
    print("legend-daq2lh5 not found: reference columns left empty "
          "(install it in another venv and give --reference-python)")  # fmt: skip
    return None


def bench_shape(shape: Shape, work: Path, size_mb: float, ref_python: str | None) -> list[dict]:
    src = work / f"{shape.name}.fcio"
    shape.write(src, size_mb)
    mb = src.stat().st_size / 1e6
    rows = []
    for comp in ("default", "none"):
        label = "gzip" if comp == "default" else "none"
        out = work / f"{shape.name}.{label}.lh5"
        r = run(sys.executable, "rawconv", src, out, comp)
        c = run(sys.executable, "ceiling", out, work / "ceiling.lh5", comp)
        ref = None
        if ref_python is not None:
            ref_out = work / "ref.lh5"
            ref = run(ref_python, "reference", src, ref_out, comp)
            ref["same"] = compare_outputs(out, ref_out)
            ref_out.unlink()
        rows.append({"shape": shape.name, "compression": label, "input_mb": mb, "rawconv": r,
                     "ceiling": c, "reference": ref})  # fmt: skip
        out.unlink()
    src.unlink()
    return rows


def print_table(rows: list[dict]) -> None:
    """The results, one line per shape and compression."""
    head = (f"{'shape':<15} {'comp':<5} {'in MB':>6} {'MB/s':>7} {'rows/s':>8} {'RSS MB':>6} "
            f"{'out MB':>7} {'ceil MB/s':>9} {'of ceil':>7} {'ref MB/s':>8} {'ref RSS':>7} "
            f"{'ref out':>7} {'x ref':>6}  output vs reference")  # fmt: skip
    print(head)
    print("-" * len(head))
    for row in rows:
        mb, r, c, ref = row["input_mb"], row["rawconv"], row["ceiling"], row["reference"]
        speed = mb / r["seconds"]
        ceil = mb / c["seconds"]
        ref_cols = f"{'-':>8} {'-':>7} {'-':>7} {'-':>6}  -"
        if ref:
            ref_speed = mb / ref["seconds"]
            ref_cols = (f"{ref_speed:8.1f} {ref['rss_mb']:7.0f} {ref.get('out_mb', 0):7.1f} "
                        f"{speed / ref_speed:6.1f}  {ref['same']}")  # fmt: skip
        print(f"{row['shape']:<15} {row['compression']:<5} {mb:6.0f} {speed:7.1f} "
              f"{r['rows'] / r['seconds']:8.0f} {r['rss_mb']:6.0f} {r.get('out_mb', 0):7.1f} "
              f"{ceil:9.1f} {speed / ceil:7.0%} {ref_cols}")  # fmt: skip
    startup = [row["rawconv"]["startup"] for row in rows]
    ref_startup = [row["reference"]["startup"] for row in rows if row["reference"]]
    print(f"\nMB/s: input bytes per second of the conversion call, after a first tiny "
          f"conversion in the same process;\nstart-up (imports, compiled kernels, the tiny "
          f"conversion): rawconv {min(startup):.2f} s"
          + (f", reference {min(ref_startup):.2f} s" if ref_startup else ""))  # fmt: skip


def rss_scaling(shape: Shape, work: Path, sizes: list[float]) -> None:
    print(f"\npeak RSS of rawconv by input size ({shape.name}, gzip):")
    for size in sizes:
        src = work / f"rss_{size:.0f}.fcio"
        shape.write(src, size)
        r = run(sys.executable, "rawconv", src, work / "rss.lh5")
        print(f"  {src.stat().st_size / 1e6:8.0f} MB input: {r['rss_mb']:6.0f} MB peak RSS, "
              f"{src.stat().st_size / 1e6 / r['seconds']:6.1f} MB/s")  # fmt: skip
        src.unlink()
        (work / "rss.lh5").unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=500)
    parser.add_argument("--shapes", default=",".join(SHAPES), help=f"from {', '.join(SHAPES)}")
    parser.add_argument("--workdir", default=None, help="scratch folder (default: a temp dir)")
    add_reference_flags(parser)
    parser.add_argument(
        "--rss-sizes", default="", help="e.g. 500,2000: RSS check on the first shape"
    )
    args = parser.parse_args()

    ref_python = reference_python(args)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="rawconv-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        rows = []
        for name in args.shapes.split(","):
            rows += bench_shape(SHAPES[name], work, args.size_mb, ref_python)
        print()
        print_table(rows)
        if args.rss_sizes:
            sizes = [float(s) for s in args.rss_sizes.split(",")]
            rss_scaling(SHAPES[args.shapes.split(",")[0]], work, sizes)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
