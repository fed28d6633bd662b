"""Demo: write a synthetic FlashCam run with rawconv's own FCIO writer and convert it.

``python -m rawconv.demo [--out-dir demo]`` writes ``demo/demo_run.fcio`` (sparse events
of 6 traces x 6000 samples, status records once a second), converts it with the
``rawconv`` command and shows what the output holds.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    """Write the demo run, convert it and print a summary; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m rawconv.demo", description=__doc__)
    parser.add_argument("--out-dir", default="demo", help="where to write (default: ./demo)")
    parser.add_argument("--events", type=int, default=3000, help="events to generate")
    args = parser.parse_args(argv)

    from .cli import main as rawconv_main
    from .formats.fcio.synthetic import write_synthetic_run

    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    raw = out / "demo_run.fcio"
    write_synthetic_run(
        raw, n_events=args.events, adcs=6, eventsamples=6000, mode="sparse",
        traces_per_event=3, status_every=1000, seed=1,
    )  # fmt: skip
    print(f"wrote {raw} ({raw.stat().st_size / 1e6:.1f} MB) with rawconv's FCIO writer")
    print(f"$ rawconv {raw} -o {out / 'demo_run.lh5'} --overwrite")
    status = rawconv_main([str(raw), "-o", str(out / "demo_run.lh5"), "--overwrite"])
    if status:
        return status
    import h5py

    with h5py.File(out / "demo_run.lh5", "r") as f:
        ev = f["FCEvent"]
        print("\nfirst rows of FCEvent:")
        print("  channel  board_id  fc_input  baseline  daqenergy      timestamp [s]")
        for i in range(5):
            print(
                f"  {ev['channel'][i]:7d}  {ev['board_id'][i]:8d}  {ev['fc_input'][i]:8d}  "
                f"{ev['baseline'][i]:8d}  {ev['daqenergy'][i]:9d}  {ev['timestamp'][i]:17.6f}"
            )
        wf = ev["waveform/values"]
        print(f"waveforms: {wf.shape[0]} x {wf.shape[1]} samples ({wf.dtype}), "
              f"dt = {ev['waveform/dt'][0]} ns")  # fmt: skip
        print("read it back with: lh5.read('FCEvent', 'demo/demo_run.lh5')  (legend-lh5io)")
    print("(the first conversion on a machine also compiles and caches rawconv's numba "
          "kernels;\n run the demo again to see its throughput)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
