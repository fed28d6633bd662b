"""Demo: write a synthetic run with one of rawconv's own format writers and convert it.

``python -m rawconv.demo [--format FlashCam] [--out-dir demo]`` writes ``demo/demo_run.<ext>``
(for FlashCam: sparse events of 6 traces x 6000 samples, a status record every 1000
events), converts it with the ``rawconv`` command and shows what the output holds.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    """Write the demo run, convert it and print a summary; returns the exit status."""
    from .formats import formats
    from .formats.base import load_object

    demos = {fmt.name: fmt for fmt in formats() if fmt.demo is not None}
    parser = argparse.ArgumentParser(prog="python -m rawconv.demo", description=__doc__)
    parser.add_argument("--format", default="FlashCam", choices=sorted(demos),
                        help="the format of the demo run (default: FlashCam)")  # fmt: skip
    parser.add_argument("--out-dir", default="demo", help="where to write (default: ./demo)")
    parser.add_argument("--events", type=int, default=3000, help="events to generate")
    args = parser.parse_args(argv)
    if args.events < 1:
        parser.error("--events must be at least 1")

    from .cli import main as rawconv_main

    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    raw = load_object(demos[args.format].demo)(out, args.events)
    print(f"wrote {raw} ({raw.stat().st_size / 1e6:.1f} MB) with rawconv's {args.format} writer")
    lh5 = out / "demo_run.lh5"
    print(f"$ rawconv {raw} -o {lh5} --overwrite")
    status = rawconv_main([str(raw), "-o", str(lh5), "--overwrite"])
    if status:
        return status
    _show(lh5)
    print("(the first conversion on a machine also compiles and caches rawconv's numba "
          "kernels;\n run the demo again to see its throughput)")  # fmt: skip
    return 0


def _show(lh5: Path) -> None:
    """The first rows of the largest table, and its waveforms."""
    import h5py

    with h5py.File(lh5, "r") as f:
        tables = [name for name in f if isinstance(f[name], h5py.Group)]
        name = max(tables, key=lambda t: _rows(f[t]))
        table = f[name]
        scalars = [c for c in table if isinstance(table[c], h5py.Dataset)
                   and table[c].ndim == 1][:6]  # fmt: skip
        print(f"\nfirst rows of {name}:")
        print("  " + "  ".join(f"{c:>12.12}" for c in scalars))
        for i in range(min(5, _rows(table))):
            print("  " + "  ".join(f"{_cell(table[c][i]):>12}" for c in scalars))
        if "waveform" in table:
            wf = table["waveform/values"]
            print(f"waveforms: {wf.shape[0]} x {wf.shape[1]} samples ({wf.dtype}), "
                  f"dt = {table['waveform/dt'][0]} ns")  # fmt: skip
        print(f"read it back with: lh5.read('{name}', '{lh5}')  (legend-lh5io)")


def _rows(group: object) -> int:
    import h5py

    for child in group.values():  # type: ignore[attr-defined]
        if isinstance(child, h5py.Dataset) and child.ndim >= 1:
            return len(child)
    return 0


def _cell(value: object) -> str:
    return f"{value:.6f}" if isinstance(value, float) else str(value)


if __name__ == "__main__":
    sys.exit(main())
