"""The ``rawconv`` command: convert DAQ files to LH5, one after the other."""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from pathlib import Path
from typing import Any

from ._version import __version__

log = logging.getLogger("rawconv")

EPILOG = """\
examples:
  rawconv run.fcio                          # -> run.lh5 beside the input
  rawconv run.fcio -o out/run.lh5:/raw      # tables under /raw in out/run.lh5
  rawconv *.fcio -o spec.json -k '{"run": "r004"}'
  rawconv run.fcio -o out.lh5 -k '{"hdf5_settings": "lzf"}' -n 10000
  rawconv run.orca -o examples/l200_raw_out_spec.json   # LEGEND's per-channel layout
  rawconv run.BIN --compass-config run_settings.xml      # CoMPASS with its settings

out_spec files map decoders to buffers, e.g.
  {"FCEventDecoder": {"ch{key}": {"key_list": ["*"], "out_stream": "{orig_basename}.lh5:/{name}",
                                   "out_name": "raw"}}}
The keyword orig_basename (input name without extension) is always available.
"""


def make_parser() -> argparse.ArgumentParser:
    """The argument parser of ``rawconv``."""
    parser = argparse.ArgumentParser(
        prog="rawconv",
        description="Convert DAQ files (FlashCam FCIO, ORCA, CAEN CoMPASS, ...) to LEGEND LH5 "
        "raw-tier tables.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("in_stream", nargs="*", help="input files or fsspec URLs")
    parser.add_argument("--version", action="version", version=f"rawconv {__version__}")
    parser.add_argument(
        "-t", "--stream-type",
        help="FlashCam (alias FCIO), ORCA, ... (default: detected from the first bytes)",
    )  # fmt: skip
    parser.add_argument(
        "-o", "--out-spec",
        help="output file (file.lh5 or file.lh5:/group) or out_spec .json/.yaml",
    )  # fmt: skip
    parser.add_argument("-b", "--buffer-size", "--buffer_size", type=int, default=8192,
                        help="rows per buffer (default 8192)")  # fmt: skip
    parser.add_argument("-n", "--max-rows", type=int, default=None,
                        help="stop after this many data rows (all tables together)")  # fmt: skip
    parser.add_argument("-w", "--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument(
        "-k", "--kwargs", default="{}",
        help="JSON dict of extra build_raw arguments and out_spec keywords",
    )  # fmt: skip
    parser.add_argument(
        "-c", "--compression", default=None,
        help="gzip[:level], lzf, none, zstd, blosc, lz4, bitshuffle, bzip2",
    )  # fmt: skip
    parser.add_argument(
        "--compass-config", metavar="XML",
        help="CoMPASS settings XML of the run (board model, sampling period, channels)",
    )  # fmt: skip
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress (INFO)")
    parser.add_argument("-d", "--debug", action="store_true", help="log everything (DEBUG)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    return parser


def _configure_logging(args: argparse.Namespace) -> None:
    level = logging.DEBUG if args.debug else logging.INFO if args.verbose else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("rawconv %(levelname)s: %(message)s"))
    root = logging.getLogger("rawconv")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``rawconv``; returns the exit status."""
    args = make_parser().parse_args(argv)
    _configure_logging(args)
    if not args.in_stream:
        make_parser().print_usage(sys.stderr)
        print("rawconv: error: no input given", file=sys.stderr)
        return 2
    try:
        kwargs: dict[str, Any] = json.loads(args.kwargs)
    except json.JSONDecodeError as exc:
        print(f"rawconv: error: --kwargs is not valid JSON: {exc}", file=sys.stderr)
        return 2
    if not isinstance(kwargs, dict):
        print("rawconv: error: --kwargs must be a JSON object", file=sys.stderr)
        return 2
    if args.compression is not None:
        kwargs["hdf5_settings"] = args.compression
    if args.compass_config is not None:
        kwargs["compass_config_file"] = args.compass_config
    if args.out_spec and len(args.in_stream) > 1 and not _is_spec_file(args.out_spec):
        print(
            "rawconv: error: one output file for several inputs would mix them; use an "
            "out_spec with {orig_basename}, or convert the inputs one by one",
            file=sys.stderr,
        )
        return 2

    from .build_raw import build_raw
    from .errors import RawconvError

    failed = 0
    for in_stream in args.in_stream:
        call = dict(kwargs)
        call.setdefault("orig_basename", _basename(in_stream))
        try:
            report = build_raw(
                in_stream,
                in_stream_type=args.stream_type,
                out_spec=args.out_spec,
                buffer_size=args.buffer_size,
                n_max=math.inf if args.max_rows is None else args.max_rows,
                overwrite=args.overwrite,
                progress=not args.quiet and sys.stderr.isatty(),
                **call,
            )
        except (RawconvError, OSError, ValueError, TypeError, KeyError) as exc:
            failed += 1
            if args.debug:
                log.exception("conversion of %s failed", in_stream)
            print(f"rawconv: error: {in_stream}: {exc}", file=sys.stderr)
            continue
        if not args.quiet and not (args.verbose or args.debug):  # verbose: logged already
            print(report.summary())
    return 1 if failed else 0


def _is_spec_file(out_spec: str) -> bool:
    return out_spec.lower().endswith((".json", ".yaml", ".yml"))


def _basename(in_stream: str) -> str:
    name = Path(in_stream.rsplit("/", 1)[-1]).name
    for suffix in (".gz", ".bz2"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name.rsplit(".", 1)[0] if "." in name else name


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
