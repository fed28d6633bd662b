"""The ``rawconv-parallel`` command: convert many DAQ files on a Dask cluster."""

from __future__ import annotations

import argparse
import glob
import json
import logging
import sys
from pathlib import Path
from typing import Any

from rawconv._version import __version__
from rawconv.cli import formats_help

EPILOG = """\
inputs are paths, fsspec URLs, glob patterns ('run*/*.dat') or @listfile (one per line).
Formats with a record index are split into chunks; the others are converted whole by one
task each.

examples:
  rawconv-parallel 'data/*.dat' -o 'out/{orig_basename}.lh5'
  rawconv-parallel @files.txt -o spec.json --workers 8 --chunk-size 256M
  rawconv-parallel 'data/*.dat' -o 'out/{orig_basename}.lh5' --scheduler tcp://head:8786
  rawconv-parallel 'data/*.dat' -o 'out/{orig_basename}.lh5' --resume --summary run.json
  rawconv-parallel 'data/*.dat' -o examples/l200_raw_out_spec.json --dry-run
"""


def make_parser() -> argparse.ArgumentParser:
    """The argument parser of ``rawconv-parallel``."""
    p = argparse.ArgumentParser(
        prog="rawconv-parallel",
        description="Convert many DAQ files to LH5 in parallel (Dask), identical to rawconv.",
        epilog=f"{formats_help()}\n{EPILOG}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", nargs="*", help="files, URLs, globs or @listfile")
    p.add_argument("--version", action="version", version=f"rawconv {__version__}")
    p.add_argument(
        "-o", "--out-spec",
        help="output name with {orig_basename} (file.lh5[:/group]) or out_spec .json/.yaml",
    )  # fmt: skip
    p.add_argument("-t", "--stream-type", help="the input format, see below (default: detected)")
    p.add_argument("-k", "--kwargs", default="{}", help="JSON dict of out_spec keywords")
    p.add_argument("-c", "--compression", default=None,
                   help="gzip[:level], lzf, none, zstd, blosc, lz4, bitshuffle, bzip2")  # fmt: skip
    p.add_argument("-b", "--buffer-size", type=int, default=8192, help="rows per buffer")
    p.add_argument("--scheduler", help="address of an existing Dask scheduler (tcp://host:port)")
    p.add_argument("--workers", type=int, default=None, help="workers of the embedded cluster "
                   "(default: one per core)")  # fmt: skip
    p.add_argument("--threads", type=int, default=1, help="threads per worker (default 1)")
    p.add_argument("--chunk-size", default="512M", help="input bytes per task (e.g. 256M, 2G)")
    p.add_argument("--scratch", default=None, help="folder for part files (shared by workers)")
    p.add_argument("--cache", default=None, help="index cache folder (default ~/.cache/rawconv)")
    p.add_argument("-w", "--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument("--resume", action="store_true",
                   help="skip inputs whose outputs all exist; redo the others")  # fmt: skip
    p.add_argument("--dry-run", action="store_true", help="index and print the plan only")
    p.add_argument("--summary", help="write a JSON summary to this file")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress (INFO)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    return p


def parse_size(text: str) -> int:
    """'512M' -> 536870912; plain numbers are bytes."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    text = text.strip().upper().removesuffix("B")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def expand_inputs(items: list[str]) -> list[str]:
    """Globs and @listfiles to a list of inputs (URLs pass unchanged)."""
    out: list[str] = []
    for item in items:
        if item.startswith("@"):
            lines = Path(item[1:]).read_text().splitlines()
            out += expand_inputs([s.strip() for s in lines if s.strip() and not s.startswith("#")])
        elif "://" not in item and any(c in item for c in "*?["):
            matches = sorted(glob.glob(item))  # noqa: PTH207 (patterns may be absolute)
            if not matches:
                raise FileNotFoundError(f"no input matches {item!r}")
            out += matches
        else:
            out.append(item)
    return out


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``rawconv-parallel``; returns the exit status."""
    args = make_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="rawconv-parallel %(levelname)s: %(message)s")  # fmt: skip
    try:
        inputs = expand_inputs(args.inputs)
        kwargs: dict[str, Any] = json.loads(args.kwargs)
        chunk = parse_size(args.chunk_size)
    except (OSError, ValueError) as exc:
        print(f"rawconv-parallel: error: {exc}", file=sys.stderr)
        return 2
    if not inputs:
        print("rawconv-parallel: error: no input given", file=sys.stderr)
        return 2
    from rawconv.errors import RawconvError

    from .convert import convert

    client = None
    if args.scheduler:
        from distributed import Client

        client = Client(args.scheduler)
    try:
        report = convert(
            inputs, out_spec=args.out_spec, client=client, chunk_size=chunk,
            n_workers=args.workers, threads_per_worker=args.threads, scratch=args.scratch,
            overwrite=args.overwrite, resume=args.resume, dry_run=args.dry_run,
            stream_type=args.stream_type, buffer_size=args.buffer_size,
            hdf5_settings=args.compression, cache_dir=args.cache,
            progress=not args.quiet and sys.stderr.isatty(), **kwargs,
        )  # fmt: skip
    except (RawconvError, OSError, ValueError) as exc:
        print(f"rawconv-parallel: error: {exc}", file=sys.stderr)
        return 1
    finally:
        if client is not None:
            client.close()
    if args.dry_run:
        for f in report.files:
            print(f"{f.input}: {f.status}, {f.chunks} chunk(s) -> {', '.join(f.outputs) or '-'}"
                  + (f" ({f.reason})" if f.reason else ""))  # fmt: skip
    elif not args.quiet:
        print(report.summary())
    if args.summary:
        Path(args.summary).write_text(report.to_json())
    return 1 if report.failed else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
