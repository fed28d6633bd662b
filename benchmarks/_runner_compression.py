"""Runs one timed rawconv conversion with a named compression mode in a fresh process and
prints a JSON line (used by bench_compression.py; not part of rawconv).

Modes: ``fast-gzip`` (rawconv's default: its own shuffle + deflate of whole chunks),
``h5py-gzip`` (the same filters applied by HDF5 through h5py), ``l200-proc`` (the
production layout, ``layout="l200"``: per-channel tables, windowed and presummed waveforms
with the LEGEND codecs, t_sat_lo/hi as dspeed's saturation, extra/, zstd:3), any compression
name rawconv accepts (``lzf``, ``zstd``, ``none``...), and ``l200-daq2lh5``:
legend-daq2lh5 with the same out_spec and dspeed (run by the reference's interpreter,
given the out_spec as a JSON file).
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


def _l200_reference(src: str, out: str, spec_file: str) -> int:
    """legend-daq2lh5 with the l200 out_spec of `spec_file` (written by bench_compression:
    ``presum`` done by dspeed's ``presum`` in the dsp_config, as production does), dspeed
    and zstd:3 + shuffle for every dataset."""
    import hdf5plugin
    from daq2lh5 import build_raw

    spec = json.loads(Path(spec_file).read_text().replace("{out}", out))
    settings = {"compression": hdf5plugin.Zstd(clevel=3), "shuffle": True}
    build_raw(src, out_spec=spec, overwrite=True, hdf5_settings=settings)
    return 0


def _measure(convert, src: str, out: str, warm_src: str, arg: object) -> None:
    """Convert `warm_src` (start-up, timed apart), then `src`; print the JSON line."""
    t0 = time.perf_counter()
    warm = str(Path(out).with_suffix(".warm.lh5"))
    convert(warm_src, warm, arg)
    Path(warm).unlink(missing_ok=True)
    startup = time.perf_counter() - t0
    os.sync()
    t0, c0 = time.perf_counter(), time.process_time()
    rows = convert(src, out, arg)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "cpu": cpu, "rows": rows, "rss_mb": rss,
                      "startup": startup}))  # fmt: skip


def main() -> None:
    mode, src, out, warm_src = sys.argv[1:5]
    if mode == "l200-daq2lh5":  # the reference, in its own interpreter
        _measure(_l200_reference, src, out, warm_src, sys.argv[5])
        return
    settings = MODES.get(mode, mode)
    if mode == "h5py-gzip":
        # the writer hands appends to existing gzip datasets to its own chunk writer even
        # with direct_chunks False; keep every write on HDF5's filter for this baseline
        import rawconv.lh5.datasets

        rawconv.lh5.datasets._chunk_layout = lambda ds: None
    convert = _l200_proc if mode == "l200-proc" else _rawconv
    if mode == "l200-proc":  # the layout's window needs production-length traces
        warm_src = str(Path(warm_src).with_suffix(".8192.fcio"))
    _measure(convert, src, out, warm_src, settings)


if __name__ == "__main__":
    main()
