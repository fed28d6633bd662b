"""What the embedded cluster adds to a run: ``rawconv`` against ``rawconv-parallel``.

Converts one small file (default: the bundled ``th228.fcio``, 3.8 MB) with ``rawconv``,
with ``rawconv-parallel`` (one task: run in its own process, no cluster) and with
``rawconv-parallel --chunk-size 1M`` (4 chunks: the embedded cluster of --workers workers),
quiet and not quiet (the dashboard is started where its link is shown and bokeh is
installed), interleaved, --repeat times each. Prints wall and CPU seconds (the command and
every process it started, its Dask workers and their fork server included: min, median,
max) and what each run adds to ``rawconv``'s median wall time.

    nice python benchmarks/bench_cluster_start.py --repeat 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from _timing import timed  # noqa: E402

BIN = Path(sys.executable).parent
TESTDATA = Path(os.environ.get("RAWCONV_TESTDATA", HERE.parents[1] / "shared" / "testdata"))
TH228 = TESTDATA / "fcio" / "th228.fcio"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", nargs="?", default=str(TH228))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if not Path(args.input).is_file():
        parser.error(f"no such input: {args.input} (give a small DAQ file)")

    with tempfile.TemporaryDirectory(prefix="rawconv-clusterstart-") as work:
        times = _run(args, ["-o", str(Path(work) / "out.lh5"), "-w"])
    base = statistics.median(w for w, _ in times["rawconv -q"])
    print(f"{Path(args.input).name}, {args.repeat} runs each, {args.workers} workers\n")
    print("| run | wall s (min / median / max) | CPU s (min / median / max) | added wall s |")
    print("|---|---|---|---|")
    for name, values in times.items():
        walls = sorted(w for w, _ in values)
        cpus = sorted(c for _, c in values)
        wall, cpu = (statistics.median(v) for v in (walls, cpus))
        print(f"| `{name}` | {walls[0]:.2f} / {wall:.2f} / {walls[-1]:.2f} | "
              f"{cpus[0]:.2f} / {cpu:.2f} / {cpus[-1]:.2f} | {wall - base:+.2f} |")  # fmt: skip


def _run(args: argparse.Namespace, out: list[str]) -> dict[str, list[tuple[float, float]]]:
    """(wall s, CPU s) of each run, interleaved."""
    cluster = ["--chunk-size", "1M", "--workers", str(args.workers)]
    runs = {
        "rawconv -q": [str(BIN / "rawconv"), args.input, *out, "-q"],
        "rawconv-parallel -q (one task, no cluster)": [
            str(BIN / "rawconv-parallel"), args.input, *out, "-q"],
        "rawconv-parallel --chunk-size 1M -q (cluster)": [
            str(BIN / "rawconv-parallel"), args.input, *out, *cluster, "-q"],
        "rawconv-parallel --chunk-size 1M (cluster, dashboard)": [
            str(BIN / "rawconv-parallel"), args.input, *out, *cluster],
    }  # fmt: skip
    for cmd in runs.values():  # numba's cache and the page cache warm
        timed(cmd)
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
    for _ in range(args.repeat):
        for name, cmd in runs.items():
            times[name].append(timed(cmd))

    return times


if __name__ == "__main__":
    main()
