"""ORCA conversion throughput: rawconv against legend-daq2lh5 and the h5py ceiling.

Writes ORCA files wrapping FCIO records (as LEGEND-200 records them since 2023) with
rawconv's writers, in three shapes:

- ``full-120x8192``: FCIOEvent records of 120 channels x 8192 samples (a geds listener);
- ``sparse-132x6250``: FCIOSparseEvent records of one trace each, type 11 (as p14);
- ``header-61``: FCIOEventHeader records of 61 traces (as p13: no waveforms);

and converts each in fresh processes (helpers of bench_fcio.py: warm-up conversion first,
the ceiling is h5py writing rawconv's decoded columns with the same filters). The reference
converts a smaller file of the same shape (--reference-mb; it is slow); its output is
checked against rawconv's for that file.

    python benchmarks/bench_orca.py --size-mb 300 --reference-python /work/venv-ref/bin/python
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import bench_fcio  # noqa: E402
from bench_fcio import (  # noqa: E402
    add_reference_flags,
    compare_outputs,
    print_table,
    reference_python,
    run,
)

WARM_UP = Path(tempfile.gettempdir()) / "rawconv-bench-warm-up.orca"


@dataclass(frozen=True)
class Shape:
    name: str
    adcs: int
    samples: int
    mode: str
    traces_per_event: int | None = None
    adcbits: int = 16

    def event_bytes(self) -> int:
        traces = self.traces_per_event or self.adcs
        if self.mode == "header":
            return traces * 6 + 220
        return traces * 2 * (self.samples + 2) + 220

    def write(self, path: Path, size_mb: float) -> None:
        from rawconv.formats.orca.synthetic import write_synthetic_orca

        n_events = max(1, int(size_mb * 1e6 / self.event_bytes()))
        write_synthetic_orca(
            path, n_events=n_events, adcs=self.adcs, eventsamples=self.samples,
            mode=self.mode, traces_per_event=self.traces_per_event, adcbits=self.adcbits,
            status_every=5000, seed=11,
        )  # fmt: skip


SHAPES = {
    "full-120x8192": Shape("full-120x8192", 120, 8192, "full"),
    "sparse-132x6250": Shape("sparse-132x6250", 132, 6250, "sparse", traces_per_event=1),
    "header-61": Shape("header-61", 61, 1024, "header"),
}


def _warm_up_file() -> Path:
    if not WARM_UP.exists():
        from rawconv.formats.orca.synthetic import write_synthetic_orca

        write_synthetic_orca(WARM_UP, n_events=20, adcs=2, eventsamples=64, status_every=10)
    return WARM_UP


def bench_shape(shape: Shape, work: Path, size_mb: float, ref_mb: float,
                ref_python: str | None) -> list[dict]:  # fmt: skip
    src = work / f"{shape.name}.orca"
    shape.write(src, size_mb)
    mb = src.stat().st_size / 1e6
    small = None
    if ref_python is not None:
        small = work / f"{shape.name}-ref.orca"
        shape.write(small, min(ref_mb, size_mb))
    rows = []
    for comp in ("default", "none"):
        label = "gzip" if comp == "default" else "none"
        out = work / f"{shape.name}.{label}.lh5"
        r = run(sys.executable, "rawconv", src, out, comp)
        c = run(sys.executable, "ceiling", out, work / "ceiling.lh5", comp)
        out.unlink()
        ref = None
        if small is not None:
            ours, theirs = work / "ours-small.lh5", work / "ref.lh5"
            run(sys.executable, "rawconv", small, ours, comp)
            ref = run(ref_python, "reference", small, theirs, comp)
            ref["same"] = compare_outputs(ours, theirs)
            ref["seconds"] *= mb / (small.stat().st_size / 1e6)  # as MB/s on the big file
            ours.unlink()
            theirs.unlink()
        rows.append({"shape": shape.name, "compression": label, "input_mb": mb, "rawconv": r,
                     "ceiling": c, "reference": ref})  # fmt: skip
    src.unlink()
    if small is not None:
        small.unlink()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=300)
    parser.add_argument("--reference-mb", type=float, default=40,
                        help="size of the reference's input (same shape)")  # fmt: skip
    parser.add_argument("--shapes", default=",".join(SHAPES), help=f"from {', '.join(SHAPES)}")
    parser.add_argument("--workdir", default=None, help="scratch folder (default: a temp dir)")
    add_reference_flags(parser)
    args = parser.parse_args()

    bench_fcio.WARM_UP = _warm_up_file()  # the runner's warm-up: an ORCA file
    # the reference never fills n_link_errors (uninitialised memory, see tests/formats/fcio)
    bench_fcio.KNOWN_WRONG = (*bench_fcio.KNOWN_WRONG, "ORFCIOStatus/n_link_errors")
    ref_python = reference_python(args)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="rawconv-bench-orca-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        rows = []
        for name in args.shapes.split(","):
            rows += bench_shape(SHAPES[name], work, args.size_mb, args.reference_mb, ref_python)
        print()
        print_table(rows)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
