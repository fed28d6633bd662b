"""CoMPASS conversion throughput: rawconv against legend-daq2lh5, side by side.

Grows a CoMPASS file from the events of the real test file (``compass_test_data.BIN``,
DT5730, 2 channels x 1000 samples) with rawconv's writer: the 102 events are repeated,
timestamps continue from repetition to repetition and samples vary (noise of a few ADC
counts per repetition). Each tool converts it (with the settings XML, default gzip) in a
fresh process after a first tiny conversion there, so that start-up (imports, compiled
kernels) is timed apart; the script prints input MB/s, CPU seconds and peak RSS, and
checks the outputs against each other (every dataset equal, but the reference's
documented bugs: uninitialised ``energy_calibrated`` and ``waveform/dt`` = 16 ns).

    python benchmarks/bench_compass.py --size-mb 200 --reference-python /tmp/refvenv-c/bin/python
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

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TESTDATA = Path(os.environ.get("RAWCONV_TESTDATA", ROOT.parent / "shared" / "testdata"))
BIN = TESTDATA / "compass" / "compass_test_data.BIN"
XML = TESTDATA / "compass" / "compass_test_data_settings.xml"
KNOWN_WRONG = ("CompassEvent/energy_calibrated", "CompassEvent/waveform/dt")


def grow(src: Path, dst: Path, size_mb: float, seed: int = 1) -> int:
    """Write `dst`: the events of `src` repeated to about `size_mb` MB; returns events."""
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from rawconv.formats.compass.layout import EventLayout, header_word
    from rawconv.formats.compass.writer import event_dtype

    data = src.read_bytes()
    flags = data[0] & 0xF
    layout = EventLayout(flags)
    wf_len = int.from_bytes(data[2 + layout.off_nsamples : 6 + layout.off_nsamples], "little")
    events = np.frombuffer(data[2:], event_dtype(layout, wf_len)).copy()
    span = int(events["timestamp"].max()) - int(events["timestamp"].min()) + 1_000_000
    reps = max(1, int(size_mb * 1e6 / len(data[2:])))
    rng = np.random.default_rng(seed)
    with open(dst, "wb") as out:
        out.write(int(header_word(flags)).to_bytes(2, "little"))
        for k in range(reps):
            chunk = events.copy()
            chunk["timestamp"] += np.uint64(k * span)
            if k:
                noise = rng.integers(-3, 4, chunk["samples"].shape)
                chunk["samples"] = np.clip(chunk["samples"] + noise, 0, 0x3FFF)
            out.write(chunk.tobytes())
    return reps * len(events)


# --- one timed conversion, in a fresh process ------------------------------------------------


def _convert(tool: str, src: str, out: str) -> int:
    if tool == "rawconv":
        sys.path.insert(0, str(ROOT))
        from rawconv import build_raw

        return build_raw(src, out_spec=out, overwrite=True, compass_config_file=str(XML)).rows
    import h5py
    from daq2lh5 import build_raw as ref_build_raw

    ref_build_raw(src, out_spec=out, overwrite=True, compass_config_file=str(XML))
    with h5py.File(out, "r") as f:
        return len(f["CompassEvent/packet_id"])


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _child(tool: str, src: str, out: str) -> None:
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:  # warm-up: imports, compiled kernels
        _convert(tool, str(BIN), str(Path(tmp) / "warm.lh5"))
    startup = time.perf_counter() - t0
    os.sync()
    c0, t0 = _cpu(), time.perf_counter()
    rows = _convert(tool, src, out)
    seconds, cpu = time.perf_counter() - t0, _cpu() - c0
    from _memory import peak_memory_mb

    rss, private = peak_memory_mb()
    print(json.dumps({"seconds": seconds, "cpu": cpu, "rows": rows, "rss_mb": rss,
                      "private_mb": private, "startup": startup}))  # fmt: skip


def run(python: str, tool: str, src: Path, out: Path) -> dict:
    cmd = [python, str(Path(__file__).resolve()), "--child", tool, str(src), str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{tool} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def compare(ours: Path, ref: Path) -> str:
    """'identical' when every reference dataset but the known-wrong ones equals ours."""
    import h5py
    import numpy as np

    differ = []
    with h5py.File(ours, "r") as fo, h5py.File(ref, "r") as fr:
        def check(name: str, obj: object) -> None:
            if isinstance(obj, h5py.Dataset) and name not in KNOWN_WRONG and (
                    name not in fo or not np.array_equal(fo[name][()], obj[()])):
                differ.append(name)

        fr.visititems(check)
    return "identical" if not differ else f"{len(differ)} differ: {', '.join(differ[:3])}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=200)
    parser.add_argument("--reference-python", default=None,
                        help="python with legend-daq2lh5 installed (a separate venv)")
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        work = Path(tmp)
        src = work / "grown.BIN"
        n = grow(BIN, src, args.size_mb)
        mb = src.stat().st_size / 1e6
        results = {"rawconv": run(sys.executable, "rawconv", src, work / "ours.lh5")}
        if args.reference_python:
            results["daq2lh5"] = run(args.reference_python, "reference", src, work / "ref.lh5")
        print(f"input: {mb:.0f} MB, {n} events of 1000 samples (2 channels, DT5730 settings)")
        head = (f"{'tool':<9} {'MB/s':>7} {'wall s':>7} {'CPU s':>7} {'RSS MB':>7} "
                f"{'priv MB':>7} {'out MB':>7} {'start s':>7}")  # fmt: skip
        print(head + "\n" + "-" * len(head))
        for name, r in results.items():
            out = work / ("ours.lh5" if name == "rawconv" else "ref.lh5")
            print(f"{name:<9} {mb / r['seconds']:7.1f} {r['seconds']:7.2f} {r['cpu']:7.2f} "
                  f"{r['rss_mb']:7.0f} {r['private_mb']:7.0f} {out.stat().st_size / 1e6:7.1f} "
                  f"{r['startup']:7.2f}")  # fmt: skip
        if "daq2lh5" in results:
            ratio = results["daq2lh5"]["seconds"] / results["rawconv"]["seconds"]
            print(f"\nrawconv {ratio:.1f}x legend-daq2lh5; outputs: "
                  f"{compare(work / 'ours.lh5', work / 'ref.lh5')} (but {', '.join(KNOWN_WRONG)})")
        print("MB/s: input bytes per second of the conversion call (after a warm-up conversion "
              "in the same process; start-up timed apart); CPU s: user + system of the process.")


if __name__ == "__main__":
    main()
