"""Compression modes: rawconv's fast gzip path against h5py's gzip filter, lzf, zstd, no
compression, the production layout (`layout="l200"`: per-channel tables, windowed and presummed
waveforms with the LEGEND codecs), and legend-daq2lh5, on the FCIO shapes of bench_fcio.py.

For each input shape, converts one synthetic FCIO file in fresh processes with rawconv in
each mode (the best of --repeat runs) and with legend-daq2lh5 (default gzip), then prints
MB/s (input bytes per second), the output size, and checks the floors:

- fast gzip >= 4x h5py's gzip filter on 120x8192-full, with an output <= 1.05x as large;
- fast gzip >= 5x legend-daq2lh5 on every shape.

For the shapes with production-length traces it also prints the l200 layout against the
default layout and against legend-daq2lh5 running the same out_spec with dspeed
(``l200-daq2lh5``; reported, not a floor).

    python benchmarks/bench_compression.py --size-mb 200 --reference-python /path/bin/python
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_fcio import SHAPES, WARM_UP, compare_outputs, has_reference, run  # noqa: E402

MODES = ("fast-gzip", "h5py-gzip", "lzf", "zstd", "none", "l200-proc")
"""rawconv's modes; l200-proc is the production layout, layout="l200" (not a floor)."""


def reference_l200_spec() -> dict:
    """The l200 layout's out_spec for legend-daq2lh5 (FCIO decoders, output ``{out}``): its
    buffer processor has no ``presum``, so presumming is dspeed's ``presum`` in the
    dsp_config, as LEGEND's production configuration does it."""
    from rawconv.layouts import l200_proc_spec

    proc = l200_proc_spec()
    wf, factor, name, rate = proc.pop("presum")
    shape = f"{name}(shape=len({wf})/{factor}, period={wf}.period*{factor}, offset={wf}.offset)"
    proc["dsp_config"]["outputs"] += [rate, name]
    proc["dsp_config"]["processors"][f"{rate}, {name}"] = {
        "function": "presum", "module": "dspeed.processors", "args": [wf, 0, rate, shape],
        "unit": "ADC",
    }  # fmt: skip
    proc["dtype_conv"][rate] = "uint16"
    proc["dtype_conv"][f"{name}/values"] = "uint32"  # dspeed sums in floats; the codec: ints
    return {
        "FCEventDecoder": {"ch{key:07d}/raw": {"key_list": ["*"], "out_stream": "{out}",
                                               "proc_spec": proc}},
        "FCConfigDecoder": {"extra/FCConfig": {"key_list": ["*"], "out_stream": "{out}"}},
        "FCStatusDecoder": {"extra/FCStatus": {"key_list": ["*"], "out_stream": "{out}"}},
    }  # fmt: skip


def run_mode(mode: str, src: Path, out: Path, python: str = sys.executable) -> dict:
    """One conversion in a fresh process with a compression mode (``l200-daq2lh5``: the
    reference's `python` with :func:`reference_l200_spec`)."""
    if not WARM_UP.exists():
        from rawconv.formats.fcio.synthetic import write_synthetic_run

        write_synthetic_run(WARM_UP, n_events=20, adcs=2, eventsamples=64, status_every=10)
    warm = WARM_UP.with_suffix(".8192.fcio")
    if mode.startswith("l200") and not warm.exists():  # the window needs long traces
        from rawconv.formats.fcio.synthetic import write_synthetic_run

        write_synthetic_run(warm, n_events=5, adcs=2, eventsamples=8192, status_every=2)
    cmd = [python, str(HERE / "_runner_compression.py"), mode, str(src), str(out),
           str(warm if mode == "l200-daq2lh5" else WARM_UP)]  # fmt: skip
    if mode == "l200-daq2lh5":
        spec = out.with_suffix(".spec.json")
        spec.write_text(json.dumps(reference_l200_spec()))
        cmd.append(str(spec))
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"rawconv {mode} failed on {src.name}:\n{proc.stderr[-2000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["out_mb"] = out.stat().st_size / 1e6
    return result


def best_of(repeat: int, func, *args) -> dict:
    """The fastest of `repeat` runs (the machine may be shared)."""
    return min((func(*args) for _ in range(repeat)), key=lambda r: r["seconds"])


def bench_shape(name: str, work: Path, size_mb: float, ref_python: str | None,
                repeat: int, modes: tuple[str, ...] = MODES) -> dict:  # fmt: skip
    src = work / f"{name}.fcio"
    SHAPES[name].write(src, size_mb)
    mb = src.stat().st_size / 1e6
    row: dict = {"shape": name, "input_mb": mb, "modes": {}}
    for mode in ("fast-gzip", *(m for m in modes if m != "fast-gzip")):
        if mode == "l200-proc" and SHAPES[name].samples < 4400:
            continue  # the example windows samples 3000:4400 of production traces
        out = work / f"{name}.{mode}.lh5"
        row["modes"][mode] = best_of(repeat, run_mode, mode, src, out)
        if mode != "fast-gzip":
            out.unlink()
    fast_out = work / f"{name}.fast-gzip.lh5"
    if ref_python is not None and "l200-proc" in row["modes"]:
        out = work / f"{name}.l200-daq2lh5.lh5"
        row["l200-daq2lh5"] = best_of(1, run_mode, "l200-daq2lh5", src, out, ref_python)
        out.unlink()
    if ref_python is not None:
        ref_out = work / "ref.lh5"
        row["reference"] = best_of(1, run, ref_python, "reference", src, ref_out)
        row["reference"]["same"] = compare_outputs(fast_out, ref_out)
        ref_out.unlink()
    fast_out.unlink()
    src.unlink()
    return row


