"""Runs one timed conversion in a fresh process and prints a JSON line (used by the
benchmark scripts; not part of rawconv).

A tiny conversion runs first, so that the timed conversion measures throughput; the
start-up (imports, loading compiled kernels) is reported apart.
"""

from __future__ import annotations

import json
import resource
import sys
import time


def _rawconv(src: str, out: str, compression: str | None) -> int:
    from rawconv import build_raw

    report = build_raw(src, out_spec=out, overwrite=True, hdf5_settings=compression)
    return report.rows


def _reference(src: str, out: str, compression: str | None) -> int:
    import h5py
    from daq2lh5 import build_raw

    kwargs = {}
    if compression == "none":
        kwargs["hdf5_settings"] = {"compression": None, "shuffle": False}
    build_raw(src, out_spec=out, overwrite=True, **kwargs)
    with h5py.File(out, "r") as f:
        return sum(len(f[k]["packet_id"]) for k in f
                   if isinstance(f[k], h5py.Group) and "packet_id" in f[k] and k != "FCConfig")


def _ceiling(src: str, out: str, compression: str | None) -> int:
    """h5py writing the decoded columns of a rawconv output (`src`) with the same filters."""
    import h5py

    columns = {}
    with h5py.File(src, "r") as f:
        f.visititems(lambda n, o: columns.__setitem__(n, (o[()], o.chunks))
                     if isinstance(o, h5py.Dataset) and o.shape != () else None)  # fmt: skip
    settings = {} if compression == "none" else {"compression": "gzip", "compression_opts": 4,
                                                 "shuffle": True}  # fmt: skip
    t0 = time.perf_counter()
    with h5py.File(out, "w") as g:
        for name, (data, chunks) in columns.items():
            g.create_dataset(name, data=data, chunks=chunks, maxshape=(None, *data.shape[1:]),
                             **settings)  # fmt: skip
    return -int((time.perf_counter() - t0) * 1e9)  # negative: the timed part only


def _warm_up(tool: str, warm_src: str, compression: str | None) -> float:
    """Convert a tiny file first (imports, compiled-code caches): start-up is timed apart."""
    import tempfile
    from pathlib import Path

    if tool == "ceiling":
        return 0.0
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        convert = _rawconv if tool == "rawconv" else _reference
        convert(warm_src, str(Path(tmp) / "warm.lh5"), compression)
    return time.perf_counter() - t0


def _peak_rss_mb() -> float:
    """Peak resident memory of this process image. (ru_maxrss is no good here: Linux keeps
    it across exec, so a child would report its parent's peak.)"""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    import os

    tool, src, out, comp, warm_src = sys.argv[1:6]
    compression = None if comp == "default" else comp
    func = {"rawconv": _rawconv, "reference": _reference, "ceiling": _ceiling}[tool]
    startup = _warm_up(tool, warm_src, compression)
    os.sync()  # start from a clean page cache, not behind the writeback of the last run
    t0 = time.perf_counter()
    rows = func(src, out, compression)
    seconds = time.perf_counter() - t0
    if rows < 0:  # the ceiling times only its writes
        seconds, rows = -rows / 1e9, 0
    rss = _peak_rss_mb()
    print(json.dumps({"seconds": seconds, "rows": rows, "rss_mb": rss, "startup": startup}))


if __name__ == "__main__":
    main()
