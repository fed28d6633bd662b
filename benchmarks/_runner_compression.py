"""Runs one timed rawconv conversion with a named compression mode in a fresh process and
prints a JSON line (used by bench_compression.py; not part of rawconv).

Modes: ``fast-gzip`` (rawconv's default: its own shuffle + deflate of whole chunks),
``h5py-gzip`` (the same filters applied by HDF5 through h5py), ``l200-proc`` (the
production layout, ``layout="l200"``: per-channel tables, windowed and presummed waveforms
with the LEGEND codecs, t_sat_lo/hi through dspeed, extra/, zstd:3), and any compression
name rawconv accepts (``lzf``, ``zstd``, ``none``...).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _runner import _rawconv

MODES: dict[str, object] = {
    "fast-gzip": None,
    "h5py-gzip": {"compression": "gzip", "compression_opts": 4, "shuffle": True,
                  "direct_chunks": False},
}  # fmt: skip


def _l200_proc(src: str, out: str, _settings: object) -> int:
    from rawconv import build_raw

    return build_raw(src, layout="l200", out_spec=out, overwrite=True).rows


def main() -> None:
    mode, src, out, warm_src = sys.argv[1:5]
    settings = MODES.get(mode, mode)
    if mode == "h5py-gzip":
        # the writer hands appends to existing gzip datasets to its own chunk writer even
        # with direct_chunks False; keep every write on HDF5's filter for this baseline
        import rawconv.lh5.datasets

        rawconv.lh5.datasets._direct = lambda ds: False
    convert = _l200_proc if mode == "l200-proc" else _rawconv
    if mode == "l200-proc":  # the example's window needs production-length traces
        warm_src = str(Path(warm_src).with_suffix(".8192.fcio"))
        if not Path(warm_src).exists():
            from rawconv.formats.fcio.synthetic import write_synthetic_run

            write_synthetic_run(warm_src, n_events=5, adcs=2, eventsamples=8192, status_every=2)
    t0 = time.perf_counter()
    convert(warm_src, str(Path(out).with_suffix(".warm.lh5")), settings)
    Path(out).with_suffix(".warm.lh5").unlink(missing_ok=True)
    startup = time.perf_counter() - t0
    os.sync()
    t0 = time.perf_counter()
    rows = convert(src, out, settings)
    seconds = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "rows": rows, "rss_mb": rss, "startup": startup}))


if __name__ == "__main__":
    main()
