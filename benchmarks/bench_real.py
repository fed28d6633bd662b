"""Whole-process CPU on files grown from the real test files: rawconv vs legend-daq2lh5.

One command prints the table of issue 14: for every shape, a small and a large file grown
from a real test file (records repeated, counters continued, samples varied per repeat:
benchmarks/_grow.py) or written synthetically for the shapes no bundled file has, each
converted by the `rawconv` command and by legend-daq2lh5's build_raw in a fresh process
(default settings: gzip). Reported per tool: whole-process CPU (user + sys, start-up
included) and wall on the large file, peak RSS, output size, and the marginal CPU per GB
(large minus small, per GB of input; the smaller of `--runs` runs per size). Measured
with /usr/bin/time, whose own memory is too small to mask a child's peak RSS.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _grow import grow  # noqa: E402
from bench_fcio import add_reference_flags, reference_python  # noqa: E402

TESTDATA = Path(os.environ.get("RAWCONV_TESTDATA", HERE.parents[1] / "shared" / "testdata"))


@dataclass(frozen=True)
class Shape:
    name: str
    what: str
    make: Callable[[Path, float], None]
    suffix: str
    scale: float = 1.0
    """Sizes are scaled by this (the reference takes 10x longer per MB on event headers)."""


def _grown(relpath: str) -> Callable[[Path, float], None]:
    def make(path: Path, size_mb: float) -> None:
        grow(TESTDATA / relpath, path, int(size_mb * 1e6))

    return make


def _fcio_synthetic(adcs: int, samples: int) -> Callable[[Path, float], None]:
    def make(path: Path, size_mb: float) -> None:
        from rawconv.formats.fcio.synthetic import write_synthetic_run

        n = max(1, int(size_mb * 1e6 / (adcs * 2 * (samples + 2) + 200)))
        write_synthetic_run(path, n_events=n, adcs=adcs, eventsamples=samples, mode="full",
                            status_every=5000, seed=7)  # fmt: skip

    return make


def _orca_headers(path: Path, size_mb: float) -> None:
    from rawconv.formats.orca.synthetic import write_synthetic_orca

    n = max(1, int(size_mb * 1e6 / (61 * 6 + 220)))
    write_synthetic_orca(path, n_events=n, adcs=61, eventsamples=1024, mode="header",
                         status_every=5000, seed=11)  # fmt: skip


SHAPES = {
    "th228": Shape("th228", "FCIO 1 x 1836 full (th228 grown)",
                   _grown("fcio/th228.fcio"), "fcio"),
    "spms": Shape("spms", "FCIO 6 x 6000 sparse (spms grown)",
                  _grown("fcio/L200-comm-20211130-phy-spms.fcio"), "fcio"),
    "fcio-8192": Shape("fcio-8192", "FCIO 120 x 8192 full (synthetic)",
                       _fcio_synthetic(120, 8192), "fcio"),
    "geds": Shape("geds", "ORCA legacy FlashCam (geds grown)",
                  _grown("orca/fc/L200-comm-20220519-phy-geds.orca"), "orca"),
    "p14": Shape("p14", "ORCA FCIO sparse type 11 (p14 grown)",
                 _grown("orca/fcio/l200-p14-r004-cal-20250606T010224Z.orca"), "orca"),
    "headers": Shape("headers", "ORCA FCIO event headers, 61 traces (synthetic)",
                     _orca_headers, "orca", scale=0.1),
}  # fmt: skip


def _timed(cmd: list[str]) -> dict:
    """CPU (user + sys), wall and peak RSS of one process."""
    res = subprocess.run(["/usr/bin/time", "-f", "TIME %e %U %S %M", *cmd],
                         capture_output=True, text=True, check=False)  # fmt: skip
    lines = [x for x in res.stderr.splitlines() if x.startswith("TIME ")]
    if res.returncode != 0 or not lines:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{res.stderr[-2000:]}")
    wall, user, sys_, rss_kb = lines[-1].split()[1:]
    return {"wall": float(wall), "cpu": float(user) + float(sys_), "rss_mb": int(rss_kb) / 1024}


def convert(tool: str, python: str, src: Path, out: Path) -> dict:
    """One whole-process conversion with default settings; adds the output size."""
    if tool == "rawconv":
        rawconv = Path(sys.executable).with_name("rawconv")
        cmd = [str(rawconv), str(src), "-o", str(out), "--overwrite", "-q"]
    else:
        code = (f"from daq2lh5 import build_raw; build_raw({str(src)!r}, "
                f"out_spec={str(out)!r}, overwrite=True)")  # fmt: skip
        cmd = [python, "-c", code]
    result = _timed(cmd)
    result["out_mb"] = out.stat().st_size / 1e6
    out.unlink()
    return result


def bench_shape(shape: Shape, work: Path, small_mb: float, large_mb: float, runs: int,
                tools: dict[str, str]) -> dict:  # fmt: skip
    files = {}
    for label, mb in (("small", small_mb), ("large", large_mb)):
        files[label] = work / f"{shape.name}-{label}.{shape.suffix}"
        shape.make(files[label], mb * shape.scale)
    sizes = {k: p.stat().st_size / 1e9 for k, p in files.items()}
    row: dict = {"shape": shape, "mb": sizes["large"] * 1e3}
    for tool, python in tools.items():
        best: dict[str, dict] = {}
        for label, src in files.items():
            results = [convert(tool, python, src, work / "out.lh5") for _ in range(runs)]
            best[label] = min(results, key=lambda r: r["cpu"])
        marginal = (best["large"]["cpu"] - best["small"]["cpu"]) / (sizes["large"] - sizes["small"])
        row[tool] = {**best["large"], "marginal": marginal}
        print(f"  {shape.name:10s} {tool:9s} large {best['large']['cpu']:7.2f} CPU s  "
              f"marginal {marginal:6.2f} s/GB", flush=True)  # fmt: skip
    for path in files.values():
        path.unlink()
    return row


def print_table(rows: list[dict], large_mb: float, small_mb: float) -> None:
    print(f"\nWhole process, default gzip, {large_mb:.0f} MB (marginal: {large_mb:.0f} MB "
          f"minus {small_mb:.0f} MB, per GB; sizes x0.1 for event headers)")  # fmt: skip
    head = ("| shape | rawconv CPU s | reference CPU s | ratio | rawconv s/GB | reference s/GB "
            "| marginal ratio | rawconv wall s | reference wall s | rawconv RSS MiB "
            "| reference RSS MiB | rawconv MB out | reference MB out |")  # fmt: skip
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for row in rows:
        ours, ref = row["rawconv"], row.get("reference")

        def cell(fmt: str, key: str, r: dict | None) -> str:
            return format(r[key], fmt) if r else "-"

        ratio = f"{ref['cpu'] / ours['cpu']:.1f}x" if ref else "-"
        mratio = f"{ref['marginal'] / ours['marginal']:.1f}x" if ref else "-"
        print(f"| {row['shape'].what} ({row['mb']:.0f} MB) | {ours['cpu']:.2f} "
              f"| {cell('.2f', 'cpu', ref)} | {ratio} "
              f"| {ours['marginal']:.2f} | {cell('.1f', 'marginal', ref)} | {mratio} "
              f"| {ours['wall']:.2f} | {cell('.2f', 'wall', ref)} | {ours['rss_mb']:.0f} "
              f"| {cell('.0f', 'rss_mb', ref)} | {ours['out_mb']:.1f} "
              f"| {cell('.1f', 'out_mb', ref)} |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=600, help="the large file (600)")
    parser.add_argument("--small-mb", type=float, default=30, help="the small file (30)")
    parser.add_argument("--runs", type=int, default=2, help="runs per size; the least CPU counts")
    parser.add_argument("--shapes", default=",".join(SHAPES), help=f"from {', '.join(SHAPES)}")
    parser.add_argument("--workdir", default=None, help="scratch folder (default: a temp dir)")
    add_reference_flags(parser)
    args = parser.parse_args()
    unknown = set(args.shapes.split(",")) - set(SHAPES)
    if unknown:
        parser.error(f"--shapes: unknown {', '.join(sorted(unknown))}; from {', '.join(SHAPES)}")
    if not TESTDATA.is_dir():
        parser.error(f"the real test files are not at {TESTDATA}")
    tools = {"rawconv": sys.executable}
    if (ref_python := reference_python(args)) is not None:
        tools["reference"] = ref_python
    work = Path(args.workdir or tempfile.mkdtemp(prefix="rawconv-bench-real-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        rows = [bench_shape(SHAPES[name], work, args.small_mb, args.size_mb, args.runs, tools)
                for name in args.shapes.split(",")]  # fmt: skip
        print_table(rows, args.size_mb, args.small_mb)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