def print_table(rows: list[dict]) -> list[str]:
    """The results, one line per shape; returns the floor failures."""
    head = f"{'shape':<15} {'in MB':>6}" + "".join(f" {m + ' MB/s':>15} {'out MB':>7}"
                                                   for m in MODES)  # fmt: skip
    head += f" {'daq2lh5 MB/s':>13} {'out MB':>7}"
    print(head)
    print("-" * len(head))
    failures = []
    for row in rows:
        mb, modes, ref = row["input_mb"], row["modes"], row.get("reference")
        line = f"{row['shape']:<15} {mb:6.0f}"
        for mode in MODES:
            if mode in modes:
                line += f" {mb / modes[mode]['seconds']:15.1f} {modes[mode]['out_mb']:7.1f}"
            else:
                line += f" {'-':>15} {'-':>7}"
        if ref:
            line += f" {mb / ref['seconds']:13.1f} {ref['out_mb']:7.1f}"
        print(line)
    print()
    for row in rows:
        fast, h5 = row["modes"]["fast-gzip"], row["modes"].get("h5py-gzip")
        print(f"{row['shape']}: fast gzip", end="")
        if h5 is not None:
            speed = h5["seconds"] / fast["seconds"]
            size = fast["out_mb"] / h5["out_mb"]
            print(f" {speed:.2f}x h5py's gzip filter, output {size:.3f}x as large", end="")
            if row["shape"] == "120x8192-full" and speed < 4:
                failures.append(f"{row['shape']}: {speed:.2f}x h5py's gzip filter (floor 4x)")
            if row["shape"] == "120x8192-full" and size > 1.05:
                failures.append(f"{row['shape']}: output {size:.3f}x h5py's (ceiling 1.05x)")
        ref = row.get("reference")
        if ref:
            vs_ref = ref["seconds"] / fast["seconds"]
            print(f"; {vs_ref:.1f}x legend-daq2lh5 ({ref['same']})", end="")
            if vs_ref < 5:
                failures.append(f"{row['shape']}: {vs_ref:.1f}x legend-daq2lh5 (floor 5x)")
        print()
    for row in rows:
        if "l200-proc" not in row["modes"]:
            continue
        mb, l200, fast = row["input_mb"], row["modes"]["l200-proc"], row["modes"]["fast-gzip"]
        print(f"{row['shape']}: l200 layout {mb / l200['seconds']:.1f} MB/s "
              f"({l200['cpu']:.1f} CPU s) = {fast['seconds'] / l200['seconds']:.0%} of the "
              f"default layout's {mb / fast['seconds']:.1f} MB/s ({fast['cpu']:.1f} CPU s)",
              end="")  # fmt: skip
        ref = row.get("l200-daq2lh5")
        if ref:
            print(f"; legend-daq2lh5 + dspeed, same out_spec: {mb / ref['seconds']:.1f} MB/s "
                  f"({ref['cpu']:.1f} CPU s), rawconv {ref['seconds'] / l200['seconds']:.1f}x "
                  f"({ref['cpu'] / l200['cpu']:.1f}x in CPU)", end="")  # fmt: skip
        print()
    return failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=200)
    parser.add_argument("--shapes", default=",".join(SHAPES), help=f"from {', '.join(SHAPES)}")
    parser.add_argument("--repeat", type=int, default=2, help="rawconv runs per mode (best)")
    parser.add_argument("--modes", default=",".join(MODES),
                        help=f"from {', '.join(MODES)} (fast-gzip always runs)")  # fmt: skip
    parser.add_argument("--workdir", default=None, help="scratch folder (default: a temp dir)")
    parser.add_argument(
        "--reference-python",
        default=None,
        help="python with legend-daq2lh5 (default: this one, if it has it)",
    )
    parser.add_argument("--no-reference", action="store_true")
    args = parser.parse_args()
    modes = tuple(args.modes.split(","))
    unknown = set(modes) - set(MODES)
    if unknown:
        parser.error(f"--modes: unknown {', '.join(sorted(unknown))}; known: {', '.join(MODES)}")

    ref_python = None
    if not args.no_reference:
        candidate = args.reference_python or sys.executable
        ref_python = candidate if has_reference(candidate) else None
        if ref_python is None:
            print("legend-daq2lh5 not found: reference columns left empty")
    work = Path(args.workdir or tempfile.mkdtemp(prefix="rawconv-bench-comp-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        rows = [bench_shape(name, work, args.size_mb, ref_python, args.repeat, modes)
                for name in args.shapes.split(",")]  # fmt: skip
        print()
        failures = print_table(rows)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    print("\nMB/s: input bytes per second of the conversion call (after a tiny warm-up "
          "conversion in the same process)")  # fmt: skip
    if failures:
        print("FLOORS NOT MET:\n  " + "\n  ".join(failures))
        sys.exit(1)
    print("floors met")


if __name__ == "__main__":
    main()
